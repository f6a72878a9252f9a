"""Shared test set-up: Qt offscreen, one torch thread (2-core machine), quiet warnings, and the
XDG folders the app writes to (crash reports, menu entries) kept out of the user's home."""
import os
import sys

# Set-but-empty counts as unset (an empty QT_QPA_PLATFORM would pick xcb and abort without a
# display; an empty OMP_NUM_THREADS is refused by libgomp).
for _name, _value in (("QT_QPA_PLATFORM", "offscreen"), ("OMP_NUM_THREADS", "1")):
    if not os.environ.get(_name):
        os.environ[_name] = _value
# Keep bytecode caches even where PYTHONDONTWRITEBYTECODE is set (containers often set it):
# without them every run compiles the package again and pytest rewrites the asserts of every
# test module again, 6 of the 12 s of CPU that collecting the suite takes, in each xdist worker
# and each CLI subprocess. The caches go to __pycache__/, which git ignores.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _xdg_folders_in_tmp(tmp_path_factory):
    """$XDG_STATE_HOME and $XDG_DATA_HOME in a temporary folder for the whole run: a crash
    report or a menu entry written by any test lands there, never in the user's ~/.local."""
    root = tmp_path_factory.mktemp("xdg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(root / "state"))
        mp.setenv("XDG_DATA_HOME", str(root / "data"))
        yield root


def pytest_configure(config):
    """One torch thread, and one QApplication for the whole run, made before any test: a
    headless command run in-process (export, toy, the layering probes) would otherwise make a
    bare QGuiApplication, and a widget test after it aborts the interpreter whatever the order.
    The xdist controller (`-n 2`) runs no test and needs neither: its workers make their own."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        return
    import torch

    torch.set_num_threads(1)
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:  # no Qt here: the tests that need it skip or fail on their own
        return
    if QApplication.instance() is None:
        config.ddpm_qapp = QApplication(["ddpm-desktop-tests"])


def pytest_deselected(items):
    """Keep what `-m "not slow"` (or -k) deselected: test_quick_tier reads the whole collection."""
    if items:
        config = items[0].config
        config.ddpm_deselected = getattr(config, "ddpm_deselected", []) + list(items)


def pytest_collection_finish(session):
    """Every test collected in this run, selected or not (see pytest_deselected)."""
    session.config.ddpm_collected = list(session.items) + getattr(session.config,
                                                                  "ddpm_deselected", [])
