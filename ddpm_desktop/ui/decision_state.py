"""The decision curve of the reverse chain on screen: p(class | x̂₀) by the bundled classifier at
each network call of lane 0, and where its reading settles (core.decision's definitions).

Rows arrive in chain order from the session's decision job (ui/session_decision.py); `ts` is
the t of the x_t each x̂₀ was predicted from, `frames` the reverse frame that shows it. The
settle point is recomputed over the rows so far; it is final once `complete` is set (the run
ended and every frame was read). Plain numpy; nothing here touches a thread.

Signals: `reset()` (a new chain: no rows), `changed()` (rows added or completed).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.decision import NUM_CLASSES, settle_index


class DecisionState(QObject):
    reset = Signal()
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # the predicted speciation step (core.speciation.SpeciationTime) under the current
        # schedule, or None until known; it outlives the rows of a chain
        self.speciation = None
        self.clear()

    def set_speciation(self, speciation) -> None:
        """speciation: a core.speciation.SpeciationTime, or None."""
        if speciation != self.speciation:
            self.speciation = speciation
            self.changed.emit()

    def clear(self, chain: str = "") -> None:
        """No rows; `chain` names the chain the rows will come from (e.g. "DDPM")."""
        self.chain = chain
        self.ts = np.zeros(0, dtype=np.int64)
        self.frames = np.zeros(0, dtype=np.int64)
        self.probs = np.zeros((0, NUM_CLASSES), dtype=np.float64)
        self.digits = np.zeros(0, dtype=bool)
        self.settle_row: int | None = None
        self.complete = False
        self.reset.emit()

    def append(self, ts, frames, probs, digits=None) -> None:
        """Add rows: ts [k], frames [k], probs [k, 10] (in chain order); digits [k] bool,
        whether the reader takes each x̂₀ for a digit at all (None: all)."""
        probs = np.asarray(probs, dtype=np.float64).reshape(-1, NUM_CLASSES)
        if len(probs) == 0:
            return
        self.ts = np.concatenate([self.ts, np.asarray(ts, dtype=np.int64)])
        self.frames = np.concatenate([self.frames, np.asarray(frames, dtype=np.int64)])
        self.probs = np.concatenate([self.probs, probs])
        self.digits = np.concatenate([self.digits, np.ones(len(probs), bool) if digits is None
                                      else np.asarray(digits, bool).reshape(-1)])
        self.settle_row = settle_index(self.probs)
        self.changed.emit()

    def set_complete(self, complete: bool = True) -> None:
        if complete != self.complete:
            self.complete = complete
            self.changed.emit()

    @property
    def settle_t(self) -> int | None:
        return None if self.settle_row is None else int(self.ts[self.settle_row])

    @property
    def settle_class(self) -> int | None:
        return None if self.settle_row is None else int(self.probs[-1].argmax())

    @property
    def final_is_digit(self) -> bool | None:
        """Whether the reader takes the last x̂₀ read for a digit (None before any row)."""
        return None if len(self.digits) == 0 else bool(self.digits[-1])

    def row_for_frame(self, frame: int) -> int | None:
        """The last row shown at or before reverse frame `frame` (None before the first)."""
        k = int(np.searchsorted(self.frames, frame, side="right")) - 1
        return None if k < 0 else k
