"""What "reconstruct as you draw" shows: on/off, the step t the drawing is noised to, and the
newest reconstruction with its measured rate, and the sampler the session chose for the model
in use (core.live.live_plan). Written by the session (session_live.py), read by
widgets/live_view.py. Signal `changed(str)`: "enabled", "t", "sampler" or "result".
"""
from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.live import LIVE_T, TEACHER_SAMPLER, TEACHER_STEPS, LiveResult

RATE_WINDOW_S = 1.0


class LiveState(QObject):
    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = False
        self.t = LIVE_T
        self.sampler = TEACHER_SAMPLER  # until the session knows whether a student is loaded
        self.steps = TEACHER_STEPS
        self.result: LiveResult | None = None
        self._times: deque[float] = deque()

    def set_enabled(self, on: bool) -> None:
        if bool(on) != self.enabled:
            self.enabled = bool(on)
            self._times.clear()
            self.changed.emit("enabled")

    def set_t(self, t: int, T: int) -> None:
        t = int(t)
        if not 1 <= t <= T:
            raise ValueError(f"t must be in 1..{T}, got {t}")
        if t != self.t:
            self.t = t
            self.changed.emit("t")

    def set_sampler(self, sampler: str, steps: int) -> None:
        if (sampler, int(steps)) != (self.sampler, self.steps):
            self.sampler, self.steps = sampler, int(steps)
            self.changed.emit("sampler")

    def set_result(self, result: LiveResult | None, now: float | None = None) -> None:
        self.result = result
        if result is not None:
            now = time.monotonic() if now is None else now
            self._times.append(now)
            while self._times and now - self._times[0] > RATE_WINDOW_S:
                self._times.popleft()
        self.changed.emit("result")

    @property
    def updates_per_s(self) -> float:
        """Reconstructions shown in the last second (0 before two have arrived)."""
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0
