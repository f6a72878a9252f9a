"""What the model believes: the input digit's likelihood, what the model is unsure of at a
noise level, and the digit's x_T decoded as another class.

A view of `BeliefsState` (ui/beliefs_state.py; the schedule's T bounds the t box). Three
sections, each with a button and its result or its one-line error:

  Likelihood             bits/dim of x_0 and its place among held-out digits, with the
                         caution that simple images can score as likely (Nalisnick et al. 2019)
  Uncertainty at t       per principal direction d of p(x_0 | x_t): x̂_0 − 2σd | x̂_0 | x̂_0 + 2σd
  Invert and decode      x_0 | x_T | x_T decoded back | x_T decoded as class k at guidance w,
                         and the round trip's MSE

Intents: `likelihood_requested()`, `uncertainty_requested(t, k)`, `invert_requested(label)`;
`connect_beliefs_panel` wires them to the beliefs area (wiring.py calls it once).
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core.imaging import to_uint8
from ddpm_desktop.ui.beliefs_state import DEFAULT_DECODE_GUIDANCE, BeliefsState
from ddpm_desktop.ui.state import ScheduleState
from ddpm_desktop.ui.widgets.plain_text import plain

SCALE = 2  # screen pixels per image pixel: 56 px tiles, four to a 440 px dock

LIKELIHOOD_TIP = (
    "Bits per dimension of the input digit x₀ under the model, by the probability-flow ODE "
    "(Song et al. 2021): log p(x₀) = log N(x(λ_min); 0, I) − ∫ g(λ) dλ with "
    "g(λ) = ½σ²D − ½σ tr(∂ε_θ/∂x) (Hutchinson's trace estimate), and "
    "bits/dim = −log p(x₀)/(D ln 2) + log₂ 127.5 (uniform dequantization of the 8-bit pixels). "
    "Lower is more likely. About 3 s a digit on one CPU thread.")
CAUTION = ("Caution: simple images (blank, smooth) can score as more likely than real digits "
           "(Nalisnick et al. 2019): a likely image is not necessarily a typical digit.")
UNCERTAINTY_TIP = (
    "What the model is unsure of at the forward chain's x_t: the top principal directions d of "
    "p(x₀ | x_t), from Cov[x₀ | x_t] = ((1−ᾱ_t)/ᾱ_t)(I − √(1−ᾱ_t) ∂ε_θ/∂x_t) by subspace "
    "iteration (Manor & Michaeli 2024). Each row shows x̂₀ − 2σd, x̂₀ and x̂₀ + 2σd, with σ² the "
    "variance along d.")
T_TIP = "The step t of the forward chain's x_t whose uncertainty is computed."
K_TIP = "How many principal directions to compute (largest variance first)."
INVERT_TIP = (
    "DDIM inversion: run the deterministic DDIM ODE forwards from the input digit x₀ to its x_T "
    "(Song et al. 2021), decode it back (the reconstruction and its MSE in [−1, 1] units) and "
    "decode the same x_T as class k: turn your 3 into an 8.")
LABEL_TIP = "The class k the digit's x_T is decoded as."
GUIDANCE_TIP = ("Classifier-free guidance w of the decoding as class k (Ho & Salimans 2022): "
                "ε̂ = ε_u + w(ε_k − ε_u). At w = 1 the digit's x_T often keeps its own class; "
                "w = 3 turned held-out 0s into 8s the classifier reads as 8.")


def pixmap(image: np.ndarray, scale: int = SCALE) -> QPixmap:
    """A [28, 28] image in [-1, 1] as a grey pixmap, `scale` screen pixels a pixel."""
    u8 = np.ascontiguousarray(to_uint8(image))
    h, w = u8.shape
    qimage = QImage(u8.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(qimage).scaled(w * scale, h * scale, Qt.AspectRatioMode.IgnoreAspectRatio,
                                            Qt.TransformationMode.FastTransformation)


def _image_label(image: np.ndarray, tip: str) -> QLabel:
    label = QLabel()
    label.setPixmap(pixmap(image))
    label.setToolTip(tip)
    return label


def _text_label(tip: str = "") -> QLabel:
    label = QLabel()
    plain(label)
    label.setWordWrap(True)
    if tip:
        label.setToolTip(tip)
    return label


class BeliefsPanel(QWidget):
    likelihood_requested = Signal()
    uncertainty_requested = Signal(int, int)
    invert_requested = Signal(int, float)

    def __init__(self, state: BeliefsState, schedule_state: ScheduleState | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.schedule_state = state, schedule_state

        self.likelihood_button = QPushButton("Likelihood")
        self.likelihood_button.setToolTip(LIKELIHOOD_TIP)
        self.likelihood_label = _text_label(LIKELIHOOD_TIP)
        self.caution_label = _text_label()
        self.caution_label.setText(CAUTION)
        box = QGroupBox("How likely is this digit?")
        lay = QVBoxLayout(box)
        lay.addWidget(self.likelihood_button)
        lay.addWidget(self.likelihood_label)
        lay.addWidget(self.caution_label)
        likelihood_box = box

        self.t_spin = QSpinBox(minimum=1, maximum=1000, value=300)
        self.t_spin.setToolTip(T_TIP)
        self.k_spin = QSpinBox(minimum=1, maximum=8, value=4)
        self.k_spin.setToolTip(K_TIP)
        self.uncertainty_button = QPushButton("Uncertainty at t")
        self.uncertainty_button.setToolTip(UNCERTAINTY_TIP)
        self.uncertainty_label = _text_label(UNCERTAINTY_TIP)
        self.directions = QWidget()
        self.directions_grid = QGridLayout(self.directions)
        self.directions_grid.setContentsMargins(0, 0, 0, 0)
        self.directions_grid.setColumnStretch(3, 1)  # the tiles packed at the left
        row = QHBoxLayout()
        for text, spin in (("t", self.t_spin), ("k", self.k_spin)):
            row.addWidget(QLabel(text))
            row.addWidget(spin)
        row.addStretch(1)
        box = QGroupBox("What is the model unsure of?")
        lay = QVBoxLayout(box)
        lay.addLayout(row)
        lay.addWidget(self.uncertainty_button)
        lay.addWidget(self.uncertainty_label)
        lay.addWidget(self.directions)
        uncertainty_box = box

        self.label_spin = QSpinBox(minimum=0, maximum=9, value=8)
        self.label_spin.setToolTip(LABEL_TIP)
        self.guidance_spin = QDoubleSpinBox(minimum=0.0, maximum=10.0, singleStep=0.5,
                                            value=DEFAULT_DECODE_GUIDANCE, decimals=1)
        self.guidance_spin.setToolTip(GUIDANCE_TIP)
        self.invert_button = QPushButton("Invert and decode as class k")
        self.invert_button.setToolTip(INVERT_TIP)
        self.inversion_label = _text_label(INVERT_TIP)
        self.inversion_images = QWidget()
        self.inversion_grid = QGridLayout(self.inversion_images)
        self.inversion_grid.setContentsMargins(0, 0, 0, 0)
        self.inversion_grid.setColumnStretch(2, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("k"))
        row.addWidget(self.label_spin)
        row.addWidget(QLabel("w"))
        row.addWidget(self.guidance_spin)
        row.addStretch(1)
        box = QGroupBox("Where does it come from?")
        lay = QVBoxLayout(box)
        lay.addLayout(row)
        lay.addWidget(self.invert_button)
        lay.addWidget(self.inversion_label)
        lay.addWidget(self.inversion_images)
        inversion_box = box

        lay = QVBoxLayout(self)
        lay.addWidget(likelihood_box)
        lay.addWidget(uncertainty_box)
        lay.addWidget(inversion_box)
        lay.addStretch(1)

        self.likelihood_button.clicked.connect(self.likelihood_requested)
        self.uncertainty_button.clicked.connect(
            lambda: self.uncertainty_requested.emit(self.t_spin.value(), self.k_spin.value()))
        self.invert_button.clicked.connect(lambda: self.invert_requested.emit(
            self.label_spin.value(), self.guidance_spin.value()))
        state.changed.connect(self._on_state_changed)
        if schedule_state is not None:
            schedule_state.changed.connect(self._on_schedule_changed)
            self._on_schedule_changed()
        for kind in ("likelihood", "uncertainty", "inversion"):
            self._on_state_changed(kind)

    @Slot()
    @Slot(object)
    def _on_schedule_changed(self, *_args) -> None:
        self.t_spin.setMaximum(self.schedule_state.schedule.T)

    @Slot(str)
    def _on_state_changed(self, kind: str) -> None:
        s = self.state
        button = {"likelihood": self.likelihood_button, "uncertainty": self.uncertainty_button,
                  "inversion": self.invert_button}[kind]
        button.setEnabled(not s.running[kind])
        getattr(self, f"_show_{kind}")(s.running[kind], s.errors[kind], s.results[kind])

    def _show_likelihood(self, running: bool, error: str, result) -> None:
        if running:
            text = "Solving the probability-flow ODE…"
        elif error:
            text = error
        elif result is None:
            text = "Press Likelihood for the bits/dim of the input digit."
        else:
            text = f"{result.bits_per_dim:.3f} bits/dim"
            if result.more_likely_than is not None:
                text += (f": more likely than {result.more_likely_than:.0%} of held-out digits "
                         f"(their median {result.held_out_median:.3f})")
            else:
                text += " (no held-out reference for this model or these settings)"
        self.likelihood_label.setText(text)

    def _show_uncertainty(self, running: bool, error: str, result) -> None:
        _clear(self.directions_grid)
        if running:
            self.uncertainty_label.setText("Iterating on Cov[x₀ | x_t]…")
            return
        if error or result is None:
            self.uncertainty_label.setText(error or "Press Uncertainty at t for the directions "
                                                    "the model is least sure of at the forward chain's x_t.")
            return
        self.uncertainty_label.setText(f"At t = {result.t}: x̂₀ − 2σd | x̂₀ | x̂₀ + 2σd per direction d")
        for i, (d, var) in enumerate(zip(result.directions, result.variances)):
            step = 2.0 * math.sqrt(max(float(var), 0.0)) * d
            caption = _text_label()
            caption.setText(f"direction {i + 1}: σ² = {float(var):.3g}")
            self.directions_grid.addWidget(caption, 2 * i, 0, 1, 3)
            for j, (image, what) in enumerate(((result.x0_mean - step, "x̂₀ − 2σd"),
                                               (result.x0_mean, "x̂₀ = E[x₀ | x_t]"),
                                               (result.x0_mean + step, "x̂₀ + 2σd"))):
                self.directions_grid.addWidget(_image_label(image, f"direction {i + 1}: {what}"),
                                               2 * i + 1, j)

    def _show_inversion(self, running: bool, error: str, result) -> None:
        _clear(self.inversion_grid)
        if running:
            self.inversion_label.setText("Inverting x₀ to x_T and decoding…")
            return
        if error or result is None:
            self.inversion_label.setText(error or "Press Invert to find the x_T the digit comes "
                                                  "from and decode it as class k.")
            return
        self.inversion_label.setText(f"Reconstruction MSE {result.mse:.2e} (in [−1, 1] units)")
        for j, (image, what) in enumerate(((result.x0, "x₀"), (result.x_T, "x_T"),
                                           (result.reconstruction, "back"),
                                           (result.decoded, f"as {result.label}"))):
            tip = what if j < 3 else f"x_T decoded as class {result.label} at guidance w = {result.guidance:g}"
            row, column = 2 * (j // 2), j % 2  # x₀ | x_T over back | as k
            self.inversion_grid.addWidget(_image_label(image, tip), row, column)
            caption = _text_label()
            caption.setText(what)
            self.inversion_grid.addWidget(caption, row + 1, column)


def _clear(grid: QGridLayout) -> None:
    while grid.count():
        widget = grid.takeAt(0).widget()
        if widget is not None:
            widget.deleteLater()


def connect_beliefs_panel(panel: BeliefsPanel, beliefs) -> None:
    """Wire the panel's intents to the beliefs area (`session.beliefs`)."""
    panel.likelihood_requested.connect(beliefs.likelihood)
    panel.uncertainty_requested.connect(beliefs.uncertainty)
    panel.invert_requested.connect(beliefs.invert)
