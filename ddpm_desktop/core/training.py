"""Training ε_θ (Ho et al. 2020, Algorithm 1), as a generator of progress events.

Each step: x_0 from the data, a noise level, ε ~ N(0, I), and a gradient step on
‖ε − ε_θ(√ᾱ x_0 + √(1−ᾱ) ε, λ, y)‖² (x_t from `core.forward.q_sample_at`). The noise level is
drawn as a continuous log-SNR λ = log(ᾱ/(1−ᾱ)) from the cosine schedule (t ~ U(0, 1), λ = −2 log tan(πt/2), Nichol &
Dhariwal 2021) truncated to the model's λ range, so the network serves every discrete
schedule the app offers. Class labels are replaced by the null label with probability
`p_uncond` (classifier-free guidance, Ho & Salimans 2022).

The loop is `Trainer.iter_training()`: it yields a `TrainProgress` after every step. The
consumer pauses by not asking for the next one, cancels with `stop` (a threading.Event) or by
closing the generator, and resumes a saved run with `checkpoint.load_trainer`. All randomness
comes from one CPU `torch.Generator`, saved in checkpoints, so a resumed run continues
exactly as an uninterrupted one would.

Data-parallel: when `torch.distributed` is initialised (e.g. under `torchrun`), the model is
wrapped in DistributedDataParallel; each rank draws its own batches (generator seeded with
seed + rank) and the gradients are averaged.
"""
from __future__ import annotations

import copy
import math
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import nn

from .forward import q_sample_at
from .imaging import IMAGE_SHAPE
from .model import LABEL_INIT_STD as UNET_LABEL_INIT_STD
from .model import ModelConfig, UNet

# Loss-by-noise-level bins over log-SNR (the outer bins are open-ended).
LEVEL_EDGES = np.linspace(-12.0, 12.0, 13)
# Decay of the smoothed loss curve (an EMA over steps): TrainProgress.loss_smooth.
LOSS_SMOOTHING = 0.98
LOSS_WEIGHTINGS = ("eps", "min_snr")


def loss_weights(log_snr: torch.Tensor, weighting: str, gamma: float = 5.0) -> torch.Tensor:
    """Per-sample weight of the ε-MSE at log-SNR λ: 1, or min(e^λ, γ) / e^λ = min(1, γ e^−λ)."""
    if weighting == "eps":
        return torch.ones_like(log_snr)
    if weighting == "min_snr":
        return torch.clamp(gamma * torch.exp(-log_snr), max=1.0)
    raise ValueError(f"unknown loss weighting {weighting!r}")


