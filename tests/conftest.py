"""Shared test set-up: Qt offscreen, one torch thread (2-core machine), quiet warnings."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_configure(config):
    """One QApplication for the whole run, made before any test: a headless command run
    in-process (export, toy, the layering probes) would otherwise make a bare
    QGuiApplication, and a widget test after it aborts the interpreter whatever the order."""
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:  # no Qt here: the tests that need it skip or fail on their own
        return
    if QApplication.instance() is None:
        config.ddpm_qapp = QApplication(["ddpm-desktop-tests"])
