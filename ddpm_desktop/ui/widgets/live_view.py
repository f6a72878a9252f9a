"""Reconstruct as you draw: a view of LiveState under the drawing canvas.

Shows x_t (the drawing noised to t with a fixed ε) and the reconstruction x̂_0 the fast sampler
brings back from it, the classifier's reading, the compute time of one update and the updates
a second actually shown. Emits intents only: `enabled_changed(bool)`, `t_changed(int)`.

It redraws 30-60 times a second while the pen moves, so every part is cheap: the two 28x28
images are `DigitPane`s (one QImage scaled by QPainter, ~0.1 ms a paint, where a pyqtgraph
view took ~2.7 ms) and the changing numbers are a `LiveLabel` (no window re-layout per text).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSignalBlocker, QSize, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSizePolicy, QSpinBox, QWidget

from ddpm_desktop.core.classifier import reading_text
from ddpm_desktop.ui.distilled_names import DISTILLED, lane_name
from ddpm_desktop.ui.live_state import LiveState
from ddpm_desktop.ui.theme import plot_colors, qcolor
from ddpm_desktop.ui.widgets.live_label import LiveLabel

PANE_SIDE = 84


def digit_qimage(x: np.ndarray | None) -> QImage:
    """float [28, 28] in [-1, 1] (None: blank, all -1) -> an owning Grayscale8 QImage, the
    levels (-1, 1) of every other image pane of the window."""
    side = 28 if x is None else int(np.shape(x)[1])
    if x is None:
        u8 = np.zeros((28, 28), np.uint8)
    else:
        u8 = np.ascontiguousarray(np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8))
    h = u8.shape[0]
    return QImage(u8.data, side, h, side, QImage.Format.Format_Grayscale8).copy()


class DigitPane(QWidget):
    """One digit image, square, nearest-neighbour scaled (the pixels the model sees)."""

    def __init__(self, side: int = PANE_SIDE, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._side = int(side)
        self._image = digit_qimage(None)
        self.setFixedSize(self._side, self._side)  # fixed: a new image never re-lays out
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_image(self, x: np.ndarray | None) -> None:
        self._image = digit_qimage(x)
        self.update()

    def image(self) -> QImage:
        return self._image

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self._side, self._side)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.drawImage(QRectF(self.rect()), self._image)
        p.setPen(qcolor(plot_colors(self.palette()).outline))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        p.end()


class LiveView(QWidget):
    enabled_changed = Signal(bool)
    t_changed = Signal(int)

    def __init__(self, state: LiveState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.enable_box = QCheckBox("Reconstruct as you draw")
        self.t_spin = QSpinBox()
        self.t_spin.setPrefix("from t = ")
        self.t_spin.setRange(1, state.T)
        self.noised = DigitPane()
        self.result = DigitPane()
        self.noised_label = QLabel("x_t")
        self.result_label = QLabel("x̂₀")
        self.info_label = LiveLabel()
        self.info_label.setProperty("role", "value")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 4, 0, 0)
        grid.addWidget(self.enable_box, 0, 0, 1, 2)
        grid.addWidget(self.t_spin, 0, 2)
        grid.addWidget(self.noised_label, 1, 0)
        grid.addWidget(self.result_label, 1, 1)
        grid.addWidget(self.noised, 2, 0)
        grid.addWidget(self.result, 2, 1)
        grid.addWidget(self.info_label, 1, 2, 2, 1)
        grid.setColumnStretch(2, 1)
        self.enable_box.toggled.connect(self.enabled_changed)
        self.t_spin.valueChanged.connect(self.t_changed)
        state.changed.connect(self._on_state_changed)
        self._on_state_changed("enabled")

    @Slot(str)
    def _on_state_changed(self, what: str) -> None:
        s = self.state
        if what != "result":  # a new reconstruction changes only the images and the numbers
            with QSignalBlocker(self.enable_box):
                self.enable_box.setChecked(s.enabled)
            with QSignalBlocker(self.t_spin):
                self.t_spin.setMaximum(s.T)
                self.t_spin.setValue(s.t)
            for w in (self.noised, self.result, self.noised_label, self.result_label,
                      self.info_label):
                w.setVisible(s.enabled)
            self.noised_label.setText(f"x_t, t = {s.t}")
        r = s.result
        caption = lane_name(s.sampler, s.steps)
        if r is None or not s.enabled:
            self.noised.set_image(None)
            self.result.set_image(None)
            self.info_label.setText(f"x̂₀ by {caption}: draw to start")
            return
        self.noised.set_image(r.x_t)
        self.result.set_image(r.image)
        reading = ("" if r.reading is None else "not a digit<br>" if r.digit is False
                   else f"reads {reading_text(r.reading, r.probability, True)}<br>")
        # Short lines: the column beside the two panes is ~165 px (~22 characters) wide.
        calls = "" if s.sampler == DISTILLED else f", {r.nfe} NFE"  # the student: steps = calls
        self.info_label.setText(
            f"{reading}{(caption + calls).replace(', ', ',<br>', 1)}<br>{r.ms:.0f} ms an update<br>"
            f"{s.updates_per_s:.0f} updates/s")
