"""The 2-D diffusion window: particles diffusing under the session's schedule over the heat map
of p_t, the KL of p_t to N(0, I), the ε field of the exact and the learned denoiser side by
side, the MLP's loss curve, and the reverse chain moving the particles (picked ones leave
trajectories).

A view (docs/DESIGN.md): built from the session's Toy2DState (and the schedule and sampler
states, for labels), redrawn on their signals; it emits intent and starts nothing. The ε
fields are asked of `field_source(t, extent, center=(x, y)) -> {"exact": (pts, ε), "learned":
(pts, ε)}` (the session's `toy_fields`, a cheap synchronous query) on the view box of p_t
(core.toy2d.view_box), which the plots' ranges follow. Playback only moves t; a frame
rebuilds only the items whose inputs changed (toy2d_drawing.py).

Mouse on the particle plot, by the "Mouse" choice: pick the nearest particle (its reverse
trajectory is drawn), add a Gaussian to the editable mixture at the click, or paint points
(drag) into the painted data set.
"""
from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
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
from ddpm_desktop.ui.widgets.toy2d_drawing import Toy2DDrawing
from ddpm_desktop.ui.widgets.readout_column import ReadoutColumn
from ddpm_desktop.ui.widgets.toy2d_latent import LatentPanel

SHOW_MODES = {"forward": "Forward q(x_t|x_0)", "reverse": "Reverse chain", "both": "Both"}
MOUSE_MODES = {"pick": "Pick particles", "gmm": "Add a Gaussian", "paint": "Paint points",
               "decode": "Decode a point"}
PLAY_FRAMES = 150     # playback crosses 0..T in this many frames
PLAY_INTERVAL_MS = 16
LEFT_WIDTH = 330


def _label(text: str, tip: str) -> QLabel:
    lab = QLabel(text)
    lab.setToolTip(tip)
    return lab


class Toy2DWindow(Toy2DDrawing, QWidget):
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
    decode_requested = Signal(float, float)      # the digits' latent map: decode this point
    latent_label_chosen = Signal(int)            # the class to sample, -1: all
    export_requested = Signal(str, str, bool, bool)   # path, chain, heat map, arrows

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
        state.decoded_changed.connect(self._on_decoded_point)
        state.data_changed.connect(self._on_decoded_point)
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
        self.export_button = QPushButton("Export animation…")
        self.export_button.setToolTip("Write the chain shown (reverse if any, else forward) with "
                                      "the heat map and arrows as shown: GIF, WebP, APNG, or PNG "
                                      "(the last frame)")
        controls.addRow(self.export_button)

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
        readouts = (self.sampler_label, self.t_label, self.ab_label, self.kl_label,
                    self.loss_label, self.diff_label, self.reverse_label, self.frame_label)
        for w in readouts:
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            w.setWordWrap(True)
        self.readouts = ReadoutColumn(readouts)
        info = QVBoxLayout()
        info.addWidget(self.readouts)
        info.addStretch(1)
        left_widget = QWidget()
        left_widget.setMaximumWidth(LEFT_WIDTH)
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        left.addLayout(controls)
        self.latent_panel = LatentPanel(self.state)
        left.addWidget(self.latent_panel)
        left.addLayout(info)

        # plots
        grid = self._build_plots(c)

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
        self.latent_panel.label_chosen.connect(self.latent_label_chosen)
        self.export_button.clicked.connect(self.choose_export)
        self._seen_dataset = ""

    def _apply_colors(self) -> None:
        """Every pen, brush and colour table from the current palette's theme roles."""
        c = self.colors = theme.plot_colors(self.palette())
        lut = np.linspace(np.array(theme.rgb(c.background), float),
                          np.array(theme.rgb(c.forward), float), 256).astype(np.uint8)
        self._set_heat_lut(lut)
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
            self.invalidate_frame_cache()
            self._redraw()
        super().changeEvent(event)

    # ------------------------------------------------------------------ intents
    def _on_train_clicked(self) -> None:
        if self.state.training_phase == "running":
            self.stop_training_requested.emit()
        else:
            self.train_requested.emit(self.steps_spin.value())

    def choose_export(self) -> None:
        """Ask for a file and export what is shown (the button; File > Export 2-D animation…)."""
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, "Export the 2-D animation", "toy2d.gif",
                                              "Animations (*.gif *.webp *.apng);;PNG (*.png)")
        if path:
            self.request_export(path)

    def request_export(self, path: str) -> None:
        """Ask for an export of what is shown (the chain, heat map and arrows as drawn)."""
        chain = "forward" if self._show_mode() == "forward" else "reverse"
        self.export_requested.emit(path, chain, self.heat_check.isChecked(),
                                   self.arrows_check.isChecked())

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
        elif mode == "decode":
            self.decode_requested.emit(x, y)

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
        if s.dataset != self._seen_dataset:   # the latent map opens with clicks decoding
            self._seen_dataset = s.dataset
            mode = "decode" if s.is_latent else "pick"
            if s.is_latent or self.mouse_combo.currentData() == "decode":
                self.mouse_combo.setCurrentIndex(list(MOUSE_MODES).index(mode))
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
        self.invalidate_frame_cache()
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
        self.invalidate_frame_cache()
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

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.play_button.setChecked(False)
        super().closeEvent(event)
