"""The Export dialog: a view of the session's `ExportState`.

Controls write the state's settings; Export and Cancel emit intent (`export_requested()`,
`cancel_requested()`) that the window hands to the session, which runs the export; progress
and the result redraw from the state. `chain_lengths()` (given by the window) says how many
frames each chain on screen has, for the choices and the info line. The dialog closes itself
when an export it started has been written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
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

from ddpm_desktop.render.compose import frame_layout
from ddpm_desktop.render.frames import count_frames
from ddpm_desktop.ui.export_state import BOTH_FROM, FORMATS, WHAT, ExportState
from ddpm_desktop.ui.widgets.plain_text import plain


class ExportDialog(QDialog):
    export_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, state: ExportState, chain_lengths: Callable[[], dict[str, int]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        self.state = state
        self._chain_lengths = chain_lengths
        self._started_here = False

        self.what_combo = QComboBox()
        for key, text in WHAT:
            self.what_combo.addItem(text, key)
        # "both": one digit (the reverse chain reconstructs the forward chain's x_t) or the
        # chains on screen; t of the reconstruction (0 = auto, 3T/10)
        self.both_combo = QComboBox()
        for key, text in BOTH_FROM:
            self.both_combo.addItem(text, key)
        self.both_t_spin = QSpinBox(minimum=0, maximum=100_000, prefix="t = ")
        self.both_t_spin.setSpecialValueText("auto (t = 3T/10)")
        self.format_combo = QComboBox()
        for key, text in FORMATS:
            self.format_combo.addItem(text, key)
        self.fps_spin = QSpinBox(minimum=1, maximum=50, suffix=" fps")
        self.scale_spin = QSpinBox(minimum=1, maximum=12, prefix="×")
        self.stride_spin = QSpinBox(minimum=0, maximum=10_000)
        self.stride_spin.setSpecialValueText("auto")
        self.stride_spin.setToolTip("Use every n-th frame (the last frame is always included); "
                                    "auto keeps a GIF at about 250 frames")
        self.key_frames_spin = QSpinBox(minimum=2, maximum=32)
        self.hist_check = QCheckBox("Histogram of the pixels vs N(0,1)")
        self.kl_check = QCheckBox("KL-to-N(0,1) curve with the current frame marked")
        self.path_edit = QLineEdit()
        self.browse_button = QPushButton("Browse…")
        self.info_label = QLabel()
        plain(self.info_label)
        self.info_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.status_label = QLabel()
        plain(self.status_label)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel export")
        self.cancel_button.setVisible(False)
        self.close_button = QPushButton("Close")

        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Export", self.what_combo)
        form.addRow("Both from", self.both_combo)
        form.addRow("Reconstruct from", self.both_t_spin)
        form.addRow("As", self.format_combo)
        form.addRow("Frame rate", self.fps_spin)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Frame stride", self.stride_spin)
        form.addRow("Key frames", self.key_frames_spin)
        form.addRow("", self.hist_check)
        form.addRow("", self.kl_check)
        form.addRow("File", path_row)
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
        self._inputs = [self.what_combo, self.both_combo, self.both_t_spin, self.format_combo, self.fps_spin, self.scale_spin,
                        self.stride_spin, self.key_frames_spin, self.hist_check, self.kl_check,
                        self.path_edit, self.browse_button]

        for combo in (self.what_combo, self.format_combo, self.both_combo):
            combo.currentIndexChanged.connect(self._on_edited)
        for spin in (self.fps_spin, self.scale_spin, self.stride_spin, self.key_frames_spin,
                     self.both_t_spin):
            spin.valueChanged.connect(self._on_edited)
        for check in (self.hist_check, self.kl_check):
            check.toggled.connect(self._on_edited)
        self.path_edit.editingFinished.connect(self._on_path_edited)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.close_button.clicked.connect(self.reject)
        state.settings_changed.connect(self._on_state_changed)
        state.progress_changed.connect(self._on_progress_changed)
        state.finished.connect(self._on_finished)
        self.refresh()

    # ---- state -> view -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw everything (call when the chains on screen changed)."""
        lengths = self._chain_lengths()
        has = {k: bool(v) for k, v in lengths.items()}
        has["both"] = bool(lengths.get("both_forward", lengths.get("forward"))
                           and lengths.get("both_reverse", lengths.get("reverse")))
        model = self.what_combo.model()
        for row in range(self.what_combo.count()):
            model.item(row).setEnabled(has.get(self.what_combo.itemData(row), False))
        what = self.state.settings.what
        if not has.get(what, False) and not self.state.running:
            fallback = next((k for k, _ in WHAT if has.get(k)), None)
            if fallback is not None:
                self.state.update(what=fallback)  # redraws through settings_changed
                return
        self._on_state_changed()

    @Slot()
    def _on_state_changed(self) -> None:
        s = self.state.settings
        for combo, value in ((self.what_combo, s.what), (self.format_combo, s.format),
                             (self.both_combo, s.both_from)):
            with QSignalBlocker(combo):
                combo.setCurrentIndex(max(combo.findData(value), 0))
        for spin, value in ((self.fps_spin, s.fps), (self.scale_spin, s.scale),
                            (self.stride_spin, s.stride), (self.key_frames_spin, s.key_frames),
                            (self.both_t_spin, s.both_t)):
            with QSignalBlocker(spin):
                spin.setValue(value)
        for check, value in ((self.hist_check, s.histogram), (self.kl_check, s.kl)):
            with QSignalBlocker(check):
                check.setChecked(value)
        self.path_edit.setText(str(s.target()))
        self._update_enabled()
        self._update_info()

    def _update_enabled(self) -> None:
        idle = not self.state.running
        gif = self.state.settings.format != "png"  # an animation: GIF, WebP, APNG
        for w in self._inputs:
            w.setEnabled(idle)
        if idle:
            for w in (self.fps_spin, self.stride_spin, self.hist_check, self.kl_check):
                w.setEnabled(gif)
            self.key_frames_spin.setEnabled(not gif)
            both = self.state.settings.what == "both"
            self.both_combo.setEnabled(both)
            self.both_t_spin.setEnabled(both and self.state.settings.both_from == "digit")
        self.cancel_button.setVisible(not idle)
        self.progress_bar.setVisible(not idle)

    def _update_info(self) -> None:
        s = self.state.settings
        lengths = self._chain_lengths()
        keys = ("forward", "reverse") if s.what == "both" else (s.what,)
        counts = [lengths.get(k, 0) for k in keys]
        if s.what == "both":
            counts = [lengths.get("both_forward", counts[0]),
                      lengths.get("both_reverse", counts[1])]
        if not all(counts):
            self.info_label.setText(
                "'Both' from one digit needs a model: load or train one." if s.what == "both"
                and s.both_from == "digit" and lengths.get("forward") else
                "Nothing to export yet: run a chain first.")
            self.export_button.setEnabled(False)
            return
        self.export_button.setEnabled(not self.state.running)
        gif = s.format != "png"
        lay = frame_layout(len(keys), s.scale, gif and s.histogram, gif and s.kl)
        if gif:
            n = count_frames(counts, s.stride_for(max(counts)))
            mb = n * lay.width * lay.height * 3 / 2**20
            self.info_label.setText(
                f"{n} frames of {lay.width}×{lay.height} px, {n / s.fps:.1f} s per loop "
                f"(about {mb:.0f} MB of memory while exporting)")
        else:
            self.info_label.setText(f"{s.key_frames} key frames per chain, ×{s.scale}")

    @Slot()
    def _on_progress_changed(self) -> None:
        st = self.state
        self.progress_bar.setRange(0, max(st.total, 1))
        self.progress_bar.setValue(st.done)
        self.status_label.setText(st.message)
        self._update_enabled()
        self._update_info()

    @Slot(str)
    def _on_finished(self, path: str) -> None:
        if path and self._started_here:
            self._started_here = False
            self.accept()

    # ---- view -> state / intent --------------------------------------------------------------
    @Slot()
    def _on_edited(self) -> None:
        self.state.update(what=self.what_combo.currentData(),
                          both_from=self.both_combo.currentData(),
                          both_t=self.both_t_spin.value(),
                          format=self.format_combo.currentData(), fps=self.fps_spin.value(),
                          scale=self.scale_spin.value(), stride=self.stride_spin.value(),
                          key_frames=self.key_frames_spin.value(),
                          histogram=self.hist_check.isChecked(), kl=self.kl_check.isChecked())

    @Slot()
    def _on_path_edited(self) -> None:
        text = self.path_edit.text().strip()
        if text != str(self.state.settings.target()):
            self.state.update(path=text)

    @Slot()
    def _on_browse_clicked(self) -> None:
        fmt = self.state.settings.format
        filt = {"gif": "GIF animation (*.gif)", "webp": "Animated WebP (*.webp)",
                "apng": "Animated PNG (*.apng *.png)"}.get(fmt, "PNG image (*.png)")
        path, _ = QFileDialog.getSaveFileName(self, "Export to", str(self.state.settings.target()),
                                              filt)
        if path:
            chosen = path
            if not Path(path).suffix:
                path += "." + fmt
            self.state.update(path=path)
            self.state.confirm_destination()
            if Path(chosen) == self.state.settings.target():  # the file dialog asked already
                self.state.allow_replacing(chosen)

    def confirm_replace(self, path: Path) -> bool:
        """Ask before replacing a file this app did not write in this run."""
        box = QMessageBox(QMessageBox.Icon.Question, "Replace file?",
                          f"'{path}' already exists and was not written by this export.\n"
                          "Replace it?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self)
        plain(box)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    @Slot()
    def _on_export_clicked(self) -> None:
        self._on_path_edited()
        if self.state.destination_from_file:
            # A session or settings file named this place: the user says yes before a write.
            box = QMessageBox(QMessageBox.Icon.Question, "Export",
                              f"Export to {self.state.settings.target()}?\n\nThis location came "
                              "from a session or settings file, not from you.",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                              self)
            box.setTextFormat(Qt.TextFormat.PlainText)  # the path is text from a file
            if box.exec() != QMessageBox.StandardButton.Yes:
                return
            self.state.confirm_destination()
        existing = self.state.needs_confirmation()
        if existing is not None:
            if not self.confirm_replace(existing):
                return
            self.state.allow_replacing(existing)
        self._started_here = True
        self.export_requested.emit()
