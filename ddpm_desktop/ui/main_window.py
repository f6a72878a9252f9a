"""The main window: composition only - docks, menus, shortcuts, status bar, settings, shutdown.

Layout (≈1400×900): the forward and reverse chains side by side in the centre with the
histogram and KL-versus-t plots under them (all visible together); Input on the left;
Schedule and Sampler on the right, Training tabbed with Sampler. Dock layout and geometry
persist in QSettings ("window/geometry", "window/state"), as do the theme, schedule, seed,
sampler settings and playback speed.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QWidget,
)

from ddpm_desktop import __version__
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import SamplerSettings, Session
from ddpm_desktop.ui.widgets.chain_view import ForwardChainView, ReverseChainView
from ddpm_desktop.ui.widgets.histogram_view import HistogramView
from ddpm_desktop.ui.widgets.input_panel import InputPanel
from ddpm_desktop.ui.widgets.sampler_panel import SamplerPanel
from ddpm_desktop.ui.widgets.schedule_panel import SchedulePanel

MODEL_FILTER = "Checkpoints (*.safetensors);;All files (*)"
_STATE_VERSION = 1


def _device_name() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"CUDA ({torch.cuda.get_device_name(0)})"
    except Exception:  # noqa: BLE001
        pass
    return "CPU"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, load_model: bool = True,
                 load_dataset: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("DDPM Desktop — watch diffusion")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else QSettings()
        self.last_error = ""
        self._closing = False
        self._auto_sampled = False

        self.workers = WorkerController(self)
        self.session = Session(self.workers, self)
        self._restore_model_settings()

        # --- centre: chains over histogram/KL
        self.forward_view = ForwardChainView(self.session.forward)
        self.reverse_view = ReverseChainView(self.session.reverse, self.session.model_state)
        self.histogram_view = HistogramView(self.session.forward, self.session.reverse)
        self.chains_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.chains_splitter.addWidget(self.forward_view)
        self.chains_splitter.addWidget(self.reverse_view)
        self.chains_splitter.setChildrenCollapsible(False)
        self.central_splitter = QSplitter(Qt.Orientation.Vertical)
        self.central_splitter.addWidget(self.chains_splitter)
        self.central_splitter.addWidget(self.histogram_view)
        self.central_splitter.setStretchFactor(0, 3)
        self.central_splitter.setStretchFactor(1, 2)
        self.central_splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.central_splitter)

        # --- docks
        self.input_panel = InputPanel(self.session.input_state, load_dataset=load_dataset)
        self.schedule_panel = SchedulePanel(self.session.schedule_state)
        self.sampler_panel = SamplerPanel()
        self.sampler_panel.set_settings(self.session.sampler_settings)
        self.input_dock = self._dock("Input", "InputDock", self.input_panel,
                                     Qt.DockWidgetArea.LeftDockWidgetArea, max_width=440)
        self.schedule_dock = self._dock("Schedule β_t", "ScheduleDock", self.schedule_panel,
                                        Qt.DockWidgetArea.RightDockWidgetArea, max_width=360)
        self.sampler_dock = self._dock("Sampler", "SamplerDock", self.sampler_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea, max_width=360)
        self.training_panel = self._make_training_panel()
        self.training_dock = self._dock("Training", "TrainingDock", self.training_panel,
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.sampler_dock, self.training_dock)
        self.sampler_dock.raise_()
        self.resizeDocks([self.input_dock], [410], Qt.Orientation.Horizontal)
        self.resizeDocks([self.schedule_dock], [360], Qt.Orientation.Horizontal)
        self.resizeDocks([self.schedule_dock, self.sampler_dock], [500, 330],
                         Qt.Orientation.Vertical)
        self.central_splitter.setSizes([520, 340])
        self.chains_splitter.setSizes([600, 400])
        self._default_state = self.saveState(_STATE_VERSION)

        self._build_status_bar()
        self._build_actions()
        self._connect()
        self._restore_settings()
        self.session.recompute_forward()
        if self.session.input_state.digit_source == "blank":
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

    def _make_training_panel(self) -> QWidget:
        """The training dock's panel (widgets/training_panel.py), or a note if it fails."""
        try:
            from ddpm_desktop.ui.widgets.training_panel import TrainingPanel

            return TrainingPanel(controller=self.workers, settings=self.settings,
                                 schedule=self.session.schedule)
        except Exception as exc:  # noqa: BLE001 - the rest of the app works without it
            note = QLabel(f"Training is not available: {exc}")
            note.setWordWrap(True)
            note.setAlignment(Qt.AlignmentFlag.AlignCenter)
            return note

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel(f"Device: {_device_name()}")
        self.model_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.device_label)

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
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open image…", self.input_panel.choose_image,
                                        QKeySequence.StandardKey.Open,
                                        "Load a digit from an image file")
        self.load_model_action = self._action(file_menu, "&Load model…", self.choose_model,
                                              "Ctrl+L", "Load a checkpoint (.safetensors)")
        self.export_action = self._action(file_menu, "&Export…", self.open_export, "Ctrl+E",
                                          "Save the chains as a GIF or a PNG strip")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        run = mb.addMenu("&Run")
        fv = self.forward_view
        self.play_action = self._action(run, "&Play / pause forward chain", fv.toggle_play,
                                        Qt.Key.Key_Space)
        self._action(run, "Step &back", lambda: fv.step(-1), Qt.Key.Key_Left)
        self._action(run, "Step &forward", lambda: fv.step(1), Qt.Key.Key_Right)
        self._action(run, "Go to t = &0", fv.go_start, Qt.Key.Key_Home)
        self._action(run, "Go to t = &T", fv.go_end, Qt.Key.Key_End)
        run.addSeparator()
        self.sample_action = self._action(run, "&Sample reverse chain", self.sample, "Ctrl+R")
        self.stop_action = self._action(run, "S&top sampling", self.session.cancel_sampling,
                                        Qt.Key.Key_Escape)

        view = mb.addMenu("&View")
        for dock in (self.input_dock, self.schedule_dock, self.sampler_dock, self.training_dock):
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        theme_menu = view.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions = {}
        for name in theme.THEMES:
            action = QAction(name.capitalize(), self, checkable=True)
            action.triggered.connect(lambda _=False, n=name: self.set_theme(n))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[name] = action
        view.addSeparator()
        self._action(view, "&Reset layout", self.reset_layout)

        help_menu = mb.addMenu("&Help")
        self._action(help_menu, "&About", self.show_about)

    def _connect(self) -> None:
        s = self.session
        s.error.connect(self.show_error)
        s.status.connect(self._on_session_status)
        s.sampling_state.connect(self._on_sampling_state)
        s.model_state.changed.connect(self._on_model_changed)
        s.reverse.frames_added.connect(self._on_reverse_progress)
        s.schedule_state.changed.connect(self._on_schedule_changed)
        s.input_state.changed.connect(self._on_input_changed)
        self.schedule_panel.error.connect(self.show_error)
        self.input_panel.error.connect(self.show_error)
        self.sampler_panel.sample_requested.connect(self._on_sampler_panel_sample_requested)
        self.sampler_panel.stop_requested.connect(s.cancel_sampling)
        self.reverse_view.sample_requested.connect(self.sample)
        self.reverse_view.load_model_requested.connect(self.choose_model)
        self.reverse_view.train_requested.connect(self._show_training)
        tp = self.training_panel
        if hasattr(tp, "model_changed"):
            tp.model_changed.connect(self._on_training_model_changed)
            tp.running_changed.connect(self._on_training_running_changed)
            tp.checkpoint_saved.connect(
                lambda path: self.statusBar().showMessage(f"Checkpoint saved: {path}", 8000))
            browser = self.input_panel.browser
            if browser is not None and hasattr(browser, "dataset_changed"):
                browser.dataset_changed.connect(tp.set_dataset)
        self._on_schedule_changed(s.schedule)
        self._on_input_changed("digit")

    # ------------------------------------------------------------------ actions
    @Slot()
    def sample(self) -> None:
        self._on_sampler_panel_sample_requested(self.sampler_panel.settings())

    @Slot(object)
    def _on_sampler_panel_sample_requested(self, settings: SamplerSettings) -> None:
        self.session.request_sampling(settings)

    @Slot()
    def choose_model(self) -> None:
        start = self.settings.value("paths/model_dir", "", type=str)
        path, _ = QFileDialog.getOpenFileName(self, "Load a model checkpoint", start,
                                              MODEL_FILTER)
        if path:
            self.settings.setValue("paths/model_dir", str(Path(path).parent))
            self.session.load_model_file(path)

    @Slot()
    def open_export(self) -> None:
        try:
            from ddpm_desktop.ui.export import ChainView
            from ddpm_desktop.ui.widgets.export_dialog import ExportDialog
        except ImportError as exc:
            self.show_error(f"Export is not available: {exc}")
            return
        f = self.session.forward
        forward = None
        if f.frames is not None:
            forward = ChainView(f.frames, "Forward  x₀ → x_T", f.kl_hist,
                                tuple(f"t = {t}" for t in range(f.T + 1)))
        reverse = None
        lanes = self.session.reverse.lanes
        if lanes and len(lanes[0]) > 1:
            import numpy as np

            lane = lanes[0]
            reverse = ChainView(np.stack(lane.x_t), "Reverse  x_T → x₀", np.asarray(lane.kl),
                                tuple(f"t = {t}" for t in lane.t))
        dialog = ExportDialog(self, controller=self.workers, settings=self.settings)
        dialog.set_chains(forward=forward, reverse=reverse)
        dialog.exported.connect(lambda path: self.statusBar().showMessage(f"Saved {path}", 8000))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.export_dialog = dialog

    @Slot()
    def _show_training(self) -> None:
        self.training_dock.show()
        self.training_dock.raise_()

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        applied = theme.apply_theme(app, name)
        self.settings.setValue("view/theme", applied)
        if applied in self.theme_actions:
            self.theme_actions[applied].setChecked(True)

    @Slot()
    def reset_layout(self) -> None:
        self.restoreState(self._default_state, _STATE_VERSION)
        for dock in (self.input_dock, self.schedule_dock, self.sampler_dock, self.training_dock):
            dock.show()
        self.sampler_dock.raise_()

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self, "About DDPM Desktop",
            f"<b>DDPM Desktop {__version__}</b><p>Watch a denoising diffusion model turn a "
            "digit into Gaussian noise and back: the forward chain q(x_t|x_{t-1}), the "
            "reverse chain p_θ(x_{t-1}|x_t), the pixel histogram against N(0, 1) and the "
            "KL between them.</p><p>Ho, Jain &amp; Abbeel 2020; Song et al. 2021 (DDIM); "
            "Lu et al. 2022 (DPM-Solver++).</p>")

    @Slot(str)
    def show_error(self, message: str) -> None:
        """A non-blocking warning box (never a crash, never a nested event loop)."""
        self.last_error = message
        if self._closing:
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
        set_schedule = getattr(self.training_panel, "set_schedule", None)
        if callable(set_schedule):
            set_schedule(schedule)

    @Slot(object)
    def _on_training_model_changed(self, model) -> None:
        """Use the network being trained unless a bundled/loaded model is in use."""
        m = self.session.model_state
        if model is not None and (not m.available or m.source == "trained here"):
            self.session.set_model(model, "trained here")

    @Slot(bool)
    def _on_training_running_changed(self, running: bool) -> None:
        self.statusBar().showMessage("Training…" if running else "Training stopped", 6000)

    @Slot(str)
    def _on_input_changed(self, _what: str) -> None:
        import numpy as np

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
        if m.available and not self._auto_sampled and not self._closing:
            self._auto_sampled = True  # show something alive on first load
            QTimer.singleShot(0, self.sample)

    @Slot(str)
    def _on_session_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 6000)

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
        if self._closing:
            return
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
    def _restore_model_settings(self) -> None:
        """Schedule, seed and sampler settings, before the views are built from them."""
        s = self.settings
        params = dict(kind=s.value("schedule/kind", "linear", type=str),
                      T=s.value("schedule/T", 1000, type=int),
                      beta_start=s.value("schedule/beta_start", 1e-4, type=float),
                      beta_end=s.value("schedule/beta_end", 0.02, type=float))
        try:
            self.session.schedule_state.set_params(**params)
        except ValueError:
            pass  # stale or hand-edited settings: keep the default schedule
        self.session.input_state.set_seed(s.value("input/seed", 0, type=int))
        start = s.value("input/start", "gaussian", type=str)
        try:
            self.session.input_state.set_start(start)
        except ValueError:
            pass
        defaults = SamplerSettings()
        label = s.value("sampler/label", -1, type=int)
        self.session.sampler_settings = SamplerSettings(
            sampler=s.value("sampler/method", defaults.sampler, type=str),
            steps=s.value("sampler/steps", defaults.steps, type=int),
            seed=s.value("sampler/seed", defaults.seed, type=int),
            label=None if label < 0 else label,
            guidance=s.value("sampler/guidance", defaults.guidance, type=float),
            source=s.value("sampler/source", defaults.source, type=str),
            t_start=s.value("sampler/t_start", defaults.t_start, type=int),
            compare=s.value("sampler/compare", defaults.compare, type=bool),
            sampler_b=s.value("sampler/method_b", defaults.sampler_b, type=str),
            eta=s.value("sampler/eta", defaults.eta, type=float),
        )

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry", QByteArray(), type=QByteArray)
        if geometry is not None and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = s.value("window/state", QByteArray(), type=QByteArray)
        if state is not None and not state.isEmpty():
            self.restoreState(state, _STATE_VERSION)
        self.forward_view.set_speed(s.value("playback/speed", 100, type=int))
        current = theme.THEMES[0]
        app = QApplication.instance()
        if app is not None and hasattr(app, "property"):
            current = app.property("ddpm_theme") or s.value("view/theme", "dark", type=str)
        if current in self.theme_actions:
            self.theme_actions[current].setChecked(True)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState(_STATE_VERSION))
        p = self.session.schedule_state.params
        s.setValue("schedule/kind", p["kind"])
        s.setValue("schedule/T", p["T"])
        s.setValue("schedule/beta_start", p["beta_start"])
        s.setValue("schedule/beta_end", p["beta_end"])
        s.setValue("input/seed", self.session.input_state.seed)
        s.setValue("input/start", self.session.input_state.start_name)
        st = self.sampler_panel.settings()
        s.setValue("sampler/method", st.sampler)
        s.setValue("sampler/steps", st.steps)
        s.setValue("sampler/seed", st.seed)
        s.setValue("sampler/label", -1 if st.label is None else st.label)
        s.setValue("sampler/guidance", st.guidance)
        s.setValue("sampler/source", st.source)
        s.setValue("sampler/t_start", st.t_start)
        s.setValue("sampler/compare", st.compare)
        s.setValue("sampler/method_b", st.sampler_b)
        s.setValue("sampler/eta", st.eta)
        s.setValue("playback/speed", self.forward_view.speed)
        s.sync()

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Stop playback, cancel and join every worker thread (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self.forward_view.pause()
        stop = getattr(self.training_panel, "shutdown", None)
        if callable(stop):
            try:
                stop()
            except Exception:  # noqa: BLE001 - closing must not fail
                pass
        dialog = getattr(self, "export_dialog", None)
        if dialog is not None:
            try:
                dialog.cancel_export()
            except RuntimeError:  # already deleted
                pass
        self.session.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        try:
            self.save_settings()
        finally:
            self.shutdown()
        super().closeEvent(event)
