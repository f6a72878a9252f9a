"""A training session as one core job: the Trainer's steps, sample grids, checkpoint requests.

`TrainingRun(make_trainer, schedule, ...)` is what the app's background worker iterates
(`run(cancel_event)` is a generator) and what a headless caller can iterate too. It yields, in
order: one `RunStarted`, then a `core.training.TrainProgress` per optimizer step, with a
`Snapshot` every `sample_every_s` seconds and at the end of a completed run. Pausing is the
consumer's business (it simply stops asking for the next item); `handle(request)` serves
requests between two steps in the thread that iterates:

- `SaveRequest(path)` -> `CheckpointResult` (weights + training state, atomic);
- `ScheduleRequest(schedule)` -> None (the next sample grids use it);
- `SnapshotRequest()` -> `Snapshot` now.

The trainer is built by `make_trainer()` inside the iterating thread (a large data set or
model never blocks the caller) and kept on `self.trainer`; once the iteration has ended the
caller owns it again (to continue the run, save it, or read its loss history).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from . import checkpoint, sampling, training
from .imaging import IMAGE_SHAPE
from .model import UNet
from .schedule import NoiseSchedule

SAMPLE_STEPS = 15
SAMPLE_SEED = 20240611
SAMPLE_COUNT = 10


@dataclass(frozen=True)
class RunStarted:
    step: int
    total_steps: int
    device: str
    num_threads: int
    parameters: int
    dataset: str
    history: np.ndarray  # float64 [n, 2]: (step, loss) of the run so far (a resumed run's)
    smooth_history: np.ndarray  # float64 [n]: core's smoothed loss at those steps


@dataclass(frozen=True)
class Snapshot:
    """Samples from the EMA model at `step`: images float32 [N, 28, 28] in [-1, 1]; `model` is
    the CPU copy they came from (handed over, never used by training again)."""

    step: int
    images: np.ndarray
    labels: tuple[int, ...] | None
    model: UNet


@dataclass(frozen=True)
class CheckpointResult:
    path: str
    step: int
    error: str | None = None


@dataclass(frozen=True)
class SaveRequest:
    path: str


@dataclass(frozen=True)
class ScheduleRequest:
    schedule: NoiseSchedule


@dataclass(frozen=True)
class SnapshotRequest:
    pass


def smoothed(losses, decay: float = training.LOSS_SMOOTHING) -> np.ndarray:
    """The smoothed loss curve as `Trainer` computes it step by step (an EMA with `decay`,
    starting at the first loss), for a loss history read back from a checkpoint."""
    out = np.empty(len(losses), dtype=np.float64)
    s = float("nan")
    for i, v in enumerate(losses):
        s = float(v) if np.isnan(s) else decay * s + (1.0 - decay) * float(v)
        out[i] = s
    return out


def draw_samples(model: UNet, schedule: NoiseSchedule, conditional: bool,
                 n: int = SAMPLE_COUNT, steps: int = SAMPLE_STEPS,
                 seed: int = SAMPLE_SEED) -> np.ndarray:
    """n samples (labels 0..n-1 when conditional) with DPM-Solver++(2M) from one fixed noise,
    so successive grids show the same digits getting sharper. float32 [n, 28, 28]."""
    x_T = torch.randn((n, 1, *IMAGE_SHAPE), generator=sampling.generator_for(seed))
    labels = torch.arange(n) % model.config.num_classes if conditional else None
    eps_fn = sampling.make_eps_fn(model, schedule, labels=labels, guidance=1.0)
    last = None
    for last in sampling.iter_dpmpp_2m(eps_fn, schedule, x_T, steps=steps):
        pass
    return last.x_t[:, 0].numpy().astype(np.float32).copy()


def save_trainer(trainer: training.Trainer, path: str) -> CheckpointResult:
    """Write the run's checkpoint; a failure is returned (one line), never raised."""
    try:
        p = Path(path).expanduser()
        if not p.parent.is_dir():
            raise OSError(f"cannot write '{p}': the folder '{p.parent}' does not exist")
        checkpoint.save_checkpoint(p, trainer)
    except (OSError, ValueError) as exc:
        return CheckpointResult(str(path), trainer.step,
                                " ".join(str(exc).split()) or type(exc).__name__)
    return CheckpointResult(str(p), trainer.step)


class TrainingRun:
    """One run of training (see the module docstring)."""

    def __init__(self, make_trainer: Callable[[], training.Trainer], schedule: NoiseSchedule,
                 sample_every_s: float = 10.0, dataset_name: str = "") -> None:
        self._make_trainer = make_trainer
        self.schedule = schedule
        self.sample_every_s = float(sample_every_s)
        self.dataset_name = dataset_name
        self.trainer: training.Trainer | None = None

    def snapshot(self) -> Snapshot:
        trainer = self.trainer
        model = training.copy_for_inference(trainer.ema)
        conditional = trainer.config.conditional and trainer.has_labels
        images = draw_samples(model, self.schedule, conditional)
        labels = tuple(range(SAMPLE_COUNT)) if conditional else None
        return Snapshot(trainer.step, images, labels, model)

    def handle(self, request) -> object | None:
        if isinstance(request, ScheduleRequest):
            self.schedule = request.schedule
            return None
        if self.trainer is None:  # not built yet: nothing to save or sample
            if isinstance(request, SaveRequest):
                return CheckpointResult(request.path, 0, "the run has not started yet")
            return None
        if isinstance(request, SaveRequest):
            return save_trainer(self.trainer, request.path)
        if isinstance(request, SnapshotRequest):
            return self.snapshot()
        raise TypeError(f"unknown training request {request!r}")

    def __call__(self, cancel) -> Iterator[object]:
        trainer = self.trainer if self.trainer is not None else self._make_trainer()
        self.trainer = trainer
        history = np.array(trainer.loss_history, dtype=np.float64).reshape(-1, 2)
        yield RunStarted(trainer.step, trainer.config.steps, str(trainer.device),
                         torch.get_num_threads(),
                         sum(p.numel() for p in trainer.model.parameters()), self.dataset_name,
                         history, smoothed(history[:, 1]))
        last_sample = time.monotonic()
        for progress in trainer.iter_training(stop=cancel):
            yield progress
            if (time.monotonic() - last_sample >= self.sample_every_s
                    and not progress.done and not cancel.is_set()):
                yield self.snapshot()
                last_sample = time.monotonic()
        if not cancel.is_set():
            yield self.snapshot()
