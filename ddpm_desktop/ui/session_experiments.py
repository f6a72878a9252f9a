"""The teaching area's Experiments: set the app up for one of core.experiments in one click.

`Experiments(...)` (built by session.py as `session.experiments`): `apply(name)` sets the
schedule, the input (the bundled digit or the starting distribution), the sampler settings and
the forward frame from the experiment's data, and starts the reverse run when it is cheap
(session.CHEAP_NFE); a longer one waits for Sample. A poster experiment also fills a results
card (`card(ExperimentCard)`): what was set up at once, then its numbers, computed by the job
EXPERIMENT_JOB (core.experiments.run_experiment: Poster 2 takes about 1 s the first time and
60–90 ms after, so off the GUI thread); the status bar gets one short line. The other experiments say what they show in the status bar.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal, SignalInstance

from ddpm_desktop.core import experiments
from ddpm_desktop.core.experiment_types import ExperimentResult
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.session_lessons import Sampling
from ddpm_desktop.ui.state import (
    ForwardState,
    InputState,
    ModelState,
    SamplerState,
    ScheduleState,
)

EXPERIMENT_JOB = "experiment"
POSTER = "poster"  # core.experiments' source of the poster's experiments: they get a card
# Poster 1's numbers come from a full reverse run, which the app itself makes on screen
NO_HEADLESS_RUN = ("Its result is the reverse run on screen (Sample starts it when it is not "
                   "started at once); `ddpm-desktop experiment poster-noise --out DIR` prints "
                   "its numbers.")


@dataclass(frozen=True)
class ExperimentCard:
    """What the results card shows: the experiment set up (`name`, `title`, `setup`), its
    `result` (None while `running`, or when it has no headless run here: then `note`)."""

    name: str
    title: str
    setup: str
    result: ExperimentResult | None = None
    running: bool = False
    note: str = ""


def experiment_job(name: str):
    """A worker job: core.experiments.run_experiment(name) (no model), as one ExperimentResult."""

    def job(cancel: threading.Event):
        if not cancel.is_set():
            yield experiments.run_experiment(name)

    return job


class Experiments(QObject):
    card = Signal(object)  # ExperimentCard, each time a poster experiment's card changes

    def __init__(self, schedule_state: ScheduleState, input_state: InputState,
                 sampler: SamplerState, forward: ForwardState, model_state: ModelState,
                 sampling: Sampling, status: SignalInstance, error: SignalInstance,
                 parent: QObject | None = None, jobs: Jobs | None = None) -> None:
        super().__init__(parent)
        self.schedule_state, self.input_state, self.sampler = schedule_state, input_state, sampler
        self.forward, self.model_state, self.sampling = forward, model_state, sampling
        self.status, self.error, self.jobs = status, error, jobs
        self.last_card: ExperimentCard | None = None

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
        if exp.source == POSTER:
            self.status.emit(f"{exp.title.split(':')[0]} is set up: its results card shows the numbers.")
            self._fill_card(exp)
        else:
            self.status.emit(f"{exp.title}: {exp.description}")
        if exp.sampler and self.model_state.available and self.sampling.is_cheap():
            self.sampling.request_sampling()
        return True

    def _fill_card(self, exp: experiments.Experiment) -> None:
        card = ExperimentCard(exp.name, exp.title, exp.description)
        if exp.needs_model or self.jobs is None:
            self._set_card(replace(card, note=NO_HEADLESS_RUN if exp.needs_model else ""))
            return

        def on_items(items: list) -> None:
            if self.last_card is not None and self.last_card.name == exp.name:
                self._set_card(replace(card, result=items[-1]))

        def on_failed(_message: str, _details: str) -> None:
            if self.last_card is not None and self.last_card.name == exp.name:
                self._set_card(replace(card, note="The numbers could not be computed."))

        if self.jobs.start(EXPERIMENT_JOB, experiment_job(exp.name), items=on_items,
                           failed=on_failed,
                           failure=f"Could not compute {exp.title.split(':')[0]}'s numbers") is not None:
            self._set_card(replace(card, running=True))

    def _set_card(self, card: ExperimentCard) -> None:
        self.last_card = card
        self.card.emit(card)
