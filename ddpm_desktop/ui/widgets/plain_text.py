"""Text from outside the app (a file, a session, settings, a path, an error naming one) is
shown as plain text.

QLabel and QMessageBox guess rich text from the content (Qt's mightBeRichText): a session
whose digit source reads ``<img src="/dev/zero">`` made the label load that "image" until the
app ran out of memory, and a name can fake a link. Every label or message box that can show
such text is set to Qt.PlainText, here; labels that use markup of their own set RichText and
build it from the app's own words only.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def plain(*widgets: QLabel | QMessageBox) -> None:
    """Show each label's or message box's text literally, whatever it holds."""
    for w in widgets:
        w.setTextFormat(Qt.TextFormat.PlainText)


def message_box(icon: QMessageBox.Icon, title: str, text: str,
                parent: QWidget | None = None) -> QMessageBox:
    """A QMessageBox with one OK button whose text (and details) are plain text."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    plain(box)
    return box


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """QMessageBox.warning, with the text shown literally (it names the user's file)."""
    message_box(QMessageBox.Icon.Warning, title, text, parent).exec()
