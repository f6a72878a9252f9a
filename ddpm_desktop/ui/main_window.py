"""The main window: the composition of the app's views. It builds each view from the session's
state it shows (`_build_views`) and puts together the jobs that live in their own modules:

- window_layout.py: the chains side by side over the plots (histogram and KL under the forward
  chain, p(class | x̂₀) under the reverse one), the docks as `DOCKS` lists them in two tab
  groups, the default layout and the geometry and dock state kept in QSettings;
- workspaces.py: `window.workspaces`, the layouts that show one task's docks;
- menus.py: File, Run, View, Experiments and Help, and their shortcuts;
- wiring.py: every view's intents to the session or one of its areas;
- windows.py, toy2d_window.py, twins_window.py: the dialogs and windows beside this one;
- files.py: the file dialogs and what a drop on the window opens.

What stays here is the window's own: the status bar, messages and the crash dialog, theme and
lecture mode, the reactions of its chrome to the session (`_connect`), the theme's and the
playback speed's settings (every state's: settings.py) and shutdown. Every piece of state and
every job belongs to the `Session`; views never reach a worker.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMessageBox,
    QTabBar,
    QWidget,
)


from ddpm_desktop.ui.accessibility import make_accessible
from ddpm_desktop.ui import files, screen_fit, settings as saved, theme, window_layout, windows
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.crash_dialog import show_crash
from ddpm_desktop.core.evaluation import load_guidance_sweep
from ddpm_desktop.ui.help_texts import apply_help
from ddpm_desktop.ui.highlight import set_highlight
from ddpm_desktop.ui.menus import Menus
from ddpm_desktop.ui.plot_csv import install_csv_export
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.window_layout import DOCKS  # noqa: F401 - the docks, as tests name them
from ddpm_desktop.ui.wiring import connect_views
from ddpm_desktop.ui.workspaces import Workspaces
from ddpm_desktop.ui.widgets.beliefs_panel import BeliefsPanel
from ddpm_desktop.ui.widgets.chain_view import ForwardChainView
from ddpm_desktop.ui.widgets.completions_panel import CompletionsPanel
from ddpm_desktop.ui.widgets.guidance_plot import GuidancePlot
from ddpm_desktop.ui.widgets.inpaint_panel import InpaintPanel
from ddpm_desktop.ui.widgets.lesson_panel import LessonPanel
from ddpm_desktop.ui.widgets.live_view import LiveView
from ddpm_desktop.ui.widgets.maths_panel import MathsPanel
from ddpm_desktop.ui.widgets.reverse_view import ReverseChainView
from ddpm_desktop.ui.widgets.histogram_view import HistogramView
from ddpm_desktop.ui.widgets.copy_check_view import CopyCheckView
from ddpm_desktop.ui.widgets.lab_view import LabView
from ddpm_desktop.ui.widgets.decision_view import DecisionView
from ddpm_desktop.ui.widgets.input_panel import InputPanel
from ddpm_desktop.ui.widgets.sampler_panel import SamplerPanel
from ddpm_desktop.ui.widgets.schedule_panel import SchedulePanel
from ddpm_desktop.ui.widgets.status_bar import StatusBar
from ddpm_desktop.ui.widgets.training_panel import TrainingPanel
from ddpm_desktop.ui.widgets.plain_text import message_box

# core.maths.VIEWS -> the window's widget a hovered term frames (a dotted attribute path)
MATHS_VIEWS = {"forward": "forward_view", "reverse": "reverse_view",
               "schedule": "schedule_panel", "sampler": "sampler_panel",
               "histogram": "histogram_view.hist_plot", "kl": "histogram_view.kl_plot",
               "likelihood": "beliefs_panel.likelihood_label",
               "inversion": "beliefs_panel.inversion_label",
               "uncertainty": "beliefs_panel.uncertainty_label"}


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, load_model: bool = True,
                 load_dataset: bool = True) -> None:
        super().__init__()
        # The platform appends the application's display name ("… — DDPM Desktop").
        self.setWindowTitle("Watch diffusion")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else saved.open_settings()
        self._load_dataset = load_dataset
        self.last_error = ""
        self.last_error_details = ""
        self._closing = False
        self.export_dialog = None  # built on first use (open_export)
        self.guide_dialog = None
        self.toy2d_window = None
        self.twins_window = None

        self.workers = WorkerController(self)
        self.session = Session(self.workers, self)
        saved.restore(self.session, self.settings)
        s = self.session

        self._build_views()
        window_layout.build_centre(self)
        self._default_state = window_layout.build_docks(self)  # DOCKS

        # the model, a run's progress and the device picker (widgets/status_bar.py)
        self.setStatusBar(StatusBar(s.device_state, s.reverse))
        self.model_label = self.statusBar().model_label
        self.progress = self.statusBar().progress
        self.device_combo = self.statusBar().device_combo
        self.workspaces = Workspaces(self)  # the tab bar in the menu bar's corner
        self.menus = Menus(self)  # File, Run, View, Experiments, Help (menus.py)
        connect_views(self, self.session)  # each view's intents to its area (wiring.py)
        self._connect()
        screen_fit.floor_plot_heights(self)
        screen_fit.fit_docks(self)  # the docks share what the screen leaves (screen_fit.py)
        screen_fit.follow_docks(self)
        self._restore_window()
        apply_help(self)
        install_csv_export(self)  # right-click any plot > Save data as CSV (plot_csv.py)
        make_accessible(self)  # accessible names; the frame line (accessibility.py)
        if s.input_state.digit_source == "blank":
            self.input_panel.pick_initial_digit()
        self._on_model_changed()
        if load_model:
            QTimer.singleShot(0, self._load_initial_model)

    # ------------------------------------------------------------------ building
    def _build_views(self) -> None:
        """Every view, each built from the state it shows (wired in wiring.py and `_connect`)."""
        s = self.session
        self.forward_view = ForwardChainView(s.forward)
        self.reverse_view = ReverseChainView(s.reverse, s.model_state)
        self.histogram_view = HistogramView(s.forward, s.reverse)
        self.decision_view = DecisionView(s.decision, s.reverse)
        self.copy_check_view = CopyCheckView(s.copy_check)
        self.input_panel = InputPanel(s.input_state, load_dataset=self._load_dataset)
        self.live_view = LiveView(s.live)  # reconstruct as you draw, under the drawing canvas
        self.input_panel.canvas_panel.layout().addWidget(self.live_view)
        self.schedule_panel = SchedulePanel(s.schedule_state)
        self.sampler_panel = SamplerPanel(s.sampler)
        # the guidance trade-off measured for the bundled model, under Sample/Stop
        self.guidance_plot = GuidancePlot(s.sampler, load_guidance_sweep())
        self.sampler_panel.layout().insertWidget(2, self.guidance_plot)
        self.training_panel = TrainingPanel(s.training)
        self.training_panel.checkpoint_folder = self.settings.value("paths/checkpoint_dir", "",
                                                                    type=str)
        # the generalisation lab: the shipped curves and a run of the lab, a tab of its own
        self.lab_view = LabView(s.lab_state)
        self.training_panel.plot_tabs.addTab(self.lab_view, "Generalisation lab")
        self.inpaint_panel = InpaintPanel(s.inpaint, s.input_state)
        self.completions_panel = CompletionsPanel(s.completions, s.sampler)
        self.maths_panel = MathsPanel(s.forward, s.schedule_state, s.sampler, s.reverse, s.belief)
        self.maths_highlighted = ""  # the view the hovered maths term frames
        self.beliefs_panel = BeliefsPanel(s.belief, s.schedule_state)
        self.lesson_panel = LessonPanel(s.lesson)

    # --- the workspaces (window.workspaces, workspaces.py), as the tests reach them
    @property
    def workspace(self) -> str:
        return self.workspaces.current

    @property
    def workspace_bar(self) -> QTabBar:
        return self.workspaces.bar

    @property
    def start_page(self):
        return self.workspaces.start_page

    @start_page.setter
    def start_page(self, page) -> None:
        self.workspaces.start_page = page

    @Slot(str)
    def set_workspace(self, name: str) -> None:
        self.workspaces.set(name)

    def primary_action(self) -> QWidget | None:
        return self.workspaces.primary_action()

    @Slot()
    def offer_start_page(self) -> None:
        self.workspaces.offer_start_page()

    def maths_view(self, view: str) -> QWidget:
        """The widget of core.maths view `view` (MATHS_VIEWS)."""
        obj = self
        for part in MATHS_VIEWS[view].split("."):
            obj = getattr(obj, part)
        return obj

    @Slot(str)
    def _on_maths_term_hovered(self, view: str) -> None:
        if self.maths_highlighted:
            set_highlight(self.maths_view(self.maths_highlighted), False)
        self.maths_highlighted = view
        if view:
            set_highlight(self.maths_view(view), True)

    def _connect(self) -> None:
        """The window's own reactions to the session and its views: the status bar, messages,
        the secondary windows (the views' intents to the areas: wiring.py)."""
        s = self.session
        s.error.connect(self.show_error)
        s.status.connect(lambda message: self.statusBar().showMessage(message, 6000))
        s.sampling_state.connect(self._on_sampling_state)
        s.checkpoint_saved.connect(self._on_checkpoint_saved)
        s.exported.connect(lambda path: self.statusBar().showMessage(f"Saved {path}", 8000))
        self.results_card = windows.build_results_card(s, self)
        s.model_state.changed.connect(self._on_model_changed)
        self.copy_check_view.twins_requested.connect(self.show_twins)
        s.schedule_state.changed.connect(self._on_schedule_changed)
        # The prior-KL readout follows the forward chain (deferred while reconstructing as you
        # draw: its style sheet and texts cost ~1 ms of the GUI thread per edit).
        s.forward.chain_changed.connect(lambda: self._on_input_changed("digit"))
        s.training.phase_changed.connect(self._on_training_phase_changed)
        self.schedule_panel.error.connect(self.show_error)
        self.input_panel.error.connect(self.show_error)
        self.sampler_panel.sample_requested.connect(self.sample)
        self.reverse_view.sample_requested.connect(self.sample)
        self.reverse_view.load_model_requested.connect(self.choose_model)
        self.reverse_view.train_requested.connect(self._show_training)
        self.live_view.t_changed.connect(self._on_live_t_changed)
        self.maths_panel.term_hovered.connect(self._on_maths_term_hovered)
        self._on_schedule_changed(s.schedule)
        self._on_input_changed("digit")

    # ------------------------------------------------------------------ actions
    @Slot()
    def sample(self) -> None:
        self.session.request_sampling()

    @Slot()
    def choose_model(self) -> None:
        files.choose_model(self, self.settings, self.session)

    @Slot()
    def choose_session_to_open(self) -> None:
        files.choose_session_to_open(self, self.settings, self.session)

    @Slot()
    def choose_session_to_save(self) -> None:
        files.choose_session_to_save(self, self.settings, self.session)

    @Slot()
    def open_export(self) -> None:
        self.export_dialog = windows.show_export_dialog(self.session, self, self.export_dialog)

    @Slot()
    def show_guide(self) -> None:
        self.guide_dialog = windows.show_guide(self, self.guide_dialog)

    @Slot()
    def show_lessons(self) -> None:
        """Help > Lessons: show the Lessons dock."""
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
        if applied in self.menus.theme_actions:
            self.menus.theme_actions[applied].setChecked(True)

    @Slot(bool)
    def set_lecture(self, on: bool) -> None:
        """Lecture mode: large fonts and thick lines (remembered as "view/lecture")."""
        theme.set_lecture(QApplication.instance(), on)
        self.settings.setValue("view/lecture", bool(on))
        theme.restyle(self)
        screen_fit.fit_docks(self)
        if self.menus.lecture_action.isChecked() != bool(on):
            self.menus.lecture_action.setChecked(bool(on))

    @Slot()
    def reset_layout(self) -> None:
        """The current workspace as a fresh window shows it."""
        self.restoreState(self._default_state, window_layout.STATE_VERSION)
        self.workspaces.set(self.workspaces.current)

    @Slot()
    def show_twins(self) -> None:
        from ddpm_desktop.ui.twins_window import show_twins_window

        self.twins_window = show_twins_window(self.session, self, self.twins_window)
        apply_help(self.twins_window)

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
        box = message_box(QMessageBox.Icon.Warning, "DDPM Desktop", message, self)
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
        self.statusBar().show_model(text)
        self.sampler_panel.set_model_available(m.available, text)
        self.menus.sample_action.setEnabled(m.available)

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
    def _on_live_t_changed(self, t: int) -> None:
        try:
            self.session.live_drawing.set_t(t)
        except ValueError as exc:
            self.show_error(str(exc))

    @Slot(bool)
    def _on_sampling_state(self, running: bool) -> None:
        self.sampler_panel.set_busy(running)
        self.statusBar().show_running(running)

    @Slot()
    def _load_initial_model(self) -> None:
        if not self._closing:
            self.session.load_bundled_model()

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if files.holds_a_local_file(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        if files.open_dropped(event.mimeData(), self.session, self.input_panel):
            event.acceptProposedAction()

    # ------------------------------------------------------------------ settings
    def _restore_window(self) -> None:
        s = self.settings
        window_layout.restore_layout(self, s)
        self.workspaces.restore()
        self.forward_view.set_speed(saved.read(s, "playback/speed", 100, 1, 10_000))
        app = QApplication.instance()
        current = app.property("ddpm_theme") or saved.read(s, "view/theme", "dark")
        if current in self.menus.theme_actions:
            self.menus.theme_actions[current].setChecked(True)

    def save_settings(self) -> None:
        s = self.settings
        window_layout.save_layout(self, s)
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
