"""The dataset area: reads a source of digits (a folder of images or IDX files, Fashion-MNIST)
off the GUI thread for the dataset browser.

`DatasetSources(jobs)` (built by session.py as `session.datasets`): `load(spec)` runs
core.data.iter_load_dataset(spec) as the job "dataset" (a new request cancels an unfinished
one). Signals: `reading(str)`, how far it is (files read and skipped); `loaded(str, object)`,
the spec and its core.data.Dataset; `failed()`, after the failure went out once as a line on
the session's `error` (the data set on show stays).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core import data
from ddpm_desktop.ui.session_jobs import Jobs

DATASET_JOB = "dataset"


class DatasetSources(QObject):
    reading = Signal(str)
    loaded = Signal(str, object)
    failed = Signal()

    def __init__(self, jobs: Jobs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs

    def is_loading(self) -> bool:
        return self.jobs.is_running(DATASET_JOB)

    def load(self, spec: str) -> bool:
        """Start reading `spec`; False when nothing was started (closing)."""
        name = Path(str(spec)).name

        def on_items(items: list) -> None:
            last = items[-1]
            if last.dataset is not None:
                self.jobs.cancel(DATASET_JOB)  # done: what is left of the job is its end
                self.loaded.emit(spec, last.dataset)
            else:
                self.reading.emit(f"Reading {name}: {last.done} of {last.total} files"
                                  + (f", {last.skipped} skipped" if last.skipped else "") + "…")

        task = self.jobs.start(DATASET_JOB, lambda cancel: data.iter_load_dataset(spec),
                               rate_hz=10.0, failure="Could not load dataset", items=on_items,
                               failed=lambda _message, _details: self.failed.emit())
        if task is None:
            return False
        self.reading.emit(f"Reading {name}…")
        return True
