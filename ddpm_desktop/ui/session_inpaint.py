"""The session's inpainting work: N completions of the input digit under the painted mask.

A mixin of `Session` (session.py). The job is core.inpaint.iter_inpaint run by the generic
worker under the job name "inpaint": the first completion's chain fills `self.reverse` (one
lane), so the reverse view animates it like a sampler run; when the chain ends, all N
completions and the bundled classifier's readings go to `self.inpaint`. An inpainting run and
a sampling run share the reverse view, so starting one cancels the other (a sampling run that
replaces the lanes silences a running inpainting job).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import Slot

from ddpm_desktop.core import kl
from ddpm_desktop.core.inpaint import iter_inpaint
from ddpm_desktop.core.sampling import generator_for, make_eps_fn
from ddpm_desktop.ui.inpaint_state import METHOD_NAMES, InpaintState

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


class InpaintJobs:
    """Mixin: needs `self.workers`, `self.reverse`, `self.input_state`, `self.model_state`,
    `self.device_state`, `self.schedule`, `self.error`, `self.status` and `cancel_sampling`."""

    def _init_inpaint(self) -> None:
        self.inpaint = InpaintState(parent=self)
        self._inpaint_lanes = None

    def start_inpainting(self) -> bool:
        """Start N completions of the input digit under the mask; False (with `error`) if
        impossible. Cancels a sampling run (they share the reverse view)."""
        from ddpm_desktop.ui.state import Lane

        st = self.inpaint
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
        self._inpaint_lanes = lanes
        st.clear_completions()
        job = inpaint_job(self.model_state.model, self.schedule, self.input_state.digit, st.known.copy(),
                          st.method, st.run_sampler(), st.steps, st.n,
                          self.input_state.seed + _INPAINT_SEED_OFFSET, self.device_state.device)
        task = self.workers.start(INPAINT_JOB, job, rate_hz=30)
        task.items.connect(self._on_inpaint_items)
        task.failed.connect(self._on_inpaint_failed)
        task.finished.connect(self._on_inpaint_finished)
        st.set_running(True)
        self.status.emit(f"Inpainting: {METHOD_NAMES[st.method]}, {st.n} completions")
        return True

    def cancel_inpainting(self) -> None:
        if self.workers.is_running(INPAINT_JOB):
            self.workers.cancel(INPAINT_JOB)
            if self.reverse.lanes is self._inpaint_lanes:
                self.reverse.finish(False)
            self.status.emit("Inpainting stopped")
        self._inpaint_lanes = None
        self.inpaint.set_running(False)

    def is_inpainting(self) -> bool:
        return self.workers.is_running(INPAINT_JOB)

    @Slot(list)
    def _on_inpaint_items(self, items: list) -> None:
        if self.reverse.lanes is not self._inpaint_lanes:
            self.cancel_inpainting()   # a sampling run took over the reverse view
            return
        for it in items:
            if isinstance(it, InpaintResult):
                self.inpaint.set_completions(it.images, it.readings, it.probabilities, it.nfe, it.settled)
            else:
                self.reverse.add(0, it.x_t, it.x0_pred, it.t, it.nfe, it.total, it.kl)
        self.reverse.commit()

    @Slot(str, str)
    def _on_inpaint_failed(self, message: str, details: str) -> None:
        self.error.emit(f"Inpainting failed: {message}", details)

    @Slot(bool)
    def _on_inpaint_finished(self, completed: bool) -> None:
        if self.reverse.lanes is self._inpaint_lanes:
            self.reverse.finish(completed)
        self._inpaint_lanes = None
        self.inpaint.set_running(False)
        if completed and self.inpaint.completions is not None:
            st = self.inpaint
            counts = np.bincount(st.readings, minlength=10)
            read = ", ".join(f"{d} ×{c}" for d, c in enumerate(counts) if c)
            self.status.emit(f"Inpainting done: {st.nfe} network evaluations per completion; "
                             f"the classifier reads {read}")
