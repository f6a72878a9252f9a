"""Reconstruct as you draw: a view of LiveState under the drawing canvas.

Shows x_t (the drawing noised to t with a fixed ε) and the reconstruction x̂_0 the fast sampler
brings back from it, the classifier's reading, the compute time of one update and the updates
a second actually shown. Emits intents only: `enabled_changed(bool)`, `t_changed(int)`.
"""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QSpinBox, QWidget

from ddpm_desktop.ui.live_state import LiveState
from ddpm_desktop.ui.widgets.chain_view import ImagePane

SAMPLER_NAMES = {"dpmpp": "DPM-Solver++(2M)", "ddim": "DDIM", "ddpm": "DDPM", "distilled": "distilled"}


class LiveView(QWidget):
    enabled_changed = Signal(bool)
    t_changed = Signal(int)

    def __init__(self, state: LiveState, T: int = 1000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.enable_box = QCheckBox("Reconstruct as you draw")
        self.t_spin = QSpinBox()
        self.t_spin.setPrefix("from t = ")
        self.t_spin.setRange(1, T)
        self.noised = ImagePane(min_side=56)
        self.result = ImagePane(min_side=56)
        for pane in (self.noised, self.result):
            pane.setMaximumSize(84, 84)
        self.noised_label = QLabel("x_t")
        self.result_label = QLabel("x̂₀")
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
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

    def set_T(self, T: int) -> None:  # noqa: N802 - T is the paper's name
        with QSignalBlocker(self.t_spin):
            self.t_spin.setMaximum(int(T))

    @Slot(str)
    def _on_state_changed(self, what: str) -> None:
        s = self.state
        with QSignalBlocker(self.enable_box):
            self.enable_box.setChecked(s.enabled)
        with QSignalBlocker(self.t_spin):
            self.t_spin.setValue(s.t)
        for w in (self.noised, self.result, self.noised_label, self.result_label, self.info_label):
            w.setVisible(s.enabled)
        self.noised_label.setText(f"x_t, t = {s.t}")
        r = s.result
        if r is None or not s.enabled:
            self.noised.set_image(None)
            self.result.set_image(None)
            self.info_label.setText(f"x̂₀ by {SAMPLER_NAMES.get(s.sampler, s.sampler)}, "
                                    f"{s.steps} network calls: draw to start")
            return
        self.noised.set_image(r.x_t)
        self.result.set_image(r.image)
        reading = "" if r.reading is None else f"reads {r.reading} (p = {r.probability:.2f})\n"
        self.info_label.setText(
            f"{reading}{SAMPLER_NAMES.get(s.sampler, s.sampler)}, {r.nfe} NFE\n"
            f"one update {r.ms:.0f} ms · {s.updates_per_s:.0f} updates/s shown")
