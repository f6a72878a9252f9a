"""The inpainting area: N completions of the input digit under the painted mask.

`Inpainter(...)` (built by session.py as `session.inpainter`; its `state`, an InpaintState, is
`session.inpaint`): `start()`, `cancel()`, `is_running()`. The job is core.inpaint.iter_inpaint
run by the generic worker under the job name "inpaint": the first completion's chain fills the
reverse state (one lane), so the reverse view animates it like a sampler run; when the chain
ends, all N completions and the bundled classifier's readings go to `state`. An inpainting run and
a sampling run share the reverse view, so starting one cancels the other (a sampling run that
replaces the lanes silences a running inpainting job).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from typing import Callable

from PySide6.QtCore import QObject, SignalInstance, Slot

from ddpm_desktop.core import kl
from ddpm_desktop.core.inpaint import iter_inpaint
from ddpm_desktop.core.sampling import generator_for, make_eps_fn
from ddpm_desktop.ui.inpaint_state import METHOD_NAMES, InpaintState
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import (
    DeviceState,
    InputState,
    Lane,
    ModelState,
    ReverseState,
    ScheduleState,
)

INPAINT_JOB = "inpaint"
# x_T of the completions: its own stream of the input's seed (not the forward chain's noise).
_INPAINT_SEED_OFFSET = 2_000_003


@dataclass(frozen=True)
class InpaintFrame:
    """One frame of the first completion's chain: CPU numpy copies, float32 [28, 28]."""

    x_t: np.ndarray
    x0_pred: np.ndarray
    t: int
    nfe: int
    total: int
    kl: float


@dataclass(frozen=True)
class InpaintResult:
    """All completions when the chain ends: images float32 [N, 28, 28]; the classifier's
    argmax readings [N] and their softmax probabilities [N]; the t from which each
    completion's reading of x̂₀ never changes again [N] (core.decision.settle_step)."""

    images: np.ndarray
    readings: np.ndarray
    probabilities: np.ndarray
    nfe: int
    settled: np.ndarray | None = None


def inpaint_job(model, schedule, x0: np.ndarray, known: np.ndarray, method: str, sampler: str,
                steps: int | None, n: int, seed: int, device: str):
    """A worker job: InpaintFrame per step of completion 0, then one InpaintResult."""

    def job(cancel: threading.Event):
        from ddpm_desktop.core.decision import DecisionRecorder, bundled_classifier, decision_curve

        classifier = bundled_classifier()
        decision = DecisionRecorder(classifier)    # every completion's x̂₀ at each network call
        eps_fn = make_eps_fn(model, schedule)
        gen = generator_for(seed)
        x_T = torch.randn((n, 1, 28, 28), generator=gen).to(device)
        it = iter_inpaint(method, eps_fn, schedule, torch.from_numpy(np.array(x0, np.float32)).to(device),
                          known, x_T, sampler=sampler, steps=steps, generator=gen)
        last = None
        try:
            for step in it:
                if cancel.is_set():
                    return
                last = step
                decision.add(step)
                x_t = step.x_t[0, 0].numpy().copy()
                yield InpaintFrame(x_t, step.x0_pred[0, 0].numpy().copy(), step.t, step.nfe, step.total,
                                   float(kl.histogram_kl(x_t)))
        finally:
            it.close()
        settled, _ = decision.settle_steps()
        probs = decision_curve(classifier, last.x_t)    # p(k | x_0) of each completion, [N, 10]
        readings = probs.argmax(1)
        yield InpaintResult(last.x_t[:, 0].numpy().copy(), readings, probs[np.arange(n), readings], last.nfe,
                            settled)

    return job


class Inpainter(QObject):
    def __init__(self, jobs: Jobs, reverse: ReverseState, input_state: InputState,
                 schedule_state: ScheduleState, model_state: ModelState,
                 device_state: DeviceState, cancel_sampling: Callable[[], None],
                 status: SignalInstance, error: SignalInstance,
                 parent: QObject | None = None) -> None:
        """cancel_sampling(): stop a sampling run (it shares the reverse view)."""
        super().__init__(parent)
        self.jobs, self.reverse, self.input_state = jobs, reverse, input_state
        self.schedule_state, self.model_state, self.device_state = (schedule_state, model_state,
                                                                    device_state)
        self.cancel_sampling, self.status, self.error = cancel_sampling, status, error
        self.state = InpaintState(parent=self)
        self._lanes = None

    def start(self) -> bool:
        """Start N completions of the input digit under the mask; False (with `error`) if
        impossible. Cancels a sampling run (they share the reverse view)."""
        st = self.state
        if not self.model_state.available:
            self.error.emit("No model yet: train one in the Training dock or load a checkpoint "
                            "(File > Load model...).", "")
            return False
        problem = st.problem()
        if problem:
            self.error.emit(f"Cannot inpaint: {problem}", "")
            return False
        self.cancel_sampling()
        lanes = [Lane(sampler=f"inpaint: {st.method}", steps=0)]
        self.reverse.start(lanes)
        self._lanes = lanes
        st.clear_completions()
        job = inpaint_job(self.model_state.model, self.schedule_state.schedule,
                          self.input_state.digit, st.known.copy(),
                          st.method, st.run_sampler(), st.steps, st.n,
                          self.input_state.seed + _INPAINT_SEED_OFFSET, self.device_state.device)
        if self.jobs.start(INPAINT_JOB, job, items=self._on_items, finished=self._on_finished,
                           failure="Inpainting failed") is None:
            return False
        st.set_running(True)
        self.status.emit(f"Inpainting: {METHOD_NAMES[st.method]}, {st.n} completions")
        return True

    def cancel(self) -> None:
        if self.jobs.is_running(INPAINT_JOB):
            self.jobs.cancel(INPAINT_JOB)
            if self.reverse.lanes is self._lanes:
                self.reverse.finish(False)
            self.status.emit("Inpainting stopped")
        self._lanes = None
        self.state.set_running(False)

    def is_running(self) -> bool:
        return self.jobs.is_running(INPAINT_JOB)

    @Slot(list)
    def _on_items(self, items: list) -> None:
        if self.reverse.lanes is not self._lanes:
            self.cancel()   # a sampling run took over the reverse view
            return
        for it in items:
            if isinstance(it, InpaintResult):
                self.state.set_completions(it.images, it.readings, it.probabilities, it.nfe, it.settled)
            else:
                self.reverse.add(0, it.x_t, it.x0_pred, it.t, it.nfe, it.total, it.kl)
        self.reverse.commit()

    @Slot(bool)
    def _on_finished(self, completed: bool) -> None:
        if self.reverse.lanes is self._lanes:
            self.reverse.finish(completed)
        self._lanes = None
        self.state.set_running(False)
        if completed and self.state.completions is not None:
            st = self.state
            counts = np.bincount(st.readings, minlength=10)
            read = ", ".join(f"{d} ×{c}" for d, c in enumerate(counts) if c)
            self.status.emit(f"Inpainting done: {st.nfe} network evaluations per completion; "
                             f"the classifier reads {read}")
