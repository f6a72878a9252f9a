"""Let a window finish the layout work Qt defers, then return: `settle()`.

Showing or hiding a dock, resizing, a font change or a re-fit (screen_fit's re-fit is a
zero-timer, delivered as a MetaCall) post LayoutRequest, PolishRequest and MetaCall events, and
handling one may post more: one pass does not empty the queue. `settle()` delivers those kinds
pass after pass until a pass delivers none, so the geometry a test reads next is the settled
one. It waits on that condition, not on a clock: a busy machine makes it slower, never wrong.
Paints are left to the event loop (each pass of a full processEvents repainted the window).
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject

DEFERRED = (QEvent.Type.PolishRequest, QEvent.Type.LayoutRequest, QEvent.Type.MetaCall)


class _Count(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def eventFilter(self, _obj, event) -> bool:  # noqa: N802 - Qt override
        self.n += event.type() in DEFERRED
        return False


def settle(max_passes: int = 200) -> int:
    """Deliver the posted polish, layout and queued-call events until a pass delivers none;
    the passes it took. Fails if the layout is still changing after `max_passes`."""
    app = QCoreApplication.instance()
    count = _Count()
    app.installEventFilter(count)
    try:
        for passes in range(1, max_passes + 1):
            count.n = 0
            for kind in DEFERRED:
                QCoreApplication.sendPostedEvents(None, kind)
            if count.n == 0:
                return passes
    finally:
        app.removeEventFilter(count)
    raise AssertionError(f"the layout was still changing after {max_passes} passes")
