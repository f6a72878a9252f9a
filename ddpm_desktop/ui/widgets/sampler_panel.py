"""Reverse-chain controls: sampler, steps, seed, class label, guidance, start, compare.

A view of the session's `SamplerState` (the one copy of the settings): an edit writes the
state, a state change redraws the controls. Emits user intent only; the session runs the
sampler. Signals: `sample_requested()`, `stop_requested()`. Methods: `set_busy(bool)`,
`set_model_available(bool, text)`, `set_max_t(T)` (bounds of the reconstruct-from-t control).
"""
from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core.run import plan_run
from ddpm_desktop.core.sampling import DISTILLED_MAX_STEPS
from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE
from ddpm_desktop.ui.distilled_names import DISTILLED, DISTILLED_NAME, DISTILLED_TIP
from ddpm_desktop.ui.state import SAMPLER_NAMES, SamplerSettings, SamplerState
from ddpm_desktop.ui.widgets.plain_text import plain

_SAMPLER_TIPS = {
    "ddpm": "Ancestral sampling (Ho et al. 2020, Alg. 2); stochastic. With fewer steps than T "
            "the chain is respaced (improved-diffusion).",
    "ddim": "DDIM (Song et al. 2021): deterministic at η = 0, DDPM-like at η = 1.",
    "dpmpp": "DPM-Solver++(2M) (Lu et al. 2022): second-order, good digits in 10-20 steps.",
}


