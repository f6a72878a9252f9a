"""State objects the views are built from; each redraws on its signals (napari-style).

- `ScheduleState`: kind, T, β_1, β_T and the validated `NoiseSchedule` they make.
- `ForwardState`: the forward chain x_0..x_T of the current input under the current schedule,
  its KL-versus-t curves, and the frame t the user is looking at.
- `ReverseState`: the frames of the reverse chain(s) as they arrive from the sampler worker,
  one lane per sampler (two in side-by-side mode), and the reverse frame being shown.
- `InputState`: the digit x_0, the starting-noise distribution for x_T, the seed, and which
  of the two the forward chain starts from.
- `ModelState`: the network the reverse chain uses (bundled, trained here, loaded) or none.
- `SamplerState`: the one copy of the reverse-chain settings (core.run.SamplerSettings,
  re-exported here).
- `DeviceState`: where sampling and training run (CUDA when present, else CPU; selectable).
- Training and export have their own modules (training_state.py, export_state.py).

States hold plain numpy arrays (CPU copies); nothing here touches a thread.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core.run import SamplerSettings  # noqa: F401 - re-exported
from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE, NoiseSchedule

SAMPLER_NAMES = {"ddpm": "DDPM", "ddim": "DDIM", "dpmpp": "DPM-Solver++(2M)"}


class SettingsState(QObject):
    """A state whose user-editable part is one frozen, validated settings dataclass
    (`self.settings`, with a `validated()` method). Signal `settings_changed()`."""

    settings_changed = Signal()

    def set_settings(self, settings) -> None:
        """Adopt `settings` (ValueError, state unchanged, if invalid)."""
        settings = settings.validated()
        if settings != self.settings:
            self.settings = settings
            self.settings_changed.emit()

    def update(self, **changes) -> None:
        """Change some fields; ValueError (state unchanged) if the result is invalid."""
        self.set_settings(replace(self.settings, **changes))


class ScheduleState(QObject):
    """The β schedule the whole window uses.

    Signal `changed(object)`: the new NoiseSchedule, after every successful `set_params`.
    """

    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._params = dict(DEFAULT_SCHEDULE)
        self._schedule = NoiseSchedule.default()

    @property
    def schedule(self) -> NoiseSchedule:
        return self._schedule

    @property
    def params(self) -> dict:
        return dict(self._params)

    def set_params(self, **changes) -> NoiseSchedule:
        """Change some of kind/T/beta_start/beta_end; ValueError (state unchanged) if invalid."""
        unknown = set(changes) - set(self._params)
        if unknown:
            raise ValueError(f"unknown schedule parameter(s): {', '.join(sorted(unknown))}")
        params = {**self._params, **changes}
        schedule = NoiseSchedule.named(params["kind"], params["T"], params["beta_start"],
                                       params["beta_end"])
        if params == self._params:
            return self._schedule
        self._params, self._schedule = params, schedule
        self.changed.emit(schedule)
        return schedule


class ForwardState(QObject):
    """The forward chain on screen and the four KL-to-N(0, 1) quantities along it (nats per
    pixel value; docs/KL.md):

    frames: float32 [T+1, 28, 28], frames[t] = x_t (t = 0 is the input).
    kl_marginal: the exact KL of the pixel-value distribution p_t (what the histogram
        shows: the input's pixel values pushed through q(x_t|x_0)), float64 [T+1] (inf at
        t = 0 for an image), or None until computed (core.marginal, off the GUI thread when
        it is not cached).
    kl_estimate, kl_spread: the tail-keeping estimate from this chain's 784 pixel values and
        its sampling standard deviation (core.kl.estimated_kl_band_batch), or None until
        computed; `kl_level`: the level under which the estimate cannot be told from N(0, 1).
    kl_hist: the poster's method, the plain histogram estimate (core.kl.histogram_kl_batch);
        `kl_floor` its small-sample bias.
    kl_conditional: the mean KL of q(x_t|x_0) per pixel, an upper bound on kl_marginal (by
        convexity), which is what L_T of Ho et al. is.

    Signals: `chain_changed()` after `set_chain`; `kl_changed()` when the marginal or the
    estimate arrive; `frame_changed(int)` when t changes (also after a chain change).
    """

    chain_changed = Signal()
    kl_changed = Signal()
    frame_changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frames: np.ndarray | None = None
        self.kl_hist: np.ndarray | None = None
        self.kl_conditional: np.ndarray | None = None
        self.kl_marginal: np.ndarray | None = None
        self.kl_estimate: np.ndarray | None = None
        self.kl_spread: np.ndarray | None = None
        self.kl_floor: float = 0.0
        self.kl_level: float = 0.0
        self.schedule: NoiseSchedule | None = None
        self.t = 0

    @property
    def T(self) -> int:
        return 0 if self.frames is None else self.frames.shape[0] - 1

    def set_chain(self, frames: np.ndarray, schedule: NoiseSchedule, kl_hist: np.ndarray,
                  kl_conditional: np.ndarray | None, kl_floor: float,
                  kl_marginal: np.ndarray | None = None, kl_level: float = 0.0) -> None:
        self.frames, self.schedule = frames, schedule
        self.kl_hist, self.kl_conditional = kl_hist, kl_conditional
        self.kl_floor, self.kl_level = float(kl_floor), float(kl_level)
        self.kl_marginal = kl_marginal
        self.kl_estimate = self.kl_spread = None
        self.chain_changed.emit()
        self.t = min(self.t, self.T)
        self.frame_changed.emit(self.t)

    def set_marginal(self, kl_marginal: np.ndarray) -> None:
        self.kl_marginal = kl_marginal
        self.kl_changed.emit()

    def set_estimate(self, estimate: np.ndarray, spread: np.ndarray) -> None:
        self.kl_estimate, self.kl_spread = estimate, spread
        self.kl_changed.emit()

    def set_frame(self, t: int) -> None:
        t = int(max(0, min(int(t), self.T)))
        if t != self.t:
            self.t = t
            self.frame_changed.emit(t)

    def frame(self, t: int | None = None) -> np.ndarray | None:
        if self.frames is None:
            return None
        return self.frames[self.t if t is None else t]


@dataclass
class Lane:
    """One sampler's reverse chain as received so far.

    x_t / x0_pred: lists of float32 [28, 28]; t: the step each frame is at (T..0); nfe: network
    calls so far. `done` once the worker finished the lane.
    """

    sampler: str
    steps: int
    x_t: list = field(default_factory=list)
    x0_pred: list = field(default_factory=list)
    t: list = field(default_factory=list)
    nfe: list = field(default_factory=list)
    kl: list = field(default_factory=list)
    total: int = 0
    done: bool = False

    def __len__(self) -> int:
        return len(self.x_t)


class ReverseState(QObject):
    """Frames of the reverse chain(s) being sampled.

    Signals: `reset()` when a new run starts or the chain is cleared (lanes replaced, maybe by
    none); `frames_added()` when frames
    arrived; `frame_changed(int)` when the shown frame index changes; `run_finished(bool)`.
    `follow` is True while the view tracks the newest frame (until the user scrubs).
    """

    reset = Signal()
    frames_added = Signal()
    frame_changed = Signal(int)
    run_finished = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lanes: list[Lane] = []
        self.index = 0
        self.follow = True
        self.running = False

    def start(self, lanes: list[Lane]) -> None:
        self.lanes, self.index, self.follow, self.running = lanes, 0, True, True
        self.reset.emit()

    def clear(self) -> None:
        """No chain on screen (a run of other settings would mislead): lanes emptied."""
        self.lanes, self.index, self.follow, self.running = [], 0, True, False
        self.reset.emit()

    def add(self, lane_index: int, x_t: np.ndarray, x0_pred: np.ndarray, t: int, nfe: int,
            total: int, kl: float = float("nan")) -> None:
        lane = self.lanes[lane_index]
        lane.kl.append(float(kl))
        lane.x_t.append(x_t)
        lane.x0_pred.append(x0_pred)
        lane.t.append(int(t))
        lane.nfe.append(int(nfe))
        lane.total = int(total)

    def commit(self) -> None:
        """Announce frames added since the last commit (one signal per worker batch)."""
        if self.follow:
            self.index = self.length() - 1
        self.frames_added.emit()
        if self.follow:
            self.frame_changed.emit(self.index)

    def finish(self, completed: bool) -> None:
        self.running = False
        for lane in self.lanes:
            lane.done = True
        self.run_finished.emit(completed)

    def length(self) -> int:
        return max((len(lane) for lane in self.lanes), default=0)

    def set_frame(self, index: int, user: bool = True) -> None:
        n = self.length()
        if n == 0:
            return
        index = int(max(0, min(int(index), n - 1)))
        if user:
            self.follow = index == n - 1
        if index != self.index:
            self.index = index
            self.frame_changed.emit(index)


class ModelState(QObject):
    """The network used by the reverse chain.

    `model` is a core.model.UNet in eval mode or None; `source` says where it came from
    (a core.checkpoint.ModelSource, or the file name it was loaded from). Signal `changed()`.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = None
        self.source = ""
        self.meta: dict = {}
        self.path = ""
        self.sha256 = ""
        self.loading = False
        # the distilled student (ui/session_distilled.py): None until it loads
        self.student = None
        self.student_meta: dict = {}

    def set_student(self, student, meta: dict | None = None) -> None:
        self.student, self.student_meta = student, dict(meta or {})
        self.changed.emit()

    def set_model(self, model, source: str, meta: dict | None = None, path: str = "",
                  sha256: str = "") -> None:
        """`path` and `sha256`: the file the model was loaded from and its content hash when it
        was read ("" for a model that came from no file, or the bundled one)."""
        self.model, self.source, self.meta = model, source, dict(meta or {})
        self.path, self.sha256 = str(path), sha256
        self.loading = False
        self.changed.emit()

    def set_loading(self, loading: bool) -> None:
        self.loading = loading
        self.changed.emit()

    @property
    def available(self) -> bool:
        return self.model is not None


