"""An unexpected error: the report (no Qt: ui/crash_report.py) and the dialog that offers it
(ui/crash_dialog.py), with the user's session saved beside the report."""
from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QFileDialog
from shiboken6 import isValid

from ddpm_desktop.ui import crash_report
from ddpm_desktop.ui.app import _install_excepthook
from ddpm_desktop.ui.main_window import MainWindow
from ddpm_desktop.ui.session_file import read_session


class Boom(QObject):
    fire = Signal()
    raised = 0

    @Slot()
    def explode(self) -> None:
        self.raised += 1
        raise ZeroDivisionError("a bug in a slot")


@pytest.fixture
def crash_dir(monkeypatch, tmp_path):
    folder = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder / "ddpm-desktop" / "crashes"


@pytest.mark.qt_no_exception_capture  # the exception must reach the app's own hook
def test_an_error_in_a_slot_offers_copy_and_save_and_keeps_the_session(qtbot, crash_dir,
                                                                     monkeypatch, tmp_path,
                                                                     request):
    window = MainWindow(load_model=False)
    qtbot.addWidget(window)
    window.session.input_state.set_seed(1234)  # something of the user's to keep
    expected_session = window.session.files.take_snapshot().to_dict()
    assert "1234" in json.dumps(expected_session)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    hook = _install_excepthook(QApplication.instance())
    hook.session = window.session
    boom = Boom()
    boom.fire.connect(boom.explode)
    QTimer.singleShot(0, boom.fire.emit)  # raised in a slot, from the event loop
    qtbot.waitUntil(lambda: hook.dialog is not None and hook.dialog.isVisible(), timeout=5000)
    dialog = hook.dialog  # deletes itself on close; closed below, or here if a check fails
    request.addfinalizer(lambda: isValid(dialog) and dialog.close())

    assert dialog.copy_button.isVisible() and dialog.copy_button.isEnabled()
    assert dialog.save_button.isVisible() and dialog.save_button.isEnabled()
    text = dialog.report_text
    assert "ZeroDivisionError: a bug in a slot" in text and "Traceback" in text
    assert "in explode" in text  # the slot's frame
    assert f"torch {torch.__version__}" in text
    assert f"numpy {np.__version__}" in text
    assert f"PySide6-Essentials {metadata.version('PySide6-Essentials')}" in text
    assert f"session device: {window.session.device_state.device}" in text
    assert json.dumps(expected_session, separators=(",", ":"), ensure_ascii=False) in text

    # Already on disk when the dialog shows: the report and, beside it, the session.
    reports = list(crash_dir.glob("crash-*.txt"))
    assert len(reports) == 1
    assert "ZeroDivisionError: a bug in a slot" in reports[0].read_text()
    session_file = crash_report.session_path_for(reports[0])
    read_session(session_file)  # a valid session file: File > Open session restores it
    assert json.loads(session_file.read_text()) == expected_session
    assert str(session_file) in dialog.where_label.text()

    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == text

    chosen = tmp_path / "report.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(chosen), ""))
    dialog.save_button.click()
    assert chosen.read_text().startswith(text)
    assert json.loads((tmp_path / "report-session.json").read_text()) == expected_session
    assert "Traceback" in chosen.read_text()

    # One dialog at a time: a second error while it is open opens no second dialog.
    QTimer.singleShot(0, boom.fire.emit)
    qtbot.waitUntil(lambda: boom.raised == 2, timeout=5000)
    assert hook.dialog is dialog
    assert [w for w in QApplication.topLevelWidgets()
            if isinstance(w, type(dialog)) and w.isVisible()] == [dialog]
    dialog.close()
    qtbot.waitUntil(lambda: hook.dialog is None, timeout=1000)
    window.close()


def test_a_failing_job_opens_the_crash_dialog_with_its_traceback(qtbot, crash_dir):
    window = MainWindow(load_model=False)
    qtbot.addWidget(window)
    window.show_error("Sampling failed: RuntimeError: <b>x</b>",
                      "Traceback (most recent call last):\n  x\n")
    dialog = window._error_box  # a child of the window (closed with it)
    assert dialog.isVisible() and "Traceback (most recent call last)" in dialog.report_text
    assert dialog.message_label.textFormat() == Qt.TextFormat.PlainText
    assert dialog.message_label.text() == "Sampling failed: RuntimeError: <b>x</b>"
    assert dialog.saved is not None and dialog.saved.session.is_file()
    dialog.close()
    window.close()


def test_a_session_that_cannot_be_saved_does_not_stop_the_report(tmp_path):
    def broken(path):
        raise ValueError("half-built\nstate")

    saved = crash_report.write_report(tmp_path / "r.txt", "the report\n", broken)
    assert saved.session is None and saved.session_error == "ValueError: half-built state"
    text = (tmp_path / "r.txt").read_text()
    assert text.startswith("the report\n") and "not saved (ValueError: half-built state)" in text
    assert not (tmp_path / "r-session.json").exists()


def test_the_report_names_the_versions_the_os_and_works_without_a_session():
    text = crash_report.format_report("KeyError: 'x'", "Traceback ...\nKeyError: 'x'\n",
                                      snapshot_error="no window yet")
    assert f"python {sys.version.split()[0]}" in text
    assert "ddpm-desktop 0.1.0" in text and f"os: " in text
    assert f"{os.cpu_count()} CPU cores" in text
    assert "(not available: no window yet)" in text


def test_autosave_keeps_the_newest_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(crash_report, "KEEP_CRASHES", 3)
    paths = []
    for i in range(5):
        saved = crash_report.autosave(f"report {i}\n", lambda p: Path(p).write_text("{}"),
                                      folder=tmp_path)
        os.utime(saved.report, ns=(i * 10**9, i * 10**9))  # distinct ages, oldest first
        paths.append(saved)
    crash_report._prune(tmp_path)
    kept = sorted(p.read_text().split("\n")[0] for p in tmp_path.glob("crash-*.txt"))
    assert kept == ["report 2", "report 3", "report 4"]
    assert len(list(tmp_path.glob("*-session.json"))) == 3
