"""The "start here" page a first start shows: one screen with a button to the first lesson and
one to each workspace. It emits the choice (`lesson_chosen`, `workspace_chosen(name)`) and
closes; the window decides what a choice does and remembers that the page was seen."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

INTRO = ("<b>Watch a digit turn into noise and back.</b><p>New to diffusion? Take the first "
         "lesson: it asks you to predict, then shows the answer. Or go straight to a task: "
         "each workspace shows only the panels it needs (View &gt; Workspace, Ctrl+1…).</p>")


class StartPage(QDialog):
    lesson_chosen = Signal()
    workspace_chosen = Signal(str)

    def __init__(self, workspaces: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        """`workspaces`: (name, title) of each workspace offered, a title's '&&' a literal '&'."""
        super().__init__(parent)
        self.setWindowTitle("Start here")
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.lesson_button = QPushButton("Take the first lesson")
        self.lesson_button.setDefault(True)
        self.lesson_button.clicked.connect(self._on_lesson)
        layout.addWidget(self.lesson_button)
        grid = QGridLayout()
        self.workspace_buttons: dict[str, QPushButton] = {}
        for k, (name, title) in enumerate(workspaces):
            button = QPushButton(title)
            button.clicked.connect(lambda _=False, n=name: self._on_workspace(n))
            grid.addWidget(button, k // 3, k % 3)
            self.workspace_buttons[name] = button
        layout.addLayout(grid)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _on_lesson(self) -> None:
        self.lesson_chosen.emit()
        self.accept()

    def _on_workspace(self, name: str) -> None:
        self.workspace_chosen.emit(name)
        self.accept()
