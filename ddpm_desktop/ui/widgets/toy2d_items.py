"""The 2-D window's arrows and heat map as light graphics items, built with numpy.

`SegmentsItem`: line segments (the ε arrows: shaft and two head strokes each) as one
QPainterPath, built by pyqtgraph's arrayToQPath(connect="pairs") once per change and drawn
with one drawPath. A path can be shared: the particle plot's arrows reuse the path of the
chosen model's field plot (`set_path`), so a frame builds each field's path once.
pyqtgraph's PlotDataItem did the same drawing through its curve machinery (data bounds,
pixel vectors, a path regenerated on paint): about a quarter of the frame's redraw.

`HeatItem`: an opaque image [n, n] of colour-table indices drawn as one QImage of format
RGB32 (Qt's native raster format: drawn without a per-paint conversion, where ImageItem's
RGBA8888 was converted on every paint), filled in place by one np.take through a uint32
colour table (no per-frame allocation for a fixed n). Row 0 is drawn at the rectangle's
lowest y, as ImageItem's row-major images are.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainterPath


class SegmentsItem(pg.GraphicsObject):
    """Segments from consecutive pairs of (x, y) points (connect "pairs"), or polylines broken
    at NaNs (connect "finite": the picked particles' trails), in one pen (cosmetic,
    unantialiased: ~900 segments a frame; antialiasing doubled their paint)."""

    def __init__(self, pen, connect: str = "pairs") -> None:
        super().__init__()
        self.connect = connect
        self._pen = pg.mkPen(pen)
        self._pen.setCosmetic(True)
        self._path = QPainterPath()
        self._bounds = QRectF()
        self.xData: np.ndarray | None = None    # what is drawn (pyqtgraph's names, for tests)
        self.yData: np.ndarray | None = None
        self.builds = 0                          # paths built here (not shared ones)

    def setPen(self, pen) -> None:  # noqa: N802 - pyqtgraph's name
        pen = pg.mkPen(pen)
        pen.setCosmetic(True)
        if pen != self._pen:
            self._pen = pen
            self.update()

    def pen(self):
        return self._pen

    def path(self) -> QPainterPath:
        return self._path

    def set_segments(self, x: np.ndarray, y: np.ndarray) -> None:
        """Segments (x[2i], y[2i]) -> (x[2i+1], y[2i+1]) (or the polylines); empty: nothing."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if len(x):
            path = pg.arrayToQPath(x, y, connect=self.connect)
            self.builds += 1
        else:
            path = QPainterPath()
        self.set_path(path, x, y)

    def set_path(self, path: QPainterPath, x: np.ndarray, y: np.ndarray) -> None:
        """Draw `path` (built elsewhere from the segments x, y: shared, not copied)."""
        self._path, self.xData, self.yData = path, x, y
        bounds = path.boundingRect() if len(x) else QRectF()
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.update()

    def clear(self) -> None:
        if self.xData is not None and len(self.xData):
            self.set_path(QPainterPath(), np.zeros(0), np.zeros(0))

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(self._bounds)

    def paint(self, painter, *_args) -> None:
        if self.xData is None or not len(self.xData):
            return
        painter.setRenderHint(painter.RenderHint.Antialiasing, False)
        painter.setPen(self._pen)
        painter.drawPath(self._path)


class HeatItem(pg.GraphicsObject):
    """An opaque colour-mapped image: `set_lut(rgb [256, 3] uint8)`, then
    `set_indices(idx [n, n] uint8, rect)` per change; `image` is the RGB32 buffer drawn."""

    def __init__(self) -> None:
        super().__init__()
        self._lut = np.zeros(256, dtype=np.uint32)
        self._idx: np.ndarray | None = None
        self.image: np.ndarray | None = None      # [n, n] uint32, 0xffRRGGBB
        self._qimage: QImage | None = None
        self._rect = QRectF()
        self.builds = 0

    def set_lut(self, rgb: np.ndarray) -> None:
        rgb = np.asarray(rgb, dtype=np.uint32).reshape(256, 3)
        self._lut = (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)
        if self._idx is not None:
            np.take(self._lut, self._idx, out=self.image)
            self.update()

    def set_indices(self, idx: np.ndarray, rect: QRectF) -> None:
        idx = np.ascontiguousarray(idx, dtype=np.uint8)
        if self.image is None or self.image.shape != idx.shape:
            h, w = idx.shape
            self.image = np.zeros((h, w), dtype=np.uint32)
            # the QImage reads the numpy buffer (kept alive by self.image)
            self._qimage = QImage(self.image.data, w, h, 4 * w, QImage.Format.Format_RGB32)
        np.take(self._lut, idx, out=self.image)
        self._idx = idx
        self.builds += 1
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = QRectF(rect)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(self._rect)

    def paint(self, painter, *_args) -> None:
        if self._qimage is None:
            return
        painter.drawImage(self._rect, self._qimage)
