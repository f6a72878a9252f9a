"""The beliefs area: what the model believes about the input digit, as three worker jobs.

`Beliefs(jobs, schedule_state, input_state, model_state, device_state, forward_frame)` (built
by session.py as `session.beliefs`; its `state`, a BeliefsState, is `session.belief`):

  likelihood()       bits/dim of the input digit x_0 by the probability-flow ODE
                     (core.likelihood.image_bits_per_dim, Hutchinson trace), placed among the
                     held-out digits (resources/likelihood_reference.json) when the bundled
                     model runs at the reference's settings
  uncertainty(t, k)  the top-k principal directions and variances of p(x_0 | x_t) at the forward
                     chain's x_t (core.uncertainty.posterior_principal_components)
  invert(label, w)   x_0 -> x_T by DDIM inversion and back (core.inversion.round_trip), then x_T
                     decoded under class `label` at guidance w ("turn your 3 into an 8")

Each job runs on the generic worker under its own name (a new request cancels the stale one)
and yields one result for `state`; a failure is one line in the state and on `error`. A result
describes what it was computed from, so a change of that drops it (and cancels its job): the
digit (all three), the seed or starting distribution (the uncertainty's x_t), the schedule or
the model (all three).
`ode_steps`, `inversion_steps` and `refine` are the cores' defaults (tests set fewer).
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np
import torch
from PySide6.QtCore import QObject, Slot

from ddpm_desktop.core.checkpoint import ModelSource
from ddpm_desktop.core.inversion import DEFAULT_INVERSION_STEPS, DEFAULT_REFINE
from ddpm_desktop.core.likelihood import DEFAULT_LOG_SNR_MAX, DEFAULT_ODE_STEPS
from ddpm_desktop.core.sampling import generator_for
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.beliefs_state import (
    DEFAULT_DECODE_GUIDANCE,
    BeliefsState,
    InversionResult,
    LikelihoodResult,
    UncertaintyResult,
)
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import DeviceState, InputState, ModelState, ScheduleState

JOB_NAMES = {"likelihood": "beliefs-likelihood", "uncertainty": "beliefs-uncertainty",
             "inversion": "beliefs-inversion"}
FAILURES = {"likelihood": "Could not compute the likelihood",
            "uncertainty": "Could not compute what the model is unsure of",
            "inversion": "Could not invert the digit"}
DEFAULT_K = 4


def likelihood_job(model, schedule: NoiseSchedule, digit: np.ndarray, steps: int, seed: int,
                   device: str, place: bool):
    """A worker job: the bits/dim of `digit` [28, 28] in [-1, 1] as one LikelihoodResult,
    placed among the held-out digits when `place` and the reference's settings match."""

    def job(cancel: threading.Event):
        from ddpm_desktop.core.imaging import to_uint8
        from ddpm_desktop.core.likelihood import image_bits_per_dim, load_reference
        from ddpm_desktop.core.sampling import make_log_snr_eps_fn

        if cancel.is_set():
            return
        bpd = float(image_bits_per_dim(make_log_snr_eps_fn(model), to_uint8(digit)[None], schedule,
                                       DEFAULT_LOG_SNR_MAX, steps, generator=generator_for(seed),
                                       device=device)[0])
        reference = load_reference() if place else None
        if reference is not None and reference.matches(steps, DEFAULT_LOG_SNR_MAX, schedule):
            yield LikelihoodResult(bpd, steps, float(reference.more_likely_than([bpd])[0]),
                                   float(np.median(reference.bits_per_dim)))
        else:
            yield LikelihoodResult(bpd, steps)

    return job


def uncertainty_job(model, schedule: NoiseSchedule, x_t: np.ndarray, t: int, k: int, seed: int,
                    device: str):
    """A worker job: x̂_0 and the top-k principal directions of p(x_0 | x_t) at x_t [28, 28], as
    one UncertaintyResult."""

    def job(cancel: threading.Event):
        from ddpm_desktop.core.sampling import ddim_step, make_eps_fn
        from ddpm_desktop.core.uncertainty import posterior_principal_components

        if cancel.is_set():
            return
        eps_fn = make_eps_fn(model, schedule)
        x = torch.as_tensor(np.asarray(x_t, dtype=np.float32)).reshape(1, 1, 28, 28).to(device)
        pcs = posterior_principal_components(eps_fn, schedule, x, t, k,
                                             generator=generator_for(seed + 1))
        with torch.no_grad():  # x̂_0 = E[x_0 | x_t], the centre the directions move around
            _, x0_mean = ddim_step(eps_fn, schedule, x, t, 0, clip_x0=False)
        yield UncertaintyResult(int(t), x0_mean.reshape(28, 28).cpu().numpy().copy(),
                                np.asarray(pcs.directions, np.float32).reshape(-1, 28, 28).copy(),
                                np.asarray(pcs.variances, np.float64).copy())

    return job


