"""Train the diffusion network in the background and watch it learn.

Public API (for the main window)
--------------------------------
``TrainingPanel(parent=None, controller=None, settings=None, dataset=None,
                model_config=None, schedule=None)``  (QWidget)
    ``controller``: the window's ``ui.controller.WorkerController``; training runs there as
    the job named "training" (so the window's ``shutdown()`` stops it). None: the panel
    makes and owns one. ``settings``: a QSettings (default ``QSettings()``), keys
    ``training/dataset``, ``training/batch_size``, ``training/steps``, ``training/lr``,
    ``training/device``, ``training/conditional``, ``training/sample_every_s``,
    ``training/last_dir``. ``dataset``: a ``core.data.Dataset`` to train on (else the
    dataset picked in the panel, bundled MNIST by default). ``model_config``: the
    ``core.model.ModelConfig`` of new runs (default: ``TrainConfig().model``).
    ``schedule``: the ``core.schedule.NoiseSchedule`` the sample grid is drawn under
    (default linear, T = 1000).
    signals
        ``model_changed(object)``  a CPU copy of the EMA network (``core.model.UNet``, eval,
            no grad; never touched again by training) after every sample refresh, at the end
            of a run, after Stop, and after loading a checkpoint.
        ``running_changed(bool)``  training started / ended (Stop, done, error).
        ``checkpoint_saved(str)``  the .safetensors path written.
    slots / methods
        ``set_dataset(ds)`` (e.g. from DatasetBrowser.dataset_changed; used by the next
        Start), ``set_schedule(schedule)`` (used by the next sample refresh),
        ``start()``, ``pause()``, ``resume()``, ``stop()`` (non-blocking; the thread ends
        after the current step), ``reset()`` (forget the current run),
        ``save_checkpoint(path) -> bool``, ``load_checkpoint(path) -> bool``,
        ``is_running()``, ``is_paused()``, ``shutdown()`` (stop, quit and join; call it from
        the window's closeEvent).
    Start continues the current run (after Stop, or from a loaded checkpoint with its
    ``.state.pt``) while it has steps left, taking the panel's steps, batch size, learning
    rate and conditioning but keeping the run's model, dataset and device; Reset makes the
    next Start a fresh run.

How the thread works: ``TrainingSession`` is the job. In the worker thread it builds the
``core.training.Trainer`` (so a large dataset or model never blocks the GUI), sets torch's
CPU threads (1 on machines with <= 2 cores, else ``core.training.choose_num_threads``
measured on up to cores - 1, leaving one for the GUI; restored afterwards), iterates
``Trainer.iter_training(stop)`` and, between steps, handles pause (waits on an Event),
checkpoint requests and, every ``sample_every_s`` seconds, draws 10 samples (one per class
when conditional) from a CPU copy of the EMA model with DPM-Solver++(2M) in 15 steps from a
fixed noise, so the grid shows the same digits getting sharper. The generic
``GeneratorWorker`` throttles what it yields to 20 emits a second.
"""
from __future__ import annotations

import dataclasses
import math
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QSettings, Qt, Signal, Slot
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
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_desktop.core import checkpoint, data, imaging, sampling, training
from ddpm_desktop.core.model import ModelConfig, UNet
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.controller import WorkerController

JOB_NAME = "training"
SAMPLE_STEPS = 15
SAMPLE_SEED = 20240611
PAUSE_HEARTBEAT_S = 0.2
DATASETS = (("MNIST train (bundled)", "mnist"), ("MNIST all (bundled)", "mnist-all"),
            ("Fashion-MNIST", "fashion"))


# ----------------------------------------------------------------------------- items


@dataclass(frozen=True)
class TrainingStarted:
    step: int
    total_steps: int
    device: str
    num_threads: int
    parameters: int
    dataset: str
    history: np.ndarray  # float64 [n, 2]: (step, loss) of the run so far (resumed runs)


@dataclass(frozen=True)
class TrainingPaused:
    step: int


@dataclass(frozen=True)
class Snapshot:
    """Samples from the EMA model at ``step``: images float32 [N, 28, 28] in [-1, 1];
    ``model`` is the CPU copy they came from (handed over, never used by training again)."""

    step: int
    images: np.ndarray
    labels: tuple[int, ...] | None
    model: UNet


@dataclass(frozen=True)
class CheckpointResult:
    path: str
    error: str | None = None


# ----------------------------------------------------------------------------- the job


