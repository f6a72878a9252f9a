"""The teaching area's Lessons: step through core.lessons, setting the app up for each question.

`Lessons(...)` (built by session.py as `session.lessons`): `open(name)` shows the first step of
a lesson, `next()` / `back()` move, `go(index)` jumps, `reapply()` sets the current step up
again; every move applies the step's `Setup` through the states (schedule, input digit, start
distribution and seed, sampler settings, forward cursor t) and starts the reverse chain when the
step asks for it and it is cheap (session.CHEAP_NFE), else clears the chain on screen (one of
other settings would mislead); `reveal()` shows the answer, `close()` leaves the lesson. A step
that cannot be applied leaves one line on `error` and the state as it was before the move.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from PySide6.QtCore import QObject, SignalInstance

from ddpm_desktop.core import lessons
from ddpm_desktop.core.lessons import Setup
from ddpm_desktop.core.run import SamplerSettings
from ddpm_desktop.ui.lesson_state import LessonState
from ddpm_desktop.ui.state import (
    ForwardState,
    InputState,
    ModelState,
    ReverseState,
    SamplerState,
    ScheduleState,
)


class Sampling(Protocol):
    """What the teaching areas ask of the reverse run (the session's sampling)."""

    def is_cheap(self) -> bool: ...

    def request_sampling(self) -> bool: ...

    def cancel_sampling(self) -> None: ...

    def hold_rerun(self) -> None: ...


class Lessons(QObject):
    """The lesson on screen (`state`, a LessonState) and the moves through it."""

    def __init__(self, schedule_state: ScheduleState, input_state: InputState,
                 sampler: SamplerState, forward: ForwardState, reverse: ReverseState,
                 model_state: ModelState, sampling: Sampling, status: SignalInstance,
                 error: SignalInstance, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = LessonState(parent=self)
        self.schedule_state, self.input_state, self.sampler = schedule_state, input_state, sampler
        self.forward, self.reverse, self.model_state = forward, reverse, model_state
        self.sampling, self.status, self.error = sampling, status, error
        self._digit = None  # (digit, index) of the bundled digit, loaded once

    def open(self, name: str) -> bool:
        """Show and apply the first step of lesson `name`; False (with `error`) if unknown."""
        try:
            lesson = lessons.get(name)
        except ValueError as exc:
            self.error.emit(str(exc), "")
            return False
        return self._show(lesson, 0)

    def go(self, index: int) -> bool:
        if self.state.lesson is None:
            return False
        return self._show(self.state.lesson, index)

    def next(self) -> bool:
        st = self.state
        return st.lesson is not None and st.index + 1 < st.count and self.go(st.index + 1)

    def back(self) -> bool:
        st = self.state
        return st.lesson is not None and st.index > 0 and self.go(st.index - 1)

    def reapply(self) -> bool:
        """Set the app up for the current step again (after the user changed things)."""
        return self.go(self.state.index)

    def reveal(self) -> None:
        self.state.reveal()

    def close(self) -> None:
        self.state.show(None)

    def _show(self, lesson, index: int) -> bool:
        index = max(0, min(int(index), len(lesson.steps) - 1))
        if not self.apply_setup(lesson.steps[index].setup):
            return False
        self.state.show(lesson, index)
        return True

    def apply_setup(self, setup: Setup) -> bool:
        """Set the schedule, input, sampler and cursor as `setup` says; False (with `error`,
        nothing changed) if it cannot be applied."""
        try:
            schedule = setup.noise_schedule()  # validates before anything changes
            settings = replace(SamplerSettings(), **setup.sampler).validated()
            digit = self._bundled_digit() if setup.digit else None
        except (ValueError, TypeError, OSError) as exc:
            self.error.emit(f"Cannot set up the lesson step: {' '.join(str(exc).split())}", "")
            return False
        self.sampling.cancel_sampling()
        self.schedule_state.set_params(**setup.schedule_params())
        if digit is not None and not (self.input_state.digit == digit[0]).all():
            from ddpm_desktop.core.experiments import DIGIT_LABEL

            self.input_state.set_digit(digit[0], f"MNIST test #{digit[1]} (label {DIGIT_LABEL})",
                                       DIGIT_LABEL)
        name, params = setup.start
        if (name, dict(params)) != (self.input_state.start_name, self.input_state.start_params):
            self.input_state.set_start(name, **params)
        self.input_state.set_forward_from(setup.forward_from)
        self.input_state.set_seed(setup.seed)
        self.sampler.set_settings(settings)
        self.forward.set_frame(min(setup.cursor(), schedule.T))
        self.sampling.hold_rerun()  # a re-run the edits above queued: the step decides
        ran = False
        if setup.run:
            if not self.model_state.available:
                self.status.emit("This step runs the reverse chain: load or train a model first")
            elif self.sampling.is_cheap():
                ran = self.sampling.request_sampling()
            else:
                self.status.emit("Press Sample (Ctrl+R) to run this step's reverse chain")
        if not ran:  # a chain of the previous settings (another digit, another T) would mislead
            self.reverse.clear()
        return True

    def _bundled_digit(self):
        if self._digit is None:
            from ddpm_desktop.core.experiments import bundled_digit

            self._digit = bundled_digit()
        return self._digit
