"""The β-schedule panel: kind, T, β_1, β_T, with live plots of β_t, ᾱ_t and log-SNR.

Built from a `ScheduleState`; every slider drag calls `state.set_params` at once (the whole
window follows live). A value the schedule rejects (e.g. ᾱ_T underflowing) leaves the state
unchanged: while dragging that shows inline in the panel; a bad *typed* value emits `error`
(the window shows a message box) and the field reverts.

Signals: `error(str)` - a one-line message for a message box.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSignalBlocker, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core.schedule import (
    MAX_T,
    SCHEDULE_KINDS,
    NoiseSchedule,
    get_named_beta_schedule,
    prior_warning,
    validate_betas,
)
from ddpm_desktop.ui.state import ScheduleState
from ddpm_desktop.ui.theme import banner_style, held_range, nice_ceiling, pen, plot_colors, style_plot
from ddpm_desktop.ui.widgets.plain_text import plain

# Log10 sliders for β: integer ticks of 0.01 decade. Each slider's top is lowered further to
# the largest value the schedule accepts with the other settings (`_update_limits`), so a
# slider only produces valid schedules.
_BETA_START_RANGE = (-6.0, -1.0)
_BETA_END_RANGE = (-4.0, -0.01)
_T_SLIDER_RANGE = (10, 4000)


def _valid(params: dict) -> bool:
    try:
        validate_betas(get_named_beta_schedule(params["kind"], params["T"],
                                               params["beta_start"], params["beta_end"]))
    except ValueError:
        return False
    return True


def _largest_valid(lo: int, hi: int, valid) -> int:
    """The largest tick in [lo, hi] with valid(tick), given valid(lo) (validity is monotone:
    a longer schedule or larger β only lowers ᾱ_T)."""
    if valid(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if valid(mid) else (lo, mid)
    return lo


def _parse_float(text: str, name: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"{name}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be a number strictly between 0 and 1, got {text.strip()}")
    return value


class _LogSlider(QSlider):
    """A horizontal slider over log10(value) in 0.01-decade ticks."""

    def __init__(self, lo: float, hi: float, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(int(round(lo * 100)), int(round(hi * 100)))

    def value_float(self) -> float:
        return 10.0 ** (self.value() / 100.0)

    def set_value_float(self, v: float) -> None:
        with QSignalBlocker(self):
            self.setValue(int(round(math.log10(v) * 100)))


class _StripPlot(pg.PlotWidget):
    """A compact plot: a small size hint, so a dock (or scroll area) shares space fairly."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(240, 96)


