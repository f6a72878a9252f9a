"""The copy-check area: does the reverse chain's final x₀ copy a training digit?

`CopyChecker(jobs, reverse)` (built by session.py as `session.copy_checker`; its `state`, a
CopyCheckState, is `session.copy_check`). When a reverse run ends (whatever filled the reverse
view: sampling, a reconstruction, inpainting), lane 0's last x_t goes to a short worker job,
"copies", which finds its two nearest training digits (core.copies: pixels in [0, 1], L2 over the
9,000 bundled training digits) and yields one CopyFinding for `state`. The index of the training
digits takes about 0.75 s to build the first time, the search of one sample about 1.5 ms, so the
job runs off the GUI thread. A new chain (reverse.reset) clears the finding and cancels a job.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Slot

from ddpm_desktop.ui.copy_check_state import CopyCheckState
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import ReverseState

COPIES_JOB = "copies"


@dataclass(frozen=True)
class CopyFinding:
    """One sample's copy check: `nearest` the row of the nearest training digit (in
    `load_bundled_mnist("train")`), `image` that digit (uint8 [28, 28]), `d1` <= `d2` the
    distances to the nearest and the second nearest (pixels in [0, 1]), `ratio` = d1/d2 and
    `copy` = ratio < 1/3 (core.copies.COPY_RATIO)."""

    nearest: int
    image: np.ndarray
    d1: float
    d2: float
    ratio: float
    copy: bool


def find_copies(samples) -> list[CopyFinding]:
    """The copy check of samples [N, 28, 28] in [-1, 1] against the bundled training digits."""
    from ddpm_desktop.core.copies import bundled_index
    from ddpm_desktop.core.data import load_bundled_mnist

    nb = bundled_index().search(np.asarray(samples, dtype=np.float32))
    train = load_bundled_mnist("train").images
    ratio, copies = nb.ratio, nb.copies
    return [CopyFinding(int(nb.nearest[i]), np.array(train[nb.nearest[i]], dtype=np.uint8),
                        float(nb.d1[i]), float(nb.d2[i]), float(ratio[i]), bool(copies[i]))
            for i in range(len(nb))]


def copies_job(x0: np.ndarray):
    """A worker job: the copy check of one x₀ [28, 28], as one CopyFinding."""

    def job(cancel: threading.Event):
        if not cancel.is_set():
            yield find_copies(x0[None])[0]

    return job


class CopyChecker(QObject):
    def __init__(self, jobs: Jobs, reverse: ReverseState, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.reverse = jobs, reverse
        self.state = CopyCheckState(parent=self)
        reverse.reset.connect(self._on_reverse_reset)
        reverse.run_finished.connect(self._on_reverse_run_finished)

    @Slot()
    def _on_reverse_reset(self) -> None:
        self.jobs.cancel(COPIES_JOB)
        self.state.set_finding(None)

    @Slot(bool)
    def _on_reverse_run_finished(self, completed: bool) -> None:
        lanes = self.reverse.lanes
        if not completed or not lanes or not lanes[0].x_t or self.jobs.closing:
            return
        x0 = np.array(lanes[0].x_t[-1], dtype=np.float32).reshape(28, 28)

        def on_items(items: list) -> None:
            if self.reverse.lanes is lanes:     # else a newer chain is on screen
                self.state.set_finding(items[-1])

        if self.jobs.start(COPIES_JOB, copies_job(x0), items=on_items,
                           finished=lambda _ok: self._on_job_finished(),
                           failure="Could not compare x₀ with the training digits") is not None:
            self.state.set_finding(None, running=True)

    def _on_job_finished(self) -> None:
        if self.state.running:
            self.state.set_finding(self.state.finding, running=False)
