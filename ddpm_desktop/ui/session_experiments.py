"""The teaching area's Experiments: set the app up for one of core.experiments in one click.

`Experiments(...)` (built by session.py as `session.experiments`): `apply(name)` sets the
schedule, the input (the bundled digit or the starting distribution), the sampler settings and
the forward frame from the experiment's data, says what it shows in the status bar, and starts
the reverse run when it is cheap (session.CHEAP_NFE); a longer one waits for Sample.
"""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, SignalInstance

from ddpm_desktop.core import experiments
from ddpm_desktop.ui.session_lessons import Sampling
from ddpm_desktop.ui.state import (
    ForwardState,
    InputState,
    ModelState,
    SamplerState,
    ScheduleState,
)


class Experiments(QObject):
    def __init__(self, schedule_state: ScheduleState, input_state: InputState,
                 sampler: SamplerState, forward: ForwardState, model_state: ModelState,
                 sampling: Sampling, status: SignalInstance, error: SignalInstance,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.schedule_state, self.input_state, self.sampler = schedule_state, input_state, sampler
        self.forward, self.model_state, self.sampling = forward, model_state, sampling
        self.status, self.error = status, error

    def apply(self, name: str) -> bool:
        """Set the app up for experiment `name`; False (with `error`) if it cannot be."""
        try:
            exp = experiments.get(name)
            self.schedule_state.set_params(**exp.schedule)
            if exp.digit:
                digit, index = experiments.bundled_digit()
                self.input_state.set_digit(digit, f"MNIST test #{index} (label "
                                                  f"{experiments.DIGIT_LABEL})",
                                           experiments.DIGIT_LABEL)
            start, params = exp.start
            self.input_state.set_start(start, **params)
            self.input_state.set_forward_from(exp.forward_from)
            if exp.sampler:
                self.sampler.set_settings(replace(self.sampler.settings, **exp.sampler))
        except (ValueError, OSError) as exc:
            self.error.emit(f"Cannot set up the experiment: {' '.join(str(exc).split())}", "")
            return False
        self.forward.set_frame(exp.forward_t)
        self.status.emit(f"{exp.title}: {exp.description}")
        if exp.sampler and self.model_state.available and self.sampling.is_cheap():
            self.sampling.request_sampling()
        return True
