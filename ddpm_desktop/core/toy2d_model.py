"""A small MLP ε-predictor for 2-D data, conditioned on log-SNR, and its training loop as a
generator of progress events.

`ToyMLP(x [B, 2], log_snr [B], labels None) -> ε̂ [B, 2]` has the UNet's call signature, so
core.sampling.make_eps_fn wraps it unchanged. The log-SNR λ enters as Fourier features of
λ/10 (λ ∈ about [-10, 10] for the paper's schedule), concatenated to x.

`iter_toy_training(points, schedule, ...)` minimises the simple DDPM loss
E_{t, x_0, ε} ||ε - ε̂(√ᾱ_t x_0 + √(1-ᾱ_t) ε, λ_t)||² (Ho et al. 2020, eq. 14) with t uniform on
1..T, x_0 drawn from `points`, Adam with a cosine learning-rate decay (to 10 %) and an EMA of
the weights; it yields a `ToyTrainProgress` per step, with a copy of the EMA network (eval
mode) every `snapshot_every` steps and at the end, for a view to use while training goes on.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn

from .forward import q_sample
from .schedule import NoiseSchedule

DEFAULT_STEPS = 3000
EMA_DECAY = 0.99
LABEL_DROPOUT = 0.1


class ToyMLP(nn.Module):
    """x ⊕ Fourier(λ/10) [⊕ class embedding] -> depth × (Linear, SiLU) -> Linear -> ε̂ (2 numbers).

    With num_classes > 0 the network is class-conditional: labels [B] long in 0..num_classes-1,
    or `null_label` (= num_classes) / labels None for the unconditional model, trained by
    dropping labels (classifier-free guidance, Ho & Salimans 2022)."""

    def __init__(self, hidden: int = 128, depth: int = 3, n_freq: int = 8,
                 num_classes: int = 0, class_dim: int = 16) -> None:
        super().__init__()
        self.n_freq = int(n_freq)
        self.num_classes = int(num_classes)
        self.null_label = self.num_classes
        self.label_embedding = (nn.Embedding(self.num_classes + 1, int(class_dim))
                                if self.num_classes > 0 else None)
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(self.n_freq) / 2.0,
                             persistent=False)
        layers: list[nn.Module] = []
        width = 2 + 2 * self.n_freq + (int(class_dim) if self.num_classes > 0 else 0)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, log_snr: torch.Tensor, labels=None) -> torch.Tensor:
        u = (log_snr.to(x.dtype) / 10.0)[:, None] * self.freqs[None].to(x.dtype)
        parts = [x, torch.sin(u), torch.cos(u)]
        if self.label_embedding is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), self.null_label, dtype=torch.long,
                                    device=x.device)
            parts.append(self.label_embedding(labels.to(device=x.device, dtype=torch.long)))
        return self.net(torch.cat(parts, dim=1))


@dataclass(frozen=True)
class ToyTrainProgress:
    """One training step: step (1-based) of total, its loss, seconds since the start, and a
    CPU copy of the network in eval mode (every `snapshot_every` steps and at the end; else None)."""

    step: int
    total: int
    loss: float
    elapsed_s: float
    model: ToyMLP | None = None


def iter_toy_training(points: np.ndarray, schedule: NoiseSchedule, steps: int = DEFAULT_STEPS,
                      batch_size: int = 256, lr: float = 1e-2, seed: int = 0,
                      snapshot_every: int = 250, model: ToyMLP | None = None,
                      ema_decay: float = EMA_DECAY, labels: np.ndarray | None = None,
                      num_classes: int = 0, label_dropout: float = LABEL_DROPOUT,
                      hidden: int = 128) -> Iterator[ToyTrainProgress]:
    """Train a ToyMLP (or continue `model`, a copy of it) on `points` [M, 2] (module docstring).

    With `labels` [M] (ints in 0..num_classes-1) the network is class-conditional; each
    label is replaced by the null class with probability `label_dropout`, so the same network
    is also the unconditional model (classifier-free guidance).

    The snapshots are the exponential moving average of the weights (decay `ema_decay` per
    step; 0: the raw weights), which at this learning rate fits far better than the last
    iterate (bench/toy2d.py). ValueError for fewer than 2 points, steps < 1 or batch_size < 1."""
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32))
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise ValueError("training needs at least 2 data points of shape [M, 2]")
    steps, batch_size = int(steps), int(batch_size)
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps = {steps} and batch size = {batch_size} must be >= 1")
    ys = None
    if labels is not None:
        ys = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        if ys.shape != (len(pts),) or int(num_classes) < 1 or int(ys.min()) < 0 \
                or int(ys.max()) >= int(num_classes):
            raise ValueError(f"labels must be [M] ints in 0..{int(num_classes) - 1}")
    gen = torch.Generator().manual_seed(int(seed))
    if model is None:
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(int(seed))            # the initial weights, reproducibly
        net = ToyMLP(hidden=hidden, num_classes=int(num_classes) if ys is not None else 0)
        torch.random.set_rng_state(torch_state)
    else:
        net = copy.deepcopy(model)
    net.train()
    ema = copy.deepcopy(net).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    decay = float(ema_decay)
    opt = torch.optim.Adam(net.parameters(), lr=float(lr))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(i, steps) / steps)))
    log_snr = torch.tensor(schedule.log_snr, dtype=torch.float32)
    T = schedule.T
    start = time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(len(pts), (batch_size,), generator=gen)
        t = torch.randint(T, (batch_size,), generator=gen)        # index t-1, t uniform 1..T
        eps = torch.randn((batch_size, 2), generator=gen)
        x_t = q_sample(schedule, pts[idx], t + 1, eps)
        y = None
        if ys is not None:
            y = ys[idx]
            drop = torch.rand((batch_size,), generator=gen) < float(label_dropout)
            y = torch.where(drop, torch.full_like(y, net.null_label), y)
        loss = ((net(x_t, log_snr[t], y) - eps) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1.0 - decay)
        snap = None
        if step % max(1, int(snapshot_every)) == 0 or step == steps:
            snap = copy.deepcopy(ema)
        yield ToyTrainProgress(step, steps, float(loss.detach()), time.perf_counter() - start, snap)


def train_for_seconds(points: np.ndarray, schedule: NoiseSchedule, seconds: float, seed: int = 0,
                      calibration_steps: int = 40, min_steps: int = 50, **kwargs
                      ) -> tuple[ToyMLP, ToyTrainProgress]:
    """Train a ToyMLP for about `seconds`: a short run of `calibration_steps` measures this
    machine's time per step, then one run of that many steps (whole, so its learning-rate
    decay completes; the step count is reported, so the run can be repeated exactly with
    iter_toy_training(steps=...)). -> (the EMA network, the last progress item)."""
    seconds = float(seconds)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"training time must be a positive number of seconds, got {seconds}")
    last = None
    for last in iter_toy_training(points, schedule, steps=calibration_steps, seed=seed,
                                  snapshot_every=calibration_steps, **kwargs):
        pass
    per_step = last.elapsed_s / calibration_steps
    steps = max(int(min_steps), int(seconds / max(per_step, 1e-6)))
    for last in iter_toy_training(points, schedule, steps=steps, seed=seed,
                                  snapshot_every=steps, **kwargs):
        pass
    return last.model, last
