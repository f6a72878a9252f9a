"""The one owner of the window's state and work (napari's Viewer), composed of areas.

The session owns every state object and is the only thing that starts, stops, cancels or
waits for background work; widgets are views built from one state, redrawn on its signals,
emitting user intent to the session or one of its areas (docs/DESIGN.md has the contract).

The states of the forward chain and the reverse run, which the session itself runs:

  schedule_state  ScheduleState     the β schedule
  input_state     InputState        x_0, the starting distribution of x_T, the seed
  forward         ForwardState      the forward chain and its KL curves (recomputed here)
  sampler         SamplerState      the one copy of the reverse-chain settings (core.run)
  reverse         ReverseState      the reverse chain(s) as they arrive
  model_state     ModelState        the network (bundled, trained here, loaded)
  device_state    DeviceState       where the network runs (CUDA when present, else CPU)

The areas, each an object built in `__init__` from what it depends on (the states above, the
job helper `jobs`, the session's signals, and, for a few, the session's sampling), each holding
its own state, which the session also names for the views:

  area            module                  its state
  trainer         session_training.py     training     TrainingState
  exporter        session_export.py       export       ExportState
  inpainter       session_inpaint.py      inpaint      InpaintState
  completer       session_completions.py  completions  CompletionsState
  decisions       session_decision.py     decision     DecisionState
  copy_checker    session_copies.py       copy_check   CopyCheckState
  twins           session_twins.py        twins_state  TwinsState
  lab             session_lab.py          lab_state    LabState
  beliefs         session_beliefs.py      belief       BeliefsState
  live_drawing    session_live.py         live         LiveState
  toy             session_toy2d.py        toy2d        Toy2DState
  datasets        session_datasets.py     -            (the dataset browser shows it)
  lessons         session_lessons.py      lesson       LessonState
  experiments     session_experiments.py  -
  distilled       session_distilled.py    (model_state.student)
  files           session_file.py         -

The persistence area, `files` (session_file.py, SessionFiles), saves and opens a session file
and takes the snapshot the settings file is written from.

Work: the forward chain is recomputed synchronously on every schedule or input change (a few
ms at T = 1000: cached noises, core.forward.forward_frames, one vectorised histogram KL). The
reverse chain, model loading, training and export run on the generic worker (one job per
name; a new request of a name cancels the stale one). After a schedule, input or model change
the last kind of run is re-run with the current settings when it is cheap.

Signals: `error(str, str)` (one-line message, details: a bug's traceback or ""),
`status(str)`, `sampling_state(bool)`, `checkpoint_saved(str)`, `exported(str)`.
"""
from __future__ import annotations

import copy
import threading
import time

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ddpm_desktop.core import kl, marginal
from ddpm_desktop.core.checkpoint import ModelSource
from ddpm_desktop.core.forward import (IMAGE_SHAPE, START_SEED_OFFSET, NoiseCache, draw_start,
                                       forward_frames)
from ddpm_desktop.core.run import DISTILLED, RunPlan, plan_run
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session_beliefs import Beliefs
from ddpm_desktop.ui.session_distilled import DISTILLED_NAME, Distilled
from ddpm_desktop.ui.session_experiments import Experiments
from ddpm_desktop.ui.session_export import Exporter
from ddpm_desktop.ui.session_file import SessionFiles
from ddpm_desktop.ui.session_inpaint import Inpainter
from ddpm_desktop.ui.session_jobs import Jobs, MarginalCurve, forward_kl_job, reverse_job
from ddpm_desktop.ui.session_live import LiveDrawing
from ddpm_desktop.ui.session_completions import Completer
from ddpm_desktop.ui.session_copies import CopyChecker
from ddpm_desktop.ui.session_twins import Twins
from ddpm_desktop.ui.session_lab import Lab
from ddpm_desktop.ui.session_datasets import DatasetSources
from ddpm_desktop.ui.session_decision import Decisions
from ddpm_desktop.ui.session_lessons import Lessons
from ddpm_desktop.ui.session_toy2d import Toy2D
from ddpm_desktop.ui.session_training import Trainer
from ddpm_desktop.ui.state import (
    SAMPLER_NAMES,
    DeviceState,
    ForwardState,
    InputState,
    Lane,
    ModelState,
    ReverseState,
    SamplerSettings,
    SamplerState,
    ScheduleState,
)

