"""Adapters between the views and core: the fast paths the interactive UI needs.

The schedule panel redraws the whole forward chain and its KL-versus-t curve on every slider
tick, which must stay under ~30 ms for T = 1000. Two things make that hold:

- the noises z_1..z_T are drawn once per (seed, T) and cached (`NoiseCache`), so a β-only
  change is just arithmetic: `forward_frames` unrolls the chain as core.forward.forward_chain
  does, x_t = √ᾱ_t (x_0 + Σ_{s<=t} √(β_s/ᾱ_s) z_s), but over the cached noises. The noises are
  drawn exactly as core draws them, so the frames equal forward_chain(schedule, x0, seed)'s;
- the histogram KL of all T + 1 frames is one vectorised bincount (`histogram_kl_curve`).

core.kl (histogram/analytic KL) is used when it provides the contract's functions; until it
does, the small fallbacks below compute the same quantities.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch

from ddpm_desktop.core.schedule import NoiseSchedule

from ddpm_desktop.core import kl as _core_kl

IMAGE_SHAPE = (28, 28)
HIST_RANGE = (-5.0, 5.0)  # the histogram's x axis; the bins are core.kl's (`binning`)


def generator_for(seed: int) -> torch.Generator:
    """A CPU generator seeded with `seed` (so a seed gives the same picture everywhere)."""
    return torch.Generator(device="cpu").manual_seed(int(seed))


class NoiseCache:
    """z_1..z_T of the forward chain per (seed, T, shape), as float32 numpy [T, *shape].

    Drawn like core.forward (`torch.randn((T, *shape), generator)`), kept for a few keys so
    dragging T back and forth does not redraw.
    """

    def __init__(self, capacity: int = 4) -> None:
        self._cache: OrderedDict = OrderedDict()
        self._capacity = capacity

    def get(self, seed: int, T: int, shape=IMAGE_SHAPE) -> np.ndarray:
        key = (int(seed), int(T), tuple(shape))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        z = torch.randn((int(T), *shape), generator=generator_for(seed), dtype=torch.float32)
        noises = z.numpy()
        noises.setflags(write=False)
        self._cache[key] = noises
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return noises


_FORWARD_BLOCK_COLUMNS = 56


def forward_frames(schedule: NoiseSchedule, x0: np.ndarray, noises: np.ndarray) -> np.ndarray:
    """Every frame x_0..x_T of the forward chain (Ho et al. 2020, eq. 2) driven by `noises`.

    x0: float32 [*shape]; noises: float32 [T, *shape] (z_t = noises[t-1]).
    Returns float32 [T+1, *shape]. Unrolled: x_t = √ᾱ_t (x_0 + Σ_{s<=t} √(β_s/ᾱ_s) z_s);
    the cumulative sum runs in float64 because 1/√ᾱ_s reaches ~1e4 for T = 1000.
    """
    T = schedule.T
    if noises.shape[0] != T:
        raise ValueError(f"need {T} noises for T = {T}, got {noises.shape[0]}")
    flat = noises.reshape(T, -1)
    d = flat.shape[1]
    c = np.sqrt(schedule.betas / schedule.alphas_cumprod)[:, None]
    scale = schedule.sqrt_alphas_cumprod[:, None]
    x0_flat = np.asarray(x0, dtype=np.float64).reshape(-1)
    frames = np.empty((T + 1, d), dtype=np.float32)
    frames[0] = np.asarray(x0, dtype=np.float32).reshape(-1)
    # In blocks of columns, so the float64 work buffer stays in cache: the same arithmetic as
    # one whole-array pass, about twice as fast at T = 1000 (a schedule drag recomputes this).
    width = _FORWARD_BLOCK_COLUMNS
    buf = np.empty((T, min(width, d)), dtype=np.float64)
    for j in range(0, d, width):
        block = buf[:, :min(width, d - j)]
        np.multiply(flat[:, j:j + width], c, out=block)
        np.cumsum(block, axis=0, out=block)
        block += x0_flat[j:j + width]
        block *= scale
        frames[1:, j:j + width] = block
    return frames.reshape((T + 1, *np.shape(x0)))


# ---------------------------------------------------------------------------- KL estimates
def binning(n: int = 784) -> tuple[int, tuple[float, float]]:
    """(bins, range) the KL estimate uses for n pixels - core.kl's default (bins centred on
    0 and ±1, so a clean digit's background/ink never straddle an edge)."""
    bins, value_range = _core_kl.default_binning(int(n))
    return int(bins), (float(value_range[0]), float(value_range[1]))


def bias_floor(n: int, bins: int | None = None) -> float:
    """Expected histogram-KL of n samples drawn from N(0, 1) itself: ≈ (bins - 1)/(2n) nats
    (Miller-Madow). Values near this floor mean "indistinguishable from N(0, 1)"."""
    bins = binning(n)[0] if bins is None else bins
    return float(_core_kl.bias_floor(n, bins))


def histogram_kl_curve(frames: np.ndarray) -> np.ndarray:
    """Histogram KL(p̂ ‖ N(0, 1)) in nats of each frame's pixels, float64 [N] for frames [N, ...].

    core.kl.histogram_kl_batch with its default binning. Out-of-range pixels
    count in the edge bins, whose reference mass includes the tails, so a far-from-Gaussian
    frame (e.g. exponential noise) is not flattered by clipping.
    """
    flat = np.asarray(frames).reshape(frames.shape[0], -1)
    return np.asarray(_core_kl.histogram_kl_batch(flat), dtype=np.float64)


def exact_kl_curve(schedule: NoiseSchedule, x0: np.ndarray) -> np.ndarray:
    """Exact KL(q(x_t|x_0) ‖ N(0, I)) per pixel for t = 0..T, float64 [T+1] (inf at t = 0).

    q(x_t|x_0) = N(√ᾱ_t x_0, (1-ᾱ_t) I), so per pixel
    KL = ½(ᾱ_t x_0² + (1 - ᾱ_t) - 1 - ln(1 - ᾱ_t)), averaged over pixels (Ho et al. 2020, L_T).
    """
    try:
        return np.asarray(_core_kl.analytic_kl_q(schedule, x0), dtype=np.float64)
    except (TypeError, ValueError):  # an x0 core.kl refuses (empty, non-finite): computed here
        pass
    m2 = float(np.mean(np.square(np.asarray(x0, dtype=np.float64))))
    a = schedule.alphas_cumprod
    one_minus = -np.expm1(np.cumsum(np.log1p(-schedule.betas)))
    kl = 0.5 * (a * m2 - a - np.log(one_minus))
    return np.concatenate([[np.inf], np.maximum(kl, 0.0)])


def histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edges [bins+1], density [bins]) of the pixels in the KL estimate's own bins (so the
    picture is what the number measures), out-of-range values in the edge bins."""
    x = np.asarray(values, dtype=np.float64).ravel()
    bins, (lo, hi) = binning(x.size)
    edges = np.linspace(lo, hi, bins + 1)
    counts = _core_kl.bin_counts(x.reshape(1, -1), bins, (lo, hi))[0]
    density = counts / (x.size * (hi - lo) / bins)
    return edges, density


def normal_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)
