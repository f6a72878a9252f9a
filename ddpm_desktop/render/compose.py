"""Composite chain frames (image, histogram vs N(0,1), KL curve) for GIF / PNG export.

Public API
----------
``ChainView(frames, title="", kl=None, captions=None)``  one chain as the user sees it:
    ``frames`` float [F, 28, 28] in [-1, 1]; ``kl`` float [F] (KL to N(0,1) per frame, e.g.
    core.kl.histogram_kl_batch of the frames, or the analytic curve) or None; ``captions``
    F strings shown under the image (e.g. "t = 437") or None ("frame i/F").

``frame_layout(n_chains, scale, with_histogram, with_kl) -> FrameLayout``  where every
    element sits in a frame (``image_rects[j]`` = (x, y, w, h) of chain j's picture).

``iter_frames(chains, titles=None, scale=4, with_histogram=False, kl_curves=None,
    captions=None, stride=0, n_frames=None)`` yields uint8 [H, W, 3] frames one by one (a generator, so a
    worker can cancel between frames); ``compose_frames(...)`` is ``list(iter_frames(...))``.
    ``chains``: list of float [F_j, 28, 28] in [-1, 1]. Chains of different lengths are
    played over the same output frames (``output_indices``: ``n_frames`` picked along the
    longest chain by index, by default ``DEFAULT_FRAMES`` or every frame of a shorter chain,
    never fewer than ``MIN_FRAMES``; or every ``stride``-th): chain j shows frame
    round(i * (F_j - 1) / (F - 1)), so both start and end together. The first and last
    frames are always included. Needs a Q(Gui)Application (fonts); one is created if absent.
    Colours are the roles of a ``render.palette.PlotColors`` (``colors=``; default the current
    theme's): background, inset (the small plots), foreground / muted text, bar /
    bar_clipped (histogram), gaussian (N(0,1)), forward (KL curve), cursor (the KL marker).

``compose_strip(chains, titles=None, scale=4, n_frames=8, captions=None)`` -> uint8
    [H, W, 3]: one row of evenly spaced key frames per chain (first and last included).

``FORWARD_TITLE``, ``REVERSE_TITLE``; ``forward_title(t, T)``, ``reverse_title(t)``: the chains'
    titles (the app's export and ``ddpm-desktop export`` write the same).

The job that runs an export (``ExportJob``, ``iter_export``) is ``render.export_job``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Iterator, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen, QPolygonF

from ddpm_desktop.core import imaging, readout
from ddpm_desktop.core.imaging import IMAGE_SIDE
from ddpm_desktop.core.kl import HIST_RANGE, histogram_density  # the app's histogram axis; bars in the KL estimate's own bins
from ddpm_desktop.core.kl import indistinguishable_level
from ddpm_desktop.render.frames import MIN_FRAMES, output_indices
from ddpm_desktop.render.gui import ensure_gui, font, qimage_view
from ddpm_desktop.render.palette import PlotColors, plot_colors, qcolor, rgb

MARGIN = 8
TITLE_H = 24
CAPTION_H = 22
MIN_PANEL_W = 400  # one chain's panel: wide enough to read when projected or embedded
HOLD_LAST_S = 1.0  # the last frame of an animation is shown at least this long
PROGRESS_H = 3  # the bar along the bottom edge showing how far through the loop a frame is
HIST_YMAX = 1.0  # density axis; taller bars (the x_0 background spike) are clipped
FORWARD_TITLE = "Forward  x₀ → x_T"
REVERSE_TITLE = "Reverse  x_T → x₀"


def forward_title(t: int, T: int) -> str:
    """The forward chain's title when it runs x_0 → x_t of a T-step schedule."""
    return FORWARD_TITLE if t == T else f"Forward  x₀ → x_{t}"