def draw_samples(model: UNet, schedule: NoiseSchedule, conditional: bool,
                 n: int = 10, steps: int = SAMPLE_STEPS, seed: int = SAMPLE_SEED) -> np.ndarray:
    """n samples (labels 0..n-1 when conditional) with DPM-Solver++(2M) from a fixed noise."""
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn((n, 1, 28, 28), generator=g)
    labels = torch.arange(n) % model.config.num_classes if conditional else None
    eps_fn = sampling.make_eps_fn(model, schedule, labels=labels, guidance=1.0)
    last = None
    for last in sampling.iter_dpmpp_2m(eps_fn, schedule, x_T, steps=steps):
        pass
    return last.x_t[:, 0].numpy().astype(np.float32).copy()


def pick_num_threads(cores: int | None = None) -> int:
    """CPU threads for training: 1 on <= 2 cores (the GUI needs the other), else the
    fastest count core.training measures among those leaving one core free."""
    cores = cores or os.cpu_count() or 1
    if cores <= 2:
        return 1
    candidates = sorted({1, 2, min(4, cores - 1), cores - 1})
    best, _ = training.choose_num_threads(candidates)
    return int(best)


class TrainingSession:
    """One run: ``session(cancel_event)`` is the generator a WorkerController iterates.

    ``make_trainer`` is called in the worker thread (the Trainer is built there); the
    trainer is kept on ``self.trainer`` and must only be touched by the GUI thread after
    the worker has finished. ``pause()``/``resume()`` and ``request_save(path)`` are
    thread-safe.
    """

    def __init__(self, make_trainer: Callable[[], training.Trainer], schedule: NoiseSchedule,
                 sample_every_s: float = 10.0, num_threads: int | None = None,
                 dataset_name: str = "") -> None:
        self._make_trainer = make_trainer
        self.schedule = schedule
        self.sample_every_s = float(sample_every_s)
        self.num_threads = num_threads
        self.dataset_name = dataset_name
        self.trainer: training.Trainer | None = None
        self._resume = threading.Event()
        self._resume.set()
        self._requests: queue.SimpleQueue[str] = queue.SimpleQueue()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def is_paused(self) -> bool:
        return not self._resume.is_set()

    def request_save(self, path: str) -> None:
        self._requests.put(str(path))

    def _handle_requests(self, trainer: training.Trainer) -> Iterator[CheckpointResult]:
        while True:
            try:
                path = self._requests.get_nowait()
            except queue.Empty:
                return
            yield save_trainer(trainer, path)

    def _snapshot(self, trainer: training.Trainer) -> Snapshot:
        model = training.copy_for_inference(trainer.ema)
        conditional = trainer.config.conditional and trainer.has_labels
        images = draw_samples(model, self.schedule, conditional)
        return Snapshot(trainer.step, images, tuple(range(10)) if conditional else None, model)

    def __call__(self, cancel: threading.Event) -> Iterator[object]:
        before = torch.get_num_threads()
        try:
            trainer = self.trainer if self.trainer is not None else self._make_trainer()
            self.trainer = trainer
            threads = torch.get_num_threads()
            if trainer.device.type == "cpu":
                threads = self.num_threads or pick_num_threads()
                torch.set_num_threads(threads)
            yield TrainingStarted(trainer.step, trainer.config.steps, str(trainer.device),
                                  threads, sum(p.numel() for p in trainer.model.parameters()),
                                  self.dataset_name,
                                  np.array(trainer.loss_history, dtype=np.float64).reshape(-1, 2))
            last_sample = time.monotonic()
            for progress in trainer.iter_training(stop=cancel):
                yield progress
                yield from self._handle_requests(trainer)
                while not self._resume.is_set():
                    # heartbeats while paused: they flush held-back items to the GUI
                    yield TrainingPaused(trainer.step)
                    self._resume.wait(PAUSE_HEARTBEAT_S)
                    if cancel.is_set():
                        return
                    yield from self._handle_requests(trainer)
                if (time.monotonic() - last_sample >= self.sample_every_s
                        and not progress.done and not cancel.is_set()):
                    yield self._snapshot(trainer)
                    last_sample = time.monotonic()
            if not cancel.is_set():
                yield from self._handle_requests(trainer)
                yield self._snapshot(trainer)
        finally:
            torch.set_num_threads(before)


