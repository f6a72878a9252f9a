"""`LiveLabel`: a rich-text QLabel for text that changes on every animation frame.

QLabel.setText() always calls updateGeometry(), so each new text makes the window's layout
recompute - measured here at about 0.4 ms of a 4.5 ms forward-chain frame. LiveLabel keeps
its text in a QTextDocument it paints itself and asks for a new layout only when the text's
height changes (a line more or less), not when its characters do. Being a QLabel, it takes
the same style sheet rules (QLabel[role="value"]).

`LiveLabel(whole=True)` asks for its whole text's height as its minimum, so a layout that is
short of room squeezes its neighbours (or its splitter's other rows) instead of cutting lines.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QSize
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class LiveLabel(QLabel):
    def __init__(self, parent: QWidget | None = None, whole: bool = False) -> None:
        super().__init__(parent)
        self._whole = whole
        self._html = ""
        self._doc = QTextDocument(self)
        self._doc.setDocumentMargin(0)
        self._doc.setDefaultFont(self.font())
        self._height = 0
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    # ---- the QLabel API it replaces -----------------------------------------------------
    def setText(self, text: str) -> None:  # noqa: N802 - QLabel API
        if text == self._html:
            return
        self._html = text
        self._doc.setHtml(text)
        self._relayout()
        self.update()

    def text(self) -> str:
        return self._html

    # ---- geometry -----------------------------------------------------------------------
    def _doc_height(self, width: int) -> int:
        self._doc.setTextWidth(max(width, 1))
        return max(int(math.ceil(self._doc.size().height())), self.fontMetrics().height())

    def _relayout(self) -> None:
        height = self._doc_height(self.contentsRect().width())
        if height != self._height:
            self._height = height
            self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(200, max(self._height, self.fontMetrics().height()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        line = self.fontMetrics().height()
        return QSize(40, max(self._height, line) if self._whole else line)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        m = self.contentsMargins()
        height = self._doc_height(width - m.left() - m.right()) + m.top() + m.bottom()
        self._doc.setTextWidth(max(self.contentsRect().width(), 1))
        return height

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._relayout()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._doc.setDefaultFont(self.font())
            self._relayout()
        super().changeEvent(event)

    # ---- painting -----------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        rect = self.contentsRect()
        painter.translate(rect.topLeft())
        context = QAbstractTextDocumentLayout.PaintContext()
        palette = QPalette(self.palette())
        palette.setColor(QPalette.ColorRole.Text, self.palette().color(self.foregroundRole()))
        context.palette = palette
        self._doc.documentLayout().draw(painter, context)
        painter.end()
