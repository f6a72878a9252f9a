"""The state the 2-D diffusion window is built from (`Toy2DState`); the session fills it.

- data: the data set name, its editable mixture or painted points, the seed, and the N
  particles x_0 [N, 2] with their forward chain `frames` [T+1, N, 2] under the session's
  schedule (the same step-by-step chain x_t = √α_t x_{t-1} + √β_t z_t as the digits');
- the marginal p_t (`marginal`: core.toy2d.Marginal, exact for a mixture) and the KL curve;
- the frame t the user looks at (shared by the forward particles, p_t, the field and the
  reverse chain, which is shown at its step nearest t);
- the model: "exact" (the closed-form mixture denoiser) or "learned" (the MLP trained here),
  the learned network, its loss history and the training phase;
- the reverse chain: `reverse` [K+1, N, 2] with its steps `reverse_t` [K+1] (T..0), and in
  compare mode a second sampler's chain `reverse_b` from the same x_T at the same steps (e.g.
  the stochastic DDPM beside the probability-flow ODE, DDIM η = 0); which particles are
  picked (they leave trajectories).

Signals: `data_changed()` (particles, frames, p_t and the KL curve are new), `frame_changed(int)`,
`model_changed()`, `loss_changed()`, `training_changed(str)` (phase: "idle", "running"),
`reverse_changed()`, `picked_changed()`, `mixture_changed()`.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from ddpm_desktop.core import toy2d

MODELS = ("exact", "learned")
MODEL_NAMES = {"exact": "Exact E[ε|x_t] (mixtures)", "learned": "Learned MLP"}
DEFAULT_PARTICLES = 2000
DEFAULT_PICKED = 6


class Toy2DState(QObject):
    data_changed = Signal()
    frame_changed = Signal(int)
    model_changed = Signal()
    loss_changed = Signal()
    training_changed = Signal(str)
    reverse_changed = Signal()
    picked_changed = Signal()
    mixture_changed = Signal()
    decoded_changed = Signal()   # the digits' latent map: decoded particles or clicked point

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dataset = "ring8"
        self.mixture: toy2d.GaussianMixture = toy2d.DEFAULT_GMM
        self.painted = np.zeros((0, 2))
        self.seed = 0
        self.n_particles = DEFAULT_PARTICLES
        self.x0: np.ndarray | None = None          # [N, 2]
        self.frames: np.ndarray | None = None      # [T+1, N, 2]
        self.marginal: toy2d.Marginal | None = None
        self.kl_t = np.zeros(0, dtype=np.int64)
        self.kl_values = np.zeros(0)
        self.t = 0
        self.model = "exact"
        self.learned = None                        # a ToyMLP in eval mode, or None
        self.learned_for = ""                      # the data set it was trained on
        self.loss_steps: list[int] = []
        self.loss_values: list[float] = []
        self.train_seconds = 0.0
        self.training_phase = "idle"
        self.reverse: np.ndarray | None = None     # [K+1, N, 2]
        self.reverse_t = np.zeros(0, dtype=np.int64)
        self.reverse_sampler = ""
        self.reverse_b: np.ndarray | None = None   # [K+1, N, 2] in compare mode
        self.reverse_b_sampler = ""
        self.reverse_done = False
        self.picked = np.arange(DEFAULT_PICKED)
        # -- the digits' latent map ("mnist-latent"): classes and decoded digits
        self.labels: np.ndarray | None = None         # [N] class of each x_0 particle
        self.latent_label: int | None = None          # the class sampled; None: all (0-9 cycled)
        self.sample_labels: np.ndarray | None = None  # [N] classes asked of the reverse chain
        self.decoded: np.ndarray | None = None        # [M, 28, 28] uint8, particles decoded live
        self.decoded_t = -1                           # the step t of `decoded`
        self.reverse_decoded: np.ndarray | None = None  # [K+1, M, 28, 28] along the chain
        self.decoded_point: tuple[float, float] | None = None
        self.decoded_image: np.ndarray | None = None  # [28, 28] uint8 of the clicked point

    # -- reading -------------------------------------------------------------------------------
    @property
    def T(self) -> int:
        return 0 if self.frames is None else len(self.frames) - 1

    @property
    def exact_available(self) -> bool:
        return toy2d.mixture_for(self.dataset, self.mixture) is not None

    def current_mixture(self) -> toy2d.GaussianMixture | None:
        return toy2d.mixture_for(self.dataset, self.mixture)

    def particles(self) -> np.ndarray | None:
        return None if self.frames is None else self.frames[self.t]

    def kl_at(self, t: int) -> float:
        """KL(p_t || N(0, I)) interpolated from the curve (nats)."""
        if not len(self.kl_t):
            return float("nan")
        return float(np.interp(t, self.kl_t, self.kl_values))

    def reverse_index(self, t: int | None = None) -> int | None:
        """The reverse frame whose step is nearest t (None without a reverse chain)."""
        if self.reverse is None or not len(self.reverse) or not len(self.reverse_t):
            return None
        t = self.t if t is None else t
        return int(np.argmin(np.abs(self.reverse_t[: len(self.reverse)] - t)))

    # -- writing (the session does this) -------------------------------------------------------
    def set_data(self, x0: np.ndarray, frames: np.ndarray, marginal: toy2d.Marginal,
                 kl_t: np.ndarray, kl_values: np.ndarray) -> None:
        self.x0, self.frames, self.marginal = x0, frames, marginal
        self.kl_t, self.kl_values = kl_t, kl_values
        self.t = min(self.t, self.T)
        self.data_changed.emit()
        self.frame_changed.emit(self.t)

    def set_frame(self, t: int) -> None:
        t = int(max(0, min(int(t), self.T)))
        if t != self.t:
            self.t = t
            self.frame_changed.emit(t)

    def set_model(self, choice: str) -> None:
        if choice not in MODELS:
            raise ValueError(f"model {choice!r}: choose one of {', '.join(MODELS)}")
        if choice != self.model:
            self.model = choice
            self.model_changed.emit()

    def set_learned(self, net, dataset: str) -> None:
        self.learned, self.learned_for = net, dataset
        self.model_changed.emit()

    def clear_loss(self) -> None:
        self.loss_steps, self.loss_values, self.train_seconds = [], [], 0.0
        self.loss_changed.emit()

    def add_loss(self, steps: list[int], values: list[float], seconds: float) -> None:
        self.loss_steps += steps
        self.loss_values += values
        self.train_seconds = seconds
        self.loss_changed.emit()

    def set_training_phase(self, phase: str) -> None:
        self.training_phase = phase
        self.training_changed.emit(phase)

    def start_reverse(self, sampler: str, ts: np.ndarray, n: int, sampler_b: str | None = None) -> None:
        self.reverse_decoded = None
        self.reverse = np.zeros((0, n, 2), dtype=np.float32)
        self.reverse_b = None if sampler_b is None else np.zeros((0, n, 2), dtype=np.float32)
        self.reverse_t, self.reverse_sampler, self.reverse_done = ts, sampler, False
        self.reverse_b_sampler = sampler_b or ""
        self.reverse_changed.emit()

    def add_reverse(self, items: list[tuple[int, np.ndarray]]) -> None:
        """Frames as (lane, x_t [N, 2]) pairs, lane 0 or 1 (compare mode)."""
        if self.reverse is None:
            return
        for lane in (0, 1):
            frames = [x for k, x in items if k == lane]
            if not frames:
                continue
            if lane == 0:
                self.reverse = np.concatenate([self.reverse, np.stack(frames)], axis=0)
            elif self.reverse_b is not None:
                self.reverse_b = np.concatenate([self.reverse_b, np.stack(frames)], axis=0)
        self.reverse_changed.emit()

    def finish_reverse(self) -> None:
        self.reverse_done = True
        self.reverse_changed.emit()

    def clear_reverse(self) -> None:
        self.reverse_decoded, self.sample_labels = None, None
        self.reverse, self.reverse_t, self.reverse_done = None, np.zeros(0, np.int64), False
        self.reverse_b, self.reverse_b_sampler = None, ""
        self.reverse_changed.emit()

    # -- the digits' latent map ----------------------------------------------------------------
    @property
    def is_latent(self) -> bool:
        return self.dataset == "mnist-latent"

    def set_latent_label(self, label: int | None) -> None:
        self.latent_label = None if label is None else int(label)
        self.decoded_changed.emit()

    def set_decoded(self, images: np.ndarray | None, t: int = -1) -> None:
        self.decoded, self.decoded_t = images, int(t)
        self.decoded_changed.emit()

    def set_decoded_point(self, point: tuple[float, float] | None, image: np.ndarray | None) -> None:
        self.decoded_point, self.decoded_image = point, image
        self.decoded_changed.emit()

    def set_picked(self, indices) -> None:
        self.picked = np.asarray(indices, dtype=np.int64)
        self.picked_changed.emit()
