"""The training area: start, pause, resume, stop, reset, save and load a run.

`Trainer(...)` (built by session.py as `session.trainer`; its `state`, a TrainingState, is
`session.training`, what the panel shows). The run itself is core work
(`core.training_run.TrainingRun`) iterated by the generic worker under the job name "training";
pause and resume are the worker's, save and schedule changes go to the running job through the
task's one request channel. What the panel shows lives in `state`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from typing import Callable

from PySide6.QtCore import QObject, SignalInstance, Slot

from ddpm_desktop.core import checkpoint, data, training
from ddpm_desktop.core.checkpoint import ModelSource
from ddpm_desktop.core.training_run import (
    CheckpointResult,
    RunStarted,
    SaveRequest,
    ScheduleRequest,
    Snapshot,
    TrainingRun,
    save_trainer,
    smoothed,
)
from ddpm_desktop.ui.session_live import BUNDLED_SOURCE
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import DeviceState, ModelState, ScheduleState
from ddpm_desktop.ui.training_state import TrainingState

TRAINING_JOB = "training"
TRAINED_HERE = ModelSource.TRAINED


def _fmt_threads(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"


def _run_progress(meta: dict) -> tuple[int, np.ndarray | None, int]:
    """(step, loss history rows [n, 2] or None, the run's total steps or 0) from a
    checkpoint's metadata; ValueError naming the field for anything unusable."""
    def whole(value, what: str) -> int:
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
            raise ValueError(f"its {what} is not a step count ({str(value)[:40]!r})")
        return value

    step = whole(meta.get("step"), "step")
    cfg = meta.get("train_config")
    total = whole(cfg.get("steps"), "train_config steps") if isinstance(cfg, dict) else 0
    history, rows = meta.get("loss_history"), None
    if isinstance(history, (list, tuple)) and history:
        try:
            rows = np.asarray(history, dtype=np.float64).reshape(-1, 2)
        except (ValueError, TypeError):
            raise ValueError("its loss history is not a list of (step, loss) pairs") from None
        if not np.isfinite(rows[:, 0]).all():
            raise ValueError("its loss history has steps that are not finite")
    return step, rows, total


class Trainer(QObject):
    def __init__(self, jobs: Jobs, schedule_state: ScheduleState, model_state: ModelState,
                 device_state: DeviceState, set_model: Callable[..., None],
                 checkpoint_saved: SignalInstance, error: SignalInstance,
                 parent: QObject | None = None) -> None:
        """set_model(model, source, meta=None): the session's, to use a network for sampling."""
        super().__init__(parent)
        self.jobs, self.schedule_state = jobs, schedule_state
        self.model_state, self.device_state = model_state, device_state
        self.set_model, self.checkpoint_saved, self.error = set_model, checkpoint_saved, error
        self.state = TrainingState(parent=self)
        self.model_config = training.TrainConfig().model
        self._task = None
        self._run: TrainingRun | None = None
        self._trainer: training.Trainer | None = None  # idle only: the run Start continues
        self._resume_path: str | None = None  # a checkpoint whose training state Start resumes
        self._browser_dataset: data.Dataset | None = None
        self._status = ""
        # The model source of a loaded checkpoint while it is the model in use: the panel's
        # "Loaded ..." and the resumable run are about that model only.
        self._loaded_checkpoint: str | None = None
        model_state.changed.connect(self._on_model_changed)
        schedule_state.changed.connect(self._on_schedule_changed)

    # -- inputs --------------------------------------------------------------------------------
    def set_browser_dataset(self, ds: data.Dataset) -> None:
        """Offer the data set the browser shows as a training set (and select it)."""
        self._browser_dataset = ds
        self.state.browser_dataset_name = ds.name
        self.state.update(dataset="browser")
        self.state.settings_changed.emit()

    def _config(self) -> training.TrainConfig:
        s = self.state.settings
        # The fast recipe (core.training.RECIPES) with the panel's steps, batch, learning rate
        # and model.
        return training.recipe(
            "fast", steps=s.steps, batch_size=s.batch_size, lr=float(s.lr), conditional=s.conditional,
            model=self.model_config, warmup_steps=min(200, max(1, s.steps // 4)))

    def _dataset_loader(self):
        spec = self.state.settings.dataset
        if spec == "browser" and self._browser_dataset is not None:
            ds = self._browser_dataset
            skipped = f" ({len(ds.skipped)} files skipped)" if ds.skipped else ""
            return (lambda: ds), ds.name + skipped
        spec = "mnist" if spec == "browser" else spec
        return (lambda: data.load_dataset(spec)), spec

    # -- run control ---------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._task is not None

    @property
    def run(self) -> TrainingRun | None:
        """The run the worker iterates (None when idle)."""
        return self._run

    def start(self) -> bool:
        """Start, or continue, training in the background; False if running or refused."""
        if self._task is not None or self.jobs.closing:
            return False
        try:
            config = self._config()
            device = self.device_state.device
        except ValueError as exc:
            self.error.emit(f"Cannot start training: {exc}", "")
            return False
        load_data, name = self._dataset_loader()
        trainer, resume_path = self._trainer, self._resume_path
        if trainer is not None and trainer.step >= config.steps:
            trainer = None  # that run is complete: a fresh one
        if trainer is not None:
            # continue in memory with the current totals, learning rate and conditioning
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
            self.state.clear_progress()
        self._trainer = None  # the worker owns it now
        self._loaded_checkpoint = None  # the run supersedes the checkpoint it may continue
        run = TrainingRun(make_trainer, self.schedule_state.schedule,
                          sample_every_s=self.state.settings.sample_every_s, dataset_name=name)
        task = self.jobs.start(TRAINING_JOB, run, rate_hz=20.0, items=self._on_items,
                               finished=self._on_finished, failed=self._on_failed,
                               failure="Training stopped")
        task.paused.connect(self._on_paused)
        self._task, self._run = task, run
        self.state.total_steps = config.steps
        self.state.set_phase("preparing", "Preparing the model and the data…")
        return True

    def pause(self) -> None:
        if self._task is not None and self.state.phase == "running":
            self._task.pause()
            self.state.set_phase("paused", "Pausing after this step…")

    def resume(self) -> None:
        if self._task is not None and self.state.phase == "paused":
            self._task.resume()
            self.state.set_phase("running", "Training…")

    def stop(self) -> None:
        """Ask the run to stop after the current step (non-blocking)."""
        if self._task is None or self.state.phase == "stopping":
            return
        self._task.stop()
        self.state.set_phase("stopping", "Stopping after this step…")

    def reset(self) -> None:
        """Forget the current run: the next Start begins afresh."""
        if self._task is not None:
            return
        self._trainer, self._resume_path = None, None
        self.state.clear_progress()
        self.state.set_snapshot(None)
        self.state.set_resumable(0, False)
        self.state.set_message("Idle: the next Start begins a new run")

    @Slot(object)
    def _on_schedule_changed(self, schedule) -> None:
        if self._task is not None:
            self._task.send(ScheduleRequest(schedule))

    # -- checkpoints ---------------------------------------------------------------------------
    def default_checkpoint_name(self) -> str:
        return f"ddpm_step{self.state.step}.safetensors"

    def save_checkpoint(self, path: str) -> bool:
        """Save the current run. While training the worker saves between two steps (the
        result arrives as a CheckpointResult); True means done or requested."""
        if self._task is not None:
            self._task.send(SaveRequest(str(path)))
            self.state.set_message("Saving the checkpoint after this step…")
            return True
        if self._trainer is None:
            self.error.emit("Nothing to save: train a model first.", "")
            return False
        return self._on_checkpoint_result(save_trainer(self._trainer, str(path)))

    def _on_checkpoint_result(self, result: CheckpointResult) -> bool:
        if result.error:
            self.state.set_message(f"Could not save the checkpoint: {result.error}")
            self.error.emit(f"Could not save the checkpoint: {result.error}", "")
            return False
        self.state.set_message(f"Saved {result.path} (step {result.step})")
        self.checkpoint_saved.emit(result.path)
        return True

    def load_checkpoint(self, path: str) -> bool:
        """Use a checkpoint's EMA weights now and, when its training state is beside it, let
        Start continue that run. The working model is kept if anything fails."""
        if self._task is not None:
            self.error.emit("Stop training before loading a checkpoint.", "")
            return False
        try:  # everything read and checked before the present run is dropped
            model, meta = checkpoint.load_model(path, device="cpu")
            try:
                step, rows, total = _run_progress(meta)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"'{Path(path).name}': {exc}") from None
        except (OSError, ValueError, TypeError, OverflowError) as exc:
            self.error.emit(f"Could not load the checkpoint: {' '.join(str(exc).split())}", "")
            return False
        self._trainer = None
        self.state.clear_progress()
        self.state.set_snapshot(None)
        self.state.step = step
        if rows is not None:
            self.state.add_history(rows[:, 0], rows[:, 1], smoothed(rows[:, 1]))
        self.state.step = step
        if checkpoint.state_path_for(path).is_file():
            self._resume_path = str(path)
            if total > step:
                self.state.update(steps=total)
            elif step >= self.state.settings.steps:
                self.state.update(steps=step + max(1000, step // 2))
            self.state.set_resumable(step, True)
            message = f"Loaded {Path(path).name} (step {step}); Start continues it"
        else:
            self._resume_path = None
            self.state.set_resumable(0, False)
            message = (f"Loaded the weights of {Path(path).name} (step {step}); its training "
                       "state is missing, so Start begins a new run")
        self.state.progress_changed.emit()
        self.state.set_message(message)
        self._loaded_checkpoint = Path(path).name
        from ddpm_desktop.core.snapshot import file_sha256

        self.set_model(model, Path(path).name, meta, str(Path(path).resolve()), file_sha256(path))
        return True

    @Slot()
    def _on_model_changed(self) -> None:
        """Another model replaced a loaded checkpoint (the bundled one, another file): the
        panel forgets the checkpoint's run, as Reset does, and says which model is in use."""
        m = self.model_state
        loaded = self._loaded_checkpoint
        if loaded is None or m.loading or self._task is not None or m.source == loaded:
            return
        self._loaded_checkpoint = None
        self._trainer, self._resume_path = None, None
        self.state.clear_progress()
        self.state.set_snapshot(None)
        self.state.set_resumable(0, False)
        using = "the bundled model" if m.source == BUNDLED_SOURCE else (m.source or "no model")
        self.state.set_message(f"Idle: using {using}; the next Start begins a new run")

    # -- from the worker -----------------------------------------------------------------------
    @Slot(list)
    def _on_items(self, items: list) -> None:
        progress = [it for it in items if isinstance(it, training.TrainProgress)]
        for it in items:
            if isinstance(it, RunStarted):
                if len(it.history) and not len(self.state.steps_seen):
                    self.state.add_history(it.history[:, 0], it.history[:, 1],
                                              it.smooth_history)
                self.state.total_steps = it.total_steps
                self._status = (
                    f"Training on {it.device} ({_fmt_threads(it.num_threads)}), "
                    f"{it.parameters / 1e6:.2f} M parameters, {it.dataset}"
                    + (f", from step {it.step}" if it.step else ""))
                if self.state.phase == "preparing":
                    self.state.set_phase("running", self._status)
            elif isinstance(it, Snapshot):
                self.state.set_snapshot(it)
                self._adopt_trained_model(it.model)
            elif isinstance(it, CheckpointResult):
                self._on_checkpoint_result(it)
        if progress:
            self.state.add_progress(progress)

    def _adopt_trained_model(self, model) -> None:
        """Use the network being trained unless a bundled or loaded model is in use."""
        m = self.model_state
        if not m.available or m.source == TRAINED_HERE:
            self.set_model(model, TRAINED_HERE)

    @Slot(bool)
    def _on_paused(self, paused: bool) -> None:
        if paused and self.state.phase == "paused":
            self.state.set_message(f"Paused at step {self.state.step}")

    def _on_failed(self, message: str, _details: str) -> None:
        self.state.set_message(f"Training stopped: {message}")

    @Slot(bool)
    def _on_finished(self, completed: bool) -> None:
        run = self._run
        stopped = self.state.phase == "stopping"
        self._task, self._run = None, None
        trainer = run.trainer if run is not None else None
        self._trainer = trainer
        if trainer is None:
            self.state.set_resumable(0, self._resume_path is not None)
            self.state.set_phase("idle", "Stopped" if not completed else "Finished")
            return
        # The thread is done with the trainer: ours again. Items of the last steps may still
        # be held by the throttle; the trainer's own history has them all.
        seen = self.state.steps_seen[-1] if len(self.state.steps_seen) else 0
        missing = [(s, v) for s, v in trainer.loss_history if s > seen]
        if missing:
            rows = np.asarray(missing, dtype=np.float64)
            full = smoothed([v for _, v in trainer.loss_history])
            self.state.add_history(rows[:, 0], rows[:, 1], full[-len(rows):])
        self._resume_path = None  # the in-memory run supersedes the checkpoint
        if stopped:  # no final snapshot was drawn: hand over the EMA now
            self._adopt_trained_model(training.copy_for_inference(trainer.ema))
        resumable = trainer.step if trainer.step < self.state.settings.steps else 0
        self.state.set_resumable(resumable, True)
        self.state.set_phase(
            "idle", f"{'Finished' if completed else 'Stopped'} at step {trainer.step}")
