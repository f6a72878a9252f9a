"""The generalisation lab's area: the shipped curves, and a run of the lab made here.

`Lab(jobs, ...)` (built by session.py as `session.lab`; its `state`, a LabState, is
`session.lab_state`). At start it reads the shipped curves (core.generalisation.load_curves; a
missing or broken file leaves a note, not an error box). `run()` trains on `state.size` digits
as the worker job "lab", iterating core.generalisation.iter_lab with the job's cancel event as
its stop, and adds each LabPoint to `state.live` as it comes; `stop()` ends it after the
current training step. The lab refuses to start while the Training panel's run trains (both
would share the CPU).
"""
from __future__ import annotations

import threading
from typing import Callable

from PySide6.QtCore import QObject, SignalInstance

from ddpm_desktop.ui.lab_state import LabCurve, LabState, size_text
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.session_training import TRAINING_JOB
from ddpm_desktop.ui.workers import IDLE

LAB_JOB = "lab"


def lab_job(size: int, iter_lab: Callable):
    """A worker job: the LabPoints of `iter_lab(size, stop=cancel)`, each delivered at once
    (IDLE after it: minutes apart, a point must not wait in the worker's rate limit)."""

    def job(cancel: threading.Event):
        for point in iter_lab(size, stop=cancel):
            yield point
            yield IDLE

    return job


class Lab(QObject):
    def __init__(self, jobs: Jobs, error: SignalInstance, curves_path=None,
                 iter_lab: Callable | None = None, parent: QObject | None = None) -> None:
        """curves_path: the shipped curves (default resources/generalisation.json); iter_lab:
        the run's generator (default core.generalisation.iter_lab)."""
        super().__init__(parent)
        from ddpm_desktop.core import generalisation

        self.jobs, self.error = jobs, error
        self.iter_lab = iter_lab if iter_lab is not None else generalisation.iter_lab
        self.state = LabState(parent=self)
        self._stopping = False
        try:
            runs = generalisation.load_curves(curves_path)["runs"]
            self.state.set_shipped([LabCurve.from_run(r) for r in runs])
        except ValueError as exc:
            self.state.set_shipped([], f"No measured curves to show: {exc}")

    def set_size(self, size: int) -> None:
        self.state.set_size(size)

    def run(self) -> bool:
        """Train on `state.size` digits in the background; False when nothing started."""
        if self.state.running:
            return False
        if self.jobs.is_running(TRAINING_JOB):
            self.error.emit("The lab trains a model of its own: stop the Training panel's run "
                            "first.", "")
            return False
        size = self.state.size
        curve = LabCurve(size, live=True)

        def on_items(items: list) -> None:
            live = self.state.live
            for point in items:
                live = live.with_point(point)
            p = items[-1]
            self.state.set_run(live, True, f"{size_text(size)}: step {p.step}, copies "
                                           f"{p.f_mem:.0%}, accuracy {p.accuracy:.0%}")

        def on_finished(ok: bool) -> None:
            if not self.state.running:  # it failed: its line stays
                return
            live = self.state.live
            last = f" at step {live.steps[-1]}" if live.steps else ", before its first point"
            done = ok and not self._stopping
            self.state.set_run(live, False, f"{size_text(size)}: {'done' if done else 'stopped'}"
                                            f"{last}")

        def on_failed(message: str, _details: str) -> None:
            self.state.set_run(self.state.live, False, f"The lab failed: {message}")

        task = self.jobs.start(LAB_JOB, lab_job(size, self.iter_lab), items=on_items,
                               finished=on_finished, failed=on_failed, rate_hz=10,
                               failure="The generalisation lab failed")
        if task is None:
            return False
        self._stopping = False
        self.state.set_run(curve, True, f"{size_text(size)}: training; the first point comes "
                                        "after the first evaluation")
        return True

    def stop(self) -> None:
        """End the run after the current training step (its points stay)."""
        if self.state.running:
            self._stopping = True
            self.state.set_run(self.state.live, True, f"{self.state.message}; stopping…")
            self.jobs.stop(LAB_JOB)
