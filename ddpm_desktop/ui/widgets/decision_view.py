"""When the digit is decided: p(class | x̂₀) by the bundled classifier along the reverse chain on
screen, one line per class against t (T on the left, 0 on the right, as the chain runs), with
a marker where the reading settles, one at the predicted speciation step t_S
(core.speciation) and one at the frame shown.

A view of `DecisionState` (the rows, computed by the session's decision job) and of
`ReverseState` (only for the frame shown). It emits nothing.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Slot
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ddpm_desktop.core.classifier import UNSURE_P
from ddpm_desktop.core.decision import NUM_CLASSES
from ddpm_desktop.ui.decision_state import DecisionState
from ddpm_desktop.ui.state import ReverseState
from ddpm_desktop.ui.theme import class_colors, pen, plot_colors, style_plot

TITLE = "p(class | x̂₀) by the bundled classifier"
SETTLE_TIP = ("The reading of x̂₀ is argmax_k p(k | x̂₀). It settles at the first network call i "
              "from which the reading never changes again (reading_j = final reading for every "
              "j ≥ i); the marker is that call's t. x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t. "
              "\"Not a digit\": the last x̂₀'s activations lie farther from the training "
              "digits' than the calibrated threshold (core.classifier.DigitReader), so its "
              "most probable class is no reading.")

SPECIATION_TIP = ("Predicted speciation step t_S (dotted line): the first t with ᾱ_t ≤ ᾱ_S = 1/Λ, "
                  "Λ the largest eigenvalue of the training digits' covariance (pixels in [-1, 1]). "
                  "Before it, in reverse time, the noise variance hides even the data's strongest "
                  "direction; after it, which class the sample becomes is being decided "
                  "(Biroli et al. 2024, \"Dynamical regimes of diffusion models\"). It moves "
                  "with the schedule; compare it with the measured settle step (dashed).")


def speciation_text(speciation) -> str:
    """'predicted t_S = 551 (ᾱ_S = 1/Λ = 0.046)', or why there is none; '' when unknown."""
    if speciation is None:
        return ""
    ab = f"ᾱ_S = 1/Λ = {speciation.alpha_bar:.3f}"
    if speciation.t is None:
        return f"no predicted t_S: ᾱ_T stays above {ab}"
    return f"predicted t_S = {speciation.t} ({ab})"


class DecisionView(QWidget):
    _styled = False

    def __init__(self, state: DecisionState, reverse: ReverseState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.reverse = state, reverse
        self.title = QLabel(TITLE)
        self.title.setProperty("role", "caption")
        self.title.setWordWrap(True)
        # the classes' colours in one line (a plot legend would cover the curves of a narrow plot)
        self.key_label = QLabel()
        self.key_label.setTextFormat(Qt.TextFormat.RichText)
        self.readout = QLabel(" ")
        self.readout.setProperty("role", "value")
        self.readout.setWordWrap(True)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setToolTip(SETTLE_TIP + "\n\n" + SPECIATION_TIP)
        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "t (x̂₀ predicted from x_t)")
        item.setLabel("left", "p(k | x̂₀)")
        item.setMenuEnabled(False)
        item.hideButtons()
        item.invertX(True)                 # the chain runs from T (left) to 0 (right)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setYRange(0.0, 1.0, padding=0.02)
        self.plot.setMinimumHeight(80)  # the window must fit 1280x720 in lecture mode (test_screen_fit)
        self.curves = [self.plot.plot([], [], name=str(k)) for k in range(NUM_CLASSES)]
        self.settle_line = pg.InfiniteLine(angle=90, movable=False)
        self.settle_line.setVisible(False)
        self.speciation_line = pg.InfiniteLine(angle=90, movable=False)
        self.speciation_line.setVisible(False)
        self.speciation_line.setToolTip(SPECIATION_TIP)
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.cursor.setVisible(False)
        self.plot.addItem(self.speciation_line)
        self.plot.addItem(self.settle_line)
        self.plot.addItem(self.cursor)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.key_label)
        layout.addWidget(self.readout)
        layout.addWidget(self.plot, 1)

        state.reset.connect(self._on_state_changed)
        state.changed.connect(self._on_state_changed)
        reverse.frame_changed.connect(self._on_reverse_frame_changed)
        self._apply_colors()
        self._on_state_changed()

    def _apply_colors(self) -> None:
        self._styled = True
        c = plot_colors(self.palette())
        style_plot(self.plot, c)
        colours = class_colors(self.palette())
        for curve, colour in zip(self.curves, colours):
            curve.setPen(pen(colour, width=1.5))
        self.key_label.setText("class " + " ".join(
            f"<b><span style='color:{colour}'>{k}</span></b>" for k, colour in enumerate(colours)))
        self.settle_line.setPen(pen(c.exact, width=1.5, style=Qt.PenStyle.DashLine))
        self.speciation_line.setPen(pen(c.exact, width=1.5, style=Qt.PenStyle.DotLine))
        self.cursor.setPen(pen(c.cursor, width=1.5))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.PaletteChange and self._styled:
            self._apply_colors()
        super().changeEvent(event)

    @Slot()
    def _on_state_changed(self) -> None:
        s = self.state
        ts = s.ts.astype(np.float64)
        for k, curve in enumerate(self.curves):
            curve.setData(ts, s.probs[:, k]) if len(ts) else curve.setData([], [])
        if len(ts):
            self.plot.setXRange(0.0, float(ts.max()), padding=0.02)
        sp = s.speciation
        self.speciation_line.setVisible(sp is not None and sp.t is not None)
        if sp is not None and sp.t is not None:
            self.speciation_line.setValue(float(sp.t))
        predicted = speciation_text(sp)
        if s.settle_row is None:
            self.settle_line.setVisible(False)
            self.readout.setText("no reverse chain yet" if not s.chain else f"{s.chain}: waiting for x̂₀")
        else:
            self.settle_line.setValue(float(s.settle_t))
            self.settle_line.setVisible(True)
            k = s.settle_class
            note = "" if s.complete else " so far"
            if s.final_is_digit:
                unsure = ", unsure" if s.probs[-1, k] < UNSURE_P else ""
                self.readout.setText(f"{s.chain}: settles on {k} at t = {s.settle_t}{note}, "
                                     f"final p = {s.probs[-1, k]:.2f}{unsure}")
            else:
                self.readout.setText(f"{s.chain}: x̂₀ is not a digit{note} (its most probable "
                                     f"class {k} settles at t = {s.settle_t})")
        if predicted and s.chain:
            self.readout.setText(self.readout.text() + f"; {predicted}")
        self._on_reverse_frame_changed(self.reverse.index)

    @Slot(int)
    def _on_reverse_frame_changed(self, index: int) -> None:
        row = self.state.row_for_frame(index)
        self.cursor.setVisible(row is not None)
        if row is not None:
            self.cursor.setValue(float(self.state.ts[row]))
