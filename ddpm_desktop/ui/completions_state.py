"""Many completions of the noised digit: N samples of x₀ given the x_t that reconstruct starts
from (the forward chain's frame at the sampler's t), each read by the bundled classifier.

`n` is this view's one setting; the sampler, its steps, η, seed, class and t are the Sampler
dock's (SamplerState, the one copy). Results are plain numpy arrays set by the session's job
(ui/session_completions.py). Signals: `settings_changed()`, `completions_changed()` (new
results or cleared), `running_changed(bool)`.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

MAX_COMPLETIONS = 32
DEFAULT_COMPLETIONS = 8


def readings_summary(readings, digits=None) -> str:
    """'3 ×2, 7 ×1, not a digit ×1': how many images read as each class, those the reader
    flags as not a digit (digits[i] False) counted apart. readings [N] int; digits [N] bool
    or None (all digits)."""
    readings = np.asarray(readings, dtype=np.int64)
    digits = np.ones(len(readings), bool) if digits is None else np.asarray(digits, bool)
    counts = np.bincount(readings[digits], minlength=10)
    parts = [f"{d} ×{c}" for d, c in enumerate(counts) if c]
    if (~digits).any():
        parts.append(f"not a digit ×{int((~digits).sum())}")
    return ", ".join(parts)


class CompletionsState(QObject):
    settings_changed = Signal()
    completions_changed = Signal()
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.n = DEFAULT_COMPLETIONS
        self.running = False
        self.clear()

    def set_n(self, n: int) -> None:
        """Completions per run, 1..MAX_COMPLETIONS; ValueError (state unchanged) otherwise."""
        if isinstance(n, bool) or int(n) != n or not 1 <= int(n) <= MAX_COMPLETIONS:
            raise ValueError(f"completions must be 1..{MAX_COMPLETIONS}, got {n}")
        if int(n) != self.n:
            self.n = int(n)
            self.settings_changed.emit()

    def set_running(self, running: bool) -> None:
        if running != self.running:
            self.running = running
            self.running_changed.emit(running)

    def set_completions(self, images, readings, probabilities, settled, t: int, sampler: str,
                        nfe: int, digits=None, copies=()) -> None:
        """images float32 [N, 28, 28]; readings [N] (argmax); probabilities [N] (p at the
        reading); settled [N] (the t each completion's reading of x̂₀ settles at); t the step
        x_t was at; sampler its display name; nfe network calls per completion; digits [N]
        bool, whether the reader takes each completion for a digit at all (None: all); copies
        [N] each completion's copy check (ui/session_copies.CopyFinding), or () when not made."""
        self.copies = tuple(copies)
        n = len(readings)
        self.digits = np.ones(n, bool) if digits is None else np.asarray(digits, bool).copy()
        self.images = np.array(images, dtype=np.float32, copy=True)
        self.readings = np.asarray(readings, dtype=np.int64).copy()
        self.probabilities = np.asarray(probabilities, dtype=np.float64).copy()
        self.settled = np.asarray(settled, dtype=np.int64).copy()
        self.t, self.sampler, self.nfe = int(t), str(sampler), int(nfe)
        self.completions_changed.emit()

    def clear(self) -> None:
        self.images = self.readings = self.probabilities = self.settled = self.digits = None
        self.copies = ()
        self.t, self.sampler, self.nfe = 0, "", 0
        self.completions_changed.emit()
