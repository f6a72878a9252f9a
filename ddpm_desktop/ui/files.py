"""Files the user brings to the main window or saves from it: a checkpoint or a session picked
in a file dialog (the folder last used remembered as "paths/model_dir", "paths/session_dir"),
and a checkpoint or a digit image dropped on the window. What a file holds is the session's
business (`load_model_file`, `files.open`, `files.save`) or the Input panel's (`open_image`)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

MODEL_FILTER = "Checkpoints (*.safetensors);;All files (*)"
SESSION_FILTER = "Sessions (*.json);;All files (*)"


def choose_model(parent: QWidget, settings: QSettings, session) -> None:
    start = settings.value("paths/model_dir", "", type=str)
    path, _ = QFileDialog.getOpenFileName(parent, "Load a model checkpoint", start, MODEL_FILTER)
    if path:
        settings.setValue("paths/model_dir", str(Path(path).parent))
        session.load_model_file(path)


def choose_session_to_open(parent: QWidget, settings: QSettings, session) -> None:
    start = settings.value("paths/session_dir", "", type=str)
    path, _ = QFileDialog.getOpenFileName(parent, "Open a session", start, SESSION_FILTER)
    if path:
        settings.setValue("paths/session_dir", str(Path(path).parent))
        session.files.open(path)


def choose_session_to_save(parent: QWidget, settings: QSettings, session) -> None:
    start = str(Path(settings.value("paths/session_dir", str(Path.home()), type=str))
                / "ddpm_session.json")
    path, _ = QFileDialog.getSaveFileName(parent, "Save the session", start, SESSION_FILTER)
    if path:
        path = path if Path(path).suffix else path + ".json"
        settings.setValue("paths/session_dir", str(Path(path).parent))
        session.files.save(path)


def holds_a_local_file(mime: QMimeData) -> bool:
    """A drag the window takes: it carries at least one local file."""
    return mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())


def open_dropped(mime: QMimeData, session, input_panel) -> bool:
    """Open the first local file of a drop: a .safetensors checkpoint as the model, anything
    else as the input digit. True when there was one."""
    for url in mime.urls():
        if url.isLocalFile():
            path = url.toLocalFile()
            if path.lower().endswith(".safetensors"):
                session.load_model_file(path)
            else:
                input_panel.open_image(path)
            return True
    return False
