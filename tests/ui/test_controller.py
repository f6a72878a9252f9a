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
    n_stale = len(stale)  # cancelled from here on
    fresh = []
    second.items.connect(fresh.extend)
    qtbot.waitSignal(second.finished, timeout=5000).wait()
    assert first.cancelled
    # the stale worker's end comes after all it sent: none of that was delivered
    qtbot.waitUntil(lambda: first.done, timeout=5000)
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
    task.failed.connect(lambda message, details: messages.append((message, details)))
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    assert blocker.args == [False]
    assert messages == [("bad value here", "")]  # bad input: its message, no traceback
    controller.shutdown()


def test_a_bugs_traceback_goes_to_stderr_and_the_details(qtbot, capfd):
    controller = WorkerController()

    def job(cancel):
        yield 1
        {}["missing"]

    task = controller.start("bug", job)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    message, details = blocker.args
    assert message == "KeyError: 'missing'"
    assert "Traceback" in details and 'in job' in details
    qtbot.waitUntil(lambda: task.done, timeout=5000)
    assert "KeyError" in capfd.readouterr().err
    controller.shutdown()


def test_pause_resume_and_requests_are_the_workers(qtbot):
    """The generic worker pauses between items and serves requests in its own thread, even
    while paused; a job needs no loop of its own for either."""
    import threading

    class Job:
        def __init__(self):
            self.threads = set()

        def __call__(self, cancel):
            for i in range(10**6):
                self.threads.add(threading.get_ident())
                time.sleep(0.001)
                yield i

        def handle(self, request):
            self.threads.add(threading.get_ident())
            return ("answer", request)

    controller = WorkerController()
    job = Job()
    got = []
    task = controller.start("job", job)
    task.items.connect(got.extend)
    qtbot.waitUntil(lambda: len(got) > 3, timeout=3000)
    with qtbot.waitSignal(task.paused, timeout=3000, check_params_cb=bool):
        task.pause()
    n = len(got)
    task.send("ping")  # served by the paused worker: its answer ends a span of the pause
    qtbot.waitUntil(lambda: ("answer", "ping") in got, timeout=3000)
    assert got[n:] == [("answer", "ping")]  # nothing else while paused
    numbers = [g for g in got if isinstance(g, int)]
    assert numbers == list(range(len(numbers)))  # paused between items, none lost
    task.resume()
    qtbot.waitUntil(lambda: len(got) > n + 5, timeout=3000)
    assert len(job.threads) == 1 and threading.get_ident() not in job.threads
    controller.shutdown()


def test_stop_still_delivers_the_end_cancel_silences(qtbot):
    controller = WorkerController()
    stopped = controller.start("a", _counting_job(10**9, delay=0.001))
    qtbot.waitUntil(lambda: stopped.is_running(), timeout=3000)
    with qtbot.waitSignal(stopped.finished, timeout=3000) as blocker:
        stopped.stop()
    assert blocker.args == [False]
    cancelled = controller.start("b", _counting_job(10**9, delay=0.001))
    ends = []
    cancelled.finished.connect(ends.append)
    cancelled.cancel()
    qtbot.waitUntil(lambda: cancelled.done, timeout=3000)  # its end was handled, silenced
    assert ends == []
    controller.shutdown()


def test_shutdown_joins_a_running_job(qtbot):
    controller = WorkerController()
    task = controller.start("forever", _counting_job(10**9, delay=0.001))
    qtbot.waitUntil(task.is_running, timeout=3000)
    assert controller.is_busy()
    assert controller.shutdown(timeout_ms=3000)
    assert live_threads() == []
    with pytest.raises(RuntimeError):
        controller.start("late", _counting_job(1))
