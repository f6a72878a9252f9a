"""Export of the 2-D animation: the particles (forward or reverse chain) over the heat map of
p_t with the −ε̂ arrows, as the window shows them, painted frame by frame and written by the
same code as the main export: frames picked along the chain by render.frames, the file
written once, atomically, by core.imaging (save_gif / save_webp / save_apng / save_png),
progress as render.export_job.ExportProgress, so the session runs it on the generic worker.

`Toy2DExportJob` (frozen: copies only, safe to hand to a thread) and
`iter_toy_export(job, cancel)`. `paint_toy_frame` paints one frame into uint8 [H, W, 3]:
numpy rasterises the heat map and the particles (a 2,000-point frame in about a millisecond),
Qt's painter on a QImage over the same buffer draws the arrows, trails and text (QImage
painting is allowed off the GUI thread; fonts need a QGuiApplication, as for render.compose).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPen

from ddpm_desktop.core import imaging
from ddpm_desktop.core.files import check_writable
from ddpm_desktop.render import palette as theme
from ddpm_desktop.render.compose import HOLD_LAST_S
from ddpm_desktop.render.export_job import ExportProgress, save_animation
from ddpm_desktop.render.frames import KIND_OF_SUFFIX, output_positions
from ddpm_desktop.render.gui import ensure_gui, font
from ddpm_desktop.render.palette import PlotColors

TITLE_H = 26
CAPTION_H = 22
DEFAULT_SIZE = 480
FIELD_N = 17
KINDS = KIND_OF_SUFFIX  # the file kind of each suffix the 2-D export writes


@dataclass(frozen=True)
class Toy2DExportJob:
    """An export of one chain of 2-D particles.

    frames [K, N, 2] in the order played, ts [K] their steps t, alpha_bars [K] their ᾱ_t;
    marginal: a core.toy2d.Marginal for the heat map (None: no heat map); eps_fn: the model's
    EpsFn for the −ε̂ arrows (None: none); labels [N] ints 0-9 colour the particles by class
    (None: one colour, the `role`'s); picked: particles whose paths are drawn. kind "png"
    writes the last frame only."""

    path: str
    frames: np.ndarray
    ts: np.ndarray
    alpha_bars: np.ndarray
    title: str
    kind: str = "gif"
    role: str = "forward"
    marginal: object | None = None
    eps_fn: Callable | None = None
    labels: np.ndarray | None = None
    picked: tuple[int, ...] = ()
    extent: float = 3.5
    size: int = DEFAULT_SIZE
    fps: float = 20.0
    n_frames: int | None = None
    hold_s: float = HOLD_LAST_S
    colors: PlotColors | None = None

    def __post_init__(self):
        if self.colors is None:
            object.__setattr__(self, "colors", theme.plot_colors())
        if self.kind not in KIND_OF_SUFFIX.values():
            raise ValueError(f"unknown export kind {self.kind!r}")
        frames = np.asarray(self.frames, dtype=np.float32)
        if frames.ndim != 3 or frames.shape[2] != 2 or len(frames) == 0:
            raise ValueError("nothing to export: no 2-D particles")
        if len(self.ts) != len(frames) or len(self.alpha_bars) != len(frames):
            raise ValueError("ts and alpha_bars need one value per frame")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if not 64 <= int(self.size) <= 4096:
            raise ValueError(f"frame size must be in 64..4096 px, got {self.size}")
        object.__setattr__(self, "frames", frames)

    def positions(self) -> np.ndarray:
        """The chain frames the output shows (one for a png)."""
        if self.kind == "png":
            return np.asarray([len(self.frames) - 1])
        return output_positions(len(self.frames), 0, self.n_frames)


def _rgb_array(color: str) -> np.ndarray:
    return np.asarray(theme.rgb(color), dtype=np.float32)


class _Painter:
    """Per-job constants (pixel grids, colour tables) reused by every frame."""

    def __init__(self, job: Toy2DExportJob) -> None:
        self.job = job
        c = job.colors
        self.w = self.h = int(job.size)
        self.height = TITLE_H + self.h + CAPTION_H
        self.bg = _rgb_array(c.background)
        self.hot = _rgb_array(c.forward)
        e = float(job.extent)
        self.scale = self.w / (2 * e)
        if job.labels is not None:
            table = np.array([theme.rgb(x) for x in theme.class_colors(c)], dtype=np.uint8)
            self.point_rgb = table[np.asarray(job.labels, dtype=np.int64) % len(table)]
        else:
            self.point_rgb = np.broadcast_to(
                np.array(theme.rgb(getattr(c, job.role)), np.uint8), (job.frames.shape[1], 3))
        m = job.marginal
        if m is not None:
            g = m.grid
            centres = -e + (np.arange(self.w) + 0.5) / self.scale         # data x of each column
            ix = np.floor((centres + g.extent) / g.dx).astype(np.int64)
            iy = np.floor((-centres + g.extent) / g.dx).astype(np.int64)  # rows: y from the top
            self.heat_ok = (ix >= 0) & (ix < g.n), (iy >= 0) & (iy < g.n)
            self.heat_ix, self.heat_iy = np.clip(ix, 0, g.n - 1), np.clip(iy, 0, g.n - 1)

    def to_px(self, pts: np.ndarray) -> np.ndarray:
        e = self.job.extent
        return np.stack([(pts[:, 0] + e) * self.scale, TITLE_H + (e - pts[:, 1]) * self.scale], 1)

    def paint(self, k: int) -> np.ndarray:
        job, c = self.job, self.job.colors
        arr = np.empty((self.height, self.w, 3), np.uint8)
        arr[:] = self.bg.astype(np.uint8)
        ab = float(job.alpha_bars[k])
        if job.marginal is not None:
            d = np.sqrt(job.marginal.density(ab))
            top = max(float(d.max()), 1e-12)
            img = d[self.heat_iy[:, None], self.heat_ix[None, :]] / top
            img *= self.heat_ok[1][:, None] & self.heat_ok[0][None, :]
            rgb = self.bg + img[..., None] * (self.hot - self.bg)
            arr[TITLE_H:TITLE_H + self.h] = np.clip(rgb, 0, 255).astype(np.uint8)
        # particles: 2×2 px dots by fancy indexing
        px = np.floor(self.to_px(job.frames[k])).astype(np.int64)
        for dx in (0, 1):
            for dy in (0, 1):
                x, y = px[:, 0] + dx, px[:, 1] + dy
                ok = (x >= 0) & (x < self.w) & (y >= TITLE_H) & (y < TITLE_H + self.h)
                arr[y[ok], x[ok]] = self.point_rgb[ok]
        qimg = QImage(arr.data, self.w, self.height, 3 * self.w, QImage.Format.Format_RGB888)
        p = QPainter(qimg)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._arrows(p, k)
            self._trails(p, k)
            p.setPen(theme.qcolor(c.foreground))
            p.setFont(font(15, bold=True))
            p.drawText(QRectF(8, 0, self.w - 16, TITLE_H), Qt.AlignmentFlag.AlignVCenter, job.title)
            p.setFont(font(13))
            p.setPen(theme.qcolor(c.muted))
            caption = (f"t = {int(job.ts[k])}   ᾱ_t = {ab:.4g}   "
                       f"{len(job.frames[k])} particles")
            p.drawText(QRectF(8, TITLE_H + self.h, self.w - 16, CAPTION_H),
                       Qt.AlignmentFlag.AlignVCenter, caption)
        finally:
            p.end()
        return arr

    def _arrows(self, p: QPainter, k: int) -> None:
        job = self.job
        t = int(job.ts[k])
        if job.eps_fn is None or t < 1:
            return
        e = job.extent * 0.9
        grid = np.linspace(-e, e, FIELD_N)
        xx, yy = np.meshgrid(grid, grid)
        pts = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
        with torch.inference_mode():
            eps = job.eps_fn(torch.from_numpy(pts), t).detach().cpu().numpy().astype(np.float64)
        top = float(np.linalg.norm(eps, axis=1).max())
        if not top > 0:
            return
        scale = 0.9 * (2 * e / (FIELD_N - 1)) / top
        a, b = self.to_px(pts), self.to_px(pts - scale * eps)
        pen = QPen(theme.qcolor(job.colors.exact, 200))
        pen.setWidthF(1.2)
        p.setPen(pen)
        p.drawLines([QLineF(QPointF(*u), QPointF(*v)) for u, v in zip(a, b)])

    def _trails(self, p: QPainter, k: int) -> None:
        job = self.job
        picked = [i for i in job.picked if 0 <= i < job.frames.shape[1]]
        if not picked or k < 1:
            return
        pen = QPen(theme.qcolor(job.colors.cursor))
        pen.setWidthF(1.5)
        p.setPen(pen)
        for i in picked:
            path = self.to_px(job.frames[: k + 1, i])
            p.drawPolyline([QPointF(x, y) for x, y in path])


def paint_toy_frame(job: Toy2DExportJob, k: int) -> np.ndarray:
    """Frame k of the job's chain, uint8 [H, W, 3]."""
    ensure_gui()
    return _Painter(job).paint(int(k))


def iter_toy_export(job: Toy2DExportJob, cancel: threading.Event | None = None
                    ) -> Iterator[ExportProgress]:
    """Paint and write `job`, yielding ExportProgress after each frame; the file is written
    once, atomically, after the last (a cancel or an error leaves an existing file as it was)."""
    cancel = cancel or threading.Event()
    path = check_writable(job.path)
    ensure_gui()
    painter = _Painter(job)
    positions = job.positions()
    total = len(positions) + 1
    composed = []
    for k in positions:
        if cancel.is_set():
            return
        composed.append(painter.paint(int(k)))
        yield ExportProgress(len(composed), total)
    if cancel.is_set():
        return
    if job.kind == "png":
        imaging.save_png(composed[-1], path)
    else:
        save_animation(job.kind, composed, path, job.fps, job.hold_s)
    yield ExportProgress(total, total, str(path))


def run_toy_export(job: Toy2DExportJob, cancel: threading.Event | None = None) -> str | None:
    """Blocking `iter_toy_export`; the path written, or None when cancelled."""
    path = None
    for item in iter_toy_export(job, cancel):
        path = item.path or path
    return path


def alpha_bars_of(schedule, ts) -> np.ndarray:
    """ᾱ_t for each step t (1 at t = 0)."""
    ac = np.asarray(schedule.alphas_cumprod, dtype=np.float64)
    ts = np.asarray(ts, dtype=np.int64)
    return np.where(ts > 0, ac[np.clip(ts - 1, 0, len(ac) - 1)], 1.0)


__all__ = ["Toy2DExportJob", "alpha_bars_of", "iter_toy_export", "paint_toy_frame",
           "run_toy_export", "KINDS"]
