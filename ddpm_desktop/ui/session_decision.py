"""The decision area: the bundled classifier's reading of x̂₀ along the reverse chain.

`Decisions(jobs, reverse)` (built by session.py as `session.decisions`; its `state`, a
DecisionState, is `session.decision`). It follows `reverse` whatever fills it (a sampling
run, a reconstruction, inpainting): when frames arrive, the x̂₀ of lane 0's new network calls
(a frame whose NFE grew; RePaint's jumps up make none) go to a short worker job, "decision",
which reads them with one classifier call per chunk (core.decision.decision_curve) and yields
the rows for `state`. One job at a time: frames that arrive meanwhile wait for the
next, which starts when it ends. A new chain (reverse.reset) cancels a running job.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Slot

from ddpm_desktop.ui.decision_state import DecisionState
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import SAMPLER_NAMES, ReverseState

DECISION_JOB = "decision"


@dataclass(frozen=True)
class DecisionRows:
    """Rows of a decision curve: ts [k], frames [k], probs float64 [k, 10]."""

    ts: np.ndarray
    frames: np.ndarray
    probs: np.ndarray


def decision_job(x0_preds: np.ndarray, ts: np.ndarray, frames: np.ndarray):
    """A worker job: the classifier's probabilities on x0_preds [k, 28, 28], as one DecisionRows."""

    def job(cancel: threading.Event):
        from ddpm_desktop.core.decision import bundled_classifier, decision_curve

        if cancel.is_set():
            return
        yield DecisionRows(ts, frames, decision_curve(bundled_classifier(), x0_preds))

    return job


class Decisions(QObject):
    def __init__(self, jobs: Jobs, reverse: ReverseState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.reverse = jobs, reverse
        self.state = DecisionState(parent=self)
        self._lanes = None
        self._next = 1          # the next frame of lane 0 to read (frame 0: no x̂₀)
        reverse.reset.connect(self._on_reverse_reset)
        reverse.frames_added.connect(self._start)
        reverse.run_finished.connect(self._on_reverse_run_finished)

    @Slot()
    def _on_reverse_reset(self) -> None:
        self.jobs.cancel(DECISION_JOB)
        lanes = self.reverse.lanes
        self._lanes, self._next = lanes, 1
        name = lanes[0].sampler if lanes else ""
        self.state.clear(SAMPLER_NAMES.get(name, name))

    @Slot()
    def _start(self) -> None:
        """Read lane 0's frames that arrived since the last job (unless one is running)."""
        lanes = self.reverse.lanes
        if self.jobs.closing or self.jobs.is_running(DECISION_JOB) or not lanes \
                or lanes is not self._lanes:
            return
        lane = lanes[0]
        n = len(lane)
        rows = [i for i in range(self._next, n) if lane.nfe[i] > lane.nfe[i - 1]]
        self._next = max(self._next, n)
        if not rows:
            self._check_complete()
            return
        x0 = np.stack([np.asarray(lane.x0_pred[i], dtype=np.float32) for i in rows])
        ts = np.array([lane.t[i - 1] for i in rows], dtype=np.int64)

        def on_items(items: list) -> None:
            if self.reverse.lanes is not lanes:
                return                  # a newer chain is on screen
            for it in items:
                self.state.append(it.ts, it.frames, it.probs)

        self.jobs.start(DECISION_JOB, decision_job(x0, ts, np.array(rows, np.int64)),
                        items=on_items, finished=lambda _ok: self._start(),
                        failure="Could not read x̂₀ with the classifier")

    @Slot(bool)
    def _on_reverse_run_finished(self, _completed: bool) -> None:
        self._start()

    def _check_complete(self) -> None:
        lanes = self.reverse.lanes
        if lanes and not self.reverse.running and self._next >= len(lanes[0]):
            self.state.set_complete(True)