class SchedulePanel(QWidget):
    _styled = False  # colours applied once; restyled on palette changes after that
    error = Signal(str)

    def __init__(self, state: ScheduleState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._x0_sq_mean = 1.0
        self._ranges: dict[str, tuple[float, float]] = {}  # y ranges set by _set_ranges

        self.kind_combo = QComboBox()
        self.kind_combo.addItems(SCHEDULE_KINDS)
        self.kind_combo.setToolTip("Shape of β_t. Cosine (Nichol & Dhariwal) ignores β_1 and β_T.")

        self.T_spin = QSpinBox()
        self.T_spin.setRange(1, MAX_T)
        self.T_spin.setAccelerated(True)
        self.T_spin.setKeyboardTracking(False)  # apply when typing is done, not per digit
        self.T_slider = QSlider(Qt.Orientation.Horizontal)
        self.T_slider.setRange(*_T_SLIDER_RANGE)
        self.T_slider.setSingleStep(10)
        self.T_slider.setPageStep(100)
        self.T_slider.setToolTip("Number of diffusion steps T")

        self.beta_start_edit = QLineEdit()
        self.beta_start_slider = _LogSlider(*_BETA_START_RANGE)
        self.beta_end_edit = QLineEdit()
        self.beta_end_slider = _LogSlider(*_BETA_END_RANGE)
        for edit in (self.beta_start_edit, self.beta_end_edit):
            edit.setMaximumWidth(90)
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.beta_start_edit.setToolTip("β_1, the first step's noise variance (e.g. 1e-4)")
        self.beta_end_edit.setToolTip("β_T, the last step's noise variance (e.g. 0.02)")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Kind", self.kind_combo)
        form.addRow("T", self._pair(self.T_slider, self.T_spin))
        form.addRow("β₁", self._pair(self.beta_start_slider, self.beta_start_edit))
        form.addRow("β_T", self._pair(self.beta_end_slider, self.beta_end_edit))

        self.alpha_bar_label = QLabel()
        self.alpha_bar_label.setProperty("role", "value")
        self.alpha_bar_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning_label = QLabel()
        plain(self.warning_label)
        self.warning_label.setWordWrap(True)
        self.warning_label.setProperty("role", "banner")
        self.inline_error = QLabel()
        plain(self.inline_error)
        self.inline_error.setWordWrap(True)
        self.inline_error.hide()

        self.beta_plot = self._make_plot("β_t")
        self.alpha_bar_plot = self._make_plot("ᾱ_t")
        self.log_snr_plot = self._make_plot("log-SNR λ")
        self.beta_curve = self.beta_plot.plot()
        self.alpha_bar_curve = self.alpha_bar_plot.plot()
        self.alpha_bar_plot.setYRange(0, 1, padding=0.05)  # ᾱ_t always lies in (0, 1)
        self.log_snr_curve = self.log_snr_plot.plot()
        self.log_snr_zero = pg.InfiniteLine(pos=0.0, angle=0, movable=False)
        self.log_snr_plot.addItem(self.log_snr_zero)
        # One shared t axis, labelled once at the bottom: three compact strips.
        for plot in (self.beta_plot, self.alpha_bar_plot):
            plot.setXLink(self.log_snr_plot)
            plot.getPlotItem().getAxis("bottom").setStyle(showValues=False)
            plot.getPlotItem().getAxis("bottom").setHeight(4)
        self.log_snr_plot.getPlotItem().setLabel("bottom", "t")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.alpha_bar_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.inline_error)
        layout.addSpacing(4)
        for plot in (self.beta_plot, self.alpha_bar_plot, self.log_snr_plot):
            layout.addWidget(plot, 1)
        layout.setSpacing(2)

        self.kind_combo.currentTextChanged.connect(self._on_kind_changed)
        self.T_slider.valueChanged.connect(self._on_T_slider_moved)
        self.T_spin.valueChanged.connect(self._on_T_spin_changed)
        self.beta_start_slider.valueChanged.connect(self._on_beta_start_slider_moved)
        self.beta_end_slider.valueChanged.connect(self._on_beta_end_slider_moved)
        self.beta_start_edit.editingFinished.connect(self._on_beta_start_edited)
        self.beta_end_edit.editingFinished.connect(self._on_beta_end_edited)
        state.changed.connect(self._on_state_changed)
        # Slider limits follow the other settings, recomputed once a drag pauses (and before
        # a slider is grabbed): a few validity checks, kept out of the per-tick path.
        self._limits_key = None
        self._limits_timer = QTimer(self)
        self._limits_timer.setSingleShot(True)
        self._limits_timer.setInterval(120)
        self._limits_timer.timeout.connect(self._update_limits)
        for slider in (self.T_slider, self.beta_start_slider, self.beta_end_slider):
            slider.sliderPressed.connect(self._update_limits)

        self._apply_colors()
        self._on_state_changed(state.schedule)

    # ------------------------------------------------------------------ building
    @staticmethod
    def _pair(slider: QWidget, field: QWidget) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(slider, 1)
        row.addWidget(field)
        return box

    @staticmethod
    def _make_plot(title: str) -> pg.PlotWidget:
        plot = _StripPlot()
        plot.setMinimumHeight(64)
        plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        item = plot.getPlotItem()
        item.setLabel("left", title)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.layout.setContentsMargins(0, 2, 6, 0)
        plot.setMouseEnabled(x=False, y=False)
        item.getAxis("left").setWidth(54)
        item.getAxis("left").enableAutoSIPrefix(False)
        return plot

    def _apply_colors(self) -> None:
        self._styled = True
        colors = plot_colors(self.palette())
        for plot in (self.beta_plot, self.alpha_bar_plot, self.log_snr_plot):
            style_plot(plot, colors)
        self.beta_curve.setPen(pen(colors.forward, width=2))
        self.alpha_bar_curve.setPen(pen(colors.gaussian, width=2))
        self.log_snr_curve.setPen(pen(colors.exact, width=2))
        self.log_snr_zero.setPen(pen(colors.floor, style=Qt.PenStyle.DashLine))
        self.inline_error.setStyleSheet(f"color: {colors.bad};")
        self._update_summary(self.state.schedule)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange and self._styled:
            self._apply_colors()
        super().changeEvent(event)

    # ------------------------------------------------------------------ public
    def set_x0_sq_mean(self, value: float) -> None:
        """E[x_0²] of the current input, for the 'x_T is far from N(0,1)' warning."""
        self._x0_sq_mean = float(value)
        self._update_summary(self.state.schedule)

    # ------------------------------------------------------------------ state -> view
    @Slot(object)
    def _on_state_changed(self, schedule: NoiseSchedule) -> None:
        p = self.state.params
        with QSignalBlocker(self.kind_combo):
            self.kind_combo.setCurrentText(p["kind"])
        with QSignalBlocker(self.T_spin):
            self.T_spin.setValue(p["T"])
        with QSignalBlocker(self.T_slider):
            self.T_slider.setValue(p["T"])
        self.beta_start_slider.set_value_float(p["beta_start"])
        self.beta_end_slider.set_value_float(p["beta_end"])
        self.beta_start_edit.setText(f"{p['beta_start']:.4g}")
        self.beta_end_edit.setText(f"{p['beta_end']:.4g}")
        endpoints = p["kind"] != "cosine"
        for w in (self.beta_start_edit, self.beta_start_slider, self.beta_end_edit,
                  self.beta_end_slider):
            w.setEnabled(endpoints)
        self.inline_error.hide()
        self.warning_label.show()
        if self._limits_key is None:
            self._update_limits()
        else:
            self._limits_timer.start()

        t = np.arange(1, schedule.T + 1, dtype=np.float64)
        self.beta_curve.setData(t, schedule.betas)
        self.alpha_bar_curve.setData(t, schedule.alphas_cumprod)
        self.log_snr_curve.setData(t, schedule.log_snr)
        self._set_ranges(schedule)
        self._update_summary(schedule)

    @Slot()
    def _update_limits(self) -> None:
        """Lower each slider's top to the largest value valid with the other settings."""
        p = self.state.params
        key = tuple(sorted(p.items()))
        if key == self._limits_key:
            return
        self._limits_key = key

        def t_ok(T):
            return _valid({**p, "T": T})

        def b1_ok(tick):
            return _valid({**p, "beta_start": float(f"{10 ** (tick / 100):.3g}")})

        def bT_ok(tick):
            return _valid({**p, "beta_end": float(f"{10 ** (tick / 100):.3g}")})

        lo_T = min(max(p["T"], _T_SLIDER_RANGE[0]), _T_SLIDER_RANGE[1])
        top_T = _largest_valid(lo_T, _T_SLIDER_RANGE[1], t_ok) if t_ok(lo_T) else lo_T
        ticks = {}
        for name, slider, rng, ok in (
                ("beta_start", self.beta_start_slider, _BETA_START_RANGE, b1_ok),
                ("beta_end", self.beta_end_slider, _BETA_END_RANGE, bT_ok)):
            hi = int(round(rng[1] * 100))
            cur = min(max(int(round(math.log10(p[name]) * 100)), slider.minimum()), hi)
            ticks[name] = _largest_valid(cur, hi, ok) if ok(cur) else max(cur, slider.minimum())
        with QSignalBlocker(self.T_slider):
            self.T_slider.setMaximum(max(top_T, self.T_slider.minimum()))
            self.T_slider.setValue(p["T"])
        for name, slider in (("beta_start", self.beta_start_slider),
                             ("beta_end", self.beta_end_slider)):
            with QSignalBlocker(slider):
                slider.setMaximum(ticks[name])
                slider.set_value_float(p[name])

    def _set_ranges(self, schedule: NoiseSchedule) -> None:
        """Fixed ranges in coarse steps with hysteresis (theme.held_range), not autorange:
        while β_T is dragged the curves move every tick but the axes (the costly part of a
        repaint) change only when the curve leaves its range or shrinks well inside it."""
        self.log_snr_plot.setXRange(1, max(schedule.T, 2), padding=0.02)
        top = float(np.max(schedule.betas))
        beta = held_range(self._ranges.get("beta"), 0.0, top, (0.0, nice_ceiling(top * 1.05)))
        lam = schedule.log_snr[np.isfinite(schedule.log_snr)]
        ranges = {"beta": beta}
        if lam.size:
            lo, hi = float(lam.min()), float(lam.max())
            fresh = (2 * math.floor(lo / 2), max(2 * math.ceil(hi / 2), 2 * math.floor(lo / 2) + 2))
            ranges["log_snr"] = held_range(self._ranges.get("log_snr"), lo, hi, fresh)
        if ranges.get("beta") != self._ranges.get("beta"):
            self.beta_plot.setYRange(*ranges["beta"], padding=0)
        if "log_snr" in ranges and ranges["log_snr"] != self._ranges.get("log_snr"):
            self.log_snr_plot.setYRange(*ranges["log_snr"], padding=0.05)
        self._ranges.update(ranges)

    def _update_summary(self, schedule: NoiseSchedule) -> None:
        a = schedule.alpha_bar_T
        kl = schedule.prior_kl(self._x0_sq_mean)
        self.alpha_bar_label.setText(
            f"ᾱ_T = {a:.3g}   √ᾱ_T = {math.sqrt(a):.2%}\nprior KL = {kl:.2g} nats/pixel")
        warning = prior_warning(schedule, self._x0_sq_mean)
        colors = plot_colors(self.palette())
        if warning is None:
            self.warning_label.setText("x_T ≈ N(0, 1): the forward chain reaches pure noise.")
            self.warning_label.setStyleSheet(banner_style("ok", colors))
            self.warning_label.setProperty("level", "ok")
        else:
            level = "bad" if kl > 0.05 else "warn"
            self.warning_label.setText("⚠ " + warning)
            self.warning_label.setStyleSheet(banner_style(level, colors))
            self.warning_label.setProperty("level", level)

    # ------------------------------------------------------------------ view -> state
    def _try_set(self, typed: bool, **changes) -> bool:
        try:
            self.state.set_params(**changes)
        except ValueError as exc:
            message = " ".join(str(exc).split())
            if typed:
                self._on_state_changed(self.state.schedule)  # revert the fields
                self.error.emit(message)
            else:
                self.inline_error.setText("⚠ not applied: " + message)
                self.inline_error.show()
                self.warning_label.hide()  # it describes the schedule still in use
            return False
        return True

    @Slot(str)
    def _on_kind_changed(self, kind: str) -> None:
        self._try_set(True, kind=kind)

    @Slot(int)
    def _on_T_slider_moved(self, value: int) -> None:
        with QSignalBlocker(self.T_spin):
            self.T_spin.setValue(value)
        self._try_set(False, T=value)

    @Slot(int)
    def _on_T_spin_changed(self, value: int) -> None:
        if self._try_set(True, T=value):
            with QSignalBlocker(self.T_slider):
                self.T_slider.setValue(value)

    @Slot(int)
    def _on_beta_start_slider_moved(self, _value: int) -> None:
        v = float(f"{self.beta_start_slider.value_float():.3g}")
        self.beta_start_edit.setText(f"{v:.4g}")
        self._try_set(False, beta_start=v)

    @Slot(int)
    def _on_beta_end_slider_moved(self, _value: int) -> None:
        v = float(f"{self.beta_end_slider.value_float():.3g}")
        self.beta_end_edit.setText(f"{v:.4g}")
        self._try_set(False, beta_end=v)

    @Slot()
    def _on_beta_start_edited(self) -> None:
        self._on_beta_edited(self.beta_start_edit, "beta_start", "β₁")

    @Slot()
    def _on_beta_end_edited(self) -> None:
        self._on_beta_edited(self.beta_end_edit, "beta_end", "β_T")

    def _on_beta_edited(self, edit: QLineEdit, key: str, name: str) -> None:
        text = edit.text()
        try:
            value = _parse_float(text, name)
        except ValueError as exc:
            self._on_state_changed(self.state.schedule)
            self.error.emit(str(exc))
            return
        if value != self.state.params[key]:
            self._try_set(True, **{key: value})
