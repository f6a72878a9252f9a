"""The dataset browser's page of digits: one image per page (no widget per digit), the fixed
shuffle pages show a dataset in, and the grid view that paints a page with its selection.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QSizePolicy,
    QToolTip,
    QWidget,
)

from ddpm_desktop.core.imaging import IMAGE_SIDE
from ddpm_desktop.ui.theme import plot_colors, qcolor

if TYPE_CHECKING:  # the browser that owns the grid (imported only for the annotation)
    from ddpm_desktop.ui.widgets.dataset_browser import DatasetBrowser

PAD = 2
VIEW_SEED = 0  # the fixed shuffle the grid shows a dataset in (see view_order)

def view_order(labels: np.ndarray, seed: int = VIEW_SEED) -> np.ndarray:
    """The order the grid shows a dataset in: int64 [N], a permutation of its indices, the
    same for every dataset of N images (seeded). Datasets are often stored sorted by label
    (the bundled MNIST is), so dataset order would fill the first pages with zeros; a
    fixed shuffle mixes the labels on every page while a digit keeps its place between runs.
    """
    return np.random.default_rng(seed).permutation(len(labels)).astype(np.int64)


def render_page(images: np.ndarray, columns: int, rows: int, pad: int = PAD, *,
                fill: tuple[int, int, int]) -> np.ndarray:
    """Tile up to columns*rows uint8 [28, 28] images into uint8 [H, W, 3] (row-major; the
    gaps and empty cells in the RGB colour ``fill``).

    Cell k sits at x = pad + (k % columns) * (28 + pad), y = pad + (k // columns) * (28 + pad).
    """
    step = IMAGE_SIDE + pad
    out = np.empty((rows * step + pad, columns * step + pad, 3), np.uint8)
    out[:] = fill
    for k, img in enumerate(images[: columns * rows]):
        y = pad + (k // columns) * step
        x = pad + (k % columns) * step
        out[y:y + IMAGE_SIDE, x:x + IMAGE_SIDE] = img[..., None]
    return out


def _zoom(k: float) -> float:
    """The scale the page is painted at when k fits: whole pixels from 1x up (crisp), else k."""
    return float(int(k)) if k >= 1.0 else k


class PageView(QWidget):
    """Paints one page image, scaled by an integer factor; maps clicks to cells."""

    cell_clicked = Signal(int)
    cell_activated = Signal(int)
    key_moved = Signal(int)  # delta in cells, or +-1000 page moves via PageUp/PageDown

    def __init__(self, browser: DatasetBrowser) -> None:
        super().__init__(browser)
        self._browser = browser
        self._image: QImage | None = None
        self._count = 0
        self._selected: int | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        # As tall as its width needs at the zoom it paints (heightForWidth), so the page
        # controls sit right under the grid instead of under a band of empty space.
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_page(self, page_rgb: np.ndarray, count: int, selected: int | None) -> None:
        a = np.ascontiguousarray(page_rgb, dtype=np.uint8)
        h, w, _ = a.shape
        self._image = QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self._count = count
        self._selected = selected
        self.update()

    def set_selected(self, cell: int | None) -> None:
        self._selected = cell
        self.update()

    def minimumSizeHint(self):  # noqa: N802
        b = self._browser
        return QSize(b.columns * (IMAGE_SIDE + PAD) + PAD, b.rows * (IMAGE_SIDE + PAD) + PAD)

    def sizeHint(self):  # noqa: N802
        return self.minimumSizeHint()

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        hint = self.minimumSizeHint()  # the page image's size at 1x
        return int(hint.height() * _zoom(width / hint.width()))

    def _geometry(self) -> tuple[QRect, float]:
        if self._image is None:
            return QRect(), 1.0
        iw, ih = self._image.width(), self._image.height()
        k = _zoom(min(self.width() / iw, self.height() / ih))
        w, h = int(iw * k), int(ih * k)
        return QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h), k

    def cell_rect(self, cell: int) -> QRect:
        """Widget-coordinate rectangle of a cell (for tests and painting)."""
        r, k = self._geometry()
        cols = self._browser.columns
        x = PAD + (cell % cols) * (IMAGE_SIDE + PAD)
        y = PAD + (cell // cols) * (IMAGE_SIDE + PAD)
        return QRect(r.x() + int(x * k), r.y() + int(y * k), int(IMAGE_SIDE * k), int(IMAGE_SIDE * k))

    def cell_at(self, pos: QPoint) -> int | None:
        r, k = self._geometry()
        if self._image is None or not r.contains(pos):
            return None
        x = (pos.x() - r.x()) / k - PAD
        y = (pos.y() - r.y()) / k - PAD
        step = IMAGE_SIDE + PAD
        col, row = int(x // step), int(y // step)
        if x < 0 or y < 0 or x - col * step >= IMAGE_SIDE or y - row * step >= IMAGE_SIDE:
            return None
        if col >= self._browser.columns or row >= self._browser.rows:
            return None
        cell = row * self._browser.columns + col
        return cell if cell < self._count else None

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        if self._image is None:
            p.end()
            return
        r, _ = self._geometry()
        p.drawImage(r, self._image)
        if self._selected is not None and self._selected < self._count:
            p.setPen(QPen(qcolor(plot_colors(self.palette()).cursor), 2))
            p.drawRect(self.cell_rect(self._selected).adjusted(-1, -1, 1, 1))
        p.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            cell = self.cell_at(event.position().toPoint())
            if cell is not None:
                self.cell_clicked.emit(cell)
                return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        cell = self.cell_at(event.position().toPoint())
        if cell is not None:
            self.cell_activated.emit(cell)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        cell = self.cell_at(event.position().toPoint())
        text = self._browser._tooltip_for_cell(cell) if cell is not None else ""
        if text:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
        else:
            QToolTip.hideText()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        cols = self._browser.columns
        moves = {
            Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Up: -cols,
            Qt.Key.Key_Down: cols, Qt.Key.Key_PageUp: -cols * self._browser.rows,
            Qt.Key.Key_PageDown: cols * self._browser.rows,
        }
        key = event.key()
        if key in moves:
            self.key_moved.emit(moves[key])
        elif key == Qt.Key.Key_Home:
            self.key_moved.emit(-(1 << 30))
        elif key == Qt.Key.Key_End:
            self.key_moved.emit(1 << 30)
        else:
            super().keyPressEvent(event)
