"""The 2-D diffusion window: particles diffusing under the session's schedule over the heat map
of p_t, the KL of p_t to N(0, I), the ε field of the exact and the learned denoiser side by
side, the MLP's loss curve, and the reverse chain moving the particles (picked ones leave
trajectories).

A view (docs/DESIGN.md): built from the session's Toy2DState (and the schedule and sampler
states, for labels), redrawn on their signals; it emits intent and starts nothing. The ε
fields are asked of `field_source(t, extent) -> {"exact": (pts, ε), "learned": (pts, ε)}`
(the session's `toy_fields`, a cheap synchronous query). Playback only moves t.

Mouse on the particle plot, by the "Mouse" choice: pick the nearest particle (its reverse
trajectory is drawn), add a Gaussian to the editable mixture at the click, or paint points
(drag) into the painted data set.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core import toy2d
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.state import SAMPLER_NAMES
from ddpm_desktop.core.toy2d_model import DEFAULT_STEPS
from ddpm_desktop.ui.toy2d_state import MODEL_NAMES, MODELS, Toy2DState

SHOW_MODES = {"forward": "Forward q(x_t|x_0)", "reverse": "Reverse chain", "both": "Both"}
MOUSE_MODES = {"pick": "Pick particles", "gmm": "Add a Gaussian", "paint": "Paint points"}
PLAY_FRAMES = 150     # playback crosses 0..T in this many frames
PLAY_INTERVAL_MS = 16
VIEW_EXTENT = 3.5
LEFT_WIDTH = 330


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


def _label(text: str, tip: str) -> QLabel:
    lab = QLabel(text)
    lab.setToolTip(tip)
    return lab


class Toy2DWindow(QWidget):
    """See the module docstring. Intent signals carry what the user asked for."""

    dataset_chosen = Signal(str)
    seed_changed = Signal(int)
    frame_requested = Signal(int)
    model_chosen = Signal(str)
    train_requested = Signal(int)
    stop_training_requested = Signal()
    sample_requested = Signal()
    component_requested = Signal(float, float, float)
    paint_requested = Signal(object)
    clear_paint_requested = Signal()
    reset_mixture_requested = Signal()
    pick_requested = Signal(float, float, bool)

    def __init__(self, state: Toy2DState, schedule_state, sampler_state, field_source=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("2-D diffusion")
        self.state, self.schedule_state, self.sampler_state = state, schedule_state, sampler_state
        self.field_source = field_source
        self.colors = theme.plot_colors()
        self.last_frame_ms = 0.0
        self._fields: dict = {}
        self._build()
        self._apply_colors()
        self._styled = True
        self.timer = QTimer(self)
        self.timer.setInterval(PLAY_INTERVAL_MS)
        self.timer.timeout.connect(self._on_play_tick)

        state.data_changed.connect(self._on_data_changed)
        state.frame_changed.connect(self._on_frame_changed)
        state.model_changed.connect(self._on_model_changed)
        state.loss_changed.connect(self._on_loss_changed)
        state.training_changed.connect(self._on_training_changed)
        state.reverse_changed.connect(self._on_reverse_changed)
        state.picked_changed.connect(self._redraw)
        state.mixture_changed.connect(self._on_mixture_changed)
        sampler_state.changed.connect(self._on_sampler_changed)
        self._on_sampler_changed(sampler_state.settings)
        self._on_mixture_changed()
        self._on_model_changed()
        self._on_data_changed()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        c = self.colors
        controls = QFormLayout()
        self.dataset_combo = QComboBox()
        for name in toy2d.DATASETS:
            self.dataset_combo.addItem(toy2d.DATASET_NAMES[name], name)
        self.dataset_combo.setToolTip("The data distribution p_0 the particles x_0 are drawn from")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2 ** 31 - 1)
        self.seed_spin.setToolTip("Seed of the particles x_0 and of their forward noise z_t")
        self.model_combo = QComboBox()
        for name in MODELS:
            self.model_combo.addItem(MODEL_NAMES[name], name)
        self.model_combo.setToolTip(
            "The ε-predictor the reverse chain uses: the closed-form E[ε | x_t] = "
            "Σ_k r_k(x_t) √(1-ᾱ_t) C_k⁻¹ (x_t - √ᾱ_t μ_k), C_k = ᾱ_t Σ_k + (1-ᾱ_t) I "
            "(Gaussian mixtures only), or the MLP trained here")
        self.show_combo = QComboBox()
        for key, text in SHOW_MODES.items():
            self.show_combo.addItem(text, key)
        self.show_combo.setToolTip("Which particles the plot shows at t")
        self.mouse_combo = QComboBox()
        for key, text in MOUSE_MODES.items():
            self.mouse_combo.addItem(text, key)
        self.mouse_combo.setToolTip("What a click (or a drag, when painting) on the particle plot does; "
                                    "shift-click adds to the picked particles")
        self.std_spin = QDoubleSpinBox()
        self.std_spin.setRange(0.02, 1.5)
        self.std_spin.setSingleStep(0.05)
        self.std_spin.setValue(0.2)
        self.std_spin.setToolTip("σ of a Gaussian added by a click: N((x, y), σ² I)")
        self.clear_button = QPushButton("Reset mixture / clear paint")
        self.clear_button.setToolTip("Back to the data set's own mixture, or clear the painted points")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(100, 50_000)
        self.steps_spin.setSingleStep(500)
        self.steps_spin.setValue(DEFAULT_STEPS)
        self.steps_spin.setToolTip("Optimiser steps of one training run (batch 256, Adam, cosine decay, EMA of the weights)")
        self.train_button = QPushButton("Train MLP")
        self.train_button.setToolTip("Train a fresh MLP ε̂(x, λ_t) on this data set in the background: "
                                     "loss = ‖ε - ε̂(√ᾱ_t x_0 + √(1-ᾱ_t) ε, λ_t)‖² (Ho et al. eq. 14)")
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip("Run the session's sampler from x_T ~ N(0, I) with the chosen model")
        self.arrows_check = QCheckBox("Field on the particle plot")
        self.arrows_check.setToolTip("Draw −ε̂(x, t) of the chosen model over the particles")
        self.heat_check = QCheckBox("Heat map of p_t")
        self.heat_check.setChecked(True)
        self.heat_check.setToolTip("Draw the density p_t(x) of x_t behind the particles (exact for "
                                   "mixtures: Σ_k π_k N(x; √ᾱ_t μ_k, ᾱ_t Σ_k + (1-ᾱ_t) I))")
        controls.addRow("Data", self.dataset_combo)
        controls.addRow("Seed", self.seed_spin)
        controls.addRow("Mouse", self.mouse_combo)
        controls.addRow("New σ", self.std_spin)
        controls.addRow(self.clear_button)
        controls.addRow("Model", self.model_combo)
        controls.addRow("Train steps", self.steps_spin)
        controls.addRow(self.train_button)
        controls.addRow(self.sample_button)
        controls.addRow("Show", self.show_combo)
        controls.addRow(self.heat_check)
        controls.addRow(self.arrows_check)

        self.sampler_label = _label("", "The sampler, steps and η come from the Sampler panel; "
                                    "the schedule from the Schedule panel")
        self.sampler_label.setWordWrap(True)
        self.t_label = _label("", "t: the diffusion step shown (0 = data, T = noise)")
        self.ab_label = _label("", "ᾱ_t = Π_{s≤t} (1 - β_s); x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε")
        self.kl_label = _label("", "")
        self.loss_label = _label("", "Training loss: mean over the batch of ‖ε - ε̂‖² (2 coordinates"
                                 " averaged); 1 at a network that outputs 0, ≈ 0.2-0.3 at a good fit")
        self.diff_label = _label("", "RMS over the field grid of ‖ε̂_learned(x, t) − E[ε | x_t = x]‖")
        self.reverse_label = _label("", "The reverse chain's step shown (nearest to t) and its sampler; "
                                    "with Compare on in the Sampler panel, the second sampler too")
        self.frame_label = _label("", "Time to redraw the last frame (particles, p_t, fields)")
        info = QVBoxLayout()
        for w in (self.sampler_label, self.t_label, self.ab_label, self.kl_label, self.loss_label,
                  self.diff_label, self.reverse_label, self.frame_label):
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            info.addWidget(w)
        info.addStretch(1)
        for w in (self.t_label, self.ab_label, self.kl_label, self.loss_label, self.diff_label,
                  self.reverse_label, self.frame_label):
            w.setWordWrap(True)
        left_widget = QWidget()
        left_widget.setMaximumWidth(LEFT_WIDTH)
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        left.addLayout(controls)
        left.addLayout(info)

        # plots
        self.vb = _MouseViewBox()
        self.main_plot = pg.PlotWidget(viewBox=self.vb, title="Particles x_t over p_t")
        self.main_plot.setAspectLocked(True)
        self.main_plot.setRange(xRange=(-VIEW_EXTENT, VIEW_EXTENT), yRange=(-VIEW_EXTENT, VIEW_EXTENT))
        self.main_plot.setLabel("bottom", "x₁")
        self.main_plot.setLabel("left", "x₂")
        self.heat = pg.ImageItem(axisOrder="row-major")
        lut = np.linspace(np.array(theme.rgb(c.background), float),
                          np.array(theme.rgb(c.forward), float), 256).astype(np.uint8)
        self.heat.setLookupTable(lut)
        self.main_plot.addItem(self.heat)
        self.scatter = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(theme.qcolor(c.forward, 200)),
                                          pxMode=True)
        self.scatter_rev = pg.ScatterPlotItem(size=3, pen=None,
                                              brush=pg.mkBrush(theme.qcolor(c.reverse, 220)), pxMode=True)
        self.scatter_rev_b = pg.ScatterPlotItem(size=3, pen=None,
                                                brush=pg.mkBrush(theme.qcolor(c.reverse_b, 220)),
                                                pxMode=True)
        self.trails = pg.PlotDataItem(pen=pg.mkPen(c.cursor, width=1.5), connect="finite")
        self.trails_b = pg.PlotDataItem(pen=pg.mkPen(c.reverse_b, width=1.5), connect="finite")
        self.main_arrows = pg.PlotDataItem(pen=pg.mkPen(c.exact, width=1), connect="pairs")
        for item in (self.scatter, self.scatter_rev, self.scatter_rev_b, self.trails,
                     self.trails_b, self.main_arrows):
            self.main_plot.addItem(item)

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
            item = pg.PlotDataItem(pen=pg.mkPen(role, width=1), connect="pairs")
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

        # transport
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play t from 0 to T (forward) or T to 0 (reverse shown)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub t")
        transport = QHBoxLayout()
        transport.addWidget(self.play_button)
        transport.addWidget(self.slider, 1)

        center = QVBoxLayout()
        center.addWidget(self.main_plot, 1)
        center.addLayout(transport)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        top = QHBoxLayout(self)
        top.addWidget(left_widget)
        top.addLayout(center, 3)
        top.addLayout(grid, 3)

        self.dataset_combo.activated.connect(
            lambda _i: self.dataset_chosen.emit(self.dataset_combo.currentData()))
        self.seed_spin.editingFinished.connect(lambda: self.seed_changed.emit(self.seed_spin.value()))
        self.model_combo.activated.connect(
            lambda _i: self.model_chosen.emit(self.model_combo.currentData()))
        self.train_button.clicked.connect(self._on_train_clicked)
        self.sample_button.clicked.connect(self.sample_requested)
        self.clear_button.clicked.connect(self._on_clear_clicked)
        self.slider.valueChanged.connect(self.frame_requested)
        self.play_button.toggled.connect(self._on_play_toggled)
        self.show_combo.currentIndexChanged.connect(self._redraw)
        self.heat_check.toggled.connect(self._redraw)
        self.arrows_check.toggled.connect(self._redraw)
        self.mouse_combo.currentIndexChanged.connect(self._on_mouse_mode)
        self.vb.clicked.connect(self._on_plot_clicked)
        self.vb.painted.connect(self.paint_requested)

    def _apply_colors(self) -> None:
        """Every pen, brush and colour table from the current palette's theme roles."""
        c = self.colors = theme.plot_colors(self.palette())
        lut = np.linspace(np.array(theme.rgb(c.background), float),
                          np.array(theme.rgb(c.forward), float), 256).astype(np.uint8)
        self.heat.setLookupTable(lut)
        for item, role, alpha in ((self.scatter, c.forward, 200), (self.scatter_rev, c.reverse, 220),
                                  (self.scatter_rev_b, c.reverse_b, 220)):
            item.setBrush(pg.mkBrush(theme.qcolor(role, alpha)))
            item.opts["brush"] = pg.mkBrush(theme.qcolor(role, alpha))
        self.trails.setPen(pg.mkPen(c.cursor, width=1.5))
        self.trails_b.setPen(pg.mkPen(c.reverse_b, width=1.5))
        for which, item in self.field_items.items():
            item.setPen(pg.mkPen(getattr(c, self._field_roles[which]), width=1))
        self.kl_curve.setPen(pg.mkPen(c.gaussian, width=2))
        self.kl_cursor.setPen(pg.mkPen(c.cursor))
        self.loss_curve.setPen(pg.mkPen(theme.qcolor(c.loss, 110)))
        self.loss_smooth.setPen(pg.mkPen(c.loss_smooth, width=2))
        for plot in (self.main_plot, self.kl_plot, self.loss_plot, *self.field_plots.values()):
            theme.style_plot(plot, c)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "_styled", False):
            self._apply_colors()
            self._redraw()
        super().changeEvent(event)

    # ------------------------------------------------------------------ intents
    def _on_train_clicked(self) -> None:
        if self.state.training_phase == "running":
            self.stop_training_requested.emit()
        else:
            self.train_requested.emit(self.steps_spin.value())

    def _on_clear_clicked(self) -> None:
        if self.state.dataset == "painted":
            self.clear_paint_requested.emit()
        else:
            self.reset_mixture_requested.emit()

    @Slot(int)
    def _on_mouse_mode(self, _i: int) -> None:
        self.vb.paint_mode = self.mouse_combo.currentData() == "paint"

    @Slot(float, float, bool)
    def _on_plot_clicked(self, x: float, y: float, shift: bool) -> None:
        mode = self.mouse_combo.currentData()
        if mode == "gmm":
            self.component_requested.emit(x, y, self.std_spin.value())
        elif mode == "pick":
            self.pick_requested.emit(x, y, shift)

    # ------------------------------------------------------------------ playback
    def _show_mode(self) -> str:
        return self.show_combo.currentData()

    @Slot(bool)
    def _on_play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on:
            self.timer.start()
        else:
            self.timer.stop()

    @Slot()
    def _on_play_tick(self) -> None:
        T = self.state.T
        step = max(1, T // PLAY_FRAMES)
        backwards = self._show_mode() == "reverse"
        t = self.state.t + (-step if backwards else step)
        if (backwards and self.state.t <= 0) or (not backwards and self.state.t >= T):
            self.play_button.setChecked(False)
            return
        self.frame_requested.emit(max(0, min(T, t)))

    # ------------------------------------------------------------------ redraws
    @Slot()
    def _on_data_changed(self) -> None:
        s = self.state
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, s.T)
            self.slider.setValue(s.t)
        with QSignalBlocker(self.dataset_combo):
            self.dataset_combo.setCurrentIndex(toy2d.DATASETS.index(s.dataset))
        with QSignalBlocker(self.seed_spin):
            self.seed_spin.setValue(s.seed)
        if len(s.kl_t):
            self.kl_curve.setData(s.kl_t, np.maximum(s.kl_values, 1e-6))
        else:
            self.kl_curve.setData([], [])
        exact = s.marginal is not None and s.marginal.exact
        self.kl_label.setToolTip(
            "KL(p_t ‖ N(0, I)) = ∫ p_t ln(p_t/φ) dx by the midpoint rule on a grid; p_t is "
            + ("exact: the mixture Σ w_k N(√ᾱ_t μ_k, ᾱ_t Σ_k + (1-ᾱ_t) I)" if exact else
               f"a kernel estimate (Gaussian kernel, h = {toy2d.KDE_BANDWIDTH}) of "
               f"{len(s.marginal.points) if s.marginal is not None and s.marginal.points is not None else 0}"
               " data points, pushed through q(x_t|x_0)"))
        self._redraw()

    @Slot(int)
    def _on_frame_changed(self, t: int) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(t)
        self._redraw()

    @Slot()
    def _on_model_changed(self) -> None:
        s = self.state
        with QSignalBlocker(self.model_combo):
            self.model_combo.setCurrentIndex(MODELS.index(s.model))
        item = self.model_combo.model().item(0)
        if item is not None:
            item.setEnabled(s.exact_available)
        self._redraw()

    @Slot()
    def _on_mixture_changed(self) -> None:
        s = self.state
        with QSignalBlocker(self.dataset_combo):
            self.dataset_combo.setCurrentIndex(toy2d.DATASETS.index(s.dataset))
        self._on_model_changed()

    @Slot()
    def _on_loss_changed(self) -> None:
        s = self.state
        if not s.loss_values:
            self.loss_curve.setData([], [])
            self.loss_smooth.setData([], [])
            self.loss_label.setText("Loss: not trained yet")
            return
        steps = np.asarray(s.loss_steps, float)
        values = np.asarray(s.loss_values, float)
        self.loss_curve.setData(steps, values)
        k = min(50, len(values))
        smooth = np.convolve(values, np.ones(k) / k, mode="valid")
        self.loss_smooth.setData(steps[k - 1:], smooth)
        self.loss_label.setText(f"Loss ‖ε − ε̂‖² = {smooth[-1]:.4f} (mean of the last {k}), "
                                f"step {int(steps[-1])}, {s.train_seconds:.1f} s")

    @Slot(str)
    def _on_training_changed(self, phase: str) -> None:
        self.train_button.setText("Stop training" if phase == "running" else "Train MLP")

    @Slot()
    def _on_reverse_changed(self) -> None:
        s = self.state
        has = s.reverse is not None and len(s.reverse) > 0
        mode = self._show_mode()
        if (has and mode == "forward") or (s.reverse is None and mode == "reverse"):
            with QSignalBlocker(self.show_combo):
                self.show_combo.setCurrentIndex(list(SHOW_MODES).index(
                    "reverse" if has else "forward"))
        self._redraw()

    @Slot(object)
    def _on_sampler_changed(self, settings) -> None:
        steps = "every step" if settings.steps is None else f"{settings.steps} steps"
        eta = f", η = {settings.eta:g}" if settings.sampler == "ddim" else ""
        self.sampler_label.setText(f"Sampler: {SAMPLER_NAMES.get(settings.sampler, settings.sampler)}, "
                                   f"{steps}{eta}, seed {settings.seed}")

    @staticmethod
    def _set_points(item: pg.ScatterPlotItem, pts: np.ndarray | None) -> None:
        # x/y with the style repeated is about twice as fast as pos= for 2000 points
        if pts is None:
            if len(item.data):
                item.clear()
            return
        item.setData(x=pts[:, 0], y=pts[:, 1], size=3, pen=None, brush=item.opts["brush"])

    def _paths(self, frames: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
        """x, y of the picked particles' paths over frames[0..index], NaN between paths."""
        picked = self.state.picked[self.state.picked < frames.shape[1]]
        paths = frames[: index + 1, picked]                            # [k, P, 2]
        sep = np.full((1, len(picked), 2), np.nan)
        seq = np.concatenate([paths, sep], axis=0).transpose(1, 0, 2).reshape(-1, 2)
        return seq[:, 0], seq[:, 1]

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
        kl = s.kl_at(t)
        kind = "exact p_t" if s.marginal is not None and s.marginal.exact else "kernel estimate"
        self.kl_label.setText(f"KL(p_t ‖ N(0, I)) = {kl:.4g} nats ({kind})")
        self.kl_cursor.setValue(t)

        # heat map of p_t
        if self.heat_check.isChecked() and s.marginal is not None:
            dens = s.marginal.density(ab)
            g = s.marginal.grid
            self.heat.setImage(np.sqrt(dens), autoLevels=False, levels=(0.0, max(np.sqrt(dens).max(), 1e-12)))
            self.heat.setRect(-g.extent, -g.extent, 2 * g.extent, 2 * g.extent)
            self.heat.setVisible(True)
        else:
            self.heat.setVisible(False)

        # particles
        pts = s.particles()
        show_fwd = mode in ("forward", "both") and pts is not None
        self._set_points(self.scatter, pts if show_fwd else None)
        ri = s.reverse_index()
        if ri is not None and mode in ("reverse", "both"):
            self._set_points(self.scatter_rev, s.reverse[ri])
            self.trails.setData(*self._paths(s.reverse, ri))
            c = self.colors
            text = (f'<span style="color:{c.reverse}">●</span> '
                    f"{SAMPLER_NAMES.get(s.reverse_sampler, s.reverse_sampler)}")
            b = s.reverse_b
            if b is not None and len(b):
                rb = min(ri, len(b) - 1)
                self._set_points(self.scatter_rev_b, b[rb])
                self.trails_b.setData(*self._paths(b, rb))
                text += (f' and <span style="color:{c.reverse_b}">●</span> '
                         f"{SAMPLER_NAMES.get(s.reverse_b_sampler, s.reverse_b_sampler)} "
                         "from the same x_T")
            else:
                self._set_points(self.scatter_rev_b, None)
                self.trails_b.setData([], [])
            self.reverse_label.setText(
                f"Reverse: {text} at step t = {int(s.reverse_t[ri])} "
                f"(frame {ri} of {len(s.reverse_t) - 1})" + ("" if s.reverse_done else ", running…"))
        else:
            for item in (self.scatter_rev, self.scatter_rev_b):
                self._set_points(item, None)
            self.trails.setData([], [])
            self.trails_b.setData([], [])
            self.reverse_label.setText("Reverse: press Sample" if s.reverse is None
                                       else "Reverse: hidden (Show)")

        # ε fields
        fields = self.field_source(t, VIEW_EXTENT * 0.9) if self.field_source is not None else {}
        self._fields = fields
        spacing = 2 * VIEW_EXTENT * 0.9 / 16
        scale = self._field_scale(fields, spacing)
        if "exact" in fields and "learned" in fields:
            # −(ε̂_learned − ε_exact): drawn like the fields, so it reads as their difference
            fields = {**fields, "difference": (fields["exact"][0],
                                               fields["learned"][1] - fields["exact"][1])}
        for which, item in self.field_items.items():
            if which in fields:
                p, e = fields[which]
                x, y = _segments(p, -e, scale)
                item.setData(x, y)
            else:
                item.setData([], [])
        chosen = fields.get(s.model)
        if self.arrows_check.isChecked() and chosen is not None:
            x, y = _segments(chosen[0], -chosen[1], scale)
            role = self.colors.exact if s.model == "exact" else self.colors.reverse_b
            self.main_arrows.setPen(pg.mkPen(role, width=1))
            self.main_arrows.setData(x, y)
        else:
            self.main_arrows.setData([], [])
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

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.play_button.setChecked(False)
        super().closeEvent(event)
