"""The completions area: N samples of x₀ given the reconstruct start x_t.

`Completer(...)` (built by session.py as `session.completer`; its `state`, a CompletionsState,
is `session.completions`): `start()`, `cancel()`, `problem()`. The job is
core.completions.iter_completions from the forward chain's frame at the sampler's t (the x_t a
reconstruct run starts from), with the Sampler dock's sampler, steps, η, class, guidance and
seed: completion k uses seed + k, so completion 0 is the chain a reconstruct run with those
settings shows. It runs under the job name "completions" and yields one CompletionsResult at the
end (the images, the classifier's readings and the t each reading of x̂₀ settles at,
core.decision).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PySide6.QtCore import QObject, SignalInstance, Slot

from ddpm_desktop.core.completions import deterministic_problem, iter_completions
from ddpm_desktop.core.run import plan_run
from ddpm_desktop.core.sampling import make_eps_fn
from ddpm_desktop.ui.completions_state import CompletionsState
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import SAMPLER_NAMES, DeviceState, ModelState, SamplerState, ScheduleState

COMPLETIONS_JOB = "completions"


@dataclass(frozen=True)
class CompletionsResult:
    images: np.ndarray          # float32 [N, 28, 28]
    readings: np.ndarray        # int64 [N]
    probabilities: np.ndarray   # float64 [N], p(reading | image)
    settled: np.ndarray         # int64 [N], settle t of each completion
    nfe: int


def completions_job(model, schedule, x_t: np.ndarray, t: int, n: int, settings, steps, device: str):
    """A worker job: the n completions of x_t [28, 28] at step t, then one CompletionsResult."""

    def job(cancel: threading.Event):
        from ddpm_desktop.core.decision import DecisionRecorder, bundled_classifier, decision_curve

        eps_fn = make_eps_fn(model, schedule, labels=settings.label, guidance=settings.guidance)
        x = torch.from_numpy(np.array(x_t, dtype=np.float32)).reshape(1, 1, 28, 28).to(device)
        classifier = bundled_classifier()
        decision = DecisionRecorder(classifier)
        it = iter_completions(eps_fn, schedule, x, t, n, sampler=settings.sampler, steps=steps,
                              seed=settings.seed, eta=settings.eta)
        last = None
        try:
            for step in it:
                if cancel.is_set():
                    return
                decision.add(step)
                last = step
        finally:
            it.close()
        settled, _ = decision.settle_steps()
        probs = decision_curve(classifier, last.x_t)
        readings = probs.argmax(1)
        yield CompletionsResult(last.x_t[:, 0].numpy().copy(), readings, probs[np.arange(n), readings],
                                settled, last.nfe)

    return job


class Completer(QObject):
    def __init__(self, jobs: Jobs, sampler: SamplerState, schedule_state: ScheduleState,
                 model_state: ModelState, device_state: DeviceState,
                 forward_frame: Callable[[int], np.ndarray], status: SignalInstance,
                 error: SignalInstance, parent: QObject | None = None) -> None:
        """forward_frame(t): x_t of the forward chain under the current schedule."""
        super().__init__(parent)
        self.jobs, self.sampler, self.schedule_state = jobs, sampler, schedule_state
        self.model_state, self.device_state = model_state, device_state
        self.forward_frame, self.status, self.error = forward_frame, status, error
        self.state = CompletionsState(parent=self)

    def problem(self) -> str | None:
        """Why N completions cannot run with the current settings (one line), or None."""
        s = self.sampler.settings
        return deterministic_problem(s.sampler, s.eta, self.state.n)

    def start(self) -> bool:
        """Start N completions of the reconstruct start x_t; False (with `error`) if impossible."""
        if self.jobs.closing:
            return False
        if not self.model_state.available:
            self.error.emit("No model yet: train one in the Training dock or load a checkpoint "
                            "(File > Load model...).", "")
            return False
        problem = self.problem()
        if problem:
            self.error.emit(f"Cannot draw completions: {problem} (Sampler dock).", "")
            return False
        settings, schedule = self.sampler.settings, self.schedule_state.schedule
        plan = plan_run(settings, schedule.T, from_t=settings.t_start)
        t, steps = plan.t_start, plan.steps
        x_t = np.array(self.forward_frame(t), dtype=np.float32)
        st = self.state
        st.clear()
        job = completions_job(self.model_state.model, schedule, x_t, t, st.n, settings, steps,
                              self.device_state.device)
        name = SAMPLER_NAMES.get(settings.sampler, settings.sampler)

        def on_items(items: list) -> None:
            for it in items:
                st.set_completions(it.images, it.readings, it.probabilities, it.settled, t, name, it.nfe)

        self.jobs.start(COMPLETIONS_JOB, job, items=on_items, finished=self._on_finished,
                        failure="Completions failed")
        st.set_running(True)
        self.status.emit(f"Drawing {st.n} completions of x_{t} with {name}")
        return True

    def cancel(self) -> None:
        if self.jobs.is_running(COMPLETIONS_JOB):
            self.jobs.cancel(COMPLETIONS_JOB)
            self.status.emit("Completions stopped")
        self.state.set_running(False)

    @Slot(bool)
    def _on_finished(self, completed: bool) -> None:
        st = self.state
        st.set_running(False)
        if completed and st.readings is not None:
            counts = np.bincount(st.readings, minlength=10)
            read = ", ".join(f"{d} ×{c}" for d, c in enumerate(counts) if c)
            self.status.emit(f"{len(st.readings)} completions of x_{st.t}: the classifier reads {read}")
