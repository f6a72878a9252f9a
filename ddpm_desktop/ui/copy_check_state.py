"""The copy check of the reverse chain's final x₀ on screen: its CopyFinding (ui/session_copies.py)
or None. Plain values; nothing here touches a thread."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class CopyCheckState(QObject):
    """`finding`: the CopyFinding of the reverse chain's final x₀, or None (no finished chain,
    or the check is running: `running`). Signal `changed()`."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.finding: CopyFinding | None = None
        self.running = False

    def set_finding(self, finding: CopyFinding | None, running: bool = False) -> None:
        self.finding, self.running = finding, running
        self.changed.emit()
