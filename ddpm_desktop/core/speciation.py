"""When the class of a sample is decided: the speciation time from the data's covariance spectrum.

Biroli, Bonnaire, de Bortoli & Mézard 2024 ("Dynamical regimes of diffusion models", Nature
Communications 15, 9957, sec. "Speciation time") show that running the reverse process
from pure noise, the trajectories split into the data's classes around the time the noise
variance falls to the scale of the data's largest principal component: in their forward process
x(t) = x_0 e^{-t} + √(1 - e^{-2t}) z, the speciation time is t_S = ½ log Λ, Λ the largest
eigenvalue of the data's covariance. Their e^{-2t} is DDPM's ᾱ_t, so

    ᾱ_S = 1 / Λ,

and on a discrete schedule t_S is the first step whose ᾱ_t has fallen to ᾱ_S: before it (in
reverse time: at larger t) the noise hides even the strongest direction of the data, after it
that direction - for digits, which class - is being decided. Pixels in the model's [-1, 1].
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .schedule import NoiseSchedule


def largest_covariance_eigenvalue(images) -> float:
    """Λ: the largest eigenvalue of the covariance of `images` [N, ...] (uint8 0..255 taken to the
    model's [-1, 1] as x/127.5 - 1; floating point taken as already in that range), N >= 2."""
    a = np.asarray(images)
    if a.ndim < 2 or len(a) < 2:
        raise ValueError(f"need a batch of at least 2 images, got shape {a.shape}")
    x = a.reshape(len(a), -1).astype(np.float64)
    if a.dtype == np.uint8:
        x = x / 127.5 - 1.0
    x -= x.mean(0)
    # The Gram matrix has the same non-zero eigenvalues and is the smaller one when N < D.
    gram = x @ x.T if len(x) < x.shape[1] else x.T @ x
    return float(np.linalg.eigvalsh(gram / (len(x) - 1))[-1])


@dataclass(frozen=True)
class SpeciationTime:
    """lambda_max: Λ; alpha_bar: ᾱ_S = 1/Λ; t: the first step of the schedule with ᾱ_t <= ᾱ_S, or
    None when there is none (Λ <= 1: the data never stands out of unit noise; or the schedule's
    ᾱ_T stays above ᾱ_S)."""

    lambda_max: float
    alpha_bar: float
    t: int | None


def speciation_step(schedule: NoiseSchedule, alpha_bar_s: float) -> int | None:
    """The first step t (1..T) with ᾱ_t <= alpha_bar_s, or None (ᾱ decreases along t)."""
    if alpha_bar_s >= 1.0:
        return None
    below = np.flatnonzero(schedule.alphas_cumprod <= alpha_bar_s)
    return int(below[0]) + 1 if len(below) else None


def speciation_time(schedule: NoiseSchedule, lambda_max: float) -> SpeciationTime:
    """ᾱ_S = 1/Λ and its step on `schedule` (see `SpeciationTime`)."""
    lam = float(lambda_max)
    if not np.isfinite(lam) or lam <= 0:
        raise ValueError(f"the largest covariance eigenvalue must be a positive number, got {lambda_max}")
    alpha_bar = 1.0 / lam
    return SpeciationTime(lam, alpha_bar, speciation_step(schedule, alpha_bar) if lam > 1.0 else None)


@functools.lru_cache(maxsize=1)
def bundled_lambda_max() -> float:
    """Λ of the bundled MNIST training digits (9,000), computed once."""
    from .data import load_bundled_mnist

    return largest_covariance_eigenvalue(load_bundled_mnist("train").images)
