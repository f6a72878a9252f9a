"""Shared test set-up: Qt offscreen, one torch thread (2-core machine), quiet warnings, and the
XDG folders the app writes to (crash reports, menu entries) kept out of the user's home."""
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _xdg_folders_in_tmp(tmp_path_factory):
    """$XDG_STATE_HOME and $XDG_DATA_HOME in a temporary folder for the whole run: a crash
    report or a menu entry written by any test lands there, never in the user's ~/.local."""
    root = tmp_path_factory.mktemp("xdg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(root / "state"))
        mp.setenv("XDG_DATA_HOME", str(root / "data"))
        yield root


_qt_app = None


def pytest_collection_finish(session):
    """When UI tests will run, make their QApplication now, before any test: an in-process
    `export` command (tests/test_cli_*) makes a bare QGuiApplication when none exists, and a
    QWidget built after that aborts the process. pytest-qt's `qapp` then reuses this one."""
    global _qt_app
    ui = Path(__file__).resolve().parent / "ui"
    if any(ui in Path(item.path).resolve().parents for item in session.items):
        from PySide6.QtWidgets import QApplication

        _qt_app = QApplication.instance() or QApplication(["pytest-qt-qapp"])
