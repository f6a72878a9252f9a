"""The Training panel: a view of the session's `TrainingState`.

Controls write the state's settings; the buttons emit intent (`start_requested`,
`pause_requested`, `resume_requested`, `stop_requested`, `reset_requested`,
`save_requested(path)`, `load_requested(path)`) that the window hands to the session, which
runs the training. Curves, numbers and the sample grid redraw on the state's signals. The
plots do not zoom or pan with the mouse (a wheel over a log axis used to zoom to 1e-19), so
they always follow the run.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core import imaging
from ddpm_desktop.core.training import LEVEL_EDGES
from ddpm_desktop.core.training_run import SAMPLE_STEPS
from ddpm_desktop.ui.theme import pen, plot_colors, qcolor, style_plot
from ddpm_desktop.ui.training_state import DATASETS, TrainingState
from ddpm_desktop.ui.widgets.plain_text import plain

CHECKPOINT_FILTER = "Checkpoints (*.safetensors)"


def _gray_pixmap(u8: np.ndarray, zoom: int) -> QPixmap:
    a = np.ascontiguousarray(u8)
    h, w = a.shape
    img = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(img).scaled(w * zoom, h * zoom, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.FastTransformation)


def fmt_duration(s: float) -> str:
    if not math.isfinite(s):
        return "–"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _fixed_plot(left: str, bottom: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setLabel("bottom", bottom)
    plot.setLabel("left", left)
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    return plot


class _PlotTabs(QTabWidget):
    """Tabs that ask for a modest height: a plot's own size hint (480 px) made the panel, whose
    word-wrapped labels size it by height-for-width, taller than a laptop's dock."""

    def sizeHint(self):  # noqa: N802 - Qt override
        hint = super().sizeHint()
        hint.setHeight(min(hint.height(), 180))
        return hint


