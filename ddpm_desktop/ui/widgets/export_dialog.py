"""The Export dialog: forward / reverse / both chains as a looping GIF or a PNG strip.

Public API (for the main window)
--------------------------------
``ExportDialog(parent=None, controller=None, settings=None)``  (QDialog, non-modal is fine)
    ``controller``: the window's ``ui.controller.WorkerController`` (the export runs there as
    the job named "export"; the window's shutdown() then stops it too). None: the dialog
    makes and owns one, and shuts it down when it closes. ``settings``: a QSettings (default
    ``QSettings()``); keys ``export/last_dir``, ``export/what``, ``export/format``,
    ``export/fps``, ``export/scale``, ``export/key_frames``, ``export/histogram``,
    ``export/kl``.
    ``set_chains(forward=None, reverse=None)``: each a ``ui.export.ChainView`` (frames float
        [F, 28, 28] in [-1, 1] as shown, optional KL curve [F] and per-frame captions such
        as "t = 437") or a bare [F, 28, 28] array. Copies are taken, so later edits of the
        window's state do not reach a running export. Call it before ``show()``/``exec()``
        and whenever the chains change while the dialog is open.
    signals
        ``exported(str)``  the path written (the dialog then closes).
        ``error(str)``     a one-line message (also shown in a message box; the dialog stays
                           open with every choice kept).
    ``start_export() -> bool`` does what the Export button does (False if refused at once).
    ``cancel_export()`` stops a running export; nothing is written.
    While exporting, the progress bar counts frames (+1 for writing the file).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.export import (
    ChainView,
    ExportJob,
    ExportProgress,
    check_writable,
    frame_layout,
    iter_export,
)

JOB_NAME = "export"
FORWARD_TITLE = "Forward q(x_t | x_0)"
REVERSE_TITLE = "Reverse p(x_t-1 | x_t)"
TARGET_FRAMES = 250  # the stride offered by default keeps a GIF about this long
WHAT = (("forward", "Forward chain"), ("reverse", "Reverse chain"), ("both", "Both side by side"))
FORMATS = (("gif", "Animated GIF (looping)"), ("png", "PNG strip of key frames"))


class ExportDialog(QDialog):
    """Choose what and how to export; runs the export on a worker thread with progress."""

    exported = Signal(str)
    error = Signal(str)

    def __init__(self, parent: QWidget | None = None, controller: WorkerController | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        self._own_controller = controller is None
        self.controller = controller if controller is not None else WorkerController(self)
        self._settings = settings if settings is not None else QSettings()
        self._chains: dict[str, ChainView | None] = {"forward": None, "reverse": None}
        self._task = None
        self._path_edited = False

        s = self._settings
        self.what_combo = QComboBox()
        for key, text in WHAT:
            self.what_combo.addItem(text, key)
        self.format_combo = QComboBox()
        for key, text in FORMATS:
            self.format_combo.addItem(text, key)
        self.fps_spin = QSpinBox(minimum=1, maximum=50, suffix=" fps")
        self.fps_spin.setValue(s.value("export/fps", 20, type=int))
        self.scale_spin = QSpinBox(minimum=1, maximum=12, prefix="×")
        self.scale_spin.setValue(s.value("export/scale", 4, type=int))
        self.stride_spin = QSpinBox(minimum=1, maximum=10_000)
        self.stride_spin.setToolTip("Use every n-th frame (the last frame is always included)")
        self.key_frames_spin = QSpinBox(minimum=2, maximum=32)
        self.key_frames_spin.setValue(s.value("export/key_frames", 8, type=int))
        self.hist_check = QCheckBox("Histogram of the pixels vs N(0,1)")
        self.hist_check.setChecked(s.value("export/histogram", True, type=bool))
        self.kl_check = QCheckBox("KL-to-N(0,1) curve with the current frame marked")
        self.kl_check.setChecked(s.value("export/kl", True, type=bool))
        self.path_edit = QLineEdit()
        self.path_edit.textEdited.connect(self._on_path_edited)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.status_label = QLabel()
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button = QPushButton("Cancel export")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)

        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Export", self.what_combo)
        form.addRow("As", self.format_combo)
        form.addRow("Frame rate", self.fps_spin)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Frame stride", self.stride_spin)
        form.addRow("Key frames", self.key_frames_spin)
        form.addRow("", self.hist_check)
        form.addRow("", self.kl_check)
        form.addRow("File", path_row)
        self._form = form
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.info_label)
        layout.addWidget(self.progress_bar)
        layout.addLayout(buttons)
        self._inputs = [self.what_combo, self.format_combo, self.fps_spin, self.scale_spin,
                        self.stride_spin, self.key_frames_spin, self.hist_check, self.kl_check,
                        self.path_edit, self.browse_button, self.export_button]

        self._select_data(self.format_combo, s.value("export/format", "gif", type=str))
        self._stored_what = s.value("export/what", "forward", type=str)
        for w in (self.what_combo, self.format_combo):
            w.currentIndexChanged.connect(self._on_choice_changed)
        for w in (self.scale_spin, self.stride_spin, self.key_frames_spin):
            w.valueChanged.connect(self._update_info)
        for w in (self.hist_check, self.kl_check):
            w.toggled.connect(self._update_info)
        self._refresh_choices()

    # ---- inputs -----------------------------------------------------------------------------
    def set_chains(self, forward: ChainView | np.ndarray | None = None,
                   reverse: ChainView | np.ndarray | None = None) -> None:
        self._chains = {"forward": _as_view(forward, FORWARD_TITLE),
                        "reverse": _as_view(reverse, REVERSE_TITLE)}
        self._refresh_choices()
        self.stride_spin.setValue(max(1, math.ceil(self._max_frames() / TARGET_FRAMES)))

    def chains(self) -> list[ChainView]:
        what = self.what_combo.currentData()
        keys = ("forward", "reverse") if what == "both" else (what,)
        return [self._chains[k] for k in keys if self._chains.get(k) is not None]

    def _max_frames(self) -> int:
        return max([len(c) for c in self._chains.values() if c is not None] or [1])

    @staticmethod
    def _select_data(combo: QComboBox, value) -> None:
        i = combo.findData(value)
        if i >= 0:
            combo.setCurrentIndex(i)

    def _refresh_choices(self) -> None:
        has = {k: v is not None for k, v in self._chains.items()}
        has["both"] = has["forward"] and has["reverse"]
        model = self.what_combo.model()
        for row in range(self.what_combo.count()):
            model.item(row).setEnabled(has[self.what_combo.itemData(row)])
        want = self.what_combo.currentData() if self._task is not None else self._stored_what
        if not has.get(want, False):
            want = next((k for k, _ in WHAT if has[k]), want)
        self.what_combo.blockSignals(True)
        self._select_data(self.what_combo, want)
        self.what_combo.blockSignals(False)
        self._on_choice_changed()

    @Slot()
    def _on_choice_changed(self) -> None:
        if self.sender() is self.what_combo:
            self._stored_what = self.what_combo.currentData()
        gif = self.format_combo.currentData() == "gif"
        self.fps_spin.setEnabled(gif and self._task is None)
        self.stride_spin.setEnabled(gif and self._task is None)
        self.hist_check.setEnabled(gif and self._task is None)
        self.kl_check.setEnabled(gif and self._task is None)
        self.key_frames_spin.setEnabled(not gif and self._task is None)
        if not self._path_edited or not self.path_edit.text():
            self.path_edit.setText(str(self._default_path()))
        else:  # keep the user's name, fix the extension
            p = Path(self.path_edit.text())
            if p.suffix.lower() in (".gif", ".png"):
                self.path_edit.setText(str(p.with_suffix("." + self.format_combo.currentData())))
        self._update_info()

    def _last_dir(self) -> Path:
        d = self._settings.value("export/last_dir", "", type=str)
        return Path(d) if d and Path(d).is_dir() else Path.home()

    def _default_path(self) -> Path:
        what = self.what_combo.currentData() or "forward"
        ext = self.format_combo.currentData() or "gif"
        name = {"forward": "ddpm_forward", "reverse": "ddpm_reverse", "both": "ddpm_chains"}[what]
        return self._last_dir() / f"{name}.{ext}"

    @Slot(str)
    def _on_path_edited(self, _text: str) -> None:
        self._path_edited = True

    @Slot()
    def _on_browse_clicked(self) -> None:
        ext = self.format_combo.currentData()
        filt = "GIF animation (*.gif)" if ext == "gif" else "PNG image (*.png)"
        start = self.path_edit.text() or str(self._default_path())
        path, _ = QFileDialog.getSaveFileName(self, "Export to", start, filt)
        if path:
            if not Path(path).suffix:
                path += "." + ext
            self.path_edit.setText(path)
            self._path_edited = True

    @Slot()
    def _update_info(self) -> None:
        chains = self.chains()
        if not chains:
            self.info_label.setText("Nothing to export yet: run a chain first.")
            self.export_button.setEnabled(False)
            return
        self.export_button.setEnabled(self._task is None)
        job = self._make_job(str(self.path_edit.text() or "x"))
        with_kl = job.with_kl
        lay = frame_layout(len(chains), job.scale, job.with_histogram, with_kl)
        if job.kind == "gif":
            n = job.frame_count()
            mb = n * lay.width * lay.height * 3 / 2**20
            self.info_label.setText(
                f"{n} frames of {lay.width}×{lay.height} px, {n / job.fps:.1f} s per loop "
                f"(about {mb:.0f} MB of memory while exporting)")
        else:
            self.info_label.setText(f"{job.key_frames} key frames per chain, ×{job.scale}")

    def _make_job(self, path: str) -> ExportJob:
        gif = self.format_combo.currentData() == "gif"
        return ExportJob(
            path=path, chains=tuple(self.chains()), kind="gif" if gif else "png",
            fps=float(self.fps_spin.value()), scale=self.scale_spin.value(),
            stride=self.stride_spin.value(), with_histogram=gif and self.hist_check.isChecked(),
            with_kl=gif and self.kl_check.isChecked(), key_frames=self.key_frames_spin.value())

    # ---- running ----------------------------------------------------------------------------
    def is_exporting(self) -> bool:
        return self._task is not None

    @Slot()
    def start_export(self) -> bool:
        if self._task is not None or not self.chains():
            return False
        text = self.path_edit.text().strip()
        try:
            path = check_writable(os.path.expanduser(text)) if text else None
            if path is None:
                raise OSError("choose a file to export to")
            job = self._make_job(str(path))
        except (OSError, ValueError) as exc:
            self._show_error(str(exc))
            return False
        self._task = self.controller.start(JOB_NAME, lambda cancel: iter_export(job, cancel),
                                           rate_hz=20.0)
        self._task.items.connect(self._on_task_items)
        self._task.failed.connect(self._on_task_failed)
        self._task.finished.connect(self._on_task_finished)
        self._result_path = None
        self._set_running(True)
        self.progress_bar.setRange(0, job.frame_count() + (1 if job.kind == "gif" else 0))
        self.progress_bar.setValue(0)
        self.status_label.setText("Exporting…")
        return True

    @Slot()
    def cancel_export(self) -> None:
        if self._task is None:
            return
        self.controller.cancel(JOB_NAME)  # the task goes quiet; its thread ends on its own
        self._task = None
        self._set_running(False)
        self.status_label.setText("Cancelled; nothing was written.")

    def _set_running(self, running: bool) -> None:
        for w in self._inputs:
            w.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.progress_bar.setVisible(running)
        if not running:
            self._on_choice_changed()

    @Slot(list)
    def _on_task_items(self, items: list) -> None:
        if self.sender() is not self._task:
            return
        last: ExportProgress = items[-1]
        self.progress_bar.setMaximum(last.total)
        self.progress_bar.setValue(last.done)
        for item in items:
            if item.path:
                self._result_path = item.path

    @Slot(str)
    def _on_task_failed(self, message: str) -> None:
        if self.sender() is not self._task:
            return
        self._task = None
        self._set_running(False)
        self.status_label.setText("Export failed.")
        self._show_error(message)

    @Slot(bool)
    def _on_task_finished(self, completed: bool) -> None:
        if self.sender() is not self._task:
            return
        self._task = None
        self._set_running(False)
        path = self._result_path
        if completed and path:
            self._remember()
            self.status_label.setText(f"Saved {path}")
            self.exported.emit(path)
            self.accept()

    def _remember(self) -> None:
        s = self._settings
        s.setValue("export/last_dir", str(Path(self.path_edit.text()).expanduser().parent))
        s.setValue("export/what", self.what_combo.currentData())
        s.setValue("export/format", self.format_combo.currentData())
        s.setValue("export/fps", self.fps_spin.value())
        s.setValue("export/scale", self.scale_spin.value())
        s.setValue("export/key_frames", self.key_frames_spin.value())
        s.setValue("export/histogram", self.hist_check.isChecked())
        s.setValue("export/kl", self.kl_check.isChecked())

    def _show_error(self, message: str) -> None:
        self.error.emit(message)
        QMessageBox.warning(self, "Export failed", message)

    # ---- closing ----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop a running export and, if the dialog owns its controller, join its thread."""
        self.cancel_export()
        if self._own_controller and self.controller.threads():
            # join the cancelled thread; a shut-down controller refuses new jobs, and the
            # dialog may be shown again, so it gets a fresh one
            self.controller.shutdown()
            self.controller.deleteLater()
            self.controller = WorkerController(self)

    def reject(self) -> None:
        self.shutdown()
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)


def _as_view(chain, title: str) -> ChainView | None:
    if chain is None:
        return None
    if isinstance(chain, ChainView):
        return ChainView(np.array(chain.frames, dtype=np.float32, copy=True), chain.title or title,
                         None if chain.kl is None else np.array(chain.kl, copy=True),
                         chain.captions)
    return ChainView(np.array(chain, dtype=np.float32, copy=True), title)
