"""How the session's areas start work, and the session's two core jobs.

`Jobs` is the one way an area starts a job: it starts it on the generic worker
(ui/controller.py, one job per name: a new request of a name cancels the stale one), connects
the area's handlers, and writes a failure once, as one line on the session's `error` signal
("<what failed>: <message>", details). After `close()` it starts nothing.

The two core jobs, built from plain values (no session state inside): the forward chain's
costly KL curves and the reverse chain's lanes (as core.run planned them).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PySide6.QtCore import SignalInstance

from ddpm_desktop.core import kl, marginal
from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.controller import Task, WorkerController
from ddpm_desktop.core.run import DISTILLED, RunPlan, SamplerSettings


class Jobs:
    """Starts the areas' jobs through `workers`; failures go to `error(str, str)` once."""

    def __init__(self, workers: WorkerController, error: SignalInstance) -> None:
        self.workers = workers
        self.error = error
        self.closing = False  # set by close(): no new work from then on

    def close(self) -> None:
        self.closing = True

    def start(self, name: str, job, *, failure: str, rate_hz: float = 30.0,
              items: Callable[[list], None] | None = None,
              finished: Callable[[bool], None] | None = None,
              failed: Callable[[str, str], None] | None = None) -> Task | None:
        """Start `job` as `name`; None (nothing started) once closing. `failure` begins the
        error line ("Could not load the model"); `failed`, when given, runs before it is
        written (to put the area's state right)."""
        if self.closing:
            return None
        task = self.workers.start(name, job, rate_hz=rate_hz)
        if items is not None:
            task.items.connect(items)
        if finished is not None:
            task.finished.connect(finished)

        def on_failed(message: str, details: str) -> None:
            if failed is not None:
                failed(message, details)
            self.error.emit(f"{failure}: {message}", details)

        task.failed.connect(on_failed)
        return task

    def is_running(self, name: str) -> bool:
        return self.workers.is_running(name)

    def cancel(self, name: str) -> None:
        """Drop job `name` at once (it goes quiet; its thread ends on its own)."""
        self.workers.cancel(name)

    def stop(self, name: str) -> None:
        """Ask job `name` to stop after its current item (it still reports `finished`)."""
        self.workers.stop(name)


@dataclass(frozen=True)
class MarginalCurve:
    """The exact KL of the pixel-value marginal p_t along the chain, float64 [T+1]."""

    curve: np.ndarray


@dataclass(frozen=True)
class KLEstimate:
    """The chain's tail-keeping KL estimate and its spread, float64 [T+1] each."""

    estimate: np.ndarray
    spread: np.ndarray


def forward_kl_job(schedule: NoiseSchedule, frames: np.ndarray, start: tuple | None,
                   need_marginal: bool):
    """A worker job: a MarginalCurve when asked, then a KLEstimate."""

    def job(cancel: threading.Event):
        if need_marginal:
            if start is None:
                curve = marginal.marginal_kl_image_curve(schedule, frames[0])
            else:
                curve = marginal.marginal_kl_curve(schedule, start[0], **start[1])
            yield MarginalCurve(curve)
        if not cancel.is_set():
            est, spread = kl.estimated_kl_band_batch(frames.reshape(len(frames), -1))
            yield KLEstimate(est, spread)

    return job


@dataclass(frozen=True)
class ReverseItem:
    """One reverse frame sent from the worker: CPU numpy copies, float32 [28, 28]."""

    lane: int
    x_t: np.ndarray
    x0_pred: np.ndarray
    t: int
    nfe: int
    total: int
    kl: float


def reverse_job(model, schedule: NoiseSchedule, x_T: np.ndarray, settings: SamplerSettings,
                plan: RunPlan, device: str, student=None):
    """A worker job: the lanes of `plan` (core.run) interleaved step by step (equal NFE at each
    emit), from x_T at plan.t_start. A "distilled" lane runs `student` (its w baked in:
    guidance 1), the others `model`."""

    def job(cancel: threading.Event):
        eps_fn = make_eps_fn(model, schedule, labels=settings.label, guidance=settings.guidance)
        student_fn = None if student is None else make_eps_fn(student, schedule, labels=settings.label)
        iters = []
        for lane in plan.lanes:
            x = torch.from_numpy(np.array(x_T, dtype=np.float32)).reshape(1, 1, 28, 28)
            iters.append(iter_sampler(
                lane.sampler, student_fn if lane.sampler == DISTILLED else eps_fn, schedule,
                x.to(device), steps=lane.steps, t_start=plan.t_start,
                generator=generator_for(settings.seed), eta=settings.eta))
        active = list(enumerate(iters))
        try:
            while active and not cancel.is_set():
                for lane, it in list(active):
                    if cancel.is_set():
                        break
                    step = next(it, None)
                    if step is None:
                        active.remove((lane, it))
                        continue
                    x_t = step.x_t.reshape(28, 28).numpy().copy()
                    x0 = step.x0_pred.reshape(28, 28).numpy().copy()
                    yield ReverseItem(lane, x_t, x0, step.t, step.nfe, step.total,
                                      float(kl.estimated_kl(x_t)))
        finally:
            for it in iters:
                it.close()

    return job