class TrainingDivergedError(ValueError):
    """The loss or gradient became non-finite; the trainer keeps the last good state."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 10_000
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 200
    # Cosine decay of the learning rate to `lr * min_lr_ratio` at `steps`.
    min_lr_ratio: float = 0.1
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    conditional: bool = True
    p_uncond: float = 0.1
    # Weight of each sample's ε-MSE: "eps" (1, Ho et al.'s simple loss) or "min_snr"
    # (min(SNR, γ) / SNR with SNR = exp(λ), Hang et al. 2023, "Efficient Diffusion Training via
    # Min-SNR Weighting": it stops the nearly noiseless levels from dominating the gradient).
    loss_weighting: str = "eps"
    min_snr_gamma: float = 5.0
    # Standard deviation of the class embedding's initial rows (UNet initialises them at 0.02).
    # At 0.02 the label adds almost nothing to the noise-level embedding, and AdamW at lr 2e-3
    # needs some hundreds of steps to grow it: class conditioning switches on late.
    label_init_std: float = 0.02
    seed: int = 0
    model: ModelConfig = field(default_factory=lambda: ModelConfig(base_channels=16, channel_mults=(1, 2, 4)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        model = ModelConfig.from_dict(d.pop("model", {}))
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training config keys: {', '.join(unknown)}")
        return cls(model=model, **d).validated()

    def validated(self) -> "TrainConfig":
        if self.loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(f"loss weighting must be one of {', '.join(LOSS_WEIGHTINGS)}, "
                             f"got {self.loss_weighting!r}")
        for name in ("lr", "weight_decay", "min_lr_ratio", "ema_decay", "grad_clip", "p_uncond",
                     "min_snr_gamma", "label_init_std"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 65536):
            raise ValueError(f"batch size must be an integer in 1..65536, got {self.batch_size!r}")
        if not (math.isfinite(self.lr) and 0 < self.lr < 1):
            raise ValueError(f"learning rate must be in (0, 1), got {self.lr!r}")
        if not (0 <= self.ema_decay < 1):
            raise ValueError(f"EMA decay must be in [0, 1), got {self.ema_decay!r}")
        if not (math.isfinite(self.min_snr_gamma) and self.min_snr_gamma > 0):
            raise ValueError(f"min-SNR γ must be a positive number, got {self.min_snr_gamma!r}")
        if not (math.isfinite(self.label_init_std) and self.label_init_std >= 0):
            raise ValueError(f"label_init_std must be a finite number >= 0, got {self.label_init_std!r}")
        if not (0 <= self.p_uncond <= 1):
            raise ValueError(f"p_uncond must be in [0, 1], got {self.p_uncond!r}")
        self.model.validate()
        return self


# Recipes by name (TrainConfig fields; docs/TRAINING.md). "fast": min-SNR-5 weighting and a class
# embedding started at 0.5: >= 95% legible at the default guidance after 680 of its 850 steps
# (bench/training.py times it). "bundled": resources/model.safetensors' recipe, the same for 6000
# steps with 20% of labels dropped. "plain": the first bundled model's plain ε-MSE recipe.
_FAST = dict(steps=850, batch_size=128, lr=2e-3, conditional=True, seed=0,
             loss_weighting="min_snr", min_snr_gamma=5.0, label_init_std=0.5)
RECIPES: dict[str, dict] = {
    "bundled": {**_FAST, "steps": 6000, "p_uncond": 0.2},
    "fast": _FAST,
    "plain": dict(steps=6000, batch_size=128, lr=2e-3, conditional=True, seed=0),
}


def recipe(name: str, **overrides) -> "TrainConfig":
    """The TrainConfig of a named recipe, with any field overridden; a bad name → ValueError."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r} (choose from {', '.join(RECIPES)})")
    return TrainConfig(**{**RECIPES[name], **overrides}).validated()


@dataclass(frozen=True)
class TrainProgress:
    """One training step's report (plain Python/NumPy values, safe to send across threads)."""

    step: int
    total_steps: int
    loss: float
    loss_smooth: float
    loss_by_level: np.ndarray  # [len(LEVEL_EDGES) + 1] running mean loss per log-SNR bin (nan = none yet)
    level_edges: np.ndarray
    images_per_second: float
    eta_s: float
    elapsed_s: float
    lr: float

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps


