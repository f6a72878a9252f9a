"""The windows and dialogs beside the main window: each is built on first use and, from then
on, shown and raised (`show_window`)."""
from __future__ import annotations

from PySide6.QtWidgets import QWidget


def show_window(w: QWidget) -> QWidget:
    """Show `w`, bring it in front of the others and give it the keyboard; returns `w`."""
    w.show()
    w.raise_()
    w.activateWindow()
    return w
