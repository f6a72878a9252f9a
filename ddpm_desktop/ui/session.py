"""The window's model of the world: wires the state objects to core and to background work.

- Forward chain: recomputed synchronously on every schedule/input change (fast path in
  core.forward.NoiseCache + forward_frames, one vectorised histogram KL - a few ms for T = 1000).
- Reverse chain: `request_sampling()` runs core.sampling generators on a worker thread
  (name "sample": a new request cancels the stale one). A schedule change re-runs the last
  request in the background after a short debounce.
- Model: `load_bundled_model()` / `load_model_file()` load off the GUI thread; the training
  dock can hand a fresh model over with `set_model()`.

Signals: `error(str)` for a message box, `status(str)` for the status bar,
`sampling_state(bool)` whether a reverse run is in progress.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ddpm_desktop.core import kl
from ddpm_desktop.core.forward import IMAGE_SHAPE, NoiseCache, forward_frames, sample_start
from ddpm_desktop.core.sampling import generator_for
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.controller import Task, WorkerController
from ddpm_desktop.ui.state import (
    ForwardState,
    InputState,
    Lane,
    ModelState,
    ReverseState,
    ScheduleState,
)

SAMPLER_NAMES = {"ddpm": "DDPM", "ddim": "DDIM", "dpmpp": "DPM-Solver++(2M)"}
# Offset between the forward-noise stream and the x_T stream of one seed, so a Gaussian x_T
# is not the forward chain's z_1.
_START_SEED_OFFSET = 1_000_003


@dataclass(frozen=True)
class SamplerSettings:
    """One reverse-chain request.

    source: "noise" (x_T from the input's starting distribution) or "input" (the forward
    chain's frame at t_start, i.e. the digit noised to t_start: SDEdit-style reconstruction).
    steps: reverse steps (= network calls) per lane; None = every step. compare: also run
    `sampler_b` from the same x_T with the same number of steps (equal NFE).
    label: class 0-9 or None (unconditional); guidance: classifier-free guidance scale w.
    """

    sampler: str = "ddpm"
    steps: int | None = 100
    seed: int = 0
    label: int | None = None
    guidance: float = 1.0
    source: str = "noise"
    t_start: int = 500
    compare: bool = False
    sampler_b: str = "dpmpp"
    eta: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReverseItem:
    """One reverse frame sent from the worker: CPU numpy copies, float32 [28, 28]."""

    lane: int
    x_t: np.ndarray
    x0_pred: np.ndarray
    t: int
    nfe: int
    total: int
    kl: float


def _reverse_job(model, schedule: NoiseSchedule, x_T: np.ndarray, settings: SamplerSettings,
                 t_start: int | None):
    """A worker job: the lanes' generators interleaved step by step (equal NFE at each emit)."""
    from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn

    def job(cancel: threading.Event):
        eps_fn = make_eps_fn(model, schedule, labels=settings.label, guidance=settings.guidance)
        names = [settings.sampler] + ([settings.sampler_b] if settings.compare else [])
        iters = []
        for name in names:
            x = torch.from_numpy(np.array(x_T, dtype=np.float32)).reshape(1, 1, 28, 28)
            iters.append(iter_sampler(
                name, eps_fn, schedule, x, steps=settings.steps, t_start=t_start,
                generator=generator_for(settings.seed), eta=settings.eta))
        active = list(enumerate(iters))
        try:
            while active and not cancel.is_set():
                for lane, it in list(active):
                    if cancel.is_set():
                        break
                    step = next(it, None)
                    if step is None:
                        active.remove((lane, it))
                        continue
                    x_t = step.x_t.reshape(28, 28).numpy().copy()
                    x0 = step.x0_pred.reshape(28, 28).numpy().copy()
                    kl_t = float(kl.histogram_kl(x_t))
                    yield ReverseItem(lane, x_t, x0, step.t, step.nfe, step.total, kl_t)
        finally:
            for it in iters:
                it.close()

    return job


class Session(QObject):
    error = Signal(str)
    status = Signal(str)
    sampling_state = Signal(bool)

    def __init__(self, workers: WorkerController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers
        self.schedule_state = ScheduleState(parent=self)
        self.input_state = InputState(parent=self)
        self.forward = ForwardState(parent=self)
        self.reverse = ReverseState(parent=self)
        self.model_state = ModelState(parent=self)
        self.sampler_settings = SamplerSettings()
        self._noise_cache = NoiseCache()
        self._last_request: SamplerSettings | None = None
        self._sample_task: Task | None = None
        self.last_forward_ms = 0.0

        self._rerun_timer = QTimer(self)
        self._rerun_timer.setSingleShot(True)
        self._rerun_timer.setInterval(250)
        self._rerun_timer.timeout.connect(self._on_rerun_timer_timeout)

        self.schedule_state.changed.connect(self._on_schedule_changed)
        self.input_state.changed.connect(self._on_input_changed)
        self.recompute_forward()

    # ----------------------------------------------------------------- forward
    @property
    def schedule(self) -> NoiseSchedule:
        return self.schedule_state.schedule

    def start_noise(self) -> np.ndarray:
        """x_T drawn from the input's starting distribution, float32 [28, 28]."""
        inp = self.input_state
        gen = generator_for(inp.seed + _START_SEED_OFFSET)
        return sample_start(inp.start_name, IMAGE_SHAPE, gen, **inp.start_params).numpy()

    def forward_x0(self) -> np.ndarray:
        inp = self.input_state
        return inp.digit if inp.forward_from == "digit" else self.start_noise()

    def recompute_forward(self) -> None:
        import time

        t0 = time.perf_counter()
        schedule = self.schedule
        x0 = np.asarray(self.forward_x0(), dtype=np.float32)
        noises = self._noise_cache.get(self.input_state.seed, schedule.T)
        frames = forward_frames(schedule, x0, noises)
        kl_hist = kl.histogram_kl_batch(frames.reshape(len(frames), -1))
        kl_exact = kl.analytic_kl_q(schedule, x0)
        floor = kl.bias_floor(x0.size)
        self.forward.set_chain(frames, schedule, kl_hist, kl_exact, floor)
        self.last_forward_ms = (time.perf_counter() - t0) * 1e3

    @Slot(object)
    def _on_schedule_changed(self, _schedule: NoiseSchedule) -> None:
        self.recompute_forward()
        if self._last_request is not None and self.model_state.available:
            self._rerun_timer.start()  # re-run the reverse chain under the new schedule

    @Slot(str)
    def _on_input_changed(self, what: str) -> None:
        self.recompute_forward()
        if what in ("start", "seed") or (what == "digit" and self._last_request is not None
                                          and self._last_request.source == "input"):
            if self._last_request is not None and self.model_state.available:
                self._rerun_timer.start()

    @Slot()
    def _on_rerun_timer_timeout(self) -> None:
        if self._last_request is not None:
            self.request_sampling(self._last_request)

    # ----------------------------------------------------------------- reverse
    def request_sampling(self, settings: SamplerSettings | None = None) -> bool:
        """Start a reverse run (cancelling a stale one). False (with `error`) if impossible."""
        settings = settings or self.sampler_settings
        self.sampler_settings = settings
        if not self.model_state.available:
            self.error.emit("No model yet: train one in the Training dock or load a checkpoint "
                            "(File > Load model...).")
            return False
        schedule = self.schedule
        steps = settings.steps
        if settings.source == "input":
            t_start = int(max(1, min(settings.t_start, schedule.T)))
            x_T = self.forward.frames[t_start] if self.forward.T == schedule.T else None
            if x_T is None:
                self.recompute_forward()
                x_T = self.forward.frames[t_start]
        else:
            t_start = None
            x_T = self.start_noise()
        if steps is not None:
            steps = int(max(1, min(steps, t_start or schedule.T)))
        settings = replace(settings, steps=steps)
        self._last_request = settings
        self._rerun_timer.stop()
        names = [settings.sampler] + ([settings.sampler_b] if settings.compare else [])
        self.reverse.start([Lane(sampler=n, steps=steps or (t_start or schedule.T))
                            for n in names])
        job = _reverse_job(self.model_state.model, schedule, x_T, settings, t_start)
        task = self.workers.start("sample", job, rate_hz=30)
        task.items.connect(self._on_sample_items)
        task.failed.connect(self._on_sample_failed)
        task.finished.connect(self._on_sample_finished)
        self._sample_task = task
        self.sampling_state.emit(True)
        self.status.emit("Sampling with " + " vs ".join(SAMPLER_NAMES.get(n, n) for n in names))
        return True

    def cancel_sampling(self) -> None:
        self._rerun_timer.stop()
        if self.workers.is_running("sample"):
            self.workers.cancel("sample")
            self.reverse.finish(False)
            self.sampling_state.emit(False)
            self.status.emit("Sampling stopped")

    def is_sampling(self) -> bool:
        return self.workers.is_running("sample")

    @Slot(list)
    def _on_sample_items(self, items: list) -> None:
        for it in items:
            self.reverse.add(it.lane, it.x_t, it.x0_pred, it.t, it.nfe, it.total, it.kl)
        self.reverse.commit()

    @Slot(str)
    def _on_sample_failed(self, message: str) -> None:
        self.error.emit(f"Sampling failed: {message}")

    @Slot(bool)
    def _on_sample_finished(self, completed: bool) -> None:
        self.reverse.finish(completed)
        self.sampling_state.emit(False)
        if completed:
            nfe = max((lane.nfe[-1] for lane in self.reverse.lanes if lane.nfe), default=0)
            self.status.emit(f"Sampling done: {nfe} network evaluations per chain")

    # ----------------------------------------------------------------- model
    def set_model(self, model, source: str, meta: dict | None = None) -> None:
        if model is not None:
            model.eval()
        self.model_state.set_model(model, source, meta)
        self.status.emit(f"Model: {source}" if model is not None else "No model")

    def load_bundled_model(self) -> bool:
        """Load resources/model.safetensors in the background; False when there is none."""
        from ddpm_desktop.core.checkpoint import bundled_model_path

        path = bundled_model_path()
        if path is None:
            return False
        self._load_model(path, "bundled model")
        return True

    def load_model_file(self, path: str | Path) -> None:
        self._load_model(Path(path), Path(path).name)

    def _load_model(self, path: Path, source: str) -> None:
        from ddpm_desktop.core.checkpoint import load_model

        def job(cancel: threading.Event):
            model, meta = load_model(path, device="cpu")
            yield (model, meta)

        self.model_state.set_loading(True)
        self.status.emit(f"Loading {source}…")
        task = self.workers.start("model", job, rate_hz=30)

        def on_items(items: list) -> None:
            model, meta = items[-1]
            self.set_model(model, source, meta)

        def on_failed(message: str) -> None:
            self.model_state.set_loading(False)
            self.error.emit(f"Could not load the model: {message}")

        # These callables run in the GUI thread: Task re-emits from there.
        task.items.connect(on_items)
        task.failed.connect(on_failed)

    def shutdown(self) -> None:
        self._rerun_timer.stop()
        self.workers.shutdown()