def reverse_title(t: int | None) -> str:
    """The reverse chain's title when it starts at x_t (None: at x_T, from noise)."""
    return REVERSE_TITLE if t is None else f"Reverse  x_{t} → x₀"


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ChainView:
    """One chain's frames as the user sees them (see the module docstring)."""

    frames: np.ndarray
    title: str = ""
    kl: np.ndarray | None = None
    captions: tuple[str, ...] | None = None

    def __post_init__(self):
        f = np.asarray(self.frames, dtype=np.float32)
        if f.ndim != 3 or f.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or len(f) == 0:
            raise ValueError(f"a chain must be [F, 28, 28] with F >= 1, got shape {f.shape}")
        object.__setattr__(self, "frames", f)
        if self.kl is not None:
            kl = np.asarray(self.kl, dtype=np.float64).ravel()
            if len(kl) != len(f):
                raise ValueError(f"KL curve has {len(kl)} values for {len(f)} frames")
            object.__setattr__(self, "kl", kl)
        if self.captions is not None:
            caps = tuple(str(c) for c in self.captions)
            if len(caps) != len(f):
                raise ValueError(f"{len(caps)} captions for {len(f)} frames")
            object.__setattr__(self, "captions", caps)

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class FrameLayout:
    width: int
    height: int
    panel_width: int
    image_rects: tuple[tuple[int, int, int, int], ...]
    title_rects: tuple[tuple[int, int, int, int], ...]
    caption_rects: tuple[tuple[int, int, int, int], ...]
    hist_rects: tuple[tuple[int, int, int, int], ...] | None
    kl_rects: tuple[tuple[int, int, int, int], ...] | None


