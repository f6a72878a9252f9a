"""The session's Experiments: set the app up for one of core.experiments in one click.

A mixin of `Session` (session.py): `apply_experiment(name)` sets the schedule, the input (the
bundled digit or the starting distribution), the sampler settings and the forward frame from
the experiment's data, says what it shows in the status bar, and starts the reverse run when
it is cheap (session.CHEAP_NFE); a longer one waits for Sample.
"""
from __future__ import annotations

from dataclasses import replace

from ddpm_desktop.core import experiments


class ExperimentJobs:
    """Mixin: needs `schedule_state`, `input_state`, `sampler`, `forward`, `model_state`,
    `status`, `error`, `is_cheap` and `request_sampling` from Session."""

    def apply_experiment(self, name: str) -> bool:
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
        if exp.sampler and self.model_state.available and self.is_cheap():
            self.request_sampling()
        return True