class TrainingPanel(QWidget):
    _styled = False  # colours applied once; restyled on palette changes after that
    start_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()
    reset_requested = Signal()
    save_requested = Signal(str)
    load_requested = Signal(str)

    def __init__(self, state: TrainingState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.checkpoint_folder = ""  # where the file dialogs open (the window keeps it)
        self._build_ui()
        self._apply_colors()
        state.settings_changed.connect(self._on_settings_changed)
        state.phase_changed.connect(self._on_phase_changed)
        state.progress_changed.connect(self._on_progress_changed)
        state.snapshot_changed.connect(self._on_snapshot_changed)
        self._on_settings_changed()
        self._on_phase_changed(state.phase)
        self._on_progress_changed()

    # ---- building ----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.dataset_combo = QComboBox()
        for spec, text in DATASETS:
            self.dataset_combo.addItem(text, spec)
        self.batch_spin = QSpinBox(minimum=1, maximum=4096)
        self.steps_spin = QSpinBox(minimum=1, maximum=10_000_000, singleStep=500)
        self.lr_spin = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=0.5, singleStep=1e-4)
        self.conditional_check = QCheckBox("Class-conditional")
        self.conditional_check.setToolTip(
            "Train with the class label, dropped in 10% of steps for classifier-free guidance "
            "(Ho & Salimans 2022): ε̂ = ε_u + w (ε_c − ε_u) when sampling")
        self.sample_spin = QSpinBox(minimum=1, maximum=3600, suffix=" s")
        self.sample_spin.setToolTip("Refresh the sample grid (and the model) this often")
        # The run's settings fold away (a one-line summary stays), so the loss curve and the
        # sample grid fit a laptop's dock; they unfold with the Settings button.
        self.settings_box = QWidget()
        form = QFormLayout(self.settings_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("", self.conditional_check)
        form.addRow("Samples every", self.sample_spin)
        self.dataset_combo.currentIndexChanged.connect(self._on_edited)
        for spin in (self.batch_spin, self.steps_spin, self.lr_spin, self.sample_spin):
            spin.valueChanged.connect(self._on_edited)
        self.conditional_check.toggled.connect(self._on_edited)
        self._inputs = [self.dataset_combo, self.batch_spin, self.lr_spin, self.steps_spin,
                        self.conditional_check]
        self.settings_button = QToolButton()
        self.settings_button.setText("Settings")
        self.settings_button.setCheckable(True)
        self.settings_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings_button.setArrowType(Qt.ArrowType.RightArrow)
        self.settings_button.toggled.connect(self._on_settings_toggled)
        self.settings_summary = QLabel()
        plain(self.settings_summary)
        self.settings_summary.setWordWrap(True)
        self.settings_summary.setProperty("role", "caption")
        self.settings_box.setVisible(False)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start_requested)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_requested)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the current run: the next Start begins afresh")
        self.reset_button.clicked.connect(self.reset_requested)
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the run as a checkpoint (weights and training state)")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.load_button = QPushButton("Load…")
        self.load_button.setToolTip("Load a checkpoint: use its weights, continue its run")
        self.load_button.clicked.connect(self._on_load_clicked)
        buttons = QGridLayout()
        buttons.setSpacing(4)
        for k, b in enumerate((self.start_button, self.pause_button, self.stop_button,
                               self.reset_button, self.save_button, self.load_button)):
            buttons.addWidget(b, k // 3, k % 3)

        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m steps")
        self.status_label = QLabel()
        plain(self.status_label)
        self.status_label.setWordWrap(True)
        self.loss_label = QLabel()
        self.loss_label.setToolTip("Smoothed training loss ‖ε − ε_θ(x_t, λ, y)‖² (an EMA over "
                                   "steps, decay 0.98)")
        self.speed_label = QLabel()
        self.speed_label.setToolTip("Training images per second (mean of the last 50 steps)")
        self.eta_label = QLabel()
        self.eta_label.setToolTip("Time left at the current speed")
        stats = QHBoxLayout()
        for w in (self.loss_label, self.speed_label, self.eta_label):
            stats.addWidget(w)

        self.loss_plot = _fixed_plot("loss", "step")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setMinimumHeight(100)
        self.loss_plot.setDownsampling(auto=True, mode="peak")
        self.loss_plot.setClipToView(True)
        # Thousands of points: no antialiasing (per curve; the app-wide setting stays).
        self.raw_curve = self.loss_plot.plot(name="loss", antialias=False)
        self.smooth_curve = self.loss_plot.plot(name="smoothed")
        self.level_plot = _fixed_plot("loss", "log-SNR λ")
        self.level_plot.setMinimumHeight(100)
        width = float(LEVEL_EDGES[1] - LEVEL_EDGES[0])
        self._level_x = np.concatenate([[LEVEL_EDGES[0] - width / 2],
                                        (LEVEL_EDGES[:-1] + LEVEL_EDGES[1:]) / 2,
                                        [LEVEL_EDGES[-1] + width / 2]])
        self.level_bars = pg.BarGraphItem(x=self._level_x, height=np.zeros_like(self._level_x),
                                          width=width * 0.85)
        self.level_plot.addItem(self.level_bars)

        self.samples_label = QLabel("Samples appear here while the model learns")
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_label.setWordWrap(True)  # the placeholder text must not widen the dock
        self.samples_label.setMinimumHeight(2 * 30 + 8)
        self.samples_box = QGroupBox("EMA samples, one per class")
        QVBoxLayout(self.samples_box).addWidget(self.samples_label)

        # the loss against the step and by noise level share one place (tabs)
        self.plot_tabs = _PlotTabs()
        self.plot_tabs.setDocumentMode(True)
        self.plot_tabs.addTab(self.loss_plot, "Loss vs step")
        self.plot_tabs.addTab(self.level_plot, "Loss by noise level")

        settings_row = QHBoxLayout()
        settings_row.addWidget(self.settings_button)
        settings_row.addWidget(self.settings_summary, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addLayout(stats)
        layout.addWidget(self.status_label)
        layout.addLayout(settings_row)
        layout.addWidget(self.settings_box)
        layout.addWidget(self.plot_tabs, 1)
        layout.addWidget(self.samples_box)

    def _apply_colors(self) -> None:
        self._styled = True
        colors = plot_colors(self.palette())
        for plot in (self.loss_plot, self.level_plot):
            style_plot(plot, colors)
        self.raw_curve.setPen(pen(qcolor(colors.loss, 90)))
        self.smooth_curve.setPen(pen(colors.loss_smooth, width=2))
        self.level_bars.setOpts(brush=colors.bar, pen=None)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange and self._styled:
            self._apply_colors()
        super().changeEvent(event)

    # ---- state -> view -----------------------------------------------------------------------
    @Slot()
    def _on_settings_changed(self) -> None:
        s = self.state.settings
        browser = self.dataset_combo.findData("browser")
        name = self.state.browser_dataset_name
        self.dataset_combo.setItemText(browser, f"{name} (browser)" if name
                                       else "the data set the browser shows")
        with QSignalBlocker(self.dataset_combo):
            self.dataset_combo.setCurrentIndex(max(self.dataset_combo.findData(s.dataset), 0))
        for spin, value in ((self.batch_spin, s.batch_size), (self.steps_spin, s.steps),
                            (self.lr_spin, s.lr), (self.sample_spin, s.sample_every_s)):
            with QSignalBlocker(spin):
                spin.setValue(value)
        with QSignalBlocker(self.conditional_check):
            self.conditional_check.setChecked(s.conditional)
        data = self.dataset_combo.currentText().split(" (")[0]
        self.settings_summary.setText(
            f"{data}, batch {s.batch_size}, {s.steps} steps, lr {s.lr:g}"
            + (", conditional" if s.conditional else ""))
        self._update_buttons()

    @Slot(bool)
    def _on_settings_toggled(self, shown: bool) -> None:
        self.settings_box.setVisible(shown)
        self.settings_summary.setVisible(not shown)
        self.settings_button.setArrowType(Qt.ArrowType.DownArrow if shown
                                          else Qt.ArrowType.RightArrow)

    @Slot(str)
    def _on_phase_changed(self, _phase: str) -> None:
        self.status_label.setText(self.state.message)
        self._update_buttons()

    def _update_buttons(self) -> None:
        st = self.state
        idle, phase = not st.running, st.phase
        for w in self._inputs:
            w.setEnabled(idle)
        self.start_button.setEnabled(idle)
        self.pause_button.setEnabled(phase in ("running", "paused"))
        self.pause_button.setText("Resume" if phase == "paused" else "Pause")
        self.stop_button.setEnabled(phase in ("preparing", "running", "paused"))
        self.reset_button.setEnabled(idle and st.has_run)
        self.save_button.setEnabled((phase in ("running", "paused")) or (idle and st.has_run))
        self.load_button.setEnabled(idle)
        step = st.resumable_step if 0 < st.resumable_step < st.settings.steps else 0
        self.start_button.setText(f"Continue from step {step}" if step and idle else "Start")

    @Slot()
    def _on_progress_changed(self) -> None:
        st = self.state
        x = st.steps_seen
        self.raw_curve.setData(x, np.maximum(st.losses, 1e-8))
        self.smooth_curve.setData(x, np.maximum(st.losses_smooth, 1e-8))
        self.level_bars.setOpts(height=np.nan_to_num(st.loss_by_level, nan=0.0))
        self.progress_bar.setMaximum(max(st.total_steps or st.settings.steps, 1))
        self.progress_bar.setValue(min(st.step, self.progress_bar.maximum()))
        self.loss_label.setText("loss –" if math.isnan(st.loss_smooth)
                                else f"loss {st.loss_smooth:.4f}")
        self.speed_label.setText("– img/s" if math.isnan(st.images_per_second)
                                 else f"{st.images_per_second:.0f} img/s")
        self.eta_label.setText(f"time left {fmt_duration(st.eta_s)}")
        self._update_buttons()

    @Slot()
    def _on_snapshot_changed(self) -> None:
        snap = self.state.snapshot
        if snap is None:
            self.samples_label.setPixmap(QPixmap())
            self.samples_label.setText("Samples appear here while the model learns")
            return
        grid = imaging.make_grid(imaging.to_uint8(snap.images), nrow=10, pad=2)
        # as large as the dock allows (whole pixels), never wider: a 2x grid is 604 px
        zoom = max(1, min(3, (self.samples_label.width() - 8) // grid.shape[1]))
        self.samples_label.setPixmap(_gray_pixmap(grid, zoom))
        self.samples_label.setToolTip(f"EMA samples at step {snap.step} "
                                      f"(DPM-Solver++ {SAMPLE_STEPS} steps, fixed noise)")

    # ---- view -> state / intent --------------------------------------------------------------
    @Slot()
    def _on_edited(self) -> None:
        # The controls' ranges are the settings' valid ranges.
        self.state.update(dataset=self.dataset_combo.currentData(),
                          batch_size=self.batch_spin.value(), steps=self.steps_spin.value(),
                          lr=float(self.lr_spin.value()),
                          conditional=self.conditional_check.isChecked(),
                          sample_every_s=self.sample_spin.value())

    @Slot()
    def _on_pause_clicked(self) -> None:
        (self.resume_requested if self.state.phase == "paused" else self.pause_requested).emit()

    def _folder(self) -> str:
        d = self.checkpoint_folder
        return d if d and Path(d).is_dir() else str(Path.home())

    @Slot()
    def _on_save_clicked(self) -> None:
        start = str(Path(self._folder()) / f"ddpm_step{self.state.step}.safetensors")
        path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint", start, CHECKPOINT_FILTER)
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self.save_requested.emit(path)

    @Slot()
    def _on_load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", self._folder(),
                                              CHECKPOINT_FILTER)
        if path:
            self.load_requested.emit(path)
