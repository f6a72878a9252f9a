"""DDIM inversion: a clean image x_0 to the x_T that deterministic DDIM (η = 0) maps back to it.

DDIM with η = 0 is an Euler discretisation of the probability-flow ODE written in the
variables x̄ = x/√ᾱ and σ̄ = √((1-ᾱ)/ᾱ) (Song et al. 2021, "Denoising Diffusion Implicit
Models", eq. 13):

    x̄_s = x̄_t + (σ̄_s - σ̄_t) ε_θ(x_t, t),

which is eq. 12 with σ = 0 rearranged. Run from t to s < t it samples; run from s to t > s
it encodes (Song et al. 2021, §4.3 and §5.4). The encoding step cannot use ε_θ at the point
it has not reached yet, so it evaluates the network at the point it has (x_s) with the
target step's noise level t: the step that decodes t -> s then sees nearly the same ε
(the usual approximation, e.g. diffusers' DDIMInverseScheduler). `refine` > 0 replaces that
guess by fixed-point iterations x_t <- encode(x_s, ε_θ(x_t, t)), which solve the implicit
step so that decoding with `core.sampling.iter_ddim` returns x_s to the fixed point's
accuracy (the fixed-point inversion of Pan et al. 2023, "Effective Real Image Editing with
Accelerated Iterative Diffusion Inversion"). Each refinement costs one network call a step.

Decoding is `core.sampling.iter_ddim(..., eta=0, clip_x0=False)` over the same timesteps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .sampling import EpsFn, iter_ddim, timesteps_for
from .schedule import NoiseSchedule

# Steps and fixed-point refinements the CLI and the app use unless told otherwise, chosen by
# measurement (docs/LIKELIHOOD.md, `python -m bench.likelihood --only invert`): 20 steps with 2
# refinements (60 network calls to encode, 20 to decode) gave a median round-trip MSE of 3e-4 on
# held-out digits; plain 50 steps (100 calls) gave 1.9e-3, just under the 2e-3 target.
DEFAULT_INVERSION_STEPS = 20
DEFAULT_REFINE = 2


@dataclass(frozen=True)
class InversionStep:
    """One state of the encoding chain, as a CPU copy: x at step t (0 first, T last);
    nfe: network calls so far; index: 0..total."""

    x: torch.Tensor
    t: int
    nfe: int
    index: int
    total: int


def _sigma_bar(schedule: NoiseSchedule, t: int) -> float:
    # σ̄_t = √((1-ᾱ_t)/ᾱ_t) = exp(-λ_t/2): 0 at t = 0.
    return 0.0 if t == 0 else math.exp(-0.5 * float(schedule.log_snr[t - 1]))


def _sqrt_ab(schedule: NoiseSchedule, t: int) -> float:
    return 1.0 if t == 0 else float(schedule.sqrt_alphas_cumprod[t - 1])


def inversion_coefficients(schedule: NoiseSchedule, s: int, t: int) -> tuple[float, float, float]:
    """(√ᾱ_s, √ᾱ_t, σ̄_t - σ̄_s) of the encoding step s -> t (0 <= s < t <= T; ᾱ_0 = 1, σ̄_0 = 0):
    x_t = √ᾱ_t (x_s/√ᾱ_s + (σ̄_t - σ̄_s) ε_θ(x_t, t)) (eq. 13 run upwards)."""
    return _sqrt_ab(schedule, s), _sqrt_ab(schedule, t), _sigma_bar(schedule, t) - _sigma_bar(schedule, s)


def inversion_timesteps(T: int, steps: int | None = DEFAULT_INVERSION_STEPS,
                        t_end: int | None = None) -> np.ndarray:
    """Ascending int64 steps [0, ..., t_end]: `core.sampling.timesteps_for(T, steps, t_end)`
    reversed, so the decoding chain visits the same steps."""
    return timesteps_for(T, steps, t_end)[::-1].copy()


def iter_ddim_inversion(eps_fn: EpsFn, schedule: NoiseSchedule, x0, steps: int | None = DEFAULT_INVERSION_STEPS,
                        t_end: int | None = None, refine: int = DEFAULT_REFINE) -> Iterator[InversionStep]:
    """Encode x0 [B, ...] (float, model range) up to step t_end (default T) along
    `inversion_timesteps`; yields the start (t = 0) then one `InversionStep` per step.

    Each step s -> t: x̄_t = x̄_s + (σ̄_t - σ̄_s) ε_θ(x, t) (eq. 13), x = x_s first and then,
    `refine` times, the x_t just computed. Deterministic; the network runs under
    `torch.inference_mode()`, left before each yield.
    """
    if isinstance(refine, bool) or int(refine) != refine or refine < 0:
        raise ValueError(f"refine = {refine} must be an integer >= 0")
    x = x0 if isinstance(x0, torch.Tensor) else torch.as_tensor(np.asarray(x0, dtype=np.float32))
    if not x.is_floating_point():
        raise ValueError(f"x0 must be a floating-point tensor, got {x.dtype}")
    ts = inversion_timesteps(schedule.T, steps, t_end)
    total = len(ts) - 1
    nfe = 0
    yield InversionStep(x.detach().to("cpu", copy=True), 0, 0, 0, total)
    for i in range(total):
        s, t = int(ts[i]), int(ts[i + 1])
        a_s, a_t, d_sigma = inversion_coefficients(schedule, s, t)
        with torch.inference_mode():
            guess = x
            for _ in range(int(refine) + 1):
                guess = a_t * (x / a_s + d_sigma * eps_fn(guess, t))
                nfe += 1
        x = guess
        yield InversionStep(x.detach().to("cpu", copy=True), t, nfe, i + 1, total)


def ddim_invert(eps_fn: EpsFn, schedule: NoiseSchedule, x0, steps: int | None = DEFAULT_INVERSION_STEPS,
                t_end: int | None = None, refine: int = DEFAULT_REFINE) -> torch.Tensor:
    """Run `iter_ddim_inversion` to the end: x_{t_end} (CPU copy)."""
    last = None
    for last in iter_ddim_inversion(eps_fn, schedule, x0, steps, t_end, refine):
        pass
    return last.x


def ddim_decode(eps_fn: EpsFn, schedule: NoiseSchedule, x_t, steps: int | None = DEFAULT_INVERSION_STEPS,
                t_start: int | None = None) -> torch.Tensor:
    """Deterministic DDIM (η = 0, no clipping) from x_t at t_start (default T) to x_0 along the
    same timesteps as the inversion: `core.sampling.iter_ddim`. CPU copy."""
    last = None
    for last in iter_ddim(eps_fn, schedule, x_t, steps=steps, eta=0.0, t_start=t_start, clip_x0=False):
        pass
    return last.x_t


@dataclass(frozen=True)
class RoundTrip:
    """x_T from `ddim_invert`, its decoding x̂_0, and the per-image MSE against x_0 ([B],
    model units [-1, 1]); nfe: network calls of both ways together."""

    x_T: torch.Tensor
    reconstruction: torch.Tensor
    mse: np.ndarray
    nfe: int


def round_trip(eps_fn: EpsFn, schedule: NoiseSchedule, x0, steps: int | None = DEFAULT_INVERSION_STEPS,
               refine: int = DEFAULT_REFINE) -> RoundTrip:
    """Invert x0 [B, ...] to x_T, decode it back, and measure the reconstruction MSE per image."""
    x0 = x0 if isinstance(x0, torch.Tensor) else torch.as_tensor(np.asarray(x0, dtype=np.float32))
    last = None
    for last in iter_ddim_inversion(eps_fn, schedule, x0, steps, None, refine):
        pass
    x_T = last.x
    recon = ddim_decode(eps_fn, schedule, x_T.to(x0.device), steps)
    err = (recon.double() - x0.detach().cpu().double()) ** 2
    mse = err.reshape(err.shape[0], -1).mean(1).numpy()
    decode_nfe = len(timesteps_for(schedule.T, steps)) - 1
    return RoundTrip(x_T, recon, mse, last.nfe + decode_nfe)