class SamplerPanel(QWidget):
    sample_requested = Signal()
    stop_requested = Signal()

    def __init__(self, state: SamplerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.sampler_combo = QComboBox()
        self.sampler_b_combo = QComboBox()
        for key, name in SAMPLER_NAMES.items():
            self.sampler_combo.addItem(name, key)
            self.sampler_b_combo.addItem(name, key)
            i = self.sampler_combo.count() - 1
            self.sampler_combo.setItemData(i, _SAMPLER_TIPS[key], Qt.ItemDataRole.ToolTipRole)
            self.sampler_b_combo.setItemData(i, _SAMPLER_TIPS[key], Qt.ItemDataRole.ToolTipRole)
        # the distilled student: last in both lists
        for combo in (self.sampler_combo, self.sampler_b_combo):
            combo.addItem(DISTILLED_NAME, DISTILLED)
            combo.setItemData(combo.count() - 1, DISTILLED_TIP, Qt.ItemDataRole.ToolTipRole)
        self._T = DEFAULT_SCHEDULE["T"]  # the schedule's T (set_max_t), for the planned steps
        self._steps_planned: int | None = None  # what "every step" showed, while steps is None
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000)
        self.steps_spin.setValue(100)
        self.steps_spin.setToolTip("Reverse steps = network evaluations (NFE) per chain; "
                                   "capped at T")
        self.eta_spin = QDoubleSpinBox()
        self.eta_spin.setRange(0.0, 1.0)
        self.eta_spin.setSingleStep(0.1)
        self.eta_spin.setToolTip("DDIM η: 0 deterministic, 1 = DDPM variance")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_button = QToolButton()
        self.seed_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.seed_button.setToolTip("New random seed")
        self.label_combo = QComboBox()
        self.label_combo.addItem("none", None)
        for d in range(10):
            self.label_combo.addItem(f"digit {d}", d)
        self.guidance_spin = QDoubleSpinBox()
        self.guidance_spin.setRange(0.0, 20.0)
        self.guidance_spin.setSingleStep(0.5)
        self.guidance_spin.setToolTip("Classifier-free guidance w: 0 unconditional, 1 "
                                      "conditional, > 1 stronger class")

        self.t_start_spin = QSpinBox()
        self.t_start_spin.setRange(1, 1000)
        self.t_start_spin.setValue(500)
        self.t_start_spin.setToolTip("Reconstruct: start the reverse chain from the forward "
                                     "chain's frame at this t (SDEdit)")

        for spin in (self.eta_spin, self.guidance_spin, self.t_start_spin):
            spin.setMaximumWidth(72)
        self.compare_check = QCheckBox("Compare with")
        self.compare_check.setToolTip("Run a second sampler from the same x_T with the same "
                                      "number of network evaluations")
        self.sampler_b_combo.setCurrentIndex(2)

        self.sample_button = QPushButton("Sample")
        self.sample_button.setDefault(True)
        self.sample_button.setToolTip("Run the reverse chain (Ctrl+R)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.model_label = QLabel()
        plain(self.model_label)
        self.model_label.setWordWrap(True)
        self.model_label.setProperty("role", "caption")

        def row(*widgets, stretch_first: bool = True) -> QHBoxLayout:
            box = QHBoxLayout()
            box.setSpacing(4)
            for i, w in enumerate(widgets):
                box.addWidget(w, 1 if (i == 0 and stretch_first) else 0)
            return box

        self.eta_label = QLabel("η")
        self.guidance_label = QLabel("w")
        self.source_combo = QComboBox()
        self.source_combo.addItem("noise x_T", "noise")
        self.source_combo.addItem("digit noised to t =", "input")
        self.source_combo.setToolTip("Start from the starting-noise distribution (Input dock), "
                                     "or reconstruct: from the forward chain's frame at t")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Method", self.sampler_combo)
        form.addRow("Steps", row(self.steps_spin, self.eta_label, self.eta_spin))
        form.addRow("Seed", row(self.seed_spin, self.seed_button))
        form.addRow("Class", row(self.label_combo, self.guidance_label, self.guidance_spin))
        form.addRow("Start", row(self.source_combo, self.t_start_spin))
        form.addRow(self.compare_check, self.sampler_b_combo)

        buttons = QHBoxLayout()
        buttons.addWidget(self.sample_button, 1)
        buttons.addWidget(self.stop_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.model_label)
        layout.addStretch(1)

        self.sample_button.clicked.connect(self.sample_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.seed_button.clicked.connect(self._on_seed_button_clicked)
        self._syncing = False
        self._on_state_changed(state.settings)
        for combo in (self.sampler_combo, self.sampler_b_combo, self.label_combo,
                      self.source_combo):
            combo.currentIndexChanged.connect(self._on_edited)
        for spin in (self.steps_spin, self.seed_spin, self.guidance_spin, self.t_start_spin,
                     self.eta_spin):
            spin.valueChanged.connect(self._on_edited)
        self.compare_check.toggled.connect(self._on_edited)
        state.changed.connect(self._on_state_changed)

    # ---------------------------------------------------------------- public
    def settings(self) -> SamplerSettings:
        """The settings these controls show (the state's, once an edit is written)."""
        return SamplerSettings(
            sampler=self.sampler_combo.currentData(),
            steps=(None if self.state.settings.steps is None
                   and self.steps_spin.value() == self._steps_planned else self.steps_spin.value()),
            seed=self.seed_spin.value(),
            label=self.label_combo.currentData(),
            guidance=self.guidance_spin.value(),
            source=self.source_combo.currentData(),
            t_start=(self.state.settings.t_start
                     if self.t_start_spin.value() == self.t_start_spin.maximum()
                     and self.state.settings.t_start > self.t_start_spin.maximum()
                     else self.t_start_spin.value()),
            compare=self.compare_check.isChecked(),
            sampler_b=self.sampler_b_combo.currentData(),
            eta=self.eta_spin.value(),
        )

    def set_settings(self, s: SamplerSettings) -> None:
        """Write `s` to the state (the controls follow)."""
        self.state.set_settings(s)

    @Slot(object)
    def _on_state_changed(self, s: SamplerSettings) -> None:
        self._syncing = True
        try:
            self._show(s)
        finally:
            self._syncing = False
        self._update_enabled()

    def _show(self, s: SamplerSettings) -> None:
        def pick(combo: QComboBox, value) -> None:
            i = combo.findData(value)
            if i >= 0:
                combo.setCurrentIndex(i)

        pick(self.sampler_combo, s.sampler)
        pick(self.sampler_b_combo, s.sampler_b)
        pick(self.label_combo, s.label)
        # "every step" (None) shows the steps the run takes (core.run), not the box's maximum
        self._steps_planned = plan_run(s, self._T).n_steps if s.steps is None else None
        if s.steps is None:
            self.steps_spin.setMaximum(max(self.steps_spin.maximum(), self._steps_planned))
        self.steps_spin.setValue(int(s.steps or self._steps_planned))
        self.seed_spin.setValue(int(s.seed))
        self.guidance_spin.setValue(float(s.guidance))
        self.t_start_spin.setValue(int(s.t_start))
        self.eta_spin.setValue(float(s.eta))
        pick(self.source_combo, s.source)
        self.compare_check.setChecked(bool(s.compare))

    def set_busy(self, busy: bool) -> None:
        self.stop_button.setEnabled(busy)

    def set_model_available(self, available: bool, text: str) -> None:
        self.sample_button.setEnabled(available)
        self.model_label.setText(text)

    def set_max_t(self, T: int) -> None:
        """Bound the start-t control by T; the state keeps the user's t (a run caps it), so
        a shorter schedule and back again does not lose it."""
        self._T = int(T)
        self._syncing = True
        try:
            self.t_start_spin.setMaximum(max(1, int(T)))
            self.t_start_spin.setValue(min(self.state.settings.t_start, max(1, int(T))))
            if self.state.settings.steps is None:  # every step of the new T
                self._show(self.state.settings)
        finally:
            self._syncing = False

    # ---------------------------------------------------------------- slots
    @Slot()
    def _update_enabled(self) -> None:
        uses_ddim = self.sampler_combo.currentData() == "ddim" or (
            self.compare_check.isChecked() and self.sampler_b_combo.currentData() == "ddim")
        self.eta_spin.setEnabled(uses_ddim)
        self.eta_label.setEnabled(uses_ddim)
        self.guidance_label.setEnabled(self.label_combo.currentData() is not None)
        self.guidance_spin.setEnabled(self.label_combo.currentData() is not None)
        self.t_start_spin.setEnabled(self.source_combo.currentData() == "input")
        self.sampler_b_combo.setEnabled(self.compare_check.isChecked())
        # a distilled lane runs 1-4 steps (every lane, for equal NFE): the spin box says so
        distilled = self.sampler_combo.currentData() == DISTILLED or (
            self.compare_check.isChecked() and self.sampler_b_combo.currentData() == DISTILLED)
        self.steps_spin.setMaximum(DISTILLED_MAX_STEPS if distilled else 100_000)

    @Slot()
    def _on_edited(self) -> None:
        if self._syncing:
            return
        self._update_enabled()
        self.state.set_settings(self.settings())

    @Slot()
    def _on_seed_button_clicked(self) -> None:
        self.seed_spin.setValue(random.randrange(0, 100_000))
