"""The main window's status bar: the model in use, the progress of a reverse run (a view of
the reverse state's first lane) and the device picker (a view of the device state; a choice is
emitted as `device_chosen`). Passing messages go through QStatusBar.showMessage."""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QLabel, QProgressBar, QStatusBar, QWidget

from ddpm_desktop.ui.widgets.plain_text import plain


class StatusBar(QStatusBar):
    device_chosen = Signal(str)

    def __init__(self, device_state, reverse, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reverse = reverse
        d = device_state
        self.device_combo = QComboBox()
        for device in d.available:
            self.device_combo.addItem(d.describe(device), device)
        self.device_combo.setCurrentIndex(self.device_combo.findData(d.device))
        self.device_combo.setToolTip("Where sampling and new training runs compute "
                                     "(CUDA when present, else CPU)")
        self.device_combo.setEnabled(len(d.available) > 1)
        self.model_label = QLabel()
        plain(self.model_label)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.model_label)
        self.addPermanentWidget(QLabel("Device:"))
        self.addPermanentWidget(self.device_combo)
        self.device_combo.currentIndexChanged.connect(self._on_device_combo_changed)
        reverse.frames_added.connect(self._on_reverse_frames_added)

    def show_model(self, text: str) -> None:
        self.model_label.setText(text)

    def show_running(self, running: bool) -> None:
        """The progress bar while a run goes on (busy until its first frames arrive)."""
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)

    @Slot(int)
    def _on_device_combo_changed(self, _index: int) -> None:
        self.device_chosen.emit(self.device_combo.currentData())

    @Slot()
    def _on_reverse_frames_added(self) -> None:
        lanes = self.reverse.lanes
        if lanes and len(lanes[0]):
            self.progress.setRange(0, max(lanes[0].total, 1))
            self.progress.setValue(lanes[0].nfe[-1])
