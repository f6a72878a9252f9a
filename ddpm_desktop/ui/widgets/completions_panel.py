"""Many completions of the noised digit: N samples of x₀ given the x_t reconstruct starts from.

A view of `CompletionsState` (N and the results) and `SamplerState` (the sampler, steps, η,
seed and t it runs with: the Sampler dock's settings, the one copy). Each tile shows a
completion, the bundled classifier's reading with its probability, and the t from which that
reading of x̂₀ never changes again. Intents: `n_edited(int)`, `complete_requested()`,
`cancel_requested()`; `connect_completions_panel` wires them (wiring.py calls it once).
"""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ddpm_desktop.core.completions import deterministic_problem
from ddpm_desktop.ui.completions_state import MAX_COMPLETIONS, CompletionsState, readings_summary
from ddpm_desktop.ui.state import SAMPLER_NAMES, SamplerState
from ddpm_desktop.ui.theme import banner_style
from ddpm_desktop.ui.widgets.completion_grid import PROB_TIP, CompletionGrid
from ddpm_desktop.ui.widgets.copy_check_view import COPY_TIP, finding_text
from ddpm_desktop.ui.widgets.plain_text import plain

TILE_TIP = PROB_TIP + ("\nsettles at t: the first network call from which the reading of x̂₀ "
                       "never changes again (its x_t's t).")


class CompletionsPanel(QWidget):
    n_edited = Signal(int)
    complete_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, state: CompletionsState, sampler: SamplerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.sampler = state, sampler
        self.source_label = QLabel()
        plain(self.source_label)
        self.source_label.setWordWrap(True)
        self.n_spin = QSpinBox(minimum=1, maximum=MAX_COMPLETIONS)
        self.run_button = QPushButton("Complete N times")
        self.cancel_button = QPushButton("Cancel")
        self.problem_label = QLabel()
        plain(self.problem_label)
        self.problem_label.setWordWrap(True)
        self.result_label = QLabel()
        plain(self.result_label)
        self.result_label.setWordWrap(True)
        self.grid = CompletionGrid(columns=3, tip=TILE_TIP)  # 3 captioned tiles fit a 360 px dock

        row = QHBoxLayout()
        row.addWidget(QLabel("Completions N"))
        row.addWidget(self.n_spin)
        row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.source_label)
        lay.addLayout(row)
        lay.addLayout(buttons)
        lay.addWidget(self.problem_label)
        lay.addWidget(self.result_label)
        lay.addWidget(self.grid)
        lay.addStretch(1)

        self.n_spin.valueChanged.connect(self.n_edited)
        self.run_button.clicked.connect(self.complete_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        state.settings_changed.connect(self._on_state_settings_changed)
        state.completions_changed.connect(self._on_state_completions_changed)
        state.running_changed.connect(self._on_state_settings_changed)
        state.running_changed.connect(self._on_state_completions_changed)
        sampler.changed.connect(self._on_state_settings_changed)
        self._on_state_settings_changed()
        self._on_state_completions_changed()

    def problem(self) -> str | None:
        s = self.sampler.settings
        return deterministic_problem(s.sampler, s.eta, self.state.n)

    @Slot()
    def _on_state_settings_changed(self, *_args) -> None:
        st, s = self.state, self.sampler.settings
        self.n_spin.blockSignals(True)
        self.n_spin.setValue(st.n)
        self.n_spin.blockSignals(False)
        name = SAMPLER_NAMES.get(s.sampler, s.sampler)
        steps = "every step" if s.steps is None else f"{s.steps} steps"
        eta = f", η = {s.eta:g}" if s.sampler == "ddim" else ""
        self.source_label.setText(
            f"N samples of x₀ given one x_t: the digit noised to t = {s.t_start} (the Sampler "
            f"dock's start t), then {name} ({steps}{eta}); completion k uses seed {s.seed} + k, "
            "so the first is the reconstruct run's digit.")
        problem = self.problem()
        self.problem_label.setVisible(problem is not None)
        if problem:
            self.problem_label.setText(problem + " (Sampler dock).")
            self.problem_label.setStyleSheet(banner_style("warn"))
        self.run_button.setEnabled(problem is None and not st.running)
        self.cancel_button.setEnabled(st.running)

    @Slot()
    def _on_state_completions_changed(self) -> None:
        st = self.state
        extras = None if st.settled is None else [f"settles t = {t}" for t in st.settled]
        if extras is not None and st.copies:
            extras = [f"{e}\n" + (f"copy of #{c.nearest}" if c.copy else f"d1/d2 = {c.ratio:.2f}")
                      for e, c in zip(extras, st.copies)]
        self.grid.show_completions(st.images, st.readings, st.probabilities, extras, st.digits)
        for i, tile in enumerate(self.grid.tiles):
            tile.show_nearest(st.copies[i].image if i < len(st.copies) else None)
        for tile, c in zip(self.grid.tiles, st.copies):
            tile.caption.setToolTip(f"{TILE_TIP}\n\nNearest training digit #{c.nearest}: "
                                    f"{finding_text(c)}\n{COPY_TIP}")
        if st.images is None:
            self.result_label.setText("running…" if st.running else "No completions yet.")
            return
        read = readings_summary(st.readings, st.digits)
        copies = "" if not st.copies else (f"; {sum(c.copy for c in st.copies)} of {len(st.copies)} "
                                           "copy a training digit (d1/d2 < 1/3)")
        self.result_label.setText(f"{len(st.images)} completions of x_{st.t} ({st.sampler}, {st.nfe} "
                                  f"network calls each); the classifier reads {read}{copies}")


def connect_completions_panel(panel: CompletionsPanel, completer) -> None:
    """Wire the panel's intents to the completions area (`session.completer`)."""
    panel.n_edited.connect(completer.state.set_n)
    panel.complete_requested.connect(completer.start)
    panel.cancel_requested.connect(completer.cancel)
