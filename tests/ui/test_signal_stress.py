"""Regression: 100,000 signal emits must not crash the interpreter.

PySide6 6.12.0 on Python 3.11 drops a reference to Py_True on every Signal.emit() and
aborts in bool_dealloc after a few thousand emits; pyproject excludes it. This test fails
(by crashing the run) if an affected build sneaks back in.
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot


class _Emitter(QObject):
    value = Signal(int)
    payload = Signal(object)


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.total = 0
        self.objects = 0

    @Slot(int)
    def on_value(self, v: int) -> None:
        self.count += 1
        self.total += v

    @Slot(object)
    def on_payload(self, obj: object) -> None:
        self.objects += 1 if obj else 0


def test_100k_signal_emits_survive(qapp):
    emitter, receiver = _Emitter(), _Receiver()
    emitter.value.connect(receiver.on_value)
    emitter.payload.connect(receiver.on_payload)
    n = 100_000
    for i in range(n):
        emitter.value.emit(i)
        if i % 4 == 0:
            emitter.payload.emit({"i": i, "flag": True})
        if i % 5000 == 0:
            QCoreApplication.processEvents()
    QCoreApplication.processEvents()
    assert receiver.count == n
    assert receiver.total == n * (n - 1) // 2
    assert receiver.objects == n // 4
