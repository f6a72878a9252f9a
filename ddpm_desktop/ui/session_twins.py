"""The twins area: one x_T through two models trained on disjoint training digits.

`Twins(jobs)` (built by session.py as `session.twins`; its `state`, a TwinsState, is
`session.twins_state`). `run()` starts the worker job "twins": it loads the pair's two bundled
models (core.twins.load_subset_model; a missing one fails in one line), runs
core.twins.twin_pair from the settings' seed, and yields one TwinsResult with each sample's
nearest training digit. Changing a setting clears the result (it no longer matches) and
cancels a running job.
"""
from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import QObject, Slot

from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.twins_state import TwinsResult, TwinsSettings, TwinsState

TWINS_JOB = "twins"


def twins_job(settings: TwinsSettings, guidance: float):
    """A worker job: the pair of `settings` run from its seed, as one TwinsResult."""

    def job(cancel: threading.Event):
        from ddpm_desktop.core import twins
        from ddpm_desktop.core.data import load_bundled_mnist

        names = twins.pair_models(settings.pair)
        loaded = [twins.load_subset_model(name) for name in names]
        if cancel.is_set():
            return
        pairs = twins.twin_pair(loaded[0][0], loaded[1][0], n=settings.n, seed=settings.seed,
                                labels=settings.labels, guidance=guidance,
                                rows_a=twins.training_rows(loaded[0][1]),
                                rows_b=twins.training_rows(loaded[1][1]))
        train = load_bundled_mnist("train").images
        yield TwinsResult(settings, names, pairs,
                          np.array(train[pairs.nearest_a.nearest], dtype=np.uint8),
                          np.array(train[pairs.nearest_b.nearest], dtype=np.uint8))

    return job


class Twins(QObject):
    def __init__(self, jobs: Jobs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.state = TwinsState(parent=self)
        self.state.settings_changed.connect(self._on_settings_changed)

    @Slot()
    def _on_settings_changed(self) -> None:
        self.jobs.cancel(TWINS_JOB)
        self.state.set_result(None)

    def set_pair(self, pair: str) -> None:
        self.state.update(pair=pair)

    def set_seed(self, seed: int) -> None:
        self.state.update(seed=int(seed))

    def set_label(self, label: str) -> None:
        self.state.update(label=label)

    def set_n(self, n: int) -> None:
        self.state.update(n=int(n))

    def run(self) -> bool:
        """Run the pair from the settings' x_T in the background; False when nothing started."""
        from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE

        settings = self.state.settings

        def on_items(items: list) -> None:
            if items[-1].settings == self.state.settings:  # else the settings moved on
                self.state.set_result(items[-1], running=True)

        def on_failed(message: str, _details: str) -> None:
            self.state.set_result(None, message=message)

        def on_finished(_ok: bool) -> None:
            if self.state.running:
                self.state.set_result(self.state.result, message=self.state.message)

        task = self.jobs.start(TWINS_JOB, twins_job(settings, DEFAULT_GUIDANCE), items=on_items,
                               finished=on_finished, failed=on_failed,
                               failure="Could not run the twin models")
        if task is None:
            return False
        self.state.set_result(None, running=True)
        return True
