"""The training state the Training panel is built from (the session owns it and fills it).

`TrainingSettings`: what the next Start uses (data set, batch size, total steps, learning rate,
conditioning, how often the sample grid refreshes). `TrainingState` holds those settings, the
run's phase and every number the panel shows (curves, rates, the latest sample grid), as plain
numpy / Python values received from the background run. Views call `set_settings`; only the
session calls the other mutators.

Signals: `settings_changed()`, `phase_changed(str)` (also when the message or what can be
resumed changes), `progress_changed()` (curves and numbers), `snapshot_changed()`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.training import LEVEL_EDGES, RECIPES
from ddpm_desktop.ui.state import SettingsState

DATASETS = (("mnist", "MNIST train (bundled)"), ("mnist-all", "MNIST all (bundled)"),
            ("fashion", "Fashion-MNIST"), ("browser", "the data set the browser shows"))
PHASES = ("idle", "preparing", "running", "paused", "stopping")


@dataclass(frozen=True)
class TrainingSettings:
    dataset: str = "mnist"
    # The fast recipe's (core.training.RECIPES["fast"]): >= 95% classifier accuracy at the
    # default guidance after its 850 steps (bench/training.py).
    batch_size: int = RECIPES["fast"]["batch_size"]
    steps: int = RECIPES["fast"]["steps"]
    lr: float = RECIPES["fast"]["lr"]
    conditional: bool = True
    sample_every_s: int = 10

    def validated(self) -> "TrainingSettings":
        if self.dataset not in dict(DATASETS):
            raise ValueError(f"unknown data set {self.dataset!r}")
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 4096):
            raise ValueError(f"batch size {self.batch_size!r} must lie in 1..4096")
        if not (isinstance(self.steps, int) and 1 <= self.steps <= 10_000_000):
            raise ValueError(f"steps {self.steps!r} must lie in 1..10,000,000")
        if not (math.isfinite(self.lr) and 1e-6 <= self.lr <= 0.5):
            raise ValueError(f"learning rate {self.lr!r} must lie in [1e-6, 0.5]")
        if not (isinstance(self.sample_every_s, int) and 1 <= self.sample_every_s <= 3600):
            raise ValueError(f"sample interval {self.sample_every_s!r} s must lie in 1..3600")
        return self


class TrainingState(SettingsState):
    phase_changed = Signal(str)
    progress_changed = Signal()
    snapshot_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = TrainingSettings()
        self.browser_dataset_name = ""  # the browser's data set, when "browser" is offered
        self.phase = "idle"
        self.message = "Idle"
        # What Start does next: 0 = a new run; > 0 = continue the run (in memory or from the
        # loaded checkpoint's training state) from this step.
        self.resumable_step = 0
        self.has_run = False  # a run in memory (or a loaded checkpoint) to save or reset
        self.clear_progress()
        self.snapshot = None  # core.training_run.Snapshot | None

    # -- settings (views) ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.phase != "idle"

    # -- run (session) -------------------------------------------------------------------------
    def set_phase(self, phase: str, message: str | None = None) -> None:
        assert phase in PHASES, phase
        self.phase = phase
        if message is not None:
            self.message = message
        self.phase_changed.emit(phase)

    def set_message(self, message: str) -> None:
        self.message = message
        self.phase_changed.emit(self.phase)

    def set_resumable(self, step: int, has_run: bool) -> None:
        self.resumable_step, self.has_run = int(step), bool(has_run)
        self.phase_changed.emit(self.phase)

    def clear_progress(self) -> None:
        self.steps_seen = np.zeros(0, dtype=np.float64)
        self.losses = np.zeros(0, dtype=np.float64)
        self.losses_smooth = np.zeros(0, dtype=np.float64)
        self.loss_by_level = np.full(len(LEVEL_EDGES) + 1, np.nan)
        self.step = 0
        self.total_steps = self.settings.steps
        self.loss_smooth = math.nan
        self.images_per_second = math.nan
        self.eta_s = math.nan
        self.progress_changed.emit()

    def add_history(self, steps, losses, smooth) -> None:
        """Append (step, loss, smoothed loss) rows (from the run or a checkpoint's history)."""
        self.steps_seen = np.concatenate([self.steps_seen, np.asarray(steps, np.float64)])
        self.losses = np.concatenate([self.losses, np.asarray(losses, np.float64)])
        self.losses_smooth = np.concatenate([self.losses_smooth, np.asarray(smooth, np.float64)])
        if len(self.steps_seen):
            self.step = int(self.steps_seen[-1])
            self.loss_smooth = float(self.losses_smooth[-1])
        self.progress_changed.emit()

    def add_progress(self, progress: list) -> None:
        """core.training.TrainProgress items, in order."""
        if not progress:
            return
        last = progress[-1]
        self.loss_by_level = np.asarray(last.loss_by_level, dtype=np.float64)
        self.total_steps = int(last.total_steps)
        self.images_per_second = float(last.images_per_second)
        self.eta_s = float(last.eta_s)
        self.add_history([p.step for p in progress], [p.loss for p in progress],
                         [p.loss_smooth for p in progress])

    def set_snapshot(self, snapshot) -> None:
        self.snapshot = snapshot
        self.snapshot_changed.emit()
