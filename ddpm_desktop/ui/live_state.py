"""What "reconstruct as you draw" shows: on/off, the step t the drawing is noised to (the
user's choice capped at the schedule's T), and the
newest reconstruction with its measured rate, and the sampler the session chose for the model
in use (core.live.live_plan). Written by the session (session_live.py), read by
widgets/live_view.py. Signal `changed(str)`: "enabled", "t", "sampler" or "result".
"""
from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.live import LIVE_T, TEACHER_SAMPLER, TEACHER_STEPS, LiveResult
from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE

RATE_WINDOW_S = 1.0


class LiveState(QObject):
    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = False
        self.t_chosen = LIVE_T
        self.T = DEFAULT_SCHEDULE["T"]  # the session keeps it the schedule's (set_T)
        self.sampler = TEACHER_SAMPLER  # until the session knows whether a student is loaded
        self.steps = TEACHER_STEPS
        self.result: LiveResult | None = None
        self._times: deque[float] = deque()

    def set_enabled(self, on: bool) -> None:
        if bool(on) != self.enabled:
            self.enabled = bool(on)
            self._times.clear()
            self.changed.emit("enabled")

    @property
    def t(self) -> int:
        """The step the drawing is noised to: the chosen t, capped at the schedule's T (the
        choice is kept, so a shorter schedule and back again does not lose it)."""
        return min(self.t_chosen, self.T)

    def set_t(self, t: int, T: int) -> None:
        t = int(t)
        if not 1 <= t <= T:
            raise ValueError(f"t must be in 1..{T}, got {t}")
        if (t, int(T)) != (self.t_chosen, self.T):
            self.t_chosen, self.T = t, int(T)
            self.changed.emit("t")

    def set_T(self, T: int) -> None:  # noqa: N802 - T is the paper's name
        """The schedule's length changed: t follows (capped, or back to the choice)."""
        if int(T) != self.T:
            self.T = int(T)
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
