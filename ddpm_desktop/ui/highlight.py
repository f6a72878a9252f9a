"""A theme-coloured frame drawn over a view, to show which view a hovered term drives.

`set_highlight(widget, on)` shows or hides a `HighlightFrame` over `widget`: a child that lets
the mouse through, follows the widget's size and paints only a border (the theme's `cursor`
role), so the view under it needs no code of its own and repaints nothing of its content.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QWidget

from ddpm_desktop.ui.theme import pen, plot_colors

BORDER_PX = 3


class HighlightFrame(QWidget):
    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self.setObjectName("highlight_frame")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        target.installEventFilter(self)
        self.setGeometry(target.rect())
        self.hide()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.parent() and event.type() == QEvent.Type.Resize:
            self.setGeometry(obj.rect())
        return False

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen(plot_colors(self.palette()).cursor, width=BORDER_PX))
        half = BORDER_PX / 2
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(half, half, -half, -half), 4, 4)
        painter.end()


def highlight_frame(widget: QWidget) -> HighlightFrame | None:
    """The frame over `widget`, or None when it never had one."""
    for child in widget.children():
        if isinstance(child, HighlightFrame):
            return child
    return None


def set_highlight(widget: QWidget, on: bool) -> None:
    frame = highlight_frame(widget)
    if frame is None:
        if not on:
            return
        frame = HighlightFrame(widget)
    if on:
        frame.setGeometry(widget.rect())
        frame.raise_()
        frame.show()
    else:
        frame.hide()


def is_highlighted(widget: QWidget) -> bool:
    frame = highlight_frame(widget)
    return frame is not None and not frame.isHidden()
