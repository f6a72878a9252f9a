"""The Lessons dock: a view of the session's `LessonState` (ui/lesson_state.py).

It shows the lesson, the step ("2 of 4"), the question and, only once the state says so, the
answer. Every button is intent: `lesson_chosen(str)`, `back_requested()`, `next_requested()`,
`reveal_requested()`, `reapply_requested()` ("Set up again"); the window hands them to the
session, which sets the app up for the step (ui/session_lessons.py).
"""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Signal, Slot
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core.lessons import LESSONS
from ddpm_desktop.ui.lesson_state import LessonState


class LessonPanel(QWidget):
    lesson_chosen = Signal(str)
    back_requested = Signal()
    next_requested = Signal()
    reveal_requested = Signal()
    reapply_requested = Signal()

    def __init__(self, state: LessonState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.lesson_combo = QComboBox()
        self.lesson_combo.addItem("Choose a lesson…", "")
        for lesson in LESSONS:
            self.lesson_combo.addItem(lesson.title, lesson.name)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.step_label = QLabel()
        self.step_label.setProperty("role", "caption")
        self.question_label = QLabel()
        self.question_label.setWordWrap(True)
        self.question_label.setFrameShape(QFrame.Shape.StyledPanel)
        self.question_label.setMargin(6)
        self.reveal_button = QPushButton("Reveal the answer")
        self.answer_label = QLabel()
        self.answer_label.setWordWrap(True)
        self.answer_label.setFrameShape(QFrame.Shape.StyledPanel)
        self.answer_label.setMargin(6)
        self.back_button = QPushButton("◀ Back")
        self.next_button = QPushButton("Next ▶")
        self.reapply_button = QPushButton("Set up again")
        for button in (self.reveal_button, self.back_button, self.next_button,
                       self.reapply_button):
            button.setAutoDefault(True)  # Enter presses the focused button, as in a dialog

        nav = QHBoxLayout()
        nav.addWidget(self.back_button)
        nav.addWidget(self.reapply_button)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.lesson_combo)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.step_label)
        layout.addWidget(self.question_label)
        layout.addWidget(self.reveal_button)
        layout.addWidget(self.answer_label)
        layout.addLayout(nav)
        layout.addStretch(1)

        self.lesson_combo.currentIndexChanged.connect(self._on_lesson_combo_changed)
        self.back_button.clicked.connect(self.back_requested)
        self.next_button.clicked.connect(self.next_requested)
        self.reveal_button.clicked.connect(self.reveal_requested)
        self.reapply_button.clicked.connect(self.reapply_requested)
        state.changed.connect(self._on_state_changed)
        self._on_state_changed()

    @Slot()
    def _on_state_changed(self) -> None:
        st = self.state
        lesson, step = st.lesson, st.step
        focus = QApplication.focusWidget()
        # (not from the lesson list: its arrow keys browse the lessons)
        keyboard_here = (focus is not None and self.isAncestorOf(focus)
                         and focus is not self.lesson_combo)
        with QSignalBlocker(self.lesson_combo):
            self.lesson_combo.setCurrentIndex(
                max(self.lesson_combo.findData(lesson.name if lesson else ""), 0))
        if step is None:
            self.summary_label.setText("Each step sets the app up, asks a question and shows "
                                       "the answer when you ask: predict first, then reveal.")
            self.step_label.clear()
            self.question_label.setText("")
            self.question_label.hide()
        else:
            self.summary_label.setText(lesson.summary)
            self.step_label.setText(f"Step {st.index + 1} of {st.count}: {step.title}")
            self.question_label.setText(step.question)
            self.question_label.show()
        self.answer_label.setText("Computing the answer…" if st.computing else st.answer)
        self.answer_label.setVisible(st.revealed)
        self.reveal_button.setVisible(step is not None and not st.revealed)
        self.back_button.setEnabled(step is not None and st.index > 0)
        self.next_button.setEnabled(step is not None and st.index + 1 < st.count)
        self.reapply_button.setEnabled(step is not None)
        if keyboard_here:  # Reveal hides itself, Next may disable itself: the keyboard goes on
            self.take_focus()

    def take_focus(self) -> None:
        """Put the keyboard where the lesson goes on: the lesson list before one is chosen,
        else Reveal, else Next (or the list again at the last step)."""
        for widget in (self.reveal_button, self.next_button):
            if self.state.step is not None and widget.isVisible() and widget.isEnabled():
                widget.setFocus()
                return
        self.lesson_combo.setFocus()

    @Slot(int)
    def _on_lesson_combo_changed(self, _index: int) -> None:
        name = self.lesson_combo.currentData()
        if name:
            self.lesson_chosen.emit(name)


def connect_lesson_panel(panel: LessonPanel, lessons) -> None:
    """Wire the panel's intents to the lessons area (`session.lessons`, ui/session_lessons.py)."""
    panel.lesson_chosen.connect(lessons.open)
    panel.back_requested.connect(lessons.back)
    panel.next_requested.connect(lessons.next)
    panel.reveal_requested.connect(lessons.reveal)
    panel.reapply_requested.connect(lessons.reapply)
