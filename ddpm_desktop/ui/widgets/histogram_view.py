"""Pixel histogram against N(0, 1), and KL to N(0, 1) versus t.

`HistogramView(forward_state, reverse_state)` shows, side by side over the KL readout:
- the histogram (density, stepMode="center") of the current forward frame's 784 pixels,
  the current reverse frame's (when a reverse chain exists) and the N(0, 1) density, with the
  live KL numbers of the pixel-value distribution p_t (ForwardState's four quantities): the
  exact KL, the estimate with its spread, the poster's histogram estimate and the upper
  bound (mean KL of q(x_t|x_0));
- KL versus t on a log axis: the same four curves (the estimate with its band), the level
  under which an estimate cannot be told from N(0, 1), the reverse chain's estimate at each of
  its steps, and a draggable cursor at the current frame (dragging it scrubs the chain).
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from ddpm_desktop.core import kl, readout
from ddpm_desktop.core.readout import format_kl
from ddpm_desktop.ui.state import SAMPLER_NAMES, ForwardState, ReverseState
from ddpm_desktop.ui.theme import cache_rendering, held_range, pen, plot_colors, qcolor, style_plot
from ddpm_desktop.ui.widgets.live_label import LiveLabel

_KL_MIN = 1e-6  # log axis: clip exact zeros/negatives for display


_KL_LABEL_TIP = (
    "KL of the pixel-value distribution p_t of x_t against N(0, 1), nats:\n"
    "exact = ∫ p_t ln(p_t/φ) by quadrature (∞ at t = 0: an image's values are "
    "discrete); estimate = from these 784 values, ± its sampling spread;\n"
    "histogram = the poster's 31-bin estimate; bound = mean over pixels of "
    "KL(q(x_t|x₀,i) ‖ N(0, 1)) ≥ exact.\n"
    "≈ N(0,1): the estimate is below the level that 95% of N(0, 1) samples stay under.")


def _infinite(t: int) -> dict:
    """Why an estimate from pixel values is +∞: at t = 0 the input's values repeat; later,
    (a reverse frame's) values clipped to ±1 do."""
    if t == 0:
        return {"infinite": readout.NO_DENSITY, "infinite_tip": readout.NO_DENSITY_TIP}
    return {"infinite": readout.REPEATED_VALUES, "infinite_tip": readout.REPEATED_VALUES_TIP}


class HistogramView(QWidget):
    _styled = False  # a palette change during construction has nothing to restyle yet

    def __init__(self, forward: ForwardState, reverse: ReverseState,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.forward = forward
        self.reverse = reverse

        self.hist_plot = pg.PlotWidget()
        hp = self.hist_plot.getPlotItem()
        hp.setTitle("Pixel histogram vs N(0, 1)", size="10pt")
        hp.setLabel("bottom", "pixel value")
        hp.setLabel("left", "density")
        hp.getAxis("left").enableAutoSIPrefix(False)
        hp.setMenuEnabled(False)
        hp.hideButtons()
        self.hist_plot.setMouseEnabled(x=False, y=False)
        self.hist_plot.setXRange(*kl.HIST_RANGE, padding=0)
        self.hist_plot.setYRange(0, 1.0)
        self._y_range = None  # (0, top) of the density axis
        self._kl_y = None  # log10 range of the KL axis
        self._forward_peak = self._reverse_peak = 0.0
        self._estimate_shown = False
        self.legend = hp.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.forward_hist = self.hist_plot.plot(name="forward x_t", stepMode="center",
                                                fillLevel=0)
        self.reverse_hist = self.hist_plot.plot(name="reverse x_t", stepMode="center")
        # the second sampler of compare mode (empty otherwise)
        self.reverse_hist_b = self.hist_plot.plot(stepMode="center")
        xs = np.linspace(*kl.HIST_RANGE, 301)
        self.normal_curve = self.hist_plot.plot(xs, kl.normal_pdf(xs), name="N(0, 1)")

        self.kl_plot = pg.PlotWidget()
        kp = self.kl_plot.getPlotItem()
        kp.setTitle("KL( · ‖ N(0, 1)) per pixel vs t", size="10pt")
        kp.setLabel("bottom", "t")
        kp.setLabel("left", "nats")
        kp.setLogMode(x=False, y=True)
        kp.setMenuEnabled(False)
        kp.hideButtons()
        self.kl_plot.setMouseEnabled(x=False, y=False)
        self.kl_legend = kp.addLegend(offset=(-8, 8), labelTextSize="7pt")  # top-right: empty
        self.kl_marginal_curve = self.kl_plot.plot(name="exact KL(p_t ‖ N)")
        self.kl_band_lo = pg.PlotDataItem()
        self.kl_band_hi = pg.PlotDataItem()
        self.kl_band = pg.FillBetweenItem(self.kl_band_lo, self.kl_band_hi)
        self.kl_plot.addItem(self.kl_band)
        self.kl_estimate_curve = self.kl_plot.plot(name="estimate ± spread")
        self.kl_hist_curve = self.kl_plot.plot(name="histogram (poster's)")
        self.kl_bound_curve = self.kl_plot.plot(name="bound: mean KL q(x_t|x₀)")
        self.kl_reverse_curve = self.kl_plot.plot(name="reverse (estimate)", symbol="o",
                                                  symbolSize=4)
        self.kl_reverse_curve_b = self.kl_plot.plot(symbol="t", symbolSize=5)
        self.floor_line = pg.InfiniteLine(angle=0, movable=False)
        self.kl_plot.addItem(self.floor_line)
        # legend entry for the floor line (an InfiniteLine has none of its own)
        self.floor_legend_item = pg.PlotDataItem()
        self.kl_legend.addItem(self.floor_legend_item, "≈ N(0, 1) below (95%)")
        self.kl_plot.setToolTip(
            "KL(p ‖ N(0, 1)) = ∫ p ln(p/φ) of the pixel-value distribution, in nats.\n"
            "exact: p_t = (1/n) Σ_i N(√ᾱ_t x₀,i, 1 − ᾱ_t), by quadrature (core.marginal);\n"
            "estimate: from the frame's 784 values, ½ ln 2π + ½ mean x² − Ĥ (m-spacing "
            "entropy), band ± one standard deviation;\n"
            "histogram: Σ p̂_b ln(p̂_b/q_b) over 31 bins (the poster's method; lumps the tails);\n"
            "upper bound: (1/n) Σ_i KL(N(√ᾱ_t x₀,i, 1 − ᾱ_t) ‖ N(0, 1)) (convexity), Ho et "
            "al.'s L_T at t = T;\n"
            "dotted line: 95% of estimates from N(0, 1) itself fall below it (n = 784).")
        self.cursor = pg.InfiniteLine(angle=90, movable=True)
        self.cursor.setToolTip("Drag to scrub t")
        self.kl_plot.addItem(self.cursor)
        # Per frame only the bars and the cursor move: everything they pass over is blitted
        # from a cache instead of re-stroked (1001-point curves, legends, the floor line).
        cache_rendering(self.normal_curve, self.reverse_hist, self.reverse_hist_b,
                        self.kl_hist_curve, self.kl_bound_curve, self.kl_marginal_curve,
                        self.kl_estimate_curve, self.kl_band, self.kl_reverse_curve,
                        self.kl_reverse_curve_b, self.floor_line,
                        self.legend, self.kl_legend)

        # new text every frame: no window re-layout for it. A line a compared sampler: it
        # spans both plots (half the lines of one column) and is never cut; a short window
        # takes its height from the chains above rather than from the plots.
        self.kl_label = LiveLabel(whole=True)
        self.kl_label.setProperty("role", "value")
        self.kl_label.setToolTip(_KL_LABEL_TIP)

        plots = QHBoxLayout()
        plots.addWidget(self.hist_plot, 1)
        plots.addWidget(self.kl_plot, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 6)
        layout.setSpacing(2)
        layout.addLayout(plots, 1)
        layout.addWidget(self.kl_label)

        self.cursor.sigPositionChanged.connect(self._on_cursor_dragged)
        forward.chain_changed.connect(self._on_chain_changed)
        forward.kl_changed.connect(self._on_kl_changed)
        forward.frame_changed.connect(self._on_frame_changed)
        reverse.reset.connect(self._on_reverse_changed)
        reverse.frames_added.connect(self._on_reverse_changed)
        reverse.frame_changed.connect(self._on_reverse_frame_changed)
        self._apply_colors()
        self._on_chain_changed()
        self._on_frame_changed(forward.t)

    def _apply_colors(self) -> None:
        self._styled = True
        c = plot_colors(self.palette())
        for plot in (self.hist_plot, self.kl_plot):
            style_plot(plot, c)
        fwd_fill = qcolor(c.forward, 70)
        self.forward_hist.setPen(pen(c.forward, width=1.5))
        self.forward_hist.setBrush(pg.mkBrush(fwd_fill))
        self.reverse_hist.setPen(pen(c.reverse, width=2))
        self.normal_curve.setPen(pen(c.gaussian, width=2.5))
        self.kl_marginal_curve.setPen(pen(c.exact, width=2.5))
        self.kl_estimate_curve.setPen(pen(c.forward, width=1.5))
        self.kl_band.setBrush(pg.mkBrush(qcolor(c.forward, 60)))
        self.kl_hist_curve.setPen(pen(c.muted, width=1))
        self.kl_bound_curve.setPen(pen(c.warn, width=1.5, style=Qt.PenStyle.DashLine))
        self.kl_reverse_curve.setPen(pen(c.reverse, width=1.5))
        self.kl_reverse_curve.setSymbolBrush(pg.mkBrush(c.reverse))
        self.kl_reverse_curve.setSymbolPen(None)
        self.reverse_hist_b.setPen(pen(c.reverse_b, width=2, style=Qt.PenStyle.DashLine))
        self.kl_reverse_curve_b.setPen(pen(c.reverse_b, width=1.5))
        self.kl_reverse_curve_b.setSymbolBrush(pg.mkBrush(c.reverse_b))
        self.kl_reverse_curve_b.setSymbolPen(None)
        self.floor_line.setPen(pen(c.floor, style=Qt.PenStyle.DotLine, width=1.5))
        self.floor_legend_item.setPen(pen(c.floor, style=Qt.PenStyle.DotLine, width=1.5))
        self.cursor.setPen(pen(c.cursor, width=2))
        self.cursor.setHoverPen(pen(c.cursor, width=4))
        for legend in (self.legend, self.kl_legend):
            legend.setLabelTextColor(c.foreground)
            legend.setBrush(pg.mkBrush(qcolor(c.background, 192)))
        self._colors = c
        if self.forward.frames is not None:
            self._on_frame_changed(self.forward.t)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange and self._styled:
            self._apply_colors()
        super().changeEvent(event)

    # ---------------------------------------------------------------- forward
    @Slot()
    def _on_chain_changed(self) -> None:
        f = self.forward
        if f.frames is None:
            return
        t = np.arange(f.T + 1, dtype=np.float64)
        self.kl_hist_curve.setData(t, np.maximum(f.kl_hist, _KL_MIN))
        self._set_finite(self.kl_bound_curve, t, f.kl_conditional)
        self._draw_kl_curves()  # the label follows with frame_changed
        self.floor_line.setValue(math.log10(max(f.kl_level, _KL_MIN)))
        self.kl_plot.setXRange(0, f.T, padding=0.02)
        finite = f.kl_hist[np.isfinite(f.kl_hist)]
        top = math.log10(max(float(finite.max()) if finite.size else 1.0, 1.0) * 3)
        # the top in half decades, held while it fits (theme.held_range), so a schedule drag
        # re-ranges (and redraws the axis) rarely
        bottom = math.log10(_KL_MIN * 10)
        y = held_range(self._kl_y, bottom, top, (bottom, math.ceil(2 * top) / 2), fill=0.9)
        if y != self._kl_y:
            self._kl_y = y
            self.kl_plot.setYRange(*y, padding=0)
        self.cursor.setBounds((0, f.T))

    @staticmethod
    def _set_finite(item, t: np.ndarray, values: np.ndarray | None) -> None:
        if values is None:
            item.setData([], [])
            return
        v = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(v)
        item.setData(t[ok], np.maximum(v[ok], _KL_MIN))

    @Slot()
    def _on_kl_changed(self) -> None:
        """The curves computed off the GUI thread arrived: the exact marginal, the estimate."""
        self._draw_kl_curves()
        self._update_label()

    def _draw_kl_curves(self) -> None:
        f = self.forward
        if f.frames is None:
            return
        t = np.arange(f.T + 1, dtype=np.float64)
        self._set_finite(self.kl_marginal_curve, t, f.kl_marginal)
        if f.kl_estimate is not None and f.kl_spread is not None:
            # A log axis cannot show an estimate <= 0 (it happens near N(0, 1)): gaps there.
            est = np.where(np.isfinite(f.kl_estimate) & (f.kl_estimate > 0), f.kl_estimate,
                           np.nan)
            self.kl_estimate_curve.setData(t, est, connect="finite")
            ok = np.isfinite(est) & np.isfinite(f.kl_spread)
            lo = np.maximum(est[ok] - f.kl_spread[ok], est[ok] / 10)
            hi = est[ok] + f.kl_spread[ok]
            # The band's edges are not items of the (log) plot: they get log10 values here.
            self.kl_band_lo.setData(t[ok], np.log10(lo))
            self.kl_band_hi.setData(t[ok], np.log10(hi))
        elif self._estimate_shown:
            self.kl_estimate_curve.setData([], [])
            self.kl_band_lo.setData([], [])
            self.kl_band_hi.setData([], [])
        self._estimate_shown = f.kl_estimate is not None

    @Slot(int)
    def _on_frame_changed(self, t: int) -> None:
        f = self.forward
        frame = f.frame()
        if frame is None:
            return
        edges, density = kl.histogram_density(frame)
        self.forward_hist.setData(edges, density)
        self._forward_peak = float(density.max())
        self._fit_y()
        self.cursor.blockSignals(True)
        self.cursor.setValue(t)
        self.cursor.blockSignals(False)
        self._update_label()

    def _fit_y(self) -> None:
        """Density axis to the taller of the two histograms shown (capped at 4). Re-ranging
        redraws the axes (about half a frame's paint time, measured): the top moves in steps of
        0.2, and only when the bars outgrow it or shrink below 3/4 of it, so playback mostly
        repaints just the bars."""
        peak = min(max(self._forward_peak, self._reverse_peak), 4.0)
        fresh = (0.0, math.ceil(max(0.6, peak * 1.05) / 0.2) * 0.2)
        y = held_range(self._y_range, 0.0, peak, fresh, fill=0.75)
        if y != self._y_range:
            self._y_range = y
            self.hist_plot.setYRange(*y, padding=0)

    @Slot(object)
    def _on_cursor_dragged(self, line) -> None:
        self.forward.set_frame(int(round(line.value())))

    def _update_label(self) -> None:
        f, c = self.forward, self._colors
        t = f.t

        def at(curve):
            return None if curve is None else float(curve[t])

        est, spread = at(f.kl_estimate), at(f.kl_spread)
        if est is not None:
            near = est <= f.kl_level
        else:
            near = f.kl_hist is not None and f.kl_hist[t] <= 1.5 * f.kl_floor
        verdict = (f"<span style='color:{c.good}'>≈ N(0,1)</span>" if near
                   else f"<span style='color:{c.warn}'>not N(0,1) yet</span>")
        level = f.kl_level if f.kl_level > 0 else None
        readings = [  # (what it is, how it reads): the tooltip adds the raw value and why
            ("exact KL", format_kl(at(f.kl_marginal), **_infinite(0))),
            ("estimated KL", format_kl(est, spread, level, **_infinite(t))),
            ("histogram KL", format_kl(at(f.kl_hist))),
            ("bound", format_kl(at(f.kl_conditional), infinite=readout.POINT_MASS,
                                infinite_tip=readout.POINT_MASS_TIP)),
        ]
        (_, marg), (_, est_r), (_, hist), (_, bound) = readings
        # at t = 0 the exact KL and the estimate are ∞ for one reason: say it once, after both
        marg_text = marg.value if marg.note and marg.note == est_r.note else marg.text
        text = (f"<span style='color:{c.forward}'>■</span> t={t} KL exact <b>{marg_text}</b> · "
                f"est. {est_r.text} · hist. {hist.text} · bound {bound.text} · {verdict}")
        for lane, color in zip(self.reverse.lanes, (c.reverse, c.reverse_b)):
            if len(lane):
                i = min(self.reverse.index, len(lane) - 1)
                name = SAMPLER_NAMES.get(lane.sampler, lane.sampler)
                # the same 784 values per frame: the same level as the forward estimate
                lane_r = format_kl(lane.kl[i], resolution=kl.indistinguishable_level(
                    lane.x_t[i].size), **_infinite(int(lane.t[i])))
                readings.append((f"{name} estimated KL", lane_r))
                text += (f"<br><span style='color:{color}'>■</span> {name} t={lane.t[i]}: "
                         f"estimated KL {lane_r.text}")
        self.kl_label.setText(text)
        notes = [f"{what} at this frame: {r.tooltip}" for what, r in readings
                 if r.tooltip and r.value != readout.MISSING]
        self.kl_label.setToolTip("\n\n".join([_KL_LABEL_TIP, *notes]))

    # ---------------------------------------------------------------- reverse
    @Slot()
    def _on_reverse_changed(self) -> None:
        lanes = self.reverse.lanes
        for k, (hist, curve) in enumerate(((self.reverse_hist, self.kl_reverse_curve),
                                           (self.reverse_hist_b, self.kl_reverse_curve_b))):
            if k < len(lanes) and len(lanes[k]):
                v = np.asarray(lanes[k].kl, dtype=np.float64)
                v = np.where(np.isfinite(v) & (v > 0), v, np.nan)  # <= 0: a gap on a log axis
                curve.setData(np.asarray(lanes[k].t, dtype=np.float64), v, connect="finite")
            else:
                hist.setData([], [])
                curve.setData([], [])
        if not lanes or not len(lanes[0]):
            self._reverse_peak = 0.0
            self._fit_y()
            self._update_label()

    @Slot(int)
    def _on_reverse_frame_changed(self, index: int) -> None:
        lanes = self.reverse.lanes
        if not lanes or not len(lanes[0]):
            return
        peak = 0.0
        for lane, hist in zip(lanes, (self.reverse_hist, self.reverse_hist_b)):
            if len(lane):
                edges, density = kl.histogram_density(lane.x_t[min(index, len(lane) - 1)])
                hist.setData(edges, density)
                peak = max(peak, float(density.max()))
        self._reverse_peak = peak
        self._fit_y()
        self._update_label()
