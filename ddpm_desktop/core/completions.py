"""Many completions of one noised digit: N samples of x_0 given the same x_t.

Reconstructing from x_t (SDEdit: x_t ~ q(x_t | x_0), then the reverse chain from t) is one draw
from p_θ(x_0 | x_t). Drawing N of them from the same x_t, each with its own sampler noise,
shows what the digit could have been: at small t they all agree with the input, at large t
they spread over the classes the noise leaves open.

Completion k runs the sampler with `generator_for(seed + k)`; the N run as one batch, and
each row draws exactly the noise a single-image run with that seed draws (a list of one
generator per row, see `core.sampling.iter_sampler`), so completion k equals
`sample(sampler, eps_fn, schedule, x_t, t_start=t, generator=generator_for(seed + k))` up to
float rounding of the batched network call. Only a stochastic sampler gives different
completions: DDPM, or DDIM with η > 0; DPM-Solver++ and DDIM with η = 0 map one x_t to one
x_0 (a ValueError for n > 1).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from .imaging import IMAGE_SIDE
from .sampling import SAMPLERS, EpsFn, SampleStep, generator_for, iter_sampler
from .schedule import NoiseSchedule

MAX_SEED = 2**63 - 1


def is_stochastic(sampler: str, eta: float = 0.0) -> bool:
    """Whether `sampler` draws noise on the way down (so one x_t has many completions)."""
    return sampler == "ddpm" or (sampler == "ddim" and float(eta) > 0.0)


def deterministic_problem(sampler: str, eta: float = 0.0, n: int = 2) -> str | None:
    """Why n completions with this sampler would all be the same picture (one line), or None."""
    if n <= 1 or is_stochastic(sampler, eta):
        return None
    name = {"dpmpp": "DPM-Solver++", "ddim": "DDIM with η = 0"}.get(sampler, sampler)
    return (f"{name} is deterministic: every completion of one x_t is the same digit; "
            "use DDPM, or DDIM with η > 0")


def completion_seeds(seed: int, n: int) -> list[int]:
    """The sampler seed of each completion: seed, seed + 1, ..., seed + n - 1."""
    return [int(seed) + k for k in range(int(n))]


def _batch(x_t, n: int) -> torch.Tensor:
    x = x_t if isinstance(x_t, torch.Tensor) else torch.as_tensor(np.asarray(x_t, dtype=np.float32))
    if tuple(x.shape) == (IMAGE_SIDE, IMAGE_SIDE):
        x = x[None, None]
    if tuple(x.shape) != (1, 1, IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"x_t must be one image [28, 28] or [1, 1, 28, 28], got {list(x.shape)}")
    return x.to(torch.float32).expand(n, 1, IMAGE_SIDE, IMAGE_SIDE).clone()


def iter_completions(eps_fn: EpsFn, schedule: NoiseSchedule, x_t, t: int, n: int,
                     sampler: str = "ddpm", steps: int | None = None, seed: int = 0,
                     eta: float = 0.0, variance: str = "beta",
                     clip_x0: bool = True) -> Iterator[SampleStep]:
    """The reverse chain of n completions of x_t (at step t) as one batch; yields `SampleStep`s
    with x_t [n, 1, 28, 28] (start state first, as `iter_sampler`).

    x_t: one image [28, 28] or [1, 1, 28, 28] (on the device the network runs on); t: its step
    (1..T); steps: reverse steps from t (None: every step for ddpm/ddim, 20 for dpmpp);
    seed: completion k uses seed + k. ValueError for n < 1, a seed out of range, an unknown
    sampler, or n > 1 with a deterministic sampler (`deterministic_problem`).
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n = {n} must be a positive integer")
    n = int(n)
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    problem = deterministic_problem(sampler, eta, n)
    if problem:
        raise ValueError(problem)
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed <= MAX_SEED - (n - 1):
        raise ValueError(f"seed = {seed} must be an integer in 0..2^63-1-(n-1)")
    x = _batch(x_t, n)
    gens = [generator_for(s) for s in completion_seeds(seed, n)]
    return iter_sampler(sampler, eps_fn, schedule, x, steps=steps, t_start=t, generator=gens,
                        eta=eta, variance=variance, clip_x0=clip_x0)


def completions(eps_fn: EpsFn, schedule: NoiseSchedule, x_t, t: int, n: int, sampler: str = "ddpm",
                steps: int | None = None, seed: int = 0, **kwargs) -> torch.Tensor:
    """Run `iter_completions` to the end: the n completions, float32 [n, 1, 28, 28] (CPU)."""
    last = None
    for last in iter_completions(eps_fn, schedule, x_t, t, n, sampler=sampler, steps=steps,
                                 seed=seed, **kwargs):
        pass
    return last.x_t
