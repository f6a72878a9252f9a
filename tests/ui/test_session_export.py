"""Export through the session: the dialog is a view of the export state; the session copies the
chains on screen, runs the export on the worker, refuses a second one, reports errors."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_desktop.render import compose as export
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.render.compose import frame_layout
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import Lane
from ddpm_desktop.ui.widgets.export_dialog import ExportDialog


def fake_reverse(session, n=6, seed=1):
    rng = np.random.default_rng(seed)
    session.reverse.start([Lane(sampler="ddpm", steps=n - 1)])
    for i in range(n):
        x = rng.standard_normal((28, 28)).astype(np.float32)
        session.reverse.add(0, x, x, n - 1 - i, i, n - 1, 0.1)
    session.reverse.commit()
    session.reverse.finish(True)


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    s.schedule_state.set_params(T=29)  # 30 forward frames
    yield s
    s.shutdown()


@pytest.fixture
def dialog(qtbot, session):
    d = ExportDialog(session.export, session.exporter.chains_lengths)
    d.export_requested.connect(session.exporter.start)
    d.cancel_requested.connect(session.exporter.cancel)
    qtbot.addWidget(d)
    return d


@pytest.mark.slow
def test_dialog_exports_both_chains_and_remembers_folder(qtbot, session, dialog, tmp_path):
    fake_reverse(session)
    session.export.update(both_from="screen")  # the chains on screen (no model here)
    dialog.refresh()
    dialog.what_combo.setCurrentIndex(dialog.what_combo.findData("both"))
    dialog.scale_spin.setValue(2)
    dialog.stride_spin.setValue(3)
    out = tmp_path / "both.gif"
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(session.exported, timeout=10_000) as blocker:
        dialog.export_button.click()
    assert blocker.args == [str(out)]
    assert not session.exporter.is_running()
    lay = frame_layout(2, 2, True, True)
    with Image.open(out) as im:
        assert im.size == (lay.width, lay.height)
        # stride 3 would give 11 frames (0, 3, ..., 27, 29): fewer than export.MIN_FRAMES, so
        # 30 are picked along the chain (all of them here), the last held 1 s
        assert im.n_frames == 30
        im.seek(im.n_frames - 1)
        assert im.info["duration"] >= 1000
    s = session.export.settings
    assert s.folder == str(tmp_path) and s.scale == 2 and s.what == "both"


def test_the_export_copies_the_chains_when_it_starts(session):
    fake_reverse(session)
    job = session.exporter.job(str("/tmp/x.gif"))
    session.forward.frames[5] += 1.0  # edits after the start do not reach the job
    assert not np.allclose(job.chains[0].frames[5], session.forward.frames[5])


def test_unwritable_path_is_a_message_and_keeps_choices(qtbot, session, dialog, tmp_path):
    bad = tmp_path / "no" / "such" / "folder" / "x.gif"
    dialog.scale_spin.setValue(5)
    dialog.path_edit.setText(str(bad))
    with qtbot.waitSignal(session.error) as blocker:
        dialog.export_button.click()
    assert "does not exist" in blocker.args[0]
    assert dialog.path_edit.text() == str(bad) and dialog.scale_spin.value() == 5
    assert dialog.export_button.isEnabled() and not session.exporter.is_running()


def test_write_failure_in_worker_names_the_users_file(qtbot, session, tmp_path, monkeypatch):
    def full_disk(frames, path, fps=10.0, loop=0, hold_last_s=0.0):
        raise OSError(f"cannot write '{path}': No space left on device")

    monkeypatch.setattr(export.imaging, "save_gif", full_disk)
    session.export.update(path=str(tmp_path / "x.gif"))
    with qtbot.waitSignal(session.error, timeout=10_000) as blocker:
        assert session.exporter.start()
    assert "No space left" in blocker.args[0] and "x.gif" in blocker.args[0]
    assert ".export" not in blocker.args[0]  # names the user's file, not the temporary
    qtbot.waitUntil(lambda: not session.exporter.is_running(), timeout=5000)
    assert list(tmp_path.glob("*.gif")) == []


def _slow_frames(monkeypatch):
    started, release = threading.Event(), threading.Event()
    real_iter_frames = export.iter_frames

    def slow_frames(*args, **kwargs):
        for k, f in enumerate(real_iter_frames(*args, **kwargs)):
            if k == 3:
                started.set()
                release.wait(5)
            yield f

    monkeypatch.setattr(export, "iter_frames", slow_frames)
    return started, release


def test_cancel_midway_leaves_no_partial_file(qtbot, session, dialog, tmp_path, monkeypatch):
    started, release = _slow_frames(monkeypatch)
    out = tmp_path / "cancelled.gif"
    session.export.update(path=str(out))
    dialog.export_button.click()
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert dialog.cancel_button.isVisible() or not dialog.isVisible()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    release.set()
    assert not session.exporter.is_running() and "Cancelled" in dialog.status_label.text()
    qtbot.waitUntil(lambda: not session.workers.is_busy(), timeout=5000)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_a_second_export_is_refused_not_a_silent_cancel(qtbot, session, tmp_path, monkeypatch):
    started, release = _slow_frames(monkeypatch)
    session.export.update(path=str(tmp_path / "first.gif"))
    assert session.exporter.start()
    qtbot.waitUntil(started.is_set, timeout=5000)
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.exporter.start()
    assert "already running" in blocker.args[0]
    release.set()
    with qtbot.waitSignal(session.exported, timeout=10_000):
        pass
    assert (tmp_path / "first.gif").is_file()


def test_dialog_choices_follow_available_chains(qtbot, session, dialog):
    assert dialog.what_combo.currentData() == "forward"  # no reverse chain yet
    item = dialog.what_combo.model().item(dialog.what_combo.findData("reverse"))
    assert not item.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    assert dialog.path_edit.text().endswith(".png")
    assert not dialog.stride_spin.isEnabled() and dialog.key_frames_spin.isEnabled()
    session.schedule_state.set_params(T=999)
    dialog.refresh()
    assert session.export.settings.stride_for(1000) == 0  # "auto": frames picked along the chain
    fake_reverse(session)
    dialog.refresh()
    assert dialog.what_combo.model().item(dialog.what_combo.findData("reverse")).isEnabled()
