"""The lesson state the Lessons dock is built from (the session owns it: ui/session_lessons.py).

`LessonState` holds the lesson being followed (a core.lessons.Lesson or None), the step index
and whether its answer has been revealed. `answer` is "" until `revealed`: the view cannot show
what the user has not asked for. An answer's numbers are computed by a job of the lessons area
(some run sampling chains for seconds): `computing` is True from the reveal until `set_answer`.
Signal `changed()` after every change.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.lessons import Lesson, LessonStep


class LessonState(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lesson: Lesson | None = None
        self.index = 0
        self.revealed = False
        self.computing = False
        self._answer = ""

    @property
    def step(self) -> LessonStep | None:
        return None if self.lesson is None else self.lesson.steps[self.index]

    @property
    def count(self) -> int:
        return 0 if self.lesson is None else len(self.lesson.steps)

    @property
    def answer(self) -> str:
        """The step's answer with its numbers computed now; "" until revealed."""
        return self._answer if self.revealed else ""

    def show(self, lesson: Lesson | None, index: int = 0) -> None:
        """Show step `index` of `lesson` (clamped), its answer hidden."""
        self.lesson = lesson
        self.index = 0 if lesson is None else max(0, min(int(index), len(lesson.steps) - 1))
        self.revealed, self.computing, self._answer = False, False, ""
        self.changed.emit()

    def begin_reveal(self) -> bool:
        """The answer was asked for: revealed, its numbers `computing`. False if there is no
        step or it was already revealed."""
        if self.step is None or self.revealed:
            return False
        self.revealed, self.computing, self._answer = True, True, ""
        self.changed.emit()
        return True

    def set_answer(self, text: str) -> None:
        """The revealed step's answer, its numbers computed."""
        if not self.revealed:
            return
        self.computing, self._answer = False, text
        self.changed.emit()

    def unreveal(self) -> None:
        """The answer could not be computed: the step as before its reveal."""
        self.revealed, self.computing, self._answer = False, False, ""
        self.changed.emit()
