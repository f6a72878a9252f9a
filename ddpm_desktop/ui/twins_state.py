"""What the twins view shows: the pair of models and the x_T it runs them from, and the last
result (ui/session_twins.py fills it). Plain values; nothing here touches a thread."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.twins import PAIRS

# "all": classes 0..9 cycling over the pairs; "none": unconditional; "0".."9": that class.
TWIN_LABELS = ("all", "none", *(str(c) for c in range(10)))
MAX_TWIN_PAIRS = 10


@dataclass(frozen=True)
class TwinsSettings:
    """pair: a key of core.twins.PAIRS ("twin", "few"); seed: of the shared x_T; label: one of
    TWIN_LABELS; n: how many pairs, 1..MAX_TWIN_PAIRS."""

    pair: str = "twin"
    seed: int = 0
    label: str = "all"
    n: int = 4

    def validated(self) -> "TwinsSettings":
        if self.pair not in PAIRS:
            raise ValueError(f"unknown pair '{self.pair}'; choose one of {', '.join(PAIRS)}")
        if self.label not in TWIN_LABELS:
            raise ValueError(f"label must be one of {', '.join(TWIN_LABELS)}, got {self.label!r}")
        if not 1 <= int(self.n) <= MAX_TWIN_PAIRS:
            raise ValueError(f"n must be in 1..{MAX_TWIN_PAIRS}, got {self.n}")
        if not 0 <= int(self.seed) < 2**31:
            raise ValueError(f"seed must be in 0..2^31-1, got {self.seed}")
        return self

    @property
    def labels(self):
        """The `labels` argument of core.twins.twin_pair."""
        if self.label in ("all", "none"):
            return "all" if self.label == "all" else None
        return int(self.label)


@dataclass(frozen=True)
class TwinsResult:
    """One run: `settings` it was made with, `models` (name a, name b), `pairs` a
    core.twins.TwinPairs, and each sample's nearest training digit as uint8 [n, 28, 28]
    (`nearest_a`, `nearest_b`)."""

    settings: TwinsSettings
    models: tuple[str, str]
    pairs: object
    nearest_a: np.ndarray
    nearest_b: np.ndarray


class TwinsState(QObject):
    """`settings`, the latest `result` (None before the first run or after the settings
    changed), `running`, and `message` (why the last run failed, or ""). Signals:
    `settings_changed()`, `changed()` (result, running or message)."""

    settings_changed = Signal()
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = TwinsSettings()
        self.result: TwinsResult | None = None
        self.running = False
        self.message = ""

    def update(self, **changes) -> None:
        """Views write settings here (one-line ValueError for an unusable value)."""
        new = replace(self.settings, **changes).validated()
        if new != self.settings:
            self.settings = new
            self.settings_changed.emit()

    def set_result(self, result: TwinsResult | None, running: bool = False,
                   message: str = "") -> None:
        self.result, self.running, self.message = result, running, message
        self.changed.emit()
