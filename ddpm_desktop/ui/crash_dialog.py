"""The crash dialog: an unexpected error offers Copy report and Save report…, and the session
is already safe on disk when it appears.

`show_crash(parent, message, details, session)` builds the report (ui/crash_report.py),
autosaves it with the session beside it in the crash folder, and opens a non-modal dialog
(never a nested event loop). `CrashHandler` is the app's sys.excepthook: an exception escaping
a slot lands there (PySide6 prints it and goes on), and so does a worker's bug through
MainWindow.show_error.
"""
from __future__ import annotations

import sys
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Slot, qVersion
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QLabel, QPlainTextEdit,
                               QPushButton, QVBoxLayout, QWidget)

from ddpm_desktop.ui import crash_report, screen_fit
from ddpm_desktop.core import files

REPORT_FILTER = "Crash reports (*.txt);;All files (*)"


class CrashDialog(QDialog):
    """Shows one report; Copy puts it on the clipboard, Save writes it (and the session)."""

    def __init__(self, message: str, report_text: str, saved: crash_report.SavedReport | None,
                 save_error: str = "", session=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DDPM Desktop — unexpected error")
        self.setObjectName("CrashDialog")
        self.message, self.report_text, self.saved = message, report_text, saved
        self._session = session
        layout = QVBoxLayout(self)
        # Every label is plain text: the message and the paths may hold anything ('<b>' in a
        # file name must show as typed).
        title = _plain_label("Something went wrong inside DDPM Desktop.")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        self.message_label = _plain_label(message)
        layout.addWidget(self.message_label)
        self.where_label = _plain_label(_where_text(saved, save_error))
        layout.addWidget(self.where_label)
        self.status_label = _plain_label("")  # what Copy / Save just did
        self.report_view = QPlainTextEdit(report_text)
        self.report_view.setReadOnly(True)
        self.report_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.report_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        layout.addWidget(self.report_view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy report")
        self.save_button = QPushButton("Save report…")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.copy_button.clicked.connect(self.copy_report)
        self.save_button.clicked.connect(self._on_save_clicked)
        layout.addWidget(self.status_label)
        layout.addWidget(buttons)
        self.resize(720, 480)

    @Slot()
    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report_text)
        self.status_label.setText("Report copied to the clipboard.")

    def save_to(self, path) -> crash_report.SavedReport:
        """Write the report to `path` and the session beside it (`<name>-session.json`)."""
        saved = crash_report.write_report(Path(path), self.report_text,
                                          _session_saver(self._session))
        note = f"Report saved: {saved.report}"
        if saved.session is not None:
            note += f", the session beside it: {saved.session.name}"
        self.status_label.setText(note)
        return saved

    @Slot()
    def _on_save_clicked(self) -> None:
        start = str(self.saved.report.name) if self.saved else "ddpm-desktop-crash.txt"
        path, _ = QFileDialog.getSaveFileName(self, "Save the crash report", start, REPORT_FILTER)
        if not path:
            return
        try:
            self.save_to(path)
        except OSError as exc:
            self.status_label.setText(" ".join(str(exc).split()))


def _plain_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _where_text(saved: crash_report.SavedReport | None, save_error: str) -> str:
    if saved is None:
        return f"The report could not be saved ({save_error}); copy it or save it elsewhere."
    if saved.session is None:
        return (f"The report is saved in {saved.report}; the session could not be saved "
                f"({saved.session_error}).")
    return (f"Your session is saved as {saved.session} (File > Open session restores it), "
            f"with this report beside it.")


def _session_saver(session):
    """Write the session file as File > Save session does (its snapshot's JSON, atomically),
    but raising instead of reporting through the session's error signal: this is the report."""
    if session is None:
        return None
    return lambda path: files.atomic_write_bytes(
        Path(path), session.files.take_snapshot().to_json().encode("utf-8"))


def build_report(message: str, details: str, session) -> str:
    """The report text for an error in `session` (None: no session yet)."""
    snapshot, snapshot_error, device = None, "", None
    if session is not None:
        try:
            snapshot = session.files.take_snapshot().to_dict()
        except Exception as exc:  # the state that raised may be half-updated
            snapshot_error = f"{type(exc).__name__}: {exc}"
        device = getattr(getattr(session, "device_state", None), "device", None)
    else:
        snapshot_error = "the error came before the window had a session"
    extra = {"qt": f"{qVersion()} ({QGuiApplication.platformName() or 'no platform'})"}
    return crash_report.format_report(message, details, snapshot, device, snapshot_error, extra)


def show_crash(parent: QWidget | None, message: str, details: str, session) -> CrashDialog:
    """Autosave the report and the session, then open the dialog (non-modal) and return it."""
    text = build_report(message, details, session)
    saved, error = None, ""
    try:
        saved = crash_report.autosave(text, _session_saver(session))
    except OSError as exc:
        error = " ".join(str(exc).split())
    if saved is not None:  # also on stderr: a crash before the event loop shows no dialog
        print(f"ddpm-desktop: crash report saved: {saved.report}", file=sys.stderr)
    dialog = CrashDialog(message, text, saved, error, session, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    screen_fit.fit_window(dialog, share=screen_fit.DIALOG_SHARE)
    dialog.open()
    return dialog


class CrashHandler(QObject):
    """sys.excepthook for the app: the traceback on stderr, then one crash dialog at a time
    (a cascade of errors must not stack dialogs). `session` is set once the window has one."""

    def __init__(self, app) -> None:
        super().__init__(app)
        self.app = app
        self.session = None
        self.dialog: CrashDialog | None = None

    def __call__(self, exc_type, exc, tb) -> None:
        traceback.print_exception(exc_type, exc, tb)
        if issubclass(exc_type, KeyboardInterrupt):
            self.app.quit()
            return
        if self.dialog is not None:
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        self.dialog = show_crash(self.app.activeWindow(), f"{exc_type.__name__}: {exc}", details,
                                 self.session)
        self.dialog.finished.connect(self._on_dialog_finished)

    @Slot(int)
    def _on_dialog_finished(self, _result: int) -> None:
        self.dialog = None