def frame_layout(n_chains: int, scale: int, with_histogram: bool = False,
                 with_kl: bool = False) -> FrameLayout:
    """Pixel geometry of a composed frame: panels side by side, each stacked top to bottom:
    title, picture (28*scale square), caption, histogram, KL curve."""
    if n_chains < 1:
        raise ValueError("export needs at least one chain")
    scale = int(scale)
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    s = IMAGE_SIDE * scale
    pw = max(s, MIN_PANEL_W)
    plot_h = max(70, min(pw, 420) // 3)
    y_title = MARGIN
    y_img = y_title + TITLE_H
    y_cap = y_img + s
    y = y_cap + CAPTION_H + 2
    y_hist = y if with_histogram else None
    if with_histogram:
        y += plot_h + MARGIN
    y_kl = y if with_kl else None
    if with_kl:
        y += plot_h + MARGIN
    height = y + (MARGIN if not (with_histogram or with_kl) else 0)
    width = MARGIN + n_chains * (pw + MARGIN)
    xs = [MARGIN + j * (pw + MARGIN) for j in range(n_chains)]
    return FrameLayout(
        width=width, height=height, panel_width=pw,
        image_rects=tuple((x + (pw - s) // 2, y_img, s, s) for x in xs),
        title_rects=tuple((x, y_title, pw, TITLE_H) for x in xs),
        caption_rects=tuple((x, y_cap, pw, CAPTION_H) for x in xs),
        hist_rects=tuple((x, y_hist, pw, plot_h) for x in xs) if with_histogram else None,
        kl_rects=tuple((x, y_kl, pw, plot_h) for x in xs) if with_kl else None,
    )


# ----------------------------------------------------------------------------- drawing


def _qrect(r) -> QRectF:
    return QRectF(*r)


def _normal_pdf_polygon(rect) -> QPolygonF:
    x0, y0, w, h = rect
    lo, hi = HIST_RANGE
    xs = np.linspace(lo, hi, 120)
    pdf = np.exp(-0.5 * xs * xs) / math.sqrt(2.0 * math.pi)
    px = x0 + (xs - lo) / (hi - lo) * w
    py = y0 + h - np.clip(pdf / HIST_YMAX, 0.0, 1.0) * (h - 1)
    return QPolygonF([QPointF(float(a), float(b)) for a, b in zip(px, py)])


class _KlAxis:
    """Maps (frame index, KL value) of one chain into its KL plot rectangle."""

    def __init__(self, kl: np.ndarray, rect, n_frames: int):
        self.rect = rect
        finite = kl[np.isfinite(kl)]
        top = float(finite.max()) if finite.size else 1.0
        self.ymax = top * 1.08 if top > 0 else 1.0
        self.n = max(n_frames - 1, 1)

    def point(self, i: float, v: float) -> QPointF:
        x0, y0, w, h = self.rect
        x = x0 + 4 + (w - 8) * i / self.n
        v = 0.0 if not np.isfinite(v) else v
        y = y0 + h - 17 - (h - 26) * min(max(v / self.ymax, 0.0), 1.0)
        return QPointF(x, y)


def _kl_reading(value: float) -> str:
    """A frame's estimated KL as core.readout reads it (each frame is 784 pixel values: under
    their N(0, 1) level it reads "≈ 0 (below level)", +∞ says why), to 3 decimals."""
    r = readout.format_kl(value, resolution=float(indistinguishable_level(IMAGE_SIDE ** 2)),
                          infinite=readout.REPEATED_VALUES, fmt=lambda v, _d: f"{v:.3f}")
    return f"estimated KL {'' if r.value == '≈ 0' else '= '}{r.text}"


def _paint_base(layout: FrameLayout, chains: Sequence[ChainView], with_histogram: bool,
                kl_axes: list[_KlAxis | None], colors: PlotColors) -> np.ndarray:
    """Everything that does not change between frames: background, titles, plot frames,
    the N(0,1) density and the full KL curves."""
    base = np.empty((layout.height, layout.width, 3), np.uint8)
    base[:] = rgb(colors.background)
    for j in range(len(chains)):
        for rects in (layout.hist_rects, layout.kl_rects):
            if rects is not None:
                x, y, w, h = rects[j]
                base[y:y + h, x:x + w] = rgb(colors.inset)
    text, muted = qcolor(colors.foreground), qcolor(colors.muted)
    img = qimage_view(base)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    for j, chain in enumerate(chains):
        p.setPen(text)
        p.setFont(font(16, bold=True))
        p.drawText(_qrect(layout.title_rects[j]), Qt.AlignmentFlag.AlignCenter, chain.title)
        p.setFont(font(12))
        if with_histogram:
            x, y, w, h = layout.hist_rects[j]
            p.setPen(muted)
            p.drawText(QRectF(x + 3, y + 1, w - 6, 15),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, "pixels vs N(0,1)")
            p.drawText(QRectF(x + 2, y + h - 15, w - 4, 15),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, f"{HIST_RANGE[0]:g}")
            p.drawText(QRectF(x + 2, y + h - 15, w - 4, 15),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom, f"{HIST_RANGE[1]:g}")
        axis = kl_axes[j]
        if axis is not None and chain.kl is not None:
            x, y, w, h = layout.kl_rects[j]
            p.setPen(muted)
            p.drawText(QRectF(x + 3, y + 1, w - 6, 15),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                       f"estimated KL to N(0,1)  (max {axis.ymax / 1.08:.3g})")
            kl = chain.kl
            # at most ~2 points per pixel: a 1000-frame curve stays cheap to draw
            idx = np.unique(np.linspace(0, len(kl) - 1, min(len(kl), 2 * w)).round().astype(int))
            p.setPen(QPen(qcolor(colors.forward), 1.5))
            p.drawPolyline(QPolygonF([axis.point(float(i), float(kl[i])) for i in idx]))
    p.end()
    return base


def _paint_histogram(frame: np.ndarray, rect, bars: tuple[np.ndarray, np.ndarray],
                     colors: PlotColors) -> None:
    """bars: (edges, density) from core.kl.histogram_density - the bins the app draws and the KL
    number measures."""
    x0, y0, w, h = rect
    edges, density = bars
    lo, hi = HIST_RANGE
    inner_h = h - 17
    bottom = y0 + h - 15
    px = np.clip(x0 + (edges - lo) / (hi - lo) * w, x0, x0 + w).round().astype(int)
    heights = np.minimum(density / HIST_YMAX, 1.0) * inner_h
    bar, clipped = rgb(colors.bar), rgb(colors.bar_clipped)
    for b in range(len(density)):
        bh = int(round(heights[b]))
        if bh <= 0 or px[b + 1] <= px[b]:
            continue
        colour = clipped if density[b] > HIST_YMAX else bar
        frame[bottom - bh:bottom, px[b] + (1 if px[b + 1] - px[b] > 2 else 0):px[b + 1]] = colour


def iter_frames(chains: Sequence[np.ndarray | ChainView], titles: Sequence[str] | None = None,
                scale: int = 4, with_histogram: bool = False,
                kl_curves: Sequence[np.ndarray | None] | None = None,
                captions: Sequence[Sequence[str] | None] | None = None,
                stride: int = 0, colors: PlotColors | None = None,
                n_frames: int | None = None,
                min_frames: int = MIN_FRAMES) -> Iterator[np.ndarray]:
    """Yield composed uint8 [H, W, 3] frames (see the module docstring); which frames:
    ``output_indices(lengths, stride, n_frames, min_frames)``. A thin bar along the bottom
    edge shows how far through the animation each frame is (so repeated chain frames stay
    distinct frames)."""
    views = _as_views(chains, titles, kl_curves, captions)
    ensure_gui()
    colors = colors or plot_colors()
    with_kl = any(v.kl is not None for v in views)
    layout = frame_layout(len(views), scale, with_histogram, with_kl)
    indices = output_indices([len(v) for v in views], stride, n_frames, min_frames)
    n_out = len(indices[0])
    kl_axes = [(_KlAxis(v.kl, layout.kl_rects[j], len(v)) if v.kl is not None else None)
               for j, v in enumerate(views)]
    base = _paint_base(layout, views, with_histogram, kl_axes, colors)
    text, muted = qcolor(colors.foreground), qcolor(colors.muted)
    gauss_pen, marker = QPen(qcolor(colors.gaussian), 1.5), qcolor(colors.cursor)
    s = int(scale)
    # the frames as uint8 once, exactly as core.imaging.to_uint8 shows them elsewhere
    u8 = [imaging.to_uint8(v.frames) for v in views]
    gauss = [(_normal_pdf_polygon(layout.hist_rects[j]) if with_histogram else None)
             for j in range(len(views))]
    small, caption_font = font(12), font(14)
    bar_y = layout.height - PROGRESS_H - 2
    bar_w = layout.width - 2 * MARGIN
    track, fill = rgb(colors.inset), rgb(colors.cursor)
    for k in range(n_out):
        frame = base.copy()
        done = int(round(bar_w * (k + 1) / n_out))
        frame[bar_y:bar_y + PROGRESS_H, MARGIN:MARGIN + bar_w] = track
        frame[bar_y:bar_y + PROGRESS_H, MARGIN:MARGIN + done] = fill
        for j, v in enumerate(views):
            i = int(indices[j][k])
            x, y, w, h = layout.image_rects[j]
            frame[y:y + h, x:x + w] = u8[j][i].repeat(s, 0).repeat(s, 1)[..., None]
            if with_histogram:
                _paint_histogram(frame, layout.hist_rects[j], histogram_density(v.frames[i]),
                                 colors)
        img = qimage_view(frame)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for j, v in enumerate(views):
            i = int(indices[j][k])
            p.setFont(caption_font)
            p.setPen(text)
            cap = v.captions[i] if v.captions is not None else f"frame {i + 1}/{len(v)}"
            p.drawText(_qrect(layout.caption_rects[j]), Qt.AlignmentFlag.AlignCenter, cap)
            if with_histogram:
                p.setPen(gauss_pen)
                p.drawPolyline(gauss[j])
            axis = kl_axes[j]
            if axis is not None:
                pt = axis.point(float(i), float(v.kl[i]))
                x, y, w, h = layout.kl_rects[j]
                p.setPen(QPen(muted, 1, Qt.PenStyle.DashLine))
                p.drawLine(QPointF(pt.x(), y + 17), QPointF(pt.x(), y + h - 15))
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(marker)
                p.drawEllipse(pt, 3.0, 3.0)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.setPen(text)
                p.setFont(small)
                p.drawText(QRectF(x + 3, y + h - 16, w - 6, 15),
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                           _kl_reading(v.kl[i]))
        p.end()
        yield frame


def compose_frames(chains: Sequence[np.ndarray | ChainView], titles: Sequence[str] | None = None,
                   scale: int = 4, with_histogram: bool = False,
                   kl_curves: Sequence[np.ndarray | None] | None = None,
                   captions: Sequence[Sequence[str] | None] | None = None,
                   stride: int = 0, colors: PlotColors | None = None,
                   n_frames: int | None = None, min_frames: int = MIN_FRAMES) -> list[np.ndarray]:
    """All frames of ``iter_frames`` as a list of uint8 [H, W, 3]."""
    return list(iter_frames(chains, titles, scale, with_histogram, kl_curves, captions, stride,
                            colors, n_frames, min_frames))


def _as_views(chains, titles, kl_curves, captions) -> list[ChainView]:
    if len(chains) == 0:
        raise ValueError("export needs at least one chain")
    views = []
    for j, c in enumerate(chains):
        if isinstance(c, ChainView):
            views.append(c)
            continue
        views.append(ChainView(
            np.asarray(c),
            title=titles[j] if titles is not None else "",
            kl=kl_curves[j] if kl_curves is not None else None,
            captions=captions[j] if captions is not None else None,
        ))
    return views


def key_frame_indices(n: int, k: int) -> np.ndarray:
    """k evenly spaced frame indices in 0..n-1, first and last included, no repeats."""
    k = max(1, min(int(k), n))
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def compose_strip(chains: Sequence[np.ndarray | ChainView], titles: Sequence[str] | None = None,
                  scale: int = 4, n_frames: int = 8,
                  captions: Sequence[Sequence[str] | None] | None = None,
                  colors: PlotColors | None = None) -> np.ndarray:
    """One row of key frames per chain, title above each row, caption under each frame."""
    views = _as_views(chains, titles, None, captions)
    ensure_gui()
    colors = colors or plot_colors()
    s = IMAGE_SIDE * int(scale)
    picks = [key_frame_indices(len(v), n_frames) for v in views]
    cols = max(len(p) for p in picks)
    cell_w = max(s, 56)
    row_h = TITLE_H + s + CAPTION_H + MARGIN
    width = MARGIN + cols * (cell_w + MARGIN)
    height = MARGIN + len(views) * row_h
    out = np.empty((height, width, 3), np.uint8)
    out[:] = rgb(colors.background)
    u8 = [imaging.to_uint8(v.frames) for v in views]
    for r, v in enumerate(views):
        y = MARGIN + r * row_h + TITLE_H
        for c, i in enumerate(picks[r]):
            x = MARGIN + c * (cell_w + MARGIN) + (cell_w - s) // 2
            out[y:y + s, x:x + s] = u8[r][i].repeat(scale, 0).repeat(scale, 1)[..., None]
    img = qimage_view(out)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    for r, v in enumerate(views):
        y = MARGIN + r * row_h
        p.setPen(qcolor(colors.foreground))
        p.setFont(font(13, bold=True))
        p.drawText(QRectF(MARGIN, y, width - 2 * MARGIN, TITLE_H),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, v.title)
        p.setFont(font(10))
        for c, i in enumerate(picks[r]):
            x = MARGIN + c * (cell_w + MARGIN)
            cap = v.captions[i] if v.captions is not None else f"{i + 1}/{len(v)}"
            p.drawText(QRectF(x, y + TITLE_H + s, cell_w, CAPTION_H),
                       Qt.AlignmentFlag.AlignCenter, cap)
    p.end()
    return out