class InputState(QObject):
    """Where the chains start.

    digit: float32 [28, 28] in [-1, 1] (x_0 of the forward chain, and what "reconstruct"
    noises); digit_source: a short description ("MNIST test #3 (label 7)", a file name).
    start_name / start_params: the distribution x_T is drawn from (core.forward.STARTS);
    seed: the forward chain's noise and the x_T draw; forward_from: "digit" or "noise" (the
    forward chain can also start from the noise distribution, to watch it become N(0, 1)).

    Signal `changed(str)`: which part changed ("digit", "start", "seed", "forward_from").
    """

    changed = Signal(str)
    FORWARD_FROM = ("digit", "noise")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.digit = np.full((28, 28), -1.0, dtype=np.float32)
        self.digit_source = "blank"
        self.digit_label = -1
        self.start_name = "gaussian"
        self.start_params: dict = {}
        self.seed = 0
        self.forward_from = "digit"

    def set_digit(self, digit: np.ndarray, source: str = "", label: int = -1) -> None:
        arr = np.asarray(digit, dtype=np.float32)
        if arr.shape != (28, 28):
            raise ValueError(f"a digit must be 28x28, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("the digit has non-finite pixels")
        self.digit = np.clip(arr, -1.0, 1.0).copy()
        self.digit.setflags(write=False)
        self.digit_source, self.digit_label = source, int(label)
        self.changed.emit("digit")

    def set_start(self, name: str, **params) -> None:
        """Choose the x_T distribution; ValueError (state unchanged) for a bad name/parameter."""
        from ddpm_desktop.core.forward import sample_start

        sample_start(name, (1,), None, **params)  # validates name and parameters
        self.start_name, self.start_params = name, dict(params)
        self.changed.emit("start")

    def set_seed(self, seed: int) -> None:
        seed = int(seed)
        if seed != self.seed:
            self.seed = seed
            self.changed.emit("seed")

    def set_forward_from(self, mode: str) -> None:
        if mode not in self.FORWARD_FROM:
            raise ValueError(f"forward chain starts from 'digit' or 'noise', not {mode!r}")
        if mode != self.forward_from:
            self.forward_from = mode
            self.changed.emit("forward_from")


class SamplerState(QObject):
    """The one copy of the sampler settings. Signal `changed(object)`: the new settings."""

    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = SamplerSettings()

    def set_settings(self, settings: SamplerSettings) -> None:
        settings = settings.validated()
        if settings != self.settings:
            self.settings = settings
            self.changed.emit(settings)

    def update(self, **changes) -> None:
        """Change some fields; ValueError (state unchanged) if the result is invalid."""
        self.set_settings(replace(self.settings, **changes))


class DeviceState(QObject):
    """Where the network runs: "cuda" when present (the default), else "cpu".

    `available`: the devices this machine has. Signal `changed(str)`.
    """

    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        import torch

        self.available = ("cuda", "cpu") if torch.cuda.is_available() else ("cpu",)
        self.device = self.available[0]

    def describe(self, device: str | None = None) -> str:
        device = device or self.device
        if device == "cuda":
            import torch

            return f"CUDA ({torch.cuda.get_device_name(0)})"
        return "CPU"

    def set_device(self, device: str) -> None:
        if device not in self.available:
            raise ValueError(f"device {device!r} is not available here "
                             f"(available: {', '.join(self.available)})")
        if device != self.device:
            self.device = device
            self.changed.emit(device)
