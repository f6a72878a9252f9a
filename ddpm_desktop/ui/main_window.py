"""The main window: composition only - views built from the session's states, docks, menus,
shortcuts, the status bar, messages, settings and shutdown. Every piece of state and every
job belongs to the `Session`; this file connects the views' intents to it.

Layout: the forward and reverse chains side by side in the centre with the histogram and
KL-versus-t plots under them (all visible together); Input on the left; Schedule and Sampler
on the right, Training tabbed with Sampler; the later areas' views and the tab groups they
join come from area_views.py.
Dock layout and geometry persist in QSettings
("window/geometry", "window/state"), as do the theme, playback speed and (settings.py) every
state's settings.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QWidget,
)


from ddpm_desktop.ui import screen_fit, settings as saved, theme
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.area_views import add_area_views, build_export_dialog
from ddpm_desktop.ui.crash_dialog import show_crash
from ddpm_desktop.ui.help_texts import apply_help
from ddpm_desktop.ui.menus import build_menus, build_status_bar
from ddpm_desktop.ui.plot_csv import install_csv_export
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.widgets.chain_view import ForwardChainView
from ddpm_desktop.ui.widgets.reverse_view import ReverseChainView
from ddpm_desktop.ui.widgets.histogram_view import HistogramView
from ddpm_desktop.ui.widgets.decision_view import DecisionView
from ddpm_desktop.ui.widgets.input_panel import InputPanel
from ddpm_desktop.ui.widgets.sampler_panel import SamplerPanel
from ddpm_desktop.ui.widgets.schedule_panel import SchedulePanel
from ddpm_desktop.ui.widgets.training_panel import TrainingPanel

MODEL_FILTER = "Checkpoints (*.safetensors);;All files (*)"
SESSION_FILTER = "Sessions (*.json);;All files (*)"
# 2: two tab groups (area_views.py); a layout saved before (five tabs under the Schedule,
# their titles cut) is not restored, so everyone gets the readable default once.
_STATE_VERSION = 2


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, load_model: bool = True,
                 load_dataset: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("DDPM Desktop — watch diffusion")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else QSettings()
        self.last_error = ""
        self.last_error_details = ""
        self._closing = False
        self.export_dialog = None  # built on first use (area_views.build_export_dialog)
        self.guide_dialog = None
        self.toy2d_window = None

        self.workers = WorkerController(self)
        self.session = Session(self.workers, self)
        saved.restore(self.session, self.settings)
        s = self.session

        # --- centre: chains over histogram/KL
        self.forward_view = ForwardChainView(s.forward)
        self.reverse_view = ReverseChainView(s.reverse, s.model_state)
        self.histogram_view = HistogramView(s.forward, s.reverse)
        self.chains_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.chains_splitter.addWidget(self.forward_view)
        # issue 16: p(class | x̂₀) along the reverse chain, under it
        self.decision_view = DecisionView(s.decision, s.reverse)
        self.reverse_column = QSplitter(Qt.Orientation.Vertical)
        self.reverse_column.addWidget(self.reverse_view)
        self.reverse_column.addWidget(self.decision_view)
        self.reverse_column.setStretchFactor(0, 3)
        self.reverse_column.setStretchFactor(1, 2)
        self.reverse_column.setChildrenCollapsible(False)
        self.chains_splitter.addWidget(self.reverse_column)
        self.chains_splitter.setChildrenCollapsible(False)
        self.central_splitter = QSplitter(Qt.Orientation.Vertical)
        self.central_splitter.addWidget(self.chains_splitter)
        self.central_splitter.addWidget(self.histogram_view)
        self.central_splitter.setStretchFactor(0, 3)
        self.central_splitter.setStretchFactor(1, 2)
        self.central_splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.central_splitter)

        # --- docks
        self.input_panel = InputPanel(s.input_state, load_dataset=load_dataset)
        self.schedule_panel = SchedulePanel(s.schedule_state)
        self.sampler_panel = SamplerPanel(s.sampler)
        self.training_panel = TrainingPanel(s.training)
        self.training_panel.checkpoint_folder = self.settings.value("paths/checkpoint_dir", "",
                                                                    type=str)
        self.input_dock = self._dock("Input", "InputDock", self.input_panel,
                                     Qt.DockWidgetArea.LeftDockWidgetArea, max_width=440)
        self.schedule_dock = self._dock("Schedule β_t", "ScheduleDock", self.schedule_panel,
                                        Qt.DockWidgetArea.RightDockWidgetArea, max_width=360)
        self.sampler_dock = self._dock("Sampler", "SamplerDock", self.sampler_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea, max_width=360)
        self.training_dock = self._dock("Training", "TrainingDock", self.training_panel,
                                        Qt.DockWidgetArea.RightDockWidgetArea, max_width=360)
        self.tabifyDockWidget(self.sampler_dock, self.training_dock)
        add_area_views(self)  # live view, guidance plot, Inpaint/Completions/Lessons/Maths docks
        self.sampler_dock.raise_()
        self.resizeDocks([self.input_dock], [410], Qt.Orientation.Horizontal)
        self.resizeDocks([self.schedule_dock], [360], Qt.Orientation.Horizontal)
        self.resizeDocks([self.schedule_dock, self.sampler_dock], [500, 330],
                         Qt.Orientation.Vertical)
        self.central_splitter.setSizes([520, 340])
        self.chains_splitter.setSizes([600, 400])
        self.reverse_column.setSizes([300, 220])  # issue 16: room for the decision plot's axes
        self._default_state = self.saveState(_STATE_VERSION)

        self._build_status_bar()
        self._build_actions()
        self._connect()
        screen_fit.fit_docks(self)  # the docks share what the screen leaves (screen_fit.py)
        screen_fit.follow_docks(self)
        self._restore_window()
        apply_help(self)
        install_csv_export(self)  # right-click any plot > Save data as CSV (plot_csv.py)
        if s.input_state.digit_source == "blank":
            self.input_panel.pick_initial_digit()
        self._on_model_changed()
        if load_model:
            QTimer.singleShot(0, self._load_initial_model)

    # ------------------------------------------------------------------ building
    def _dock(self, title: str, name: str, widget: QWidget, area,
              max_width: int = 330) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        # A scroll area, so a tall panel never forces the window beyond a laptop screen.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        # Scroll vertically; the dock is as wide as its panel needs up to max_width, and
        # only a panel wider than that scrolls sideways.
        bar = scroll.verticalScrollBar().sizeHint().width()
        need = widget.minimumSizeHint().width() + bar
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if need > max_width
                                            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(min(need, max_width))
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        build_status_bar(self)

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        build_menus(self)

    def _connect(self) -> None:
        s = self.session
        s.error.connect(self.show_error)
        s.status.connect(lambda message: self.statusBar().showMessage(message, 6000))
        s.sampling_state.connect(self._on_sampling_state)
        s.checkpoint_saved.connect(self._on_checkpoint_saved)
        s.exported.connect(lambda path: self.statusBar().showMessage(f"Saved {path}", 8000))
        s.model_state.changed.connect(self._on_model_changed)
        s.reverse.frames_added.connect(self._on_reverse_progress)
        s.schedule_state.changed.connect(self._on_schedule_changed)
        # The prior-KL readout follows the forward chain (deferred while reconstructing as you
        # draw: its style sheet and texts cost ~1 ms of the GUI thread per edit).
        s.forward.chain_changed.connect(lambda: self._on_input_changed("digit"))
        s.training.phase_changed.connect(self._on_training_phase_changed)
        self.schedule_panel.error.connect(self.show_error)
        self.input_panel.error.connect(self.show_error)
        self.sampler_panel.sample_requested.connect(self.sample)
        self.sampler_panel.stop_requested.connect(s.cancel_sampling)
        self.reverse_view.sample_requested.connect(self.sample)
        self.reverse_view.load_model_requested.connect(self.choose_model)
        self.reverse_view.train_requested.connect(self._show_training)
        tp = self.training_panel
        tp.start_requested.connect(s.start_training)
        tp.pause_requested.connect(s.pause_training)
        tp.resume_requested.connect(s.resume_training)
        tp.stop_requested.connect(s.stop_training)
        tp.reset_requested.connect(s.reset_training)
        tp.save_requested.connect(s.save_checkpoint)
        tp.load_requested.connect(s.load_checkpoint)
        self.device_combo.currentIndexChanged.connect(self._on_device_combo_changed)
        self.input_panel.browser.dataset_changed.connect(s.set_browser_dataset)
        self._on_schedule_changed(s.schedule)
        self._on_input_changed("digit")

    # ------------------------------------------------------------------ actions
    @Slot()
    def sample(self) -> None:
        self.session.request_sampling()

    @Slot()
    def choose_model(self) -> None:
        start = self.settings.value("paths/model_dir", "", type=str)
        path, _ = QFileDialog.getOpenFileName(self, "Load a model checkpoint", start,
                                              MODEL_FILTER)
        if path:
            self.settings.setValue("paths/model_dir", str(Path(path).parent))
            self.session.load_model_file(path)

    @Slot()
    def choose_session_to_open(self) -> None:
        start = self.settings.value("paths/session_dir", "", type=str)
        path, _ = QFileDialog.getOpenFileName(self, "Open a session", start, SESSION_FILTER)
        if path:
            self.settings.setValue("paths/session_dir", str(Path(path).parent))
            self.session.open_session_file(path)

    @Slot()
    def choose_session_to_save(self) -> None:
        start = str(Path(self.settings.value("paths/session_dir", str(Path.home()), type=str))
                    / "ddpm_session.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save the session", start, SESSION_FILTER)
        if path:
            path = path if Path(path).suffix else path + ".json"
            self.settings.setValue("paths/session_dir", str(Path(path).parent))
            self.session.save_session_file(path)

    @Slot()
    def open_export(self) -> None:
        """Show the one Export dialog (a view of the session's export state)."""
        if self.export_dialog is None:
            self.export_dialog = build_export_dialog(self)
        self.export_dialog.refresh()
        self.export_dialog.show()
        self.export_dialog.raise_()

    @Slot()
    def show_guide(self) -> None:
        from ddpm_desktop.ui.widgets.guide import GuideDialog

        if self.guide_dialog is None:
            self.guide_dialog = GuideDialog(self)
        self.guide_dialog.show()
        self.guide_dialog.raise_()

    @Slot()
    def show_lessons(self) -> None:
        """Help > Lessons: show the Lessons dock (issue 13.4)."""
        self.lesson_dock.show()
        self.lesson_dock.raise_()

    @Slot()
    def _show_training(self) -> None:
        self.training_dock.show()
        self.training_dock.raise_()
        # the loss curve and the sample grid need the taller share of the right column
        total = self.schedule_dock.height() + self.training_dock.height()
        self.resizeDocks([self.schedule_dock, self.training_dock],
                         [int(total * 0.3), int(total * 0.7)], Qt.Orientation.Vertical)

    def set_theme(self, name: str) -> None:
        applied = theme.apply_theme(QApplication.instance(), name)
        theme.restyle(self)
        screen_fit.fit_docks(self)
        self.settings.setValue("view/theme", applied)
        if applied in self.theme_actions:
            self.theme_actions[applied].setChecked(True)

    @Slot(bool)
    def set_lecture(self, on: bool) -> None:
        """Lecture mode: large fonts and thick lines (remembered as "view/lecture")."""
        theme.set_lecture(QApplication.instance(), on)
        self.settings.setValue("view/lecture", bool(on))
        theme.restyle(self)
        screen_fit.fit_docks(self)
        if self.lecture_action.isChecked() != bool(on):
            self.lecture_action.setChecked(bool(on))

    @Slot()
    def reset_layout(self) -> None:
        self.restoreState(self._default_state, _STATE_VERSION)
        for dock in (self.input_dock, self.schedule_dock, self.sampler_dock, self.training_dock,
                     self.inpaint_dock, self.completions_dock, self.maths_dock):
            dock.show()
        self.lesson_dock.hide()  # opened from Help > Lessons
        self.input_dock.raise_()  # the front tab of each group, as a fresh window shows them
        self.sampler_dock.raise_()

    @Slot()
    def show_toy2d(self) -> None:
        from ddpm_desktop.ui.toy2d_window import show_toy2d_window

        self.toy2d_window = show_toy2d_window(self.session, self, self.toy2d_window)
        apply_help(self.toy2d_window)

    @Slot(str)
    @Slot(str, str)
    def show_error(self, message: str, details: str = "") -> None:
        """A non-blocking warning box (never a crash, never a nested event loop); a bug (it has
        a traceback in `details`, also printed on stderr where it happened) opens the crash
        dialog instead."""
        self.last_error, self.last_error_details = message, details
        if self._closing:
            print(f"ddpm-desktop: {message}", file=sys.stderr)
            return
        if details:  # a bug: the crash dialog, with the report and the session saved
            self._error_box = show_crash(self, message, details, self.session)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "DDPM Desktop", message,
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self._error_box = box

    # ------------------------------------------------------------------ state -> chrome
    @Slot(object)
    def _on_schedule_changed(self, schedule) -> None:
        self.sampler_panel.set_max_t(schedule.T)

    @Slot(str)
    def _on_input_changed(self, _what: str) -> None:
        x0 = self.session.forward_x0()
        self.schedule_panel.set_x0_sq_mean(float(np.mean(np.square(x0))))

    @Slot()
    def _on_model_changed(self) -> None:
        m = self.session.model_state
        if m.loading:
            text = "Model: loading…"
        elif m.available:
            text = f"Model: {m.source}"
        else:
            text = "No model yet — train one or load a checkpoint"
        self.model_label.setText(text)
        self.sampler_panel.set_model_available(m.available, text)
        self.sample_action.setEnabled(m.available)

    @Slot(str)
    def _on_training_phase_changed(self, phase: str) -> None:
        if phase in ("running", "idle"):
            self.statusBar().showMessage(self.session.training.message, 6000)

    @Slot(str)
    def _on_checkpoint_saved(self, path: str) -> None:
        self.settings.setValue("paths/checkpoint_dir", str(Path(path).parent))
        self.training_panel.checkpoint_folder = str(Path(path).parent)
        self.statusBar().showMessage(f"Checkpoint saved: {path}", 8000)

    @Slot(int)
    def _on_device_combo_changed(self, _index: int) -> None:
        self.session.device_state.set_device(self.device_combo.currentData())

    @Slot(bool)
    def _on_sampling_state(self, running: bool) -> None:
        self.sampler_panel.set_busy(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)

    @Slot()
    def _on_reverse_progress(self) -> None:
        lanes = self.session.reverse.lanes
        if lanes and len(lanes[0]):
            self.progress.setRange(0, max(lanes[0].total, 1))
            self.progress.setValue(lanes[0].nfe[-1])

    @Slot()
    def _load_initial_model(self) -> None:
        if not self._closing:
            self.session.load_bundled_model()

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        for url in event.mimeData().urls():
            if url.isLocalFile():
                path = url.toLocalFile()
                if path.lower().endswith(".safetensors"):
                    self.session.load_model_file(path)
                else:
                    self.input_panel.open_image(path)
                event.acceptProposedAction()
                return

    # ------------------------------------------------------------------ settings
    def _restore_window(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry", QByteArray(), type=QByteArray)
        if geometry is not None and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(*screen_fit.first_size(self))
        state = s.value("window/state", QByteArray(), type=QByteArray)
        if state is not None and not state.isEmpty():
            self.restoreState(state, _STATE_VERSION)
        self.forward_view.set_speed(saved.read(s, "playback/speed", 100, 1, 10_000))
        app = QApplication.instance()
        current = app.property("ddpm_theme") or saved.read(s, "view/theme", "dark")
        if current in self.theme_actions:
            self.theme_actions[current].setChecked(True)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(_STATE_VERSION))
        saved.save(self.session, s)
        s.setValue("playback/speed", self.forward_view.speed)
        s.sync()

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Stop playback, then every job (the session joins them); idempotent."""
        if self._closing:
            return
        self._closing = True
        self.forward_view.pause()
        self.session.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        try:
            self.save_settings()
        finally:
            self.shutdown()
        super().closeEvent(event)
