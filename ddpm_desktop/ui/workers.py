"""Worker objects that drive a core generator inside a QThread.

A worker never subclasses QThread: the `WorkerController` (controller.py) creates a plain
QThread, moves the worker onto it and owns both. The worker iterates a generator, checks a
`threading.Event` between items, batches what it yields so the GUI sees at most `rate_hz`
emits a second, and always emits `finished` exactly once - after the last batch, after a
failure, or after cancellation.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Callable, Iterable, Iterator

from PySide6.QtCore import QObject, Signal, Slot

# A job is a callable that receives the cancellation event and returns an iterable of items
# (a core generator such as iter_ddpm or Trainer.iter_training). The items must already be
# CPU copies: they cross to the GUI thread and are never written again.
Job = Callable[[threading.Event], Iterable[object]]


class GeneratorWorker(QObject):
    """Runs `job(cancel_event)` and forwards its items in throttled batches.

    Signals (all queued to the GUI thread):
      items(list): the items yielded since the previous emit, in order. The first item is
                   sent at once (so a first frame shows within a frame time); later ones are
                   batched at <= `rate_hz` emits a second; the tail is always flushed.
      failed(str): a one-line message; a ValueError/OSError carries the user's message,
                   anything else gets its type name and the traceback is kept in `details`.
      finished(bool): True when the generator ran to its end, False when cancelled or failed.
    """

    items = Signal(list)
    failed = Signal(str)
    finished = Signal(bool)

    def __init__(self, job: Job, cancel_event: threading.Event, rate_hz: float = 30.0) -> None:
        super().__init__()
        self._job = job
        self._cancel = cancel_event
        self._min_interval = 1.0 / max(rate_hz, 1e-3)
        self.details = ""

    @Slot()
    def run(self) -> None:
        completed = False
        pending: list[object] = []
        last_emit = 0.0
        try:
            iterator: Iterator[object] = iter(self._job(self._cancel))
            first = True
            for item in iterator:
                if self._cancel.is_set():
                    break
                pending.append(item)
                now = time.monotonic()
                if first or now - last_emit >= self._min_interval:
                    self.items.emit(pending)
                    pending = []
                    last_emit = now
                    first = False
            else:
                completed = not self._cancel.is_set()
            if pending and not self._cancel.is_set():
                self.items.emit(pending)
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # runs the generator's finally blocks in this thread
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never swallowed silently
            self.details = traceback.format_exc()
            if isinstance(exc, (ValueError, OSError)):
                message = " ".join(str(exc).split()) or type(exc).__name__
            else:
                message = f"{type(exc).__name__}: {exc}"
            self.failed.emit(message)
            completed = False
        finally:
            self.finished.emit(completed)
