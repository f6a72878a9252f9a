"""The session's two core jobs, built from plain values (no session state inside): the forward
chain's costly KL curves and the reverse chain's lanes. `Session` (session.py) starts them on the
generic worker under FORWARD_KL_JOB and SAMPLE_JOB.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from ddpm_desktop.core import kl, marginal
from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.state import SamplerSettings


def forward_kl_job(schedule: NoiseSchedule, frames: np.ndarray, start: tuple | None,
                    need_marginal: bool):
    """A worker job: ("marginal", curve) when asked, then ("estimate", estimate, spread)."""

    def job(cancel: threading.Event):
        if need_marginal:
            if start is None:
                curve = marginal.marginal_kl_image_curve(schedule, frames[0])
            else:
                curve = marginal.marginal_kl_curve(schedule, start[0], **start[1])
            yield ("marginal", curve)
        if not cancel.is_set():
            est, spread = kl.estimated_kl_band_batch(frames.reshape(len(frames), -1))
            yield ("estimate", est, spread)

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
                 steps: int | None, t_start: int | None, device: str, student=None):
    """A worker job: the lanes' generators interleaved step by step (equal NFE at each emit).
    A "distilled" lane runs `student` (its w baked in: guidance 1), the others `model`."""

    def job(cancel: threading.Event):
        eps_fn = make_eps_fn(model, schedule, labels=settings.label, guidance=settings.guidance)
        student_fn = None if student is None else make_eps_fn(student, schedule, labels=settings.label)
        iters = []
        for name in settings.lane_names():
            x = torch.from_numpy(np.array(x_T, dtype=np.float32)).reshape(1, 1, 28, 28)
            iters.append(iter_sampler(
                name, student_fn if name == "distilled" else eps_fn, schedule, x.to(device),
                steps=steps, t_start=t_start, generator=generator_for(settings.seed), eta=settings.eta))
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
