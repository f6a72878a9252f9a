"""The 2-D window's particles as one graphics item: a few QPainter.drawPoints calls with a
cosmetic square pen (3 px at any zoom) over preallocated QPolygonF buffers, filled in place
from numpy each frame (no per-point objects, no per-frame allocations for a fixed N).

pyqtgraph's ScatterPlotItem builds per-point style keys and fragments on every setData: about
9 ms of the 2-D window's frame for 2,000 points (bench/toy2d.py). Here a frame of 2,000
points costs one copy per colour group and the painter's point loop.

`set_points(pts [N, 2] | None, classes [N] ints | None)`: with classes, point i is drawn in
`class_colors[classes[i]]` (the digits' latent map), otherwise in `opts["brush"]`'s colour.
`data` is a structured view (fields x, y) of the points shown, for tests and picking.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph import functions as fn
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPen


class ParticleItem(pg.GraphicsObject):
    """See the module docstring."""

    def __init__(self, brush, size: float = 3.0) -> None:
        super().__init__()
        self.opts = {"brush": pg.mkBrush(brush), "size": float(size)}
        self.class_colors: list[QColor] = []
        self.classes: np.ndarray | None = None
        self._pts = np.zeros((0, 2))
        self._groups: list[tuple[np.ndarray, object, np.ndarray, int]] = []  # idx, poly, view, k
        self._key = None
        self._bounds = QRectF()

    # -- data -----------------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        out = np.zeros(len(self._pts), dtype=[("x", float), ("y", float)])
        out["x"], out["y"] = self._pts[:, 0], self._pts[:, 1]
        return out

    def setBrush(self, brush) -> None:  # noqa: N802 - pyqtgraph's name
        self.opts["brush"] = pg.mkBrush(brush)
        self.update()

    def set_class_colors(self, colors: list[QColor]) -> None:
        self.class_colors = list(colors)
        self.update()

    def clear(self) -> None:
        self.set_points(None)

    def _regroup(self, n: int, classes: np.ndarray | None) -> None:
        """Index arrays and polygon buffers per colour group (only when N or classes change)."""
        groups = []
        if classes is None:
            idx = np.arange(n)
            poly = fn.create_qpolygonf(n)
            groups.append((idx, poly, fn.ndarray_from_qpolygonf(poly), -1))
        else:
            for k in np.unique(classes):
                idx = np.flatnonzero(classes == k)
                poly = fn.create_qpolygonf(len(idx))
                groups.append((idx, poly, fn.ndarray_from_qpolygonf(poly), int(k)))
        self._groups = groups

    def set_points(self, pts: np.ndarray | None, classes: np.ndarray | None = None) -> None:
        if pts is None or not len(pts):
            if len(self._pts):
                self.prepareGeometryChange()
                self._pts, self._groups, self._key = np.zeros((0, 2)), [], None
                self._bounds = QRectF()
                self.update()
            return
        pts = np.asarray(pts)
        classes = None if classes is None else np.asarray(classes, dtype=np.int64)
        key = (len(pts), None if classes is None else id(classes))
        if key != self._key:
            self._regroup(len(pts), classes)
            self._key, self.classes = key, classes
        for idx, _poly, view, k in self._groups:
            # into the polygon's float64 memory, in place (a gather per class group)
            view[:] = pts if k < 0 else pts[idx]
        self._pts = pts
        lo, hi = np.nanmin(pts, axis=0), np.nanmax(pts, axis=0)
        bounds = QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.update()

    # -- QGraphicsItem ----------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(self._bounds)

    def paint(self, painter, *_args) -> None:
        if not self._groups:
            return
        base = self.opts["brush"].color()
        for _idx, poly, _view, k in self._groups:
            color = self.class_colors[k % len(self.class_colors)] if k >= 0 and self.class_colors \
                else base
            pen = QPen(color)
            pen.setWidthF(self.opts["size"])
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawPoints(poly)
