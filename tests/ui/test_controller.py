"""WorkerController: throttled batches, stale cancellation, failures, shutdown joins."""
from __future__ import annotations

import time

import pytest

from ddpm_desktop.ui.controller import WorkerController, live_threads


def _counting_job(n, delay=0.0):
    def job(cancel):
        for i in range(n):
            if delay:
                time.sleep(delay)
            yield i

    return job


def test_job_delivers_all_items_in_batches(qtbot):
    controller = WorkerController()
    got = []
    task = controller.start("count", _counting_job(5000))
    task.items.connect(got.extend)
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == [True]
    assert got == list(range(5000))
    controller.shutdown()
    assert live_threads() == []


def test_first_item_arrives_fast_then_throttled(qtbot):
    controller = WorkerController()
    batches = []

    def on_items(items):
        batches.append(items)

    task = controller.start("slow", _counting_job(40, delay=0.005), rate_hz=20)
    task.items.connect(on_items)
    qtbot.waitSignal(task.finished, timeout=5000).wait()
    assert batches[0] == [0]  # the first item goes out alone, not held for the throttle period
    assert sum(len(b) for b in batches) == 40
    assert len(batches) < 40  # throttled: several items per emit
    controller.shutdown()


def test_new_request_cancels_stale_one(qtbot):
    controller = WorkerController()
    stale = []
    first = controller.start("sample", _counting_job(10_000, delay=0.002))
    first.items.connect(stale.extend)
    qtbot.waitUntil(lambda: len(stale) > 0, timeout=3000)
    second = controller.start("sample", _counting_job(3))
    fresh = []
    second.items.connect(fresh.extend)
    qtbot.waitSignal(second.finished, timeout=5000).wait()
    assert first.cancelled
    n_stale = len(stale)
    qtbot.wait(50)
    assert len(stale) == n_stale  # the stale job paints nothing more
    assert fresh == [0, 1, 2]
    assert controller.shutdown()


def test_failure_is_reported_and_finished_still_emitted(qtbot):
    controller = WorkerController()

    def job(cancel):
        yield 1
        raise ValueError("bad   value\n here")

    task = controller.start("boom", job)
    messages = []
    task.failed.connect(messages.append)
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == [False]
    assert messages == ["bad value here"]
    controller.shutdown()


def test_shutdown_joins_a_running_job(qtbot):
    controller = WorkerController()
    controller.start("forever", _counting_job(10**9, delay=0.001))
    qtbot.wait(30)
    assert controller.is_busy()
    assert controller.shutdown(timeout_ms=3000)
    assert live_threads() == []
    with pytest.raises(RuntimeError):
        controller.start("late", _counting_job(1))