# A run of at most this many network evaluations is started without asking (after a model
# loads, or a setting changes): about a second on one CPU thread. Longer runs wait for Sample.
CHEAP_NFE = 200
SAMPLE_JOB = "sample"
MODEL_JOB = "model"
FORWARD_KL_JOB = "forward-kl"
# The KL curves that cost more than a schedule tick allows (the exact marginal of a new input,
# the estimate along a whole chain) are computed off the GUI thread once edits pause this long.
KL_DEBOUNCE_MS = 80


class Session(QObject):
    error = Signal(str, str)
    status = Signal(str)
    sampling_state = Signal(bool)
    checkpoint_saved = Signal(str)
    exported = Signal(str)

    def __init__(self, workers: WorkerController | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workers = workers if workers is not None else WorkerController(self)
        self.schedule_state = ScheduleState(parent=self)
        self.input_state = InputState(parent=self)
        self.forward = ForwardState(parent=self)
        self.sampler = SamplerState(parent=self)
        self.reverse = ReverseState(parent=self)
        self.model_state = ModelState(parent=self)
        self.device_state = DeviceState(parent=self)
        self.jobs = Jobs(self.workers, self.error)
        self._noise_cache = NoiseCache()
        self._sample_when_loaded = False  # Sample pressed while the model was loading
        self._has_run = False  # a reverse run was asked for: changes re-run it (when cheap)
        self.last_forward_ms = 0.0

        self._rerun_timer = QTimer(self)
        self._rerun_timer.setSingleShot(True)
        self._rerun_timer.setInterval(250)
        self._rerun_timer.timeout.connect(self._on_rerun_timer_timeout)
        self._kl_timer = QTimer(self)
        self._kl_timer.setSingleShot(True)
        self._kl_timer.setInterval(KL_DEBOUNCE_MS)
        self._kl_timer.timeout.connect(self._start_forward_kl)
        self._marginal_ready = None  # the input whose exact-marginal table is built (cached)

        # The areas, in one table: each takes what it depends on. Wiring between areas goes
        # through these arguments (the session's sampling for the teaching areas, the
        # distilled student for live drawing), never through another area's attributes.
        jobs, status, error = self.jobs, self.status, self.error
        sched, inp, sampler = self.schedule_state, self.input_state, self.sampler
        model, device, fwd, rev = self.model_state, self.device_state, self.forward, self.reverse
        self.distilled = Distilled(jobs, model, device, parent=self)
        self.decisions = Decisions(jobs, rev, sched, parent=self)
        self.copy_checker = CopyChecker(jobs, rev, parent=self)
        self.twins = Twins(jobs, parent=self)
        self.lab = Lab(jobs, error, parent=self)
        self.beliefs = Beliefs(jobs, sched, inp, model, device, self.forward_frame, parent=self)
        self.completer = Completer(jobs, sampler, sched, model, device, self.forward_frame, status,
                                   error, parent=self)
        self.live_drawing = LiveDrawing(jobs, sched, inp, model, self.distilled,
                                        self.recompute_forward, error, parent=self)
        self.inpainter = Inpainter(jobs, rev, inp, sched, model, device, self.cancel_sampling,
                                   status, error, parent=self)
        self.exporter = Exporter(jobs, fwd, rev, sampler, model, device, status, error,
                                 self.exported, parent=self)
        self.trainer = Trainer(jobs, sched, model, device, self.set_model, self.checkpoint_saved,
                               error, parent=self)
        self.toy = Toy2D(jobs, sched, sampler, status, error, parent=self)
        self.datasets = DatasetSources(jobs, parent=self)
        self.lessons = Lessons(jobs, sched, inp, sampler, fwd, rev, model, self, status, error,
                               parent=self)
        self.experiments = Experiments(sched, inp, sampler, fwd, model, self, status, error,
                                       parent=self, jobs=jobs)
        # the areas' states, by the names the views and the session file know them
        self.decision, self.completions = self.decisions.state, self.completer.state
        self.copy_check = self.copy_checker.state
        self.twins_state = self.twins.state
        self.lab_state = self.lab.state
        self.belief = self.beliefs.state
        self.live, self.inpaint, self.export = (self.live_drawing.state, self.inpainter.state,
                                                self.exporter.state)
        self.training, self.toy2d, self.lesson = (self.trainer.state, self.toy.state,
                                                  self.lessons.state)
        self.files = SessionFiles(sched, inp, fwd, sampler, self.training, self.export, model,
                                  device, self.cancel_sampling, self.recompute_forward,
                                  self.load_bundled_model, self.load_model_file, status, error,
                                  parent=self, use_exact_denoiser=self.use_exact_denoiser,
                                  use_subset_model=self.use_subset_model)

        self.schedule_state.changed.connect(self._on_schedule_changed)
        self.input_state.changed.connect(self._on_input_changed)
        self.device_state.changed.connect(self._on_device_changed)
        self.recompute_forward()

    @property
    def closing(self) -> bool:
        """Set by shutdown(): no new work from then on."""
        return self.jobs.closing

    # ----------------------------------------------------------------- forward
    @property
    def schedule(self) -> NoiseSchedule:
        return self.schedule_state.schedule

    def start_noise(self) -> np.ndarray:
        """x_T drawn from the input's starting distribution, float32 [28, 28]: numpy's draw of
        seed + START_SEED_OFFSET (core.forward.draw_start), as `kl`, `sample --x-seed` and the
        lessons draw it."""
        inp = self.input_state
        return draw_start(inp.start_name, IMAGE_SHAPE, inp.seed + START_SEED_OFFSET, **inp.start_params)

    def forward_frame(self, t: int) -> np.ndarray:
        """x_t of the forward chain under the current schedule (recomputed first when the
        chain on screen is of another T), float32 [28, 28]."""
        if self.forward.T != self.schedule.T:
            self.recompute_forward()
        return self.forward.frames[t]

    def forward_x0(self) -> np.ndarray:
        inp = self.input_state
        return inp.digit if inp.forward_from == "digit" else self.start_noise()

    def recompute_forward(self) -> None:
        t0 = time.perf_counter()
        schedule = self.schedule
        x0 = np.asarray(self.forward_x0(), dtype=np.float32)
        noises = self._noise_cache.get(self.input_state.seed, schedule.T)
        frames = forward_frames(schedule, x0, noises)
        kl_hist = kl.histogram_kl_batch(frames.reshape(len(frames), -1))
        kl_conditional = kl.analytic_kl_q(schedule, x0)
        floor = kl.bias_floor(x0.size)
        level = float(kl.indistinguishable_level(x0.size))
        # The exact marginal from a table built for this input: a fraction of a ms when the
        # table exists, tens of ms to build one (done in the background job instead).
        kl_marginal = self._marginal_now(schedule) if self._marginal_key() == self._marginal_ready \
            else None
        self.forward.set_chain(frames, schedule, kl_hist, kl_conditional, floor, kl_marginal,
                               level)
        self.last_forward_ms = (time.perf_counter() - t0) * 1e3
        if not self.closing:
            self._kl_timer.start()

    def _marginal_start(self) -> tuple | None:
        """(start name, params) when the forward chain starts from the noise distribution;
        None when it starts from the digit (the marginal is then the image's mixture)."""
        inp = self.input_state
        return None if inp.forward_from == "digit" else (inp.start_name, dict(inp.start_params))

    def _marginal_key(self):
        start = self._marginal_start()
        if start is None:
            return ("digit", self.input_state.digit.tobytes())
        return ("start", start[0], tuple(sorted(start[1].items())))

    def _marginal_now(self, schedule: NoiseSchedule) -> np.ndarray:
        start = self._marginal_start()
        if start is None:
            return marginal.marginal_kl_image_curve(schedule, self.input_state.digit)
        return marginal.marginal_kl_curve(schedule, start[0], **start[1])

    @Slot()
    def _start_forward_kl(self) -> None:
        f = self.forward
        if f.frames is None or self.closing:
            return
        need = f.kl_marginal is None
        start = self._marginal_start()
        task = self.workers.start(FORWARD_KL_JOB,
                                  forward_kl_job(f.schedule, f.frames, start, need), rate_hz=30)
        frames, key = f.frames, self._marginal_key()

        def on_items(items: list) -> None:
            if self.forward.frames is not frames:
                return  # a newer chain is on screen; its own job is coming
            for item in items:
                if isinstance(item, MarginalCurve):
                    self._marginal_ready = key
                    self.forward.set_marginal(item.curve)
                else:
                    self.forward.set_estimate(item.estimate, item.spread)

        def on_failed(message: str, details: str) -> None:
            self.error.emit(f"Could not compute the KL curves: {message}", details)

        task.items.connect(on_items)
        task.failed.connect(on_failed)

    @Slot(object)
    def _on_schedule_changed(self, _schedule: NoiseSchedule) -> None:
        self.recompute_forward()
        self._schedule_rerun()

    @Slot(str)
    def _on_input_changed(self, what: str) -> None:
        if what == "digit" and self.live_drawing.defer_forward():
            # Reconstructing as you draw: the drawing changes ~40 times a second and the forward
            # chain with its histograms and paint costs ~30-50 ms of this thread; it catches up
            # once the edits pause (session_live.py), so the reconstructions keep up with the pen.
            pass
        else:
            self.recompute_forward()
        source = self.sampler.settings.source
        if what in ("start", "seed") or (what == "digit" and source == "input"):
            self._schedule_rerun()

    def _schedule_rerun(self) -> None:
        if self._has_run and self.model_state.available and self.is_cheap():
            self._rerun_timer.start()

    @Slot()
    def _on_rerun_timer_timeout(self) -> None:
        if self.model_state.available and not self.closing:
            self.request_sampling()

    # ----------------------------------------------------------------- reverse
    def plan(self, settings: SamplerSettings | None = None) -> RunPlan:
        """The reverse run `settings` (default: the sampler's) makes under the current
        schedule (core.run.plan_run: start, steps, lanes, network calls, guidance)."""
        return plan_run(settings or self.sampler.settings, self.schedule.T)

    def hold_rerun(self) -> None:
        """Drop a re-run that edits queued (the caller decides whether to run)."""
        self._rerun_timer.stop()

    @property
    def rerun_pending(self) -> bool:
        """Whether a re-run of the reverse chain is queued (it starts once the edits pause)."""
        return self._rerun_timer.isActive()

    def is_cheap(self, settings: SamplerSettings | None = None) -> bool:
        """Whether a run costs at most CHEAP_NFE network evaluations."""
        return self.plan(settings).network_calls <= CHEAP_NFE

    def request_sampling(self, settings: SamplerSettings | None = None) -> bool:
        """Start a reverse run with the sampler settings (after adopting `settings`, when
        given), cancelling a stale one. False (with `error`) if impossible."""
        if settings is not None:
            try:
                self.sampler.set_settings(settings)
            except ValueError as exc:
                self.error.emit(f"Cannot sample: {exc}", "")
                return False
        settings = self.sampler.settings
        if self.closing:
            return False
        if not self.model_state.available and self.model_state.loading:
            # asked before the model is in (at start-up): run as soon as it is, say so now
            self._sample_when_loaded = True
            self.status.emit("The model is still loading: the reverse chain runs as soon as "
                             "it is ready")
            return True
        if not self.model_state.available:
            self.error.emit("No model yet: train one in the Training dock or load a checkpoint "
                            "(File > Load model...).", "")
            return False
        schedule = self.schedule
        plan = self.plan(settings)
        if plan.from_input:
            x_T = self.forward_frame(plan.t_start)
        else:
            x_T = self.start_noise()
        student = None
        if plan.has_distilled:
            try:
                student = self.distilled.on_device()
            except ValueError as exc:
                self.error.emit(f"Cannot sample: {exc}", "")
                return False
        self._has_run = True
        self._rerun_timer.stop()
        self.reverse.start([Lane(sampler=lane.sampler, steps=lane.n_steps) for lane in plan.lanes])
        job = reverse_job(self.model_state.model, schedule, x_T, settings, plan,
                          self.device_state.device, student)
        task = self.workers.start(SAMPLE_JOB, job, rate_hz=30)
        task.items.connect(self._on_sample_items)
        task.failed.connect(self._on_sample_failed)
        task.finished.connect(self._on_sample_finished)
        self.sampling_state.emit(True)
        self.status.emit("Sampling with " + " vs ".join(
            SAMPLER_NAMES.get(lane.sampler, DISTILLED_NAME if lane.sampler == DISTILLED
                              else lane.sampler) for lane in plan.lanes))
        return True

    def cancel_sampling(self) -> None:
        self._rerun_timer.stop()
        if self.workers.is_running(SAMPLE_JOB):
            self.workers.cancel(SAMPLE_JOB)
            self.reverse.finish(False)
            self.sampling_state.emit(False)
            self.status.emit("Sampling stopped")

    def is_sampling(self) -> bool:
        return self.workers.is_running(SAMPLE_JOB)

    @Slot(list)
    def _on_sample_items(self, items: list) -> None:
        for it in items:
            self.reverse.add(it.lane, it.x_t, it.x0_pred, it.t, it.nfe, it.total, it.kl)
        self.reverse.commit()

    @Slot(str, str)
    def _on_sample_failed(self, message: str, details: str) -> None:
        self.error.emit(f"Sampling failed: {message}", details)

    @Slot(bool)
    def _on_sample_finished(self, completed: bool) -> None:
        self.reverse.finish(completed)
        self.sampling_state.emit(False)
        if completed:
            nfe = max((lane.nfe[-1] for lane in self.reverse.lanes if lane.nfe), default=0)
            self.status.emit(f"Sampling done: {nfe} network evaluations per chain")

    # ----------------------------------------------------------------- model
    def set_model(self, model, source: str, meta: dict | None = None, path: str = "",
                  sha256: str = "") -> None:
        """Use `model` (a CPU or device network; None: no model) for every reverse run; the
        current reverse chain is re-run with it when cheap (or at once, the first time).
        `path`, `sha256`: the file it was loaded from and its content hash, if any."""
        if model is not None:
            model = model.to(self.device_state.device).eval()
        self.model_state.set_model(model, source, meta, path, sha256)
        self.status.emit(f"Model: {source}" if model is not None else "No model")
        if model is None:
            return
        if self._sample_when_loaded:
            self._sample_when_loaded = False
            self.request_sampling()
            return
        if source == ModelSource.TRAINED and self._has_run:
            return  # a refresh during training: the user re-runs when they like
        if self.is_cheap():
            self._rerun_timer.start()
        else:
            nfe = self.plan().network_calls
            self.status.emit(f"Model: {source}. Press Sample (Ctrl+R) to run the reverse chain "
                             f"({nfe} network evaluations)")

    @Slot(str)
    def _on_device_changed(self, device: str) -> None:
        self.cancel_sampling()
        m = self.model_state
        if m.model is not None:
            # A copy: a job that still holds the old network keeps a whole one.
            self.model_state.set_model(copy.deepcopy(m.model).to(device).eval(), m.source, m.meta,
                                       m.path, m.sha256)
        self.status.emit(f"Device: {self.device_state.describe()}")

    def load_bundled_model(self) -> bool:
        """Load resources/model.safetensors in the background; False when there is none."""
        from ddpm_desktop.core.checkpoint import bundled_model_path

        path = bundled_model_path()
        if path is None:
            self.error.emit("This installation has no bundled model.", "")
            return False
        self._load_model(path, ModelSource.BUNDLED)
        self.distilled.load_bundled()  # the distilled sampler's student
        return True

    def use_exact_denoiser(self, bandwidth: float = 0.0) -> None:
        """Use the perfect denoiser of the bundled training digits (core.exact_denoiser, kernel
        widened by `bandwidth` h; 0: exact) as the model: built in the background (0.3 s)."""
        from ddpm_desktop.core.exact_denoiser import ExactDenoiser

        if self.closing:
            return
        h = float(bandwidth)

        def job(cancel: threading.Event):
            yield ExactDenoiser.bundled(h)

        def on_items(items: list) -> None:
            self.set_model(items[-1], ModelSource.EXACT, {"bandwidth": h})

        def on_failed(message: str, details: str) -> None:
            self.model_state.set_loading(False)
            self.error.emit(f"Could not build the perfect denoiser: {message}", details)

        self.model_state.set_loading(True)
        self.status.emit(f"Building {ModelSource.EXACT}…")
        task = self.workers.start(MODEL_JOB, job, rate_hz=30)
        task.items.connect(on_items)
        task.failed.connect(on_failed)

    def use_subset_model(self, name: str) -> bool:
        """Load a bundled subset model (core.checkpoint.SUBSET_MODELS: twin-a, twin-b, few-a,
        few-b) in the background; False, with one line on `error`, when it is not installed."""
        from ddpm_desktop.core.checkpoint import subset_model_path

        try:
            path = subset_model_path(name)
        except ValueError as exc:
            self.error.emit(str(exc), "")
            return False
        if not path.is_file():
            self.error.emit(f"The model {name} is not installed ({path.name} is missing from the "
                            "app's resources); keeping the current model.", "")
            return False
        self._load_model(path, ModelSource(name))
        return True

    def load_model_file(self, path: str | Path, expect_sha256: str = "") -> None:
        """Load a checkpoint in the background; with `expect_sha256`, only when the file's
        content still has that hash (a session names its model so)."""
        self._load_model(Path(path), Path(path).name, expect_sha256)

    def _load_model(self, path: Path, source: str, expect_sha256: str = "") -> None:
        from ddpm_desktop.core.checkpoint import CheckpointError, load_model
        from ddpm_desktop.core.snapshot import file_sha256

        if self.closing:
            return

        def job(cancel: threading.Event):
            model, meta = load_model(path, device="cpu")  # checks the file is one first
            sha = file_sha256(path)
            if expect_sha256 and sha != expect_sha256:
                raise CheckpointError(f"'{path.name}' has changed since the session was saved "
                                      "(its content hash differs); keeping the current model")
            yield (model, meta, sha)

        self.model_state.set_loading(True)
        self.status.emit(f"Loading {source}…")
        task = self.workers.start(MODEL_JOB, job, rate_hz=30)

        def on_items(items: list) -> None:
            model, meta, sha = items[-1]
            bundled = source == ModelSource.BUNDLED
            self.set_model(model, source, meta, "" if bundled else str(path.resolve()),
                           "" if bundled else sha)

        def on_failed(message: str, details: str) -> None:
            self.model_state.set_loading(False)  # the working model stays
            self._sample_when_loaded = False
            self.error.emit(f"Could not load the model: {message}", details)

        # These callables run in the GUI thread: Task re-emits from there.
        task.items.connect(on_items)
        task.failed.connect(on_failed)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop every job (a requested checkpoint save is written first) and join them."""
        self.jobs.close()
        self.live_drawing.stop()
        self._rerun_timer.stop()
        self._kl_timer.stop()
        return self.workers.shutdown(timeout_ms)
