"""The teaching area's Lessons: step through core.lessons, setting the app up for each question.

`Lessons(...)` (built by session.py as `session.lessons`): `open(name)` shows the first step of
a lesson, `next()` / `back()` move, `go(index)` jumps, `reapply()` sets the current step up
again; every move applies the step's `Setup` through the states (schedule, input digit, start
distribution and seed, sampler settings, forward cursor t) and starts the reverse chain when the
step asks for it and it is cheap (session.CHEAP_NFE), else clears the chain on screen (one of
other settings would mislead); `reveal()` shows the answer, `close()` leaves the lesson. A step
that cannot be applied leaves one line on `error` and the state as it was before the move.

An answer's numbers are computed by the job "lesson-answer" (`answer_job`): the copies lesson's
run the exact denoiser and the network for seconds, the likelihood lesson's the posterior's
principal directions. The state says `computing` until the answer arrives; a move to another
step drops the job, and an answer for a step no longer shown is never written.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Protocol

from PySide6.QtCore import QObject, SignalInstance

from ddpm_desktop.core import lessons
from ddpm_desktop.core.lessons import Setup
from ddpm_desktop.core.run import SamplerSettings
from ddpm_desktop.ui.lesson_state import LessonState
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import (
    ForwardState,
    InputState,
    ModelState,
    ReverseState,
    SamplerState,
    ScheduleState,
)


ANSWER_JOB = "lesson-answer"


@dataclass(frozen=True)
class LessonAnswer:
    """The answer of step `index` of lesson `lesson`, its numbers filled in."""

    lesson: str
    index: int
    text: str


def answer_job(lesson: lessons.Lesson, index: int):
    """A worker job: step `index` of `lesson`'s answer text, as one LessonAnswer."""
    step = lesson.steps[index]

    def job(cancel: threading.Event):
        if not cancel.is_set():
            yield LessonAnswer(lesson.name, index, step.answer_text())

    return job


class Sampling(Protocol):
    """What the teaching areas ask of the reverse run (the session's sampling)."""

    def is_cheap(self) -> bool: ...

    def request_sampling(self) -> bool: ...

    def cancel_sampling(self) -> None: ...

    def hold_rerun(self) -> None: ...


class Lessons(QObject):
    """The lesson on screen (`state`, a LessonState) and the moves through it."""

    def __init__(self, jobs: Jobs, schedule_state: ScheduleState, input_state: InputState,
                 sampler: SamplerState, forward: ForwardState, reverse: ReverseState,
                 model_state: ModelState, sampling: Sampling, status: SignalInstance,
                 error: SignalInstance, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
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
        """Show the current step's answer: "computing" at once, the text when the job
        computing its numbers yields it."""
        st = self.state
        if self.jobs.closing or not st.begin_reveal():
            return
        lesson, index = st.lesson, st.index

        def on_items(items: list) -> None:
            answer = items[-1]
            if (st.revealed and st.lesson is not None and st.lesson.name == answer.lesson
                    and st.index == answer.index):  # else another step is on screen
                st.set_answer(answer.text)

        def on_failed(_message: str, _details: str) -> None:
            if st.lesson is lesson and st.index == index:
                st.unreveal()

        if self.jobs.start(ANSWER_JOB, answer_job(lesson, index), items=on_items,
                           failed=on_failed,
                           failure="Could not compute the answer") is None:
            st.unreveal()

    def close(self) -> None:
        self.jobs.cancel(ANSWER_JOB)
        self.state.show(None)

    def _show(self, lesson, index: int) -> bool:
        index = max(0, min(int(index), len(lesson.steps) - 1))
        if not self.apply_setup(lesson.steps[index].setup):
            return False
        self.jobs.cancel(ANSWER_JOB)  # an answer still computing is of the step left
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
