"""ReadoutColumn: word-wrapped readouts stacked without a QLayout, so a readout that changes
every frame does not lay the whole window out again (the 2-D window's info column)."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtWidgets import QStyle, QWidget


class ReadoutColumn(QWidget):
    """The info column's word-wrapped readouts, stacked by hand (no QLayout): a readout's new
    text asks only this widget to lay its labels out again, and the window's layout is asked
    only when the column's height changes. Inside a QVBoxLayout every setText laid the whole
    window out again (~1.5 ms of each frame: four readouts change with t)."""

    def __init__(self, labels, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels = list(labels)
        for lab in self.labels:
            lab.setParent(self)
        self._spacing = max(0, self.style().pixelMetric(QStyle.PixelMetric.PM_LayoutVerticalSpacing))
        self._height = -1
        sp = self.sizePolicy()
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)

    def _heights(self, width: int) -> list[int]:
        # an empty readout keeps one line, as a QLabel in a layout does
        return [max(lab.heightForWidth(width), lab.fontMetrics().height()) if lab.wordWrap()
                else lab.sizeHint().height() for lab in self.labels]

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        hs = self._heights(width)
        return sum(hs) + self._spacing * max(0, len(hs) - 1)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def sizeHint(self):  # noqa: N802 - Qt override
        width = max((lab.minimumSizeHint().width() for lab in self.labels), default=0)
        return QSize(width, self.heightForWidth(max(width, self.width())))

    def minimumSizeHint(self):  # noqa: N802 - Qt override
        return QSize(max((lab.minimumSizeHint().width() for lab in self.labels), default=0), 0)

    def _place(self) -> None:
        y, width = 0, self.width()
        for lab, h in zip(self.labels, self._heights(width)):
            lab.setGeometry(0, y, width, h)
            y += h + self._spacing
        height = max(0, y - self._spacing)
        if height != self._height:
            self._height = height
            self.updateGeometry()      # the window's layout: only when the column grows or shrinks

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._place()

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self._place()
            return True
        return super().event(event)
