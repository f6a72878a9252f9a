"""The session's Lessons: step through core.lessons, setting the app up for each question.

A mixin of `Session` (session.py). `open_lesson(name)` shows the first step of a lesson,
`lesson_next()` / `lesson_back()` move, `lesson_go(index)` jumps; every move applies the step's
`Setup` through the states (schedule, input digit, start distribution and seed, sampler
settings, forward cursor t) and starts the reverse chain when the step asks for it and it is
cheap (session.CHEAP_NFE); `reveal_lesson()` computes and shows the answer. A step that cannot
be applied leaves one line on `error` and the state as it was before the move.
"""
from __future__ import annotations

from dataclasses import replace

from ddpm_desktop.core import lessons
from ddpm_desktop.core.lessons import Setup
from ddpm_desktop.ui.lesson_state import LessonState
from ddpm_desktop.core.run import SamplerSettings


class LessonJobs:
    """Mixin: needs `schedule_state`, `input_state`, `sampler`, `forward`, `model_state`,
    `status`, `error`, `is_cheap`, `request_sampling`, `cancel_sampling` and `_rerun_timer`
    from Session."""

    def _init_lessons(self) -> None:
        self.lesson = LessonState(parent=self)
        self._lesson_digit = None  # (digit, index) of the bundled digit, loaded once

    def open_lesson(self, name: str) -> bool:
        """Show and apply the first step of lesson `name`; False (with `error`) if unknown."""
        try:
            lesson = lessons.get(name)
        except ValueError as exc:
            self.error.emit(str(exc), "")
            return False
        return self._lesson_show(lesson, 0)

    def lesson_go(self, index: int) -> bool:
        if self.lesson.lesson is None:
            return False
        return self._lesson_show(self.lesson.lesson, index)

    def lesson_next(self) -> bool:
        st = self.lesson
        return st.lesson is not None and st.index + 1 < st.count and self.lesson_go(st.index + 1)

    def lesson_back(self) -> bool:
        st = self.lesson
        return st.lesson is not None and st.index > 0 and self.lesson_go(st.index - 1)

    def lesson_reapply(self) -> bool:
        """Set the app up for the current step again (after the user changed things)."""
        return self.lesson_go(self.lesson.index)

    def reveal_lesson(self) -> None:
        self.lesson.reveal()

    def close_lesson(self) -> None:
        self.lesson.show(None)

    def _lesson_show(self, lesson, index: int) -> bool:
        index = max(0, min(int(index), len(lesson.steps) - 1))
        if not self.apply_lesson_setup(lesson.steps[index].setup):
            return False
        self.lesson.show(lesson, index)
        return True

    def apply_lesson_setup(self, setup: Setup) -> bool:
        """Set the schedule, input, sampler and cursor as `setup` says; False (with `error`,
        nothing changed) if it cannot be applied."""
        try:
            schedule = setup.noise_schedule()  # validates before anything changes
            settings = replace(SamplerSettings(), **setup.sampler).validated()
            digit = self._lesson_bundled_digit() if setup.digit else None
        except (ValueError, TypeError, OSError) as exc:
            self.error.emit(f"Cannot set up the lesson step: {' '.join(str(exc).split())}", "")
            return False
        self.cancel_sampling()
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
        self._rerun_timer.stop()  # a re-run the edits above queued: the step decides
        ran = False
        if setup.run:
            if not self.model_state.available:
                self.status.emit("This step runs the reverse chain: load or train a model first")
            elif self.is_cheap():
                ran = self.request_sampling()
            else:
                self.status.emit("Press Sample (Ctrl+R) to run this step's reverse chain")
        if not ran:  # a chain of the previous settings (another digit, another T) would mislead
            self.reverse.clear()
        return True

    def _lesson_bundled_digit(self):
        if self._lesson_digit is None:
            from ddpm_desktop.core.experiments import bundled_digit

            self._lesson_digit = bundled_digit()
        return self._lesson_digit
