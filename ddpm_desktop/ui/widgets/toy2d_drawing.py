"""The 2-D window's drawing: its plots (particles over p_t, the three ε fields, the KL and loss
curves) and the per-frame redraw. A mixin of `Toy2DWindow` (toy2d_view.py), which holds the
controls and emits intent.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtWidgets import QGridLayout

from ddpm_desktop.core import toy2d
from ddpm_desktop.core.readout import format_kl
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.state import SAMPLER_NAMES
from ddpm_desktop.ui.widgets.toy2d_items import HeatItem, SegmentsItem
from ddpm_desktop.ui.widgets.toy2d_particles import ParticleItem

VIEW_EXTENT = 3.5          # the plots' range before any data (the view box follows p_t)
FIELD_FRACTION = 0.9       # the arrows' grid spans this fraction of the view box
FIELD_N = 17
# the heat map reaches this far beyond the view box's half-width, so it still fills the plot
# when the locked aspect widens one axis (4.5 at the old fixed ±3.5 view: the same picture)
HEAT_OVER_VIEW = toy2d.GRID_EXTENT / VIEW_EXTENT


class _MouseViewBox(pg.ViewBox):
    """A ViewBox that reports clicks and, in paint mode, drags, in data coordinates."""

    clicked = Signal(float, float, bool)     # x, y, shift held
    painted = Signal(object)                 # [M, 2] points of one drag

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.paint_mode = False
        self._stroke: list[tuple[float, float]] = []

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        if ev.button() == Qt.MouseButton.LeftButton:
            p = self.mapSceneToView(ev.scenePos())
            shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if self.paint_mode:
                self.painted.emit(np.array([[p.x(), p.y()]]))
            else:
                self.clicked.emit(p.x(), p.y(), shift)
            ev.accept()
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph override
        if not self.paint_mode or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self._stroke.append((p.x(), p.y()))
        if ev.isFinish():
            stroke, self._stroke = np.array(self._stroke), []
            self.painted.emit(stroke)


def _segments(points: np.ndarray, vectors: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """x, y arrays of line pairs p -> p + scale·v with a short two-stroke head (connect="pairs")."""
    tip = points + scale * vectors
    d = tip - points
    length = np.linalg.norm(d, axis=1, keepdims=True)
    u = np.divide(d, length, out=np.zeros_like(d), where=length > 0)
    head = 0.3 * np.minimum(length, 0.25)
    c, s = math.cos(math.radians(25)), math.sin(math.radians(25))
    left = tip - head * np.stack([c * u[:, 0] - s * u[:, 1], s * u[:, 0] + c * u[:, 1]], 1)
    right = tip - head * np.stack([c * u[:, 0] + s * u[:, 1], -s * u[:, 0] + c * u[:, 1]], 1)
    segs = np.stack([points, tip, tip, left, tip, right], axis=1).reshape(-1, 2)
    return segs[:, 0], segs[:, 1]


class Toy2DDrawing:
    """Mixin: needs the window's `state`, `schedule_state`, `sampler_state`, labels and
    `field_source` (toy2d_view.Toy2DWindow)."""

    def _build_plots(self, c) -> QGridLayout:
        """The plots and their items; returns the grid of the small plots."""
        self.vb = _MouseViewBox()
        self.main_plot = pg.PlotWidget(viewBox=self.vb, title="Particles x_t over p_t")
        self.main_plot.setAspectLocked(True)
        self.main_plot.setRange(xRange=(-VIEW_EXTENT, VIEW_EXTENT), yRange=(-VIEW_EXTENT, VIEW_EXTENT))
        self.main_plot.setLabel("bottom", "x₁")
        self.main_plot.setLabel("left", "x₂")
        self.heat = HeatItem()
        lut = np.linspace(np.array(theme.rgb(c.background), float),
                          np.array(theme.rgb(c.forward), float), 256).astype(np.uint8)
        self._set_heat_lut(lut)
        self.main_plot.addItem(self.heat)
        # the particles: one item each, a few drawPoints calls (toy2d_particles.py)
        self.scatter = ParticleItem(theme.qcolor(c.forward, 200))
        self.scatter_rev = ParticleItem(theme.qcolor(c.reverse, 220))
        self.scatter_rev_b = ParticleItem(theme.qcolor(c.reverse_b, 220))
        # trails: up to (K+1) × picked vertices; unantialiased (with antialiasing they were half
        # of a "Both" frame's paint, bench/toy2d.py)
        self.trails = SegmentsItem(pg.mkPen(c.cursor, width=1.5), connect="finite")
        self.trails_b = SegmentsItem(pg.mkPen(c.reverse_b, width=1.5), connect="finite")
        self.main_arrows = SegmentsItem(pg.mkPen(c.exact, width=1))   # ~900 segments a frame
        for item in (self.scatter, self.scatter_rev, self.scatter_rev_b, self.trails,
                     self.trails_b, self.main_arrows):
            self.main_plot.addItem(item)
        # the digits' latent map: the digit of a clicked point, drawn where it was clicked
        self.decode_item = pg.ImageItem(axisOrder="row-major")
        self.decode_item.setZValue(20)
        self.decode_item.setVisible(False)
        self.main_plot.addItem(self.decode_item)
        self.decode_marker = pg.ScatterPlotItem(size=9, symbol="+", pen=pg.mkPen(c.cursor, width=2))
        self.decode_marker.setZValue(21)
        self.main_plot.addItem(self.decode_marker)
        self._brush_cache: tuple[str, list] | None = None   # class colours of a theme
        # what the heat map and the arrows were last built from: a frame rebuilds only
        # what changed (both change with t and the view box, not with the reverse chain)
        self._heat_key = self._field_key = self._arrows_key = None
        self._view = (0.0, 0.0, VIEW_EXTENT)

        self.field_plots, self.field_items = {}, {}
        self._field_roles = {}
        for which, role_name, title in (("exact", "exact", "−E[ε | x_t] exact"),
                                        ("learned", "reverse_b", "−ε̂ learned (MLP)"),
                                        ("difference", "cursor", "ε_exact − ε̂_learned")):
            role = getattr(c, role_name)
            plot = pg.PlotWidget(title=title)
            plot.setAspectLocked(True)
            plot.setRange(xRange=(-VIEW_EXTENT, VIEW_EXTENT), yRange=(-VIEW_EXTENT, VIEW_EXTENT))
            plot.setToolTip("Arrows −ε̂(x, t) on a grid: the direction a reverse step moves x "
                            "(= √(1-ᾱ_t) ∇ log p_t for the exact one), one length scale for both")
            item = SegmentsItem(pg.mkPen(role, width=1))
            plot.addItem(item)
            self.field_plots[which], self.field_items[which] = plot, item
            self._field_roles[which] = role_name
        self.kl_plot = pg.PlotWidget(title="KL(p_t‖N(0,I)), nats")
        self.kl_plot.setLabel("bottom", "t")
        self.kl_curve = self.kl_plot.plot(pen=pg.mkPen(c.gaussian, width=2))
        self.kl_cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen(c.cursor))
        self.kl_plot.addItem(self.kl_cursor)
        self.kl_plot.setLogMode(y=True)
        self.kl_plot.setToolTip("KL(p_t ‖ N(0, I)) against t, log scale (values under 1e-6 nats "
                                "drawn at 1e-6); the vertical line is the t shown")
        self.loss_plot = pg.PlotWidget(title="MLP training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen(theme.qcolor(c.loss, 110)))
        self.loss_smooth = self.loss_plot.plot(pen=pg.mkPen(c.loss_smooth, width=2))
        for plot in (self.main_plot, self.kl_plot, self.loss_plot, *self.field_plots.values()):
            theme.style_plot(plot, c)

        self.field_plots["difference"].setToolTip(
            "Arrows ε_exact(x, t) − ε̂_learned(x, t) = the learned arrow's error (in the same "
            "length scale as the two fields beside it)")
        grid = QGridLayout()
        grid.addWidget(self.field_plots["exact"], 0, 0)
        grid.addWidget(self.field_plots["learned"], 0, 1)
        grid.addWidget(self.field_plots["difference"], 0, 2)
        grid.addWidget(self.kl_plot, 1, 0)
        grid.addWidget(self.loss_plot, 1, 1, 1, 2)
        return grid

    def _set_heat_lut(self, lut: np.ndarray) -> None:
        """The heat map's colour table [256, 3] uint8."""
        self.heat.set_lut(lut)

    def invalidate_frame_cache(self) -> None:
        """Rebuild the heat map and the arrows at the next redraw (data, model or theme new)."""
        self._heat_key = self._field_key = self._arrows_key = None

    def _set_points(self, item: ParticleItem, pts: np.ndarray | None, classes=None) -> None:
        """Show pts [N, 2] (None: nothing); with the latent map, coloured by `classes` [N]."""
        if classes is not None and self.state.is_latent:
            key = self.colors.background
            if self._brush_cache is None or self._brush_cache[0] != key:
                self._brush_cache = (key, [theme.qcolor(col, 220)
                                           for col in theme.class_colors(self.colors)])
            if item.class_colors is not self._brush_cache[1]:
                item.class_colors = self._brush_cache[1]
            item.set_points(pts, classes)
        else:
            item.set_points(pts)

    @Slot()
    def _on_decoded_point(self) -> None:
        s = self.state
        if s.decoded_image is None or s.decoded_point is None or not s.is_latent:
            self.decode_item.setVisible(False)
            self.decode_marker.clear()
            return
        x, y = s.decoded_point
        size = 0.9
        # row-major image, y up: row 0 is drawn at the bottom, so flip
        self.decode_item.setImage(np.flipud(s.decoded_image), autoLevels=False, levels=(0, 255))
        self.decode_item.setRect(x + 0.1, y + 0.1, size, size)
        self.decode_item.setVisible(True)
        self.decode_marker.setData([x], [y])

    def _set_trails(self, item, frames: np.ndarray | None, index: int) -> None:
        """The picked particles' paths over frames[0..index] (None: none), set only when
        the chain, the index or the picked particles changed."""
        key = None if frames is None else (id(frames), index, self.state.picked.tobytes())
        if key != getattr(item, "_trail_key", 0):
            item._trail_key = key
            if frames is None:
                item.clear()
            else:
                item.set_segments(*self._paths(frames, index))

    def _paths(self, frames: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
        """x, y of the picked particles' paths over frames[0..index], NaN between paths."""
        picked = self.state.picked[self.state.picked < frames.shape[1]]
        paths = frames[: index + 1, picked]                            # [k, P, 2]
        sep = np.full((1, len(picked), 2), np.nan)
        seq = np.concatenate([paths, sep], axis=0).transpose(1, 0, 2).reshape(-1, 2)
        return seq[:, 0], seq[:, 1]

    def _view_box(self, ab: float) -> tuple[float, float, float]:
        """(centre x, centre y, half-width) of p_t at ᾱ_t (core.toy2d.view_box)."""
        m = self.state.marginal
        return (0.0, 0.0, VIEW_EXTENT) if m is None else toy2d.view_box(m, ab)

    def _set_view_range(self, view: tuple[float, float, float]) -> None:
        cx, cy, half = view
        for plot in (self.main_plot, *self.field_plots.values()):
            plot.setRange(xRange=(cx - half, cx + half), yRange=(cy - half, cy + half))

    def _field_scale(self, fields: dict, spacing: float) -> float:
        norms = [np.linalg.norm(e, axis=1).max() for _, e in fields.values() if len(e)]
        top = max(norms, default=0.0)
        return 0.9 * spacing / top if top > 0 else 0.0

    @Slot()
    def _redraw(self, *_args) -> None:
        t0 = time.perf_counter()
        s = self.state
        schedule = self.schedule_state.schedule
        t = s.t
        ab = 1.0 if t == 0 else float(schedule.alphas_cumprod[t - 1])
        mode = self._show_mode()
        self.t_label.setText(f"t = {t} of T = {s.T}")
        self.ab_label.setText(f"ᾱ_t = {ab:.4g}, √(1−ᾱ_t) = {math.sqrt(1 - ab):.4g}")
        kl = format_kl(s.kl_at(t) if len(s.kl_t) else None, unit=" nats", digits=4)
        kind = "exact p_t" if s.marginal is not None and s.marginal.exact else "kernel estimate"
        self.kl_label.setText(f"KL(p_t ‖ N(0, I)) = {kl.text} ({kind})")
        self.kl_cursor.setValue(t)

        # the view box of p_t at t (core.toy2d.view_box): the plots' range, the heat map's
        # and the arrows' grids follow it
        view = self._view_box(ab)
        if view != self._view:
            self._view = view
            self._set_view_range(view)
        cx, cy, half = view

        # heat map of p_t: rebuilt only when t (ᾱ_t), the box or the data changed
        if self.heat_check.isChecked() and s.marginal is not None:
            key = (ab, view, id(s.marginal))
            if key != self._heat_key:
                self._heat_key = key
                e = HEAT_OVER_VIEW * half
                grid = toy2d.Grid(extent=e, n=s.marginal.grid.n, cx=cx, cy=cy)
                # √p_t through the colour table (opaque RGB32: drawn without a conversion)
                root = np.sqrt(s.marginal.density(ab, grid))
                idx = (root * (255.0 / max(float(root.max()), 1e-12))).astype(np.uint8)
                self.heat.set_indices(idx, QRectF(cx - e, cy - e, 2 * e, 2 * e))
            self.heat.setVisible(True)
        else:
            self.heat.setVisible(False)

        # particles
        pts = s.particles()
        show_fwd = mode in ("forward", "both") and pts is not None
        self._set_points(self.scatter, pts if show_fwd else None, s.labels)
        ri = s.reverse_index()
        if ri is not None and mode in ("reverse", "both"):
            self._set_points(self.scatter_rev, s.reverse[ri], s.sample_labels)
            self._set_trails(self.trails, s.reverse, ri)
            c = self.colors
            text = (f'<span style="color:{c.reverse}">●</span> '
                    f"{SAMPLER_NAMES.get(s.reverse_sampler, s.reverse_sampler)}")
            b = s.reverse_b
            if b is not None and len(b):
                rb = min(ri, len(b) - 1)
                self._set_points(self.scatter_rev_b, b[rb])
                self._set_trails(self.trails_b, b, rb)
                text += (f' and <span style="color:{c.reverse_b}">●</span> '
                         f"{SAMPLER_NAMES.get(s.reverse_b_sampler, s.reverse_b_sampler)} "
                         "from the same x_T")
            else:
                self._set_points(self.scatter_rev_b, None)
                self._set_trails(self.trails_b, None, 0)
            self.reverse_label.setText(
                f"Reverse: {text} at step t = {int(s.reverse_t[ri])} "
                f"(frame {ri} of {len(s.reverse_t) - 1})" + ("" if s.reverse_done else ", running…"))
        else:
            for item in (self.scatter_rev, self.scatter_rev_b):
                self._set_points(item, None)
            self._set_trails(self.trails, None, 0)
            self._set_trails(self.trails_b, None, 0)
            self.reverse_label.setText("Reverse: press Sample" if s.reverse is None
                                       else "Reverse: hidden (Show)")

        # ε fields: asked of the session and rebuilt only when t, the box or the models changed
        extent = FIELD_FRACTION * half
        key = (t, view, id(schedule), id(s.learned), s.learned_for, s.dataset, id(s.mixture),
               s.latent_label)
        if key != self._field_key:
            self._field_key, self._arrows_key = key, None
            fields = {}
            if self.field_source is not None:
                fields = self.field_source(t, extent, center=(cx, cy))
            self._fields = fields
            spacing = 2 * extent / (FIELD_N - 1)
            scale = self._field_scale(fields, spacing)
            if "exact" in fields and "learned" in fields:
                # −(ε̂_learned − ε_exact): drawn like the fields, so it reads as their difference
                fields = {**fields, "difference": (fields["exact"][0],
                                                   fields["learned"][1] - fields["exact"][1])}
            for which, item in self.field_items.items():
                if which in fields:
                    p, e = fields[which]
                    item.set_segments(*_segments(p, -e, scale))
                else:
                    item.clear()
        fields = self._fields
        chosen = self.field_items.get(s.model)
        arrows_key = (self._field_key, s.model, self.arrows_check.isChecked())
        if arrows_key != self._arrows_key:
            self._arrows_key = arrows_key
            if self.arrows_check.isChecked() and s.model in fields:
                # the chosen model's field plot's path, shared (built once a frame)
                role = self.colors.exact if s.model == "exact" else self.colors.reverse_b
                self.main_arrows.setPen(pg.mkPen(role, width=1))
                self.main_arrows.set_path(chosen.path(), chosen.xData, chosen.yData)
            else:
                self.main_arrows.clear()
        if "exact" in fields and "learned" in fields:
            d = fields["learned"][1] - fields["exact"][1]
            self.diff_label.setText(f"RMS ‖ε̂_learned − ε_exact‖ on the grid = "
                                    f"{math.sqrt(np.mean(np.sum(d * d, axis=1))):.4f}")
        elif t == 0:
            self.diff_label.setText("Fields: t = 0 has none (move t)")
        else:
            self.diff_label.setText("Field difference: needs both the exact and a learned model")
        self.last_frame_ms = (time.perf_counter() - t0) * 1e3
        self.frame_label.setText(f"Frame: {self.last_frame_ms:.1f} ms")