def save_trainer(trainer: training.Trainer, path: str) -> CheckpointResult:
    try:
        p = Path(path).expanduser()
        if not p.parent.is_dir():
            raise OSError(f"cannot write '{p}': the folder '{p.parent}' does not exist")
        checkpoint.save_checkpoint(p, trainer)
    except (OSError, ValueError) as exc:
        return CheckpointResult(str(path), " ".join(str(exc).split()) or type(exc).__name__)
    return CheckpointResult(str(p))


# ----------------------------------------------------------------------------- plots


def _gray_pixmap(u8: np.ndarray, zoom: int) -> QPixmap:
    a = np.ascontiguousarray(u8)
    h, w = a.shape
    img = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(img).scaled(w * zoom, h * zoom, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.FastTransformation)


def _fmt_duration(s: float) -> str:
    if not math.isfinite(s):
        return "–"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class TrainingPanel(QWidget):
    """Controls, live curves and a sample grid for training (see the module docstring)."""

    model_changed = Signal(object)
    running_changed = Signal(bool)
    checkpoint_saved = Signal(str)

    def __init__(self, parent: QWidget | None = None, controller: WorkerController | None = None,
                 settings: QSettings | None = None, dataset: data.Dataset | None = None,
                 model_config: ModelConfig | None = None,
                 schedule: NoiseSchedule | None = None) -> None:
        super().__init__(parent)
        self._own_controller = controller is None
        self.controller = controller if controller is not None else WorkerController(self)
        self._settings = settings if settings is not None else QSettings()
        self._model_config = model_config or training.TrainConfig().model
        self._schedule = schedule or NoiseSchedule.named("linear", 1000)
        self._external_dataset = dataset
        self._session: TrainingSession | None = None
        self._task = None
        self._trainer: training.Trainer | None = None  # idle only: the run Start continues
        self._resume_path: str | None = None  # a checkpoint whose state Start resumes
        self._resume_step = 0
        self._paused = False
        self._stopping = False
        self.num_threads: int | None = None  # None: pick_num_threads()
        self.steps_seen: list[int] = []
        self.losses: list[float] = []
        self.losses_smooth: list[float] = []
        self.last_progress: training.TrainProgress | None = None
        self.last_snapshot: Snapshot | None = None
        self._build_ui()
        self._update_buttons()

    # ---- UI --------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        s = self._settings
        self.dataset_combo = QComboBox()
        if self._external_dataset is not None:
            self.dataset_combo.addItem(f"{self._external_dataset.name} (browser)", "external")
        for text, spec in DATASETS:
            self.dataset_combo.addItem(text, spec)
        i = self.dataset_combo.findData(s.value("training/dataset", "mnist", type=str))
        if self._external_dataset is None and i >= 0:
            self.dataset_combo.setCurrentIndex(i)
        self.batch_spin = QSpinBox(minimum=1, maximum=4096)
        self.batch_spin.setValue(s.value("training/batch_size", 64, type=int))
        self.steps_spin = QSpinBox(minimum=1, maximum=10_000_000, singleStep=500)
        self.steps_spin.setValue(s.value("training/steps", 5000, type=int))
        self.lr_spin = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=0.5, singleStep=1e-4)
        self.lr_spin.setValue(s.value("training/lr", 2e-3, type=float))
        self.device_combo = QComboBox()
        self.device_combo.addItem("auto", "auto")
        self.device_combo.addItem("CPU", "cpu")
        if torch.cuda.is_available():
            self.device_combo.addItem("CUDA", "cuda")
        i = self.device_combo.findData(s.value("training/device", "auto", type=str))
        self.device_combo.setCurrentIndex(max(i, 0))
        self.conditional_check = QCheckBox("Class-conditional (classifier-free guidance)")
        self.conditional_check.setChecked(s.value("training/conditional", True, type=bool))
        self.sample_spin = QSpinBox(minimum=1, maximum=3600, suffix=" s")
        self.sample_spin.setValue(s.value("training/sample_every_s", 10, type=int))
        self.sample_spin.setToolTip("Refresh the sample grid (and the model) this often")

        form = QFormLayout()
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("", self.conditional_check)
        form.addRow("Samples every", self.sample_spin)
        self.steps_spin.valueChanged.connect(self._update_buttons)
        self._inputs = [self.dataset_combo, self.batch_spin, self.lr_spin, self.device_combo,
                        self.conditional_check]

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the current run: the next Start begins afresh")
        self.reset_button.clicked.connect(self.reset)
        self.save_button = QPushButton("Save checkpoint…")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.load_button = QPushButton("Load checkpoint…")
        self.load_button.clicked.connect(self._on_load_clicked)
        buttons = QGridLayout()
        for k, b in enumerate((self.start_button, self.pause_button, self.stop_button,
                               self.reset_button, self.save_button, self.load_button)):
            buttons.addWidget(b, k // 3, k % 3)

        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m steps")
        self.status_label = QLabel("Idle")
        self.status_label.setWordWrap(True)
        self.loss_label = QLabel("loss –")
        self.speed_label = QLabel("– img/s")
        self.eta_label = QLabel("time left –")
        stats = QHBoxLayout()
        for w in (self.loss_label, self.speed_label, self.eta_label):
            stats.addWidget(w)

        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "loss")
        self.loss_plot.setMinimumHeight(140)
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_plot.setDownsampling(auto=True, mode="peak")
        self.loss_plot.setClipToView(True)
        # Thousands of points: no antialiasing (per curve; the app-wide setting stays).
        self.raw_curve = self.loss_plot.plot(pen=pg.mkPen((120, 150, 200, 90)), name="loss",
                                             antialias=False)
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen((255, 160, 40), width=2),
                                                name="smoothed")
        self.level_plot = pg.PlotWidget()
        self.level_plot.setLabel("bottom", "log-SNR λ")
        self.level_plot.setLabel("left", "loss")
        self.level_plot.setMinimumHeight(110)
        edges = training.LEVEL_EDGES
        width = float(edges[1] - edges[0])
        self._level_x = np.concatenate([[edges[0] - width / 2], (edges[:-1] + edges[1:]) / 2,
                                        [edges[-1] + width / 2]])
        self.level_bars = pg.BarGraphItem(x=self._level_x, height=np.zeros_like(self._level_x),
                                          width=width * 0.85, brush=(90, 140, 220))
        self.level_plot.addItem(self.level_bars)

        self.samples_label = QLabel("Samples appear here while the model learns")
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_label.setMinimumHeight(2 * 30 * 2 + 8)
        samples_box = QGroupBox("Samples from the EMA model (one per class)")
        QVBoxLayout(samples_box).addWidget(self.samples_label)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addLayout(stats)
        layout.addWidget(self.status_label)
        layout.addWidget(self.loss_plot, 2)
        layout.addWidget(self.level_plot, 1)
        layout.addWidget(samples_box)

    @Slot()
    def _update_buttons(self) -> None:
        if not hasattr(self, "start_button"):
            return
        running = self._task is not None
        idle = not running
        for w in self._inputs:
            w.setEnabled(idle)
        self.steps_spin.setEnabled(idle)
        self.sample_spin.setEnabled(True)
        self.start_button.setEnabled(idle)
        self.pause_button.setEnabled(running and not self._stopping)
        self.pause_button.setText("Resume" if self._paused else "Pause")
        self.stop_button.setEnabled(running and not self._stopping)
        self.reset_button.setEnabled(idle and (self._trainer is not None
                                               or self._resume_path is not None))
        self.save_button.setEnabled((running and not self._stopping) or self._trainer is not None)
        self.load_button.setEnabled(idle)
        resumable = self._resumable_step()
        self.start_button.setText(f"Continue from step {resumable}" if resumable else "Start")

    def _resumable_step(self) -> int:
        if self._task is not None:
            return 0
        if self._trainer is not None and 0 < self._trainer.step < self.steps_spin.value():
            return self._trainer.step
        if self._resume_path is not None:
            return self._resume_step
        return 0

    # ---- state -----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._task is not None

    def is_paused(self) -> bool:
        return self._paused

    @Slot(object)
    def set_dataset(self, ds: data.Dataset) -> None:
        """Train the next run on ``ds`` (e.g. the dataset the browser shows)."""
        self._external_dataset = ds
        i = self.dataset_combo.findData("external")
        if i < 0:
            self.dataset_combo.insertItem(0, "", "external")
            i = 0
        self.dataset_combo.setItemText(i, f"{ds.name} (browser)")
        self.dataset_combo.setCurrentIndex(i)

    @Slot(object)
    def set_schedule(self, schedule: NoiseSchedule) -> None:
        self._schedule = schedule
        if self._session is not None:
            self._session.schedule = schedule  # read by the worker at its next refresh

    def _config(self) -> training.TrainConfig:
        return training.TrainConfig(
            steps=self.steps_spin.value(), batch_size=self.batch_spin.value(),
            lr=float(self.lr_spin.value()), conditional=self.conditional_check.isChecked(),
            model=self._model_config,
            warmup_steps=min(200, max(1, self.steps_spin.value() // 10)))

    def _dataset_source(self) -> tuple[Callable[[], data.Dataset], str]:
        spec = self.dataset_combo.currentData()
        if spec == "external" and self._external_dataset is not None:
            ds = self._external_dataset
            return (lambda: ds), ds.name
        spec = spec if spec != "external" else "mnist"
        return (lambda: data.load_dataset(spec)), self.dataset_combo.currentText()

    # ---- run control ----------------------------------------------------------------------
    @Slot()
    def start(self) -> bool:
        """Start (or continue) training on the worker thread; False if already running."""
        if self._task is not None:
            return False
        try:
            config = self._config().validated()
            device = self.device_combo.currentData()
            training.resolve_device(device)
        except ValueError as exc:
            self._show_error("Cannot start training", str(exc))
            return False
        load_data, name = self._dataset_source()
        trainer, resume_path = self._trainer, self._resume_path
        if trainer is not None and trainer.step >= config.steps:
            trainer = None  # that run is complete: a fresh one
        if trainer is not None:
            # continue in memory with the panel's current totals and learning rate
            trainer.config = dataclasses.replace(
                trainer.config, steps=config.steps, batch_size=config.batch_size,
                lr=config.lr, conditional=config.conditional)

            def make_trainer(t=trainer):
                return t
        elif resume_path is not None:
            def make_trainer():
                return checkpoint.load_trainer(resume_path, load_data(), device=device,
                                               steps=config.steps, lr=config.lr,
                                               batch_size=config.batch_size,
                                               conditional=config.conditional)
        else:
            def make_trainer():
                return training.Trainer(config, load_data(), device=device)
        if trainer is None and resume_path is None:
            self._clear_curves()
        self._trainer = None  # the worker owns it now
        self._session = TrainingSession(make_trainer, self._schedule,
                                        sample_every_s=self.sample_spin.value(),
                                        num_threads=self.num_threads, dataset_name=name)
        self._session.sample_every_s = float(self.sample_spin.value())
        self._task = self.controller.start(JOB_NAME, self._session, rate_hz=20.0)
        self._task.items.connect(self._on_task_items)
        self._task.failed.connect(self._on_task_failed)
        # The worker's own finished (not the task's, which goes quiet on cancel) tells us
        # when the thread is done with the trainer, after Stop too.
        self._task.worker.finished.connect(self._on_worker_finished)
        self._paused = self._stopping = False
        self.progress_bar.setRange(0, config.steps)
        self.status_label.setText("Preparing the model and the data…")
        self._remember()
        self._update_buttons()
        self.running_changed.emit(True)
        return True

    @Slot()
    def pause(self) -> None:
        if self._session is not None and self._task is not None and not self._paused:
            self._session.pause()
            self._paused = True
            self.status_label.setText("Pausing after this step…")
            self._update_buttons()

    @Slot()
    def resume(self) -> None:
        if self._session is not None and self._paused:
            self._session.resume()
            self._paused = False
            self.status_label.setText("Training…")
            self._update_buttons()

    @Slot()
    def _on_pause_clicked(self) -> None:
        self.resume() if self._paused else self.pause()

    @Slot()
    def stop(self) -> None:
        """Ask the run to stop after the current step (non-blocking)."""
        if self._task is None or self._stopping:
            return
        self._stopping = True
        self.controller.cancel(JOB_NAME)  # sets the stop event; the trainer returns
        self._session.resume()
        self.status_label.setText("Stopping after this step…")
        self._update_buttons()

    @Slot()
    def reset(self) -> None:
        if self._task is not None:
            return
        self._trainer = None
        self._resume_path = None
        self._resume_step = 0
        self._clear_curves()
        self.status_label.setText("Idle: the next Start begins a new run")
        self._update_buttons()

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop training and join the thread (closeEvent)."""
        task = self._task
        if task is not None:
            self._stopping = True
            task.cancel()
            if self._session is not None:
                self._session.resume()
            task.join(timeout_ms)
            self._on_worker_finished(False)
        if self._own_controller:
            self.controller.shutdown(timeout_ms)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    # ---- from the worker --------------------------------------------------------------------
    @Slot(list)
    def _on_task_items(self, items: list) -> None:
        if self.sender() is not self._task:
            return
        progress = [it for it in items if isinstance(it, training.TrainProgress)]
        if progress:
            self._add_progress(progress)
        for it in items:
            if isinstance(it, TrainingStarted):
                if not self.steps_seen and len(it.history):
                    self._extend_curves(it.history)
                self.progress_bar.setRange(0, it.total_steps)
                self.progress_bar.setValue(it.step)
                self.status_label.setText(
                    f"Training on {it.device} ({it.num_threads} thread"
                    f"{'s' if it.num_threads != 1 else ''}), {it.parameters / 1e6:.2f} M "
                    f"parameters, {it.dataset}" + (f", from step {it.step}" if it.step else ""))
                self._start_status = self.status_label.text()
            elif isinstance(it, TrainingPaused):
                if self._paused:
                    self.status_label.setText(f"Paused at step {it.step}")
            elif isinstance(it, Snapshot):
                self._show_snapshot(it)
            elif isinstance(it, CheckpointResult):
                self._on_checkpoint_result(it)
        if progress and not self._paused and not self._stopping:
            self.status_label.setText(getattr(self, "_start_status", "Training…"))

    def _add_progress(self, progress: list) -> None:
        for p in progress:
            self.steps_seen.append(p.step)
            self.losses.append(p.loss)
            self.losses_smooth.append(p.loss_smooth)
        last = progress[-1]
        self.last_progress = last
        x = np.asarray(self.steps_seen, dtype=np.float64)
        self.raw_curve.setData(x, np.maximum(np.asarray(self.losses), 1e-8))
        self.smooth_curve.setData(x, np.maximum(np.asarray(self.losses_smooth), 1e-8))
        heights = np.nan_to_num(np.asarray(last.loss_by_level, dtype=np.float64), nan=0.0)
        self.level_bars.setOpts(height=heights)
        self.progress_bar.setMaximum(last.total_steps)
        self.progress_bar.setValue(last.step)
        self.loss_label.setText(f"loss {last.loss_smooth:.4f}")
        self.speed_label.setText(f"{last.images_per_second:.0f} img/s")
        self.eta_label.setText(f"time left {_fmt_duration(last.eta_s)}")

    def _extend_curves(self, history: np.ndarray) -> None:
        """Append (step, loss) rows, smoothing as core.training does (EMA 0.98)."""
        sm = self.losses_smooth[-1] if self.losses_smooth else float("nan")
        for st, lo in history:
            sm = lo if math.isnan(sm) else 0.98 * sm + 0.02 * lo
            self.steps_seen.append(int(st))
            self.losses.append(float(lo))
            self.losses_smooth.append(float(sm))
        x = np.asarray(self.steps_seen, dtype=np.float64)
        self.raw_curve.setData(x, np.maximum(np.asarray(self.losses), 1e-8))
        self.smooth_curve.setData(x, np.maximum(np.asarray(self.losses_smooth), 1e-8))

    def _clear_curves(self) -> None:
        self.steps_seen, self.losses, self.losses_smooth = [], [], []
        self.raw_curve.setData([], [])
        self.smooth_curve.setData([], [])
        self.level_bars.setOpts(height=np.zeros_like(self._level_x))
        self.last_progress = None

    def _show_snapshot(self, snap: Snapshot) -> None:
        self.last_snapshot = snap
        grid = imaging.make_grid(imaging.to_uint8(snap.images), nrow=10, pad=2)
        self.samples_label.setPixmap(_gray_pixmap(grid, 2))
        self.samples_label.setToolTip(f"EMA samples at step {snap.step} "
                                      f"(DPM-Solver++ {SAMPLE_STEPS} steps)")
        self.model_changed.emit(snap.model)

    @Slot(str)
    def _on_task_failed(self, message: str) -> None:
        if self.sender() is not self._task:
            return
        self._show_error("Training stopped", message)

    @Slot(bool)
    def _on_worker_finished(self, completed: bool) -> None:
        if self._task is None:
            return
        session = self._session
        self._task = None
        self._session = None
        self._paused = False
        stopped = self._stopping
        self._stopping = False
        trainer = session.trainer if session is not None else None
        self._trainer = trainer
        if trainer is not None:
            # the last steps' items are dropped once a task is cancelled; the trainer
            # (ours again now that the thread is done) has them all
            seen = self.steps_seen[-1] if self.steps_seen else 0
            missing = [(st, lo) for st, lo in trainer.loss_history if st > seen]
            if missing:
                self._extend_curves(np.asarray(missing, dtype=np.float64))
                self.progress_bar.setValue(trainer.step)
            self._resume_path = None  # the in-memory run supersedes the checkpoint
            if stopped:  # no final snapshot was drawn in the worker: hand over the EMA now
                self.model_changed.emit(training.copy_for_inference(trainer.ema))
            self.status_label.setText(
                f"{'Finished' if completed else 'Stopped'} at step {trainer.step}")
        elif not completed:
            self.status_label.setText("Stopped")
        self._update_buttons()
        self.running_changed.emit(False)

    # ---- checkpoints -----------------------------------------------------------------------
    def _last_dir(self) -> str:
        d = self._settings.value("training/last_dir", "", type=str)
        return d if d and Path(d).is_dir() else str(Path.home())

    @Slot()
    def _on_save_clicked(self) -> None:
        step = self.last_progress.step if self.last_progress else 0
        start = str(Path(self._last_dir()) / f"ddpm_step{step}.safetensors")
        path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint", start,
                                              "Checkpoints (*.safetensors)")
        if path:
            if not path.endswith(".safetensors"):
                path += ".safetensors"
            self.save_checkpoint(path)

    def save_checkpoint(self, path: str) -> bool:
        """Save the current run. While training, the worker saves between two steps
        (result in the status line / a message box; True means requested)."""
        if self._task is not None and self._session is not None:
            self._session.request_save(path)
            self.status_label.setText("Saving the checkpoint after this step…")
            return True
        if self._trainer is None:
            self._show_error("Nothing to save", "train a model first")
            return False
        return self._on_checkpoint_result(save_trainer(self._trainer, path))

    def _on_checkpoint_result(self, result: CheckpointResult) -> bool:
        if result.error:
            self._show_error("Could not save the checkpoint", result.error)
            return False
        self._settings.setValue("training/last_dir", str(Path(result.path).parent))
        self.status_label.setText(f"Saved {result.path}")
        self.checkpoint_saved.emit(result.path)
        return True

    @Slot()
    def _on_load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", self._last_dir(),
                                              "Checkpoints (*.safetensors)")
        if path:
            self.load_checkpoint(path)

    def load_checkpoint(self, path: str) -> bool:
        """Use a checkpoint's EMA weights now (model_changed) and, when its training state
        is beside it, let Start continue that run. Errors go to a message box."""
        if self._task is not None:
            return False
        try:
            model, meta = checkpoint.load_model(path, device="cpu")
        except (OSError, ValueError) as exc:
            self._show_error("Could not load the checkpoint", str(exc))
            return False
        self._settings.setValue("training/last_dir", str(Path(path).parent))
        step = int(meta.get("step", 0) or 0)
        self._trainer = None
        self._clear_curves()
        if checkpoint.state_path_for(path).is_file():
            self._resume_path, self._resume_step = str(path), step
            cfg = meta.get("train_config") or {}
            if isinstance(cfg, dict) and int(cfg.get("steps", 0)) > step:
                self.steps_spin.setValue(int(cfg["steps"]))
            elif step >= self.steps_spin.value():
                self.steps_spin.setValue(step + max(1000, step // 2))
            self.status_label.setText(f"Loaded {Path(path).name} (step {step}); Start continues it")
        else:
            self._resume_path, self._resume_step = None, 0
            self.status_label.setText(f"Loaded the weights of {Path(path).name}; its training "
                                      "state is missing, so Start begins a new run")
        self._update_buttons()
        self.model_changed.emit(model)
        return True

    # ---- misc -------------------------------------------------------------------------------
    def _remember(self) -> None:
        s = self._settings
        spec = self.dataset_combo.currentData()
        if spec != "external":
            s.setValue("training/dataset", spec)
        s.setValue("training/batch_size", self.batch_spin.value())
        s.setValue("training/steps", self.steps_spin.value())
        s.setValue("training/lr", float(self.lr_spin.value()))
        s.setValue("training/device", self.device_combo.currentData())
        s.setValue("training/conditional", self.conditional_check.isChecked())
        s.setValue("training/sample_every_s", self.sample_spin.value())

    def _show_error(self, title: str, message: str) -> None:
        self.status_label.setText(f"{title}: {message}")
        QMessageBox.warning(self, title, message)
