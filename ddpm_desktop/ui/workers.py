"""The generic worker: drives a core generator inside a QThread (superqt's GeneratorWorker).

A worker never subclasses QThread: the `WorkerController` (controller.py) creates a plain
QThread, moves the worker onto it and owns both. The worker owns the generic things, so no job
writes its own loop for them:

- **throttling**: items are batched so the GUI sees at most `rate_hz` emits a second (the first
  item goes out at once, the tail is always flushed);
- **cancel**: a `threading.Event` checked between items (the job gets it too);
- **pause / resume**: between two items the worker stops asking the generator for the next
  one, flushes what it holds and waits (`paused(True)`), until resumed or cancelled;
- **requests**: `send(request)` from the GUI thread queues a request; between items (and while
  paused) the worker hands each to the job's `handle(request)` method, in the worker thread,
  so the job is never touched by two threads; what `handle` returns (if not None) is emitted
  as an item. This is the one channel to a running job (e.g. "save a checkpoint now").
- **idle**: a job that waits for requests (reconstruct-as-you-draw waits for the next edit)
  yields `IDLE` while it has nothing to do: nothing is emitted, what the worker holds is
  flushed, and requests and cancel are served before the job is asked again.
- **errors**: `failed(message, details)`: a ValueError/OSError carries the user's one-line
  message and no traceback (bad input, not a bug); anything else is a bug: its type in the
  message, the traceback in `details` and on stderr, never swallowed.
- `finished(bool)` exactly once: True when the generator ran to its end.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
from typing import Callable, Iterable, Iterator

from PySide6.QtCore import QObject, Signal, Slot

# A job is a callable that receives the cancellation event and returns an iterable of items
# (a core generator such as iter_ddpm or TrainingRun). The items must already be CPU copies:
# they cross to the GUI thread and are never written again. A job may have a
# `handle(request) -> item | None` method for requests sent while it runs.
Job = Callable[[threading.Event], Iterable[object]]

_PAUSE_POLL_S = 0.05


class _Idle:
    def __repr__(self) -> str:
        return "IDLE"


IDLE = _Idle()  # yielded by a job that has nothing to do until a request or new input arrives


def error_message(exc: BaseException) -> tuple[str, str]:
    """(one-line message, details) for an exception raised by a job (see the module docstring)."""
    if isinstance(exc, (ValueError, OSError)):
        return " ".join(str(exc).split()) or type(exc).__name__, ""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}", details


class GeneratorWorker(QObject):
    """Runs `job(cancel_event)` and forwards its items in throttled batches.

    Signals (all queued to the GUI thread): `items(list)`, `paused(bool)`,
    `failed(str, str)` (message, details), `finished(bool)`.
    """

    items = Signal(list)
    paused = Signal(bool)
    failed = Signal(str, str)
    finished = Signal(bool)

    def __init__(self, job: Job, cancel_event: threading.Event, rate_hz: float = 30.0) -> None:
        super().__init__()
        self._job = job
        self._cancel = cancel_event
        self._min_interval = 1.0 / max(rate_hz, 1e-3)
        self._resume = threading.Event()
        self._resume.set()
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self.details = ""

    # -- thread-safe controls (called from the GUI thread) -------------------------------------
    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def is_paused(self) -> bool:
        return not self._resume.is_set()

    def send(self, request: object) -> None:
        self._requests.put(request)

    # -- the loop ------------------------------------------------------------------------------
    def _drain_requests(self, pending: list) -> None:
        handle = getattr(self._job, "handle", None)
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if handle is None:
                raise TypeError(f"this job takes no requests (got {request!r})")
            item = handle(request)
            if item is not None:
                pending.append(item)

    @Slot()
    def run(self) -> None:
        completed = False
        pending: list[object] = []
        last_emit = 0.0
        first = True
        iterator: Iterator[object] | None = None
        try:
            iterator = iter(self._job(self._cancel))
            while not self._cancel.is_set():
                self._drain_requests(pending)
                if not self._resume.is_set():
                    if pending:
                        self.items.emit(pending)
                        pending, last_emit = [], time.monotonic()
                    self.paused.emit(True)
                    while not self._resume.wait(_PAUSE_POLL_S) and not self._cancel.is_set():
                        self._drain_requests(pending)
                        if pending:
                            self.items.emit(pending)
                            pending = []
                    self.paused.emit(False)
                    continue
                try:
                    item = next(iterator)
                except StopIteration:
                    completed = not self._cancel.is_set()
                    break
                if item is IDLE:
                    if pending:
                        self.items.emit(pending)
                        pending, last_emit, first = [], time.monotonic(), False
                    continue
                pending.append(item)
                now = time.monotonic()
                if first or now - last_emit >= self._min_interval:
                    self.items.emit(pending)
                    pending, last_emit, first = [], now, False
            self._drain_requests(pending)
            if pending:
                self.items.emit(pending)
        except Exception as exc:  # noqa: BLE001 - reported with its traceback, never swallowed
            message, self.details = error_message(exc)
            if self.details:
                print(f"ddpm-desktop: background job failed:\n{self.details}", file=sys.stderr)
            self.failed.emit(message, self.details)
            completed = False
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()  # runs the generator's finally blocks in this thread
                except Exception:  # noqa: BLE001 - a failing cleanup is a bug: say so
                    traceback.print_exc()
            self.finished.emit(completed)
