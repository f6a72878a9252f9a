"""The session's decision work: the bundled classifier's reading of x̂₀ along the reverse chain.

A mixin of `Session` (session.py). It follows `self.reverse` whatever fills it (a sampling
run, a reconstruction, inpainting): when frames arrive, the x̂₀ of lane 0's new network calls
(a frame whose NFE grew; RePaint's jumps up make none) go to a short worker job, "decision",
which reads them with one classifier call per chunk (core.decision.decision_curve) and yields
the rows for `self.decision`. One job at a time: frames that arrive meanwhile wait for the
next, which starts when it ends. A new chain (reverse.reset) cancels a running job.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Slot

from ddpm_desktop.ui.decision_state import DecisionState
from ddpm_desktop.ui.state import SAMPLER_NAMES

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


class DecisionJobs:
    """Mixin: needs `self.workers`, `self.reverse`, `self.error` and `self.closing`."""

    def _init_decision(self) -> None:
        self.decision = DecisionState(parent=self)
        self._decision_lanes = None
        self._decision_next = 1          # the next frame of lane 0 to read (frame 0: no x̂₀)
        self.reverse.reset.connect(self._on_decision_reverse_reset)
        self.reverse.frames_added.connect(self._start_decision)
        self.reverse.run_finished.connect(self._on_decision_run_finished)

    @Slot()
    def _on_decision_reverse_reset(self) -> None:
        self.workers.cancel(DECISION_JOB)
        lanes = self.reverse.lanes
        self._decision_lanes, self._decision_next = lanes, 1
        name = lanes[0].sampler if lanes else ""
        self.decision.clear(SAMPLER_NAMES.get(name, name))

    @Slot()
    def _start_decision(self) -> None:
        """Read lane 0's frames that arrived since the last job (unless one is running)."""
        lanes = self.reverse.lanes
        if self.closing or self.workers.is_running(DECISION_JOB) or not lanes \
                or lanes is not self._decision_lanes:
            return
        lane = lanes[0]
        n = len(lane)
        rows = [i for i in range(self._decision_next, n) if lane.nfe[i] > lane.nfe[i - 1]]
        self._decision_next = max(self._decision_next, n)
        if not rows:
            self._check_decision_complete()
            return
        x0 = np.stack([np.asarray(lane.x0_pred[i], dtype=np.float32) for i in rows])
        ts = np.array([lane.t[i - 1] for i in rows], dtype=np.int64)
        task = self.workers.start(DECISION_JOB, decision_job(x0, ts, np.array(rows, np.int64)), rate_hz=30)

        def on_items(items: list) -> None:
            if self.reverse.lanes is not lanes:
                return                  # a newer chain is on screen
            for it in items:
                self.decision.append(it.ts, it.frames, it.probs)

        def on_failed(message: str, details: str) -> None:
            self.error.emit(f"Could not read x̂₀ with the classifier: {message}", details)

        task.items.connect(on_items)
        task.failed.connect(on_failed)
        task.finished.connect(lambda _ok: self._start_decision())

    @Slot(bool)
    def _on_decision_run_finished(self, _completed: bool) -> None:
        self._start_decision()

    def _check_decision_complete(self) -> None:
        lanes = self.reverse.lanes
        if lanes and not self.reverse.running and self._decision_next >= len(lanes[0]):
            self.decision.set_complete(True)