def cosine_log_snr(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Map u ~ U(0,1) to λ of the cosine schedule truncated to [lo, hi].

    λ(t) = −2 log tan(πt/2) is decreasing in t; t(λ) = (2/π) atan(exp(−λ/2)).
    """
    t_min = 2 / math.pi * math.atan(math.exp(-hi / 2))
    t_max = 2 / math.pi * math.atan(math.exp(-lo / 2))
    t = t_min + (t_max - t_min) * u
    return -2 * torch.log(torch.tan(math.pi * t / 2))


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'auto' (or None) → CUDA when present, else CPU; a bad name → ValueError."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r} (use auto, cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {device!r} (use auto, cpu or cuda)")
    return dev


def _dataset_tensors(data) -> tuple[torch.Tensor, torch.Tensor]:
    """Accept a core.data.Dataset or (images float [N,1,28,28] in [-1,1], labels long [N])."""
    images, labels = data if isinstance(data, tuple) else data.as_tensor()
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28) or images.shape[0] == 0:
        raise ValueError(f"training data must be a non-empty set of 28×28 images, got {tuple(images.shape)}")
    return images.contiguous(), torch.as_tensor(labels, dtype=torch.long)


class Trainer:
    """Holds the model, its EMA, the optimizer, the RNG and the step count."""

    def __init__(self, config: TrainConfig, data, device: str | torch.device | None = "auto"):
        self.config = config.validated()
        self.device = resolve_device(device)
        self.images, self.labels = _dataset_tensors(data)
        self.has_labels = bool((self.labels >= 0).any())
        self.rank, self.world_size = 0, 1
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            self.rank = torch.distributed.get_rank()
            self.world_size = torch.distributed.get_world_size()

        torch.manual_seed(config.seed)  # parameter initialisation only
        self.model = UNet(config.model).to(self.device)
        if config.label_init_std != UNET_LABEL_INIT_STD:
            with torch.no_grad():
                self.model.label_emb.weight.normal_(0.0, config.label_init_std)
        self.ema = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.generator = torch.Generator().manual_seed(config.seed + 1_000_003 * self.rank)
        self.step = 0
        self.loss_history: list[tuple[int, float]] = []
        self._level_sum = np.zeros(len(LEVEL_EDGES) + 1)
        self._level_count = np.zeros(len(LEVEL_EDGES) + 1)
        self._loss_smooth = float("nan")
        self._ddp = None
        if self.device.type == "cpu":
            # channels_last runs the convolutions ~10% faster on CPU (measured); set it before
            # DDP builds its gradient buckets so their strides match.
            self.model.to(memory_format=torch.channels_last)
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = DistributedDataParallel(self.model, device_ids=ids)

    # -- the schedule of the learning rate -------------------------------------------------
    def lr_at(self, step: int) -> float:
        c = self.config
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        progress = min(1.0, (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps))
        return c.lr * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    # -- one step of Algorithm 1 ----------------------------------------------------------
    def _draw_batch(self):
        c, g = self.config, self.generator
        idx = torch.randint(0, self.images.shape[0], (c.batch_size,), generator=g)
        x0 = self.images[idx]
        labels = self.labels[idx]
        lo, hi = c.model.log_snr_range
        log_snr = cosine_log_snr(torch.rand(c.batch_size, generator=g, dtype=torch.float64), lo, hi).float()
        eps = torch.randn(x0.shape, generator=g)
        drop = torch.rand(c.batch_size, generator=g) < c.p_uncond
        null = c.model.num_classes
        if not (c.conditional and self.has_labels):
            labels = torch.full_like(labels, null)
        else:
            labels = torch.where(drop | (labels < 0), torch.full_like(labels, null), labels)
        return x0, labels, log_snr, eps

    def train_step(self) -> tuple[float, np.ndarray]:
        """One optimizer step; returns (loss, per-sample losses as numpy, with λ).

        On a non-finite loss or gradient it raises TrainingDivergedError and leaves the whole
        state (weights, EMA, optimizer, RNG, step) as it was before the step.
        """
        rng_before = self.generator.get_state()
        try:
            return self._train_step()
        except TrainingDivergedError:
            self.generator.set_state(rng_before)
            raise

    def _train_step(self) -> tuple[float, np.ndarray]:
        x0, labels, log_snr, eps = self._draw_batch()
        dev = self.device
        x0, labels, log_snr, eps = x0.to(dev), labels.to(dev), log_snr.to(dev), eps.to(dev)
        # q(x_t | x_0) at the drawn levels ᾱ = sigmoid(λ), the closed form core.forward owns.
        x_t = q_sample_at(x0, torch.sigmoid(log_snr), eps)
        if dev.type == "cpu":
            x_t = x_t.contiguous(memory_format=torch.channels_last)
        net = self._ddp or self.model
        self.model.train()
        pred = net(x_t, log_snr, labels)
        per_sample = ((pred.float() - eps) ** 2).mean(dim=(1, 2, 3))
        loss = per_sample.mean()
        # The reported loss stays the plain ε-MSE under every weighting (the loss curve and the
        # per-level bins show one quantity); the weighting changes only what is optimised.
        loss_value = float(loss.detach())
        if self.config.loss_weighting != "eps":
            weights = loss_weights(log_snr, self.config.loss_weighting, self.config.min_snr_gamma)
            loss = (weights * per_sample).mean()
        if not math.isfinite(loss_value):
            raise TrainingDivergedError(
                f"the loss became {loss_value} at step {self.step + 1}; training stopped and the "
                f"last good state (step {self.step}) is kept"
            )
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if not torch.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            raise TrainingDivergedError(
                f"the gradient became non-finite at step {self.step + 1}; training stopped and "
                f"the last good state (step {self.step}) is kept"
            )
        self.optimizer.step()
        self._update_ema()
        self.step += 1
        return loss_value, np.stack([log_snr.cpu().numpy(), per_sample.detach().cpu().numpy()])

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up of the decay (as in many DDPM codebases) so early samples are not stale.
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        ema_p = list(self.ema.parameters())
        torch._foreach_lerp_(ema_p, list(self.model.parameters()), 1.0 - decay)

    # -- the generator the CLI and the app iterate -----------------------------------------
    def iter_training(self, stop: threading.Event | None = None) -> Iterator[TrainProgress]:
        total = self.config.steps
        recent: deque[float] = deque(maxlen=50)  # seconds per step, paused time excluded
        start = time.perf_counter()
        busy = 0.0
        while self.step < total:
            if stop is not None and stop.is_set():
                return
            t0 = time.perf_counter()
            loss, per_sample = self.train_step()
            dt = time.perf_counter() - t0
            busy += dt
            recent.append(dt)
            self.loss_history.append((self.step, loss))
            self._loss_smooth = (loss if math.isnan(self._loss_smooth) else
                                 LOSS_SMOOTHING * self._loss_smooth + (1 - LOSS_SMOOTHING) * loss)
            bins = np.searchsorted(LEVEL_EDGES, per_sample[0])
            np.add.at(self._level_sum, bins, per_sample[1])
            np.add.at(self._level_count, bins, 1)
            # The mean, not the median: slow steps (another load on the cores) are real cost.
            sec_per_step = float(np.mean(recent))
            with np.errstate(invalid="ignore", divide="ignore"):
                by_level = self._level_sum / self._level_count
            yield TrainProgress(
                step=self.step,
                total_steps=total,
                loss=loss,
                loss_smooth=self._loss_smooth,
                loss_by_level=by_level,
                level_edges=LEVEL_EDGES,
                images_per_second=self.config.batch_size * self.world_size / sec_per_step,
                eta_s=sec_per_step * (total - self.step),
                elapsed_s=time.perf_counter() - start,
                lr=self.lr_at(self.step - 1),
            )

    # -- state for checkpoints ------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything a resumed run needs (tensors and plain Python: weights_only-loadable)."""
        return {
            "step": self.step,
            "config": self.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "ema": {k: v.detach().cpu() for k, v in self.ema.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "rng": self.generator.get_state(),
            "loss_history": torch.tensor(self.loss_history, dtype=torch.float64).reshape(-1, 2),
            "level_sum": torch.from_numpy(self._level_sum.copy()),
            "level_count": torch.from_numpy(self._level_count.copy()),
            "loss_smooth": self._loss_smooth,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["rng"])
        self.step = int(state["step"])
        hist = state.get("loss_history")
        self.loss_history = [(int(s), float(v)) for s, v in hist.tolist()] if hist is not None else []
        if "level_sum" in state:
            self._level_sum = state["level_sum"].numpy().copy()
            self._level_count = state["level_count"].numpy().copy()
        self._loss_smooth = float(state.get("loss_smooth", float("nan")))
        if self.device.type == "cpu":
            self.model.to(memory_format=torch.channels_last)


def default_cpu_threads() -> int:
    """CPU threads for work the user has not tuned (sampling, evaluation, the app).

    One on a machine of two cores or fewer: measured there, two torch threads with any other
    load (the GUI thread, a second job) ran 7–9× slower than one. Otherwise half the cores,
    at most 8, leaving room for the rest of the process.
    """
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(8, cores // 2)


def measure_thread_counts(candidates=None, batch_size: int = 64, model_config: ModelConfig | None = None,
                          repeats: int = 3) -> dict[int, float]:
    """Images per second of a forward+backward step for each CPU thread count.

    On a small machine more threads can be much slower (two threads on two busy cores ran
    7–9× slower than one here), so the count is chosen by measurement, not assumed.
    """
    cfg = model_config or TrainConfig().model
    cores = os.cpu_count() or 1
    candidates = candidates or sorted({1, min(2, cores), min(4, cores), cores})
    before = torch.get_num_threads()
    model = UNet(cfg).to(memory_format=torch.channels_last)
    x = torch.randn(batch_size, 1, *IMAGE_SHAPE).contiguous(memory_format=torch.channels_last)
    lam = torch.randn(batch_size)
    result = {}
    try:
        for n in candidates:
            torch.set_num_threads(n)
            times = []
            for i in range(repeats + 1):
                t0 = time.perf_counter()
                model.zero_grad(set_to_none=True)
                (model(x, lam) ** 2).mean().backward()
                if i:
                    times.append(time.perf_counter() - t0)
            result[n] = batch_size / float(np.median(times))
    finally:
        torch.set_num_threads(before)
    return result


def choose_num_threads(candidates=None) -> tuple[int, dict[int, float]]:
    """The fastest measured CPU thread count, and the measurements."""
    rates = measure_thread_counts(candidates)
    best = max(rates, key=rates.get)
    return best, rates


def copy_for_inference(model: nn.Module) -> UNet:
    """A detached CPU copy of a model (e.g. the EMA) to hand to another thread."""
    clone = UNet(model.config)
    clone.load_state_dict({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    return clone.eval().requires_grad_(False)
