"""session_jobs.Jobs, how an area starts work: items and the end reach the area's handlers, a
failure is written once on the error signal with the area's words in front, and nothing
starts once the session is closing."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session_jobs import Jobs


class Owner(QObject):
    error = Signal(str, str)


def test_items_end_and_one_failure_line(qtbot):
    owner, workers = Owner(), WorkerController()
    jobs = Jobs(workers, owner.error)
    got, ended = [], []

    def good(cancel):
        yield from range(3)

    jobs.start("good", good, items=got.extend, finished=ended.append, failure="Could not count")
    qtbot.waitUntil(lambda: ended == [True], timeout=5000)
    assert got == [0, 1, 2]

    def bad(cancel):
        yield 1
        raise ValueError("the data set is empty")

    errors, seen = [], []
    owner.error.connect(lambda message, details: errors.append((message, details)))
    jobs.start("bad", bad, failed=lambda m, d: seen.append(m), failure="Could not train")
    qtbot.waitUntil(lambda: not jobs.is_running("bad"), timeout=5000)
    qtbot.waitUntil(lambda: len(errors) >= 1, timeout=5000)
    assert errors == [("Could not train: the data set is empty", "")]
    assert seen == ["the data set is empty"]  # the area's own handler ran too, once

    jobs.close()
    assert jobs.closing and jobs.start("late", good, failure="x") is None
    assert not jobs.is_running("late")
    workers.shutdown()
