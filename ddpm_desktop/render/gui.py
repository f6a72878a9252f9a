"""The Qt the renderer needs: a QGuiApplication for fonts, and fonts by pixel size.

Frames are painted by Qt's QPainter on a QImage over a numpy buffer; QImage painting is allowed
off the GUI thread, but fonts need a QGuiApplication. `ensure_gui()` makes one when none exists
(tests, scripts); `start_gui()` is the command line's: it picks the offscreen platform when
there is no display and says in one line (ValueError) when Qt cannot start. PySide6 is imported
inside the functions, so importing this module loads no Qt.
"""
from __future__ import annotations

import os


def ensure_gui() -> None:
    """A QGuiApplication exists after this (one is made when there is no application at all);
    RuntimeError when the application is a bare QCoreApplication (no fonts)."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QGuiApplication

    app = QCoreApplication.instance()
    if app is None:
        QGuiApplication([])  # headless use (tests, scripts): fonts need a GUI application
    elif not isinstance(app, QGuiApplication):
        raise RuntimeError("composing frames needs a QGuiApplication (fonts), not a "
                           "QCoreApplication")


def start_gui():
    """The command line's Qt: a QGuiApplication on the offscreen platform when there is no
    display; ValueError (one line) when Qt cannot start here. Returns the application."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PySide6.QtCore import QCoreApplication
        from PySide6.QtGui import QGuiApplication
    except ImportError as exc:
        raise ValueError(f"export needs PySide6 to paint the frames ({' '.join(str(exc).split())})") from None
    app = QCoreApplication.instance()
    return app if app is not None else QGuiApplication(["ddpm-desktop"])


def font(px: int, bold: bool = False):
    """A QFont of `px` pixels (bold when asked)."""
    from PySide6.QtGui import QFont

    f = QFont()
    f.setPixelSize(px)
    f.setBold(bold)
    return f


def qimage_view(arr):
    """A QImage painting straight into ``arr`` (uint8 [H, W, 3], C-contiguous); keep arr alive."""
    from PySide6.QtGui import QImage

    h, w, _ = arr.shape
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888)