def inversion_job(model, schedule: NoiseSchedule, digit: np.ndarray, label: int, guidance: float,
                  steps: int, refine: int, device: str):
    """A worker job: `digit` [28, 28] inverted to x_T (unconditionally), decoded back and decoded
    under class `label` at guidance w, as one InversionResult."""

    def job(cancel: threading.Event):
        from ddpm_desktop.core.inversion import ddim_decode, round_trip
        from ddpm_desktop.core.sampling import make_eps_fn

        if cancel.is_set():
            return
        x0 = torch.as_tensor(np.asarray(digit, dtype=np.float32)).reshape(1, 1, 28, 28).to(device)
        trip = round_trip(make_eps_fn(model, schedule), schedule, x0, steps, refine)
        if cancel.is_set():
            return
        decoded = ddim_decode(make_eps_fn(model, schedule, int(label), guidance), schedule,
                              trip.x_T.to(device), steps)
        yield InversionResult(np.asarray(digit, np.float32).copy(),
                              trip.x_T.reshape(28, 28).numpy().copy(),
                              trip.reconstruction.reshape(28, 28).numpy().copy(),
                              decoded.reshape(28, 28).cpu().numpy().copy(), int(label),
                              float(guidance), float(trip.mse[0]))

    return job


class Beliefs(QObject):
    def __init__(self, jobs: Jobs, schedule_state: ScheduleState, input_state: InputState,
                 model_state: ModelState, device_state: DeviceState,
                 forward_frame: Callable[[int], np.ndarray], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.schedule_state, self.input_state = jobs, schedule_state, input_state
        self.model_state, self.device_state, self.forward_frame = model_state, device_state, forward_frame
        self.state = BeliefsState(parent=self)
        self.ode_steps = DEFAULT_ODE_STEPS
        self.inversion_steps = DEFAULT_INVERSION_STEPS
        self.refine = DEFAULT_REFINE
        input_state.changed.connect(self._on_input_changed)
        schedule_state.changed.connect(self._on_schedule_or_model_changed)
        model_state.changed.connect(self._on_schedule_or_model_changed)

    @Slot(str)
    def _on_input_changed(self, what: str) -> None:
        self._clear(("likelihood", "uncertainty", "inversion") if what == "digit" else ("uncertainty",))

    @Slot()
    @Slot(object)
    def _on_schedule_or_model_changed(self, *_args) -> None:
        self._clear(("likelihood", "uncertainty", "inversion"))

    def _clear(self, kinds) -> None:
        for kind in kinds:
            self.jobs.cancel(JOB_NAMES[kind])
            self.state.clear(kind)

    def likelihood(self) -> bool:
        """Start the likelihood of the input digit; False (a one-line error) if impossible."""
        model = self._model("likelihood")
        if model is None:
            return False
        place = self.model_state.source == ModelSource.BUNDLED
        return self._start("likelihood", likelihood_job(
            model, self.schedule_state.schedule, np.array(self.input_state.digit), self.ode_steps,
            self.input_state.seed, self.device_state.device, place))

    def uncertainty(self, t: int, k: int = DEFAULT_K) -> bool:
        """Start the top-k directions of p(x_0 | x_t) at the forward chain's x_t."""
        model = self._model("uncertainty")
        if model is None:
            return False
        schedule = self.schedule_state.schedule
        if not 1 <= int(t) <= schedule.T:
            self._fail("uncertainty", f"t = {t} is out of range: need 1 <= t <= {schedule.T}")
            return False
        x_t = np.array(self.forward_frame(int(t)), dtype=np.float32)
        return self._start("uncertainty", uncertainty_job(
            model, schedule, x_t, int(t), int(k), self.input_state.seed, self.device_state.device))

    def invert(self, label: int, guidance: float = DEFAULT_DECODE_GUIDANCE) -> bool:
        """Start the inversion of the input digit and its decoding as class `label` at
        classifier-free guidance w = `guidance`."""
        model = self._model("inversion")
        if model is None:
            return False
        classes = getattr(getattr(model, "config", None), "num_classes", 0) or 0
        if not 0 <= int(label) < classes:
            self._fail("inversion", "this model is not class-conditional" if classes == 0
                       else f"class {label} is out of range: need 0..{classes - 1}")
            return False
        return self._start("inversion", inversion_job(
            model, self.schedule_state.schedule, np.array(self.input_state.digit), int(label),
            float(guidance), self.inversion_steps, self.refine, self.device_state.device))

    def _model(self, kind: str):
        if self.model_state.model is None:
            self._fail(kind, "no model yet (train one or load a checkpoint)")
        return self.model_state.model

    def _fail(self, kind: str, message: str) -> None:
        self.state.set_error(kind, f"{FAILURES[kind]}: {message}")
        self.jobs.error.emit(f"{FAILURES[kind]}: {message}", "")

    def _start(self, kind: str, job) -> bool:
        def on_items(items: list) -> None:
            self.state.set_result(kind, items[-1])

        def on_failed(message: str, _details: str) -> None:
            self.state.set_error(kind, f"{FAILURES[kind]}: {message}")

        task = self.jobs.start(JOB_NAMES[kind], job, items=on_items,
                               finished=lambda _ok: self.state.set_stopped(kind),
                               failed=on_failed, failure=FAILURES[kind])
        if task is None:
            return False
        self.state.set_running(kind)
        return True
