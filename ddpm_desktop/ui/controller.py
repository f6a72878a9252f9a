"""The QThread lifecycle: one controller owns every background job of the window.

`WorkerController.start(name, job)` runs `job` (see workers.Job) on a fresh QThread and
returns a `Task` living in the GUI thread that re-emits the worker's signals there. Starting
a job under a name that is already running cancels the stale one first (its late items are
dropped), so "a new request cancels the stale one" holds for every kind of work.
`shutdown()` sets every cancel event, quits and joins every thread: closing the window
mid-sampling or mid-training leaves no thread running.
"""
from __future__ import annotations

import threading
import weakref

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from ddpm_desktop.ui.workers import GeneratorWorker, Job


class Task(QObject):
    """GUI-thread handle of one background job (one worker on one QThread).

    Signals: `items(list)`, `paused(bool)`, `failed(str, str)` (message, details),
    `finished(bool)` - the worker's, delivered in the GUI thread. Two ways to end a job:
    `stop()` asks it to end after the current item and still delivers what it sends until
    `finished` (a user's Stop: the owner wants the last items and the end); `cancel()`
    silences it at once (a stale request or shutdown: nothing it sends paints any more).
    `pause()`, `resume()` and `send(request)` go to the generic worker (workers.py).
    """

    items = Signal(list)
    paused = Signal(bool)
    failed = Signal(str, str)
    finished = Signal(bool)
    ended = Signal(bool)  # always, silenced or not: for the controller's bookkeeping

    def __init__(self, name: str, job: Job, rate_hz: float, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.job = job
        self.cancel_event = threading.Event()
        self.silenced = False
        self.done = False
        self.details = ""
        self.thread = QThread()
        self.thread.setObjectName(f"ddpm-{name}")
        self._worker = GeneratorWorker(job, self.cancel_event, rate_hz)
        self._worker.moveToThread(self.thread)
        self.thread.started.connect(self._worker.run)
        # Direct: QThread.quit is thread-safe, and a queued quit could not run while the GUI
        # thread is blocked in shutdown()'s wait().
        self._worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        # Task lives in the GUI thread, so these are queued connections to its slots.
        self._worker.items.connect(self._on_worker_items)
        self._worker.paused.connect(self._on_worker_paused)
        self._worker.failed.connect(self._on_worker_failed)
        self._worker.finished.connect(self._on_worker_finished)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """End after the current item; items, failures and `finished` are still delivered."""
        self.cancel_event.set()
        self._worker.resume()

    def cancel(self) -> None:
        """End and go quiet: nothing the job sends from now on is delivered."""
        self.silenced = True
        self.stop()

    def pause(self) -> None:
        self._worker.pause()

    def resume(self) -> None:
        self._worker.resume()

    def is_paused(self) -> bool:
        return self._worker.is_paused()

    def send(self, request: object) -> None:
        """Queue a request for the job's `handle` (run in the worker thread between items)."""
        self._worker.send(request)

    def is_running(self) -> bool:
        try:
            return self.thread.isRunning()
        except RuntimeError:  # C++ object already gone
            return False

    def join(self, timeout_ms: int = 5000) -> bool:
        """Cancel (unless already done), quit and wait; True when the thread has stopped."""
        if not self.done:
            self.cancel()
        try:
            self.thread.quit()
            return bool(self.thread.wait(timeout_ms))
        except RuntimeError:
            return True

    @Slot(list)
    def _on_worker_items(self, items: list) -> None:
        if not self.silenced:
            self.items.emit(items)

    @Slot(bool)
    def _on_worker_paused(self, paused: bool) -> None:
        if not self.silenced:
            self.paused.emit(paused)

    @Slot(str, str)
    def _on_worker_failed(self, message: str, details: str) -> None:
        self.details = details
        if not self.silenced:
            self.failed.emit(message, details)

    @Slot(bool)
    def _on_worker_finished(self, completed: bool) -> None:
        self.done = True
        if not self.silenced:
            self.finished.emit(completed)
        self.ended.emit(completed)  # last: the controller reaps (joins) the task on it


class WorkerController(QObject):
    """Owns the background jobs of one window.

    Signal `busy_changed(bool)`: whether any (non-cancelled) job is running, for the status bar.
    """

    busy_changed = Signal(bool)

    # Every controller ever made, so tests (and shutdown) can find live threads.
    _instances: "weakref.WeakSet[WorkerController]" = weakref.WeakSet()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: dict[str, Task] = {}
        self._all: list[Task] = []  # current and stale tasks whose threads may still run
        self._shut_down = False
        WorkerController._instances.add(self)

    # ----------------------------------------------------------------- jobs
    def start(self, name: str, job: Job, rate_hz: float = 30.0) -> Task:
        """Run `job` on a new thread under `name`, cancelling the previous job of that name.

        Connect to the returned task's signals before control returns to the event loop
        (items are queued, so nothing is delivered before that).
        """
        if self._shut_down:
            raise RuntimeError("the window is closing; no new background work")
        self.cancel(name)
        task = Task(name, job, rate_hz, parent=self)
        task.ended.connect(self._on_task_worker_finished)
        self._current[name] = task
        self._all.append(task)
        task.start()
        self.busy_changed.emit(True)
        return task

    def stop(self, name: str) -> None:
        """Ask the job under `name` to end after its current item, still delivering its last
        items and `finished` (no-op if none)."""
        task = self._current.get(name)
        if task is not None:
            task.stop()

    def cancel(self, name: str) -> None:
        """Cancel the job running under `name` (no-op if none); it goes quiet at once."""
        task = self._current.pop(name, None)
        if task is not None:
            task.cancel()
            self.busy_changed.emit(self.is_busy())

    def task(self, name: str) -> Task | None:
        return self._current.get(name)

    def is_running(self, name: str) -> bool:
        task = self._current.get(name)
        return task is not None and not task.done

    def is_busy(self) -> bool:
        return any(not t.done for t in self._current.values())

    def threads(self) -> list[QThread]:
        return [t.thread for t in self._all]

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything, quit and join every thread. True when all stopped in time."""
        self._shut_down = True
        for task in self._all:
            task.cancel()
        ok = all(task.join(timeout_ms) for task in list(self._all))
        self._current.clear()
        self._reap()
        return ok

    # ------------------------------------------------------------- internals
    @Slot(bool)
    def _on_task_worker_finished(self, _completed: bool) -> None:
        self._reap()
        self.busy_changed.emit(self.is_busy())

    def _reap(self) -> None:
        """Forget tasks whose threads have stopped (after joining them)."""
        alive = []
        for task in self._all:
            if task.done and task.join(1000):
                if self._current.get(task.name) is task:
                    del self._current[task.name]
                task.setParent(None)  # Python owns it now; freed with the last reference
            else:
                alive.append(task)
        self._all = alive


def live_threads() -> list[QThread]:
    """Threads of every controller that are still running (for tests and diagnostics)."""
    out = []
    for controller in list(WorkerController._instances):
        for thread in controller.threads():
            try:
                if thread.isRunning():
                    out.append(thread)
            except RuntimeError:
                pass
    return out
