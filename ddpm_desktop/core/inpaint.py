"""Inpainting: fill the unknown pixels of a digit with a trained DDPM, no retraining.

A mask is a bool array [28, 28] (or [B, 1, 28, 28]), True where a pixel is *known* (kept as
given) and False in the hole the model fills; in a mask image, white is known. Three methods,
each a generator yielding `core.sampling.SampleStep` like the samplers (start state first,
then one state per move), so a view animates and cancels by iterating:

- "paste" (the replacement method; Song et al. 2021, "Score-Based Generative Modeling through
  SDEs", app. I.2): before every network call the known pixels of x_t are replaced by x_0
  noised to t, x_t^known = √ᾱ_t x_0 + √(1-ᾱ_t) ε (one ε per step). Any sampler (ddpm, ddim,
  dpmpp); NFE = the sampler's.
- "repaint" (Lugmayr et al. 2022, "RePaint", Algorithm 1): DDPM steps where the known part is
  drawn fresh from q(x_{t-1}|x_0) (eq. 8a) and the unknown part from p(x_{t-1}|x_t) (eq. 8b),
  merged by the mask (eq. 8c); with resampling jumps: after every `jump_length` steps down the
  chain jumps back up `jump_length` steps through q(x_t|x_{t-j}) and redoes them, `resample`
  times in all (their j and r, the "jump_length"/"jump_n_sample" of diffusers'
  RePaintScheduler, whose level sequence `repaint_levels` reproduces). DDPM only;
  NFE = steps + (r - 1) j ⌈steps/j - 1⌉.
- "x0" (range-null-space replacement; Wang et al. 2023, "DDNM", eq. 13 with A the mask):
  at every step the known part of x̂_0 is replaced by x_0 and the sampler steps with that
  x̂_0 (the sampler sees ε̂ re-derived from it, ε̂' = (x_t - √ᾱ_t x̂_0')/√(1-ᾱ_t)). Any sampler.

Every method ends with the known pixels set to x_0 exactly (bit for bit): the last step's
formula gives x_0 there only up to float rounding.

Batching follows the samplers: the caller draws x_T [B, 1, 28, 28]; x_0 and the mask broadcast
against it, so B completions of one digit pass x_0 [28, 28], and one completion each of B
digits passes x_0 [B, 1, 28, 28].
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .imaging import IMAGE_SIDE
from .forward import q_sample_at
from .sampling import (SAMPLERS, EpsFn, SampleStep, ddpm_chain, eps_from_x0, iter_sampler,
                       timesteps_for, x0_from_eps)
from .schedule import NoiseSchedule

METHODS = ("paste", "repaint", "x0")
MASK_PRESETS = ("top", "bottom", "left", "right")
# RePaint's resampling defaults here: the paper uses j = r = 10 on 250 steps; on 50 steps,
# j = 10 and r = 5 (NFE 210) is where the bundled classifier's reading of the completed
# digits first passes 85% (docs/INPAINTING.md; r = 3 gives about 81%).
DEFAULT_JUMP_LENGTH = 10
DEFAULT_RESAMPLE = 5
# Default reverse steps per method and sampler when the caller passes steps=None.
DEFAULT_STEPS = {"ddpm": 100, "ddim": 50, "dpmpp": 20, "repaint": 50}


# ----------------------------------------------------------------------------- masks


def preset_mask(name: str, rows: int = IMAGE_SIDE // 2) -> np.ndarray:
    """bool [28, 28], True = known; the preset names the side that is *hidden*.

    "bottom" hides the bottom `rows` rows (so the model completes the digit's lower part),
    "top" the top rows, "left"/"right" that many columns. rows in 1..27.
    """
    if name not in MASK_PRESETS:
        raise ValueError(f"unknown mask preset {name!r}: choose one of {', '.join(MASK_PRESETS)}")
    if isinstance(rows, bool) or int(rows) != rows or not 1 <= rows <= IMAGE_SIDE - 1:
        raise ValueError(f"rows = {rows} must be an integer in 1..{IMAGE_SIDE - 1}")
    rows = int(rows)
    known = np.ones((IMAGE_SIDE, IMAGE_SIDE), dtype=bool)
    if name == "bottom":
        known[IMAGE_SIDE - rows:] = False
    elif name == "top":
        known[:rows] = False
    elif name == "right":
        known[:, IMAGE_SIDE - rows:] = False
    else:
        known[:, :rows] = False
    return known


def check_mask(known) -> np.ndarray:
    """A mask (bool or 0/1, [28, 28] or [B, 1, 28, 28]) -> bool numpy array, True = known.

    Raises ValueError (one line) for another size, an all-known mask (nothing to fill) or an
    all-unknown one (nothing to condition on: that is plain sampling), per item of a batch.
    """
    arr = known.detach().cpu().numpy() if isinstance(known, torch.Tensor) else np.asarray(known)
    if arr.shape[-2:] != (IMAGE_SIDE, IMAGE_SIDE) or arr.ndim not in (2, 4) or (arr.ndim == 4 and arr.shape[1] != 1):
        raise ValueError(f"the mask must be {IMAGE_SIDE}x{IMAGE_SIDE} pixels (white = known), got shape "
                         f"{'x'.join(map(str, arr.shape)) or 'scalar'}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError("a mask array must hold only 0/1 or True/False")
        arr = arr.astype(bool)
    flat = arr.reshape(-1, IMAGE_SIDE * IMAGE_SIDE)
    if flat.all(axis=1).any():
        raise ValueError("the mask marks every pixel as known: there is nothing to fill in")
    if not flat.any(axis=1).all():
        raise ValueError("the mask marks no pixel as known: that is plain sampling, not inpainting")
    return arr


def load_mask(path) -> np.ndarray:
    """A mask image -> bool [28, 28], True where the image is white (grey level >= 0.5).

    The image must be exactly 28x28 pixels: a mask is positional, and the digit preprocessing
    (rescale to a 20x20 box, recentre the ink) would move it relative to the digit, so a mask
    addresses the 28x28 preprocessed digit pixel for pixel. Read by `imaging.open_image` (the
    raster formats it allows), grey levels at the image's own depth (16-bit too); alpha is
    ignored. ValueError (one line, naming the file) for anything else, see `check_mask`.
    """
    from .imaging import grey_levels, open_image

    path = Path(path)
    im = open_image(path)
    if im.size != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"the mask '{path.name}' is {im.size[0]}x{im.size[1]} pixels; it must be "
                         f"exactly {IMAGE_SIDE}x{IMAGE_SIDE} (white = known)")
    grey = grey_levels(im)
    try:
        return check_mask(grey >= 0.5)
    except ValueError as exc:
        raise ValueError(f"the mask '{path.name}': {exc}") from None


# ----------------------------------------------------------------------------- helpers


def _as_batch(x, like: torch.Tensor) -> torch.Tensor:
    """x_0 or a mask, [28, 28] or [B, 1, 28, 28], broadcast to like's shape on like's device."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dim() == 2:
        t = t[None, None]
    return t.to(like.device).expand(like.shape)


def _noise(shape, generator, like: torch.Tensor) -> torch.Tensor:
    # Drawn on CPU then moved (as core.sampling), so a seed gives the same picture on CPU and CUDA.
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(like.device, like.dtype)


def _copy(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to("cpu", copy=True)


def _prepare(x0, known, x_T):
    if not isinstance(x_T, torch.Tensor):
        x_T = torch.as_tensor(np.asarray(x_T, dtype=np.float32))
    if x_T.dim() != 4 or tuple(x_T.shape[1:]) != (1, IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"x_T must be [B, 1, {IMAGE_SIDE}, {IMAGE_SIDE}], got {list(x_T.shape)}")
    x_T = x_T.to(torch.float32).clone()       # the caller's tensor is never written to
    known_np = check_mask(known)
    m = _as_batch(torch.from_numpy(np.ascontiguousarray(known_np)), x_T)
    x0_t = _as_batch(torch.as_tensor(np.asarray(x0, dtype=np.float32)) if not isinstance(x0, torch.Tensor)
                     else x0.to(torch.float32), x_T)
    return x0_t, m, x_T


# ----------------------------------------------------------------------------- methods


def iter_inpaint(method: str, eps_fn: EpsFn, schedule: NoiseSchedule, x0, known, x_T,
                 sampler: str = "ddpm", steps: int | None = None,
                 generator: torch.Generator | None = None, eta: float = 0.0,
                 jump_length: int = DEFAULT_JUMP_LENGTH, resample: int = DEFAULT_RESAMPLE,
                 clip_x0: bool = True) -> Iterator[SampleStep]:
    """Fill the hole of x_0 (where `known` is False) starting from x_T; yields `SampleStep`s.

    x0: the digit in [-1, 1], [28, 28] or [B, 1, 28, 28] (only its known pixels are read);
    known: the mask (see `check_mask`); x_T: [B, 1, 28, 28] start noise. steps None: the
    method's default (`DEFAULT_STEPS`). sampler applies to "paste" and "x0"; "repaint" is DDPM
    (ValueError for another sampler). jump_length / resample: RePaint's j and r.
    """
    if method not in METHODS:
        raise ValueError(f"unknown inpainting method {method!r}: choose one of {', '.join(METHODS)}")
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    if method == "repaint" and sampler != "ddpm":
        raise ValueError(f"RePaint resamples with DDPM steps; it does not run with the {sampler} sampler")
    x0_t, m, x = _prepare(x0, known, x_T)
    if steps is None:
        steps = DEFAULT_STEPS["repaint" if method == "repaint" else sampler]
    if method == "repaint":
        inner = _iter_repaint(eps_fn, schedule, x0_t, m, x, steps, generator, jump_length, resample, clip_x0)
    elif method == "paste":
        inner = _iter_paste(eps_fn, schedule, x0_t, m, x, sampler, steps, generator, eta, clip_x0)
    else:
        inner = _iter_x0(eps_fn, schedule, x0_t, m, x, sampler, steps, generator, eta, clip_x0)
    x0_cpu, m_cpu = x0_t.cpu(), m.cpu()
    for step in inner:
        if step.t == 0:
            # The known pixels end exactly as given (the last step reaches them only up to rounding).
            step = SampleStep(torch.where(m_cpu, x0_cpu, step.x_t), step.x0_pred, 0, step.nfe,
                              step.index, step.total)
        yield step


def _iter_paste(eps_fn, schedule, x0, m, x, sampler, steps, generator, eta, clip_x0):
    # The samplers hand their live x_t to eps_fn just before the network call and go on using
    # that tensor for the step, so writing the noised known pixels into it there is the
    # replacement method. What the hole becomes depends only on the network seeing the pasted
    # x_t: every update is pixel-wise, so the known pixels of x_s are overwritten again at the
    # next call; writing in place also keeps the sampler's x̂_0 consistent there. One ε per
    # step t, shared with the frames shown.
    noised: dict[int, torch.Tensor] = {}

    def known_at(t: int) -> torch.Tensor:
        if t not in noised:
            noised[t] = q_sample_at(x0, schedule.alpha_bar(t), _noise(x0.shape, generator, x0))
        return noised[t]

    def pasting_eps(x_t: torch.Tensor, t: int) -> torch.Tensor:
        x_t.copy_(torch.where(m, known_at(t), x_t))
        return eps_fn(x_t, t)

    m_cpu = m.cpu()
    for step in iter_sampler(sampler, pasting_eps, schedule, x, steps=steps, generator=generator,
                             eta=eta, clip_x0=clip_x0):
        if step.t > 0:
            # show the state the next network call will see
            step = SampleStep(torch.where(m_cpu, known_at(step.t).cpu(), step.x_t), step.x0_pred,
                              step.t, step.nfe, step.index, step.total)
        yield step


def _iter_x0(eps_fn, schedule, x0, m, x, sampler, steps, generator, eta, clip_x0):
    def replacing_eps(x_t: torch.Tensor, t: int) -> torch.Tensor:
        ab = schedule.alpha_bar(t)
        sqrt_ab, sqrt_1m_ab = math.sqrt(ab), math.sqrt(1.0 - ab)
        x0_hat = x0_from_eps(x_t, eps_fn(x_t, t), sqrt_ab, sqrt_1m_ab, clip_x0)
        x0_hat = torch.where(m, x0, x0_hat)     # DDNM eq. 13: A⁺y + (I - A⁺A) x̂_0
        return eps_from_x0(x_t, x0_hat, sqrt_ab, sqrt_1m_ab)

    yield from iter_sampler(sampler, replacing_eps, schedule, x, steps=steps, generator=generator,
                            eta=eta, clip_x0=clip_x0)


def repaint_levels(steps: int, jump_length: int = DEFAULT_JUMP_LENGTH,
                   resample: int = DEFAULT_RESAMPLE) -> np.ndarray:
    """RePaint's walk over the `steps` levels of a respaced chain: int64 [moves + 1], from
    `steps` (x_T) to 0, each entry one level up or down (Lugmayr et al. 2022, Fig. 9's schedule,
    as their `get_schedule_jump` and diffusers' `RePaintScheduler.set_timesteps`).

    Going down from level k+1 to k is one network call; a jump goes back up `jump_length`
    levels, at every level k = 0, j, 2j, ... < steps - j, `resample - 1` times.
    """
    for name, v in (("steps", steps), ("jump_length", jump_length), ("resample", resample)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} = {v} must be a positive integer")
    steps, jump_length, resample = int(steps), int(jump_length), int(resample)
    jumps = {k: resample - 1 for k in range(0, steps - jump_length, jump_length)}
    levels, k = [steps], steps
    while k >= 1:
        k -= 1
        levels.append(k)
        if jumps.get(k, 0) > 0:
            jumps[k] -= 1
            for _ in range(jump_length):
                k += 1
                levels.append(k)
    return np.asarray(levels, dtype=np.int64)


def _iter_repaint(eps_fn, schedule, x0, m, x, steps, generator, jump_length, resample, clip_x0):
    ts = timesteps_for(schedule.T, steps)           # ts[0] = T ... ts[-1] = 0
    n_levels = len(ts) - 1
    # the down move t = ts[j] -> ts[j + 1] is iter_ddpm's step j: its row of the chain the
    # DDPM steps along `ts` run on (the schedule respaced to `ts`, improved-diffusion's)
    chain, rows = ddpm_chain(schedule, ts)
    t_of = lambda level: int(ts[n_levels - level])  # noqa: E731 - level k <-> step t
    levels = repaint_levels(n_levels, jump_length, resample)
    total = len(levels) - 1
    x0_pred = torch.zeros(x.shape)
    nfe = 0
    yield SampleStep(_copy(x), x0_pred, t_of(int(levels[0])), 0, 0, total)
    for i in range(total):
        level = int(levels[i])
        t, s = t_of(level), t_of(int(levels[i + 1]))
        ab_t, ab_s = schedule.alpha_bar(t), schedule.alpha_bar(s)
        with torch.inference_mode():
            if s < t:
                # Down t -> s, s the next kept step: the chain's β_{t|s} = 1 - ᾱ_t/ᾱ_s and its
                # posterior coefficients, as in iter_ddpm.
                row = int(rows[n_levels - level])
                eps = eps_fn(x, t)
                nfe += 1
                x0_hat = x0_from_eps(x, eps, float(chain.sqrt_alphas_cumprod[row]),
                                     float(chain.sqrt_one_minus_alphas_cumprod[row]), clip_x0)
                # eq. 8b: x_s^unknown ~ p(x_s|x_t) = N(μ̃_t(x_t, x̂_0), β_{t|s}) (Ho et al. 2020, eq. 7)
                unknown = (float(chain.posterior_mean_coef1[row]) * x0_hat
                           + float(chain.posterior_mean_coef2[row]) * x)
                if s > 0:
                    sigma = math.sqrt(float(chain.betas[row]))
                    unknown = unknown + sigma * _noise(x.shape, generator, x)
                    # eq. 8a: x_s^known ~ q(x_s|x_0) = N(√ᾱ_s x_0, (1-ᾱ_s) I)
                    known = q_sample_at(x0, ab_s, _noise(x.shape, generator, x))
                else:
                    known = x0
                x = torch.where(m, known, unknown)       # eq. 8c
                x0_pred = _copy(x0_hat)
            else:
                # Jump up t -> s > t: x_s ~ q(x_s|x_t) = N(√(ᾱ_s/ᾱ_t) x_t, (1 - ᾱ_s/ᾱ_t) I)
                x = q_sample_at(x, ab_s / ab_t, _noise(x.shape, generator, x))
        yield SampleStep(_copy(x), x0_pred, s, nfe, i + 1, total)


def inpaint(method: str, eps_fn: EpsFn, schedule: NoiseSchedule, x0, known, x_T, **kwargs) -> SampleStep:
    """Run `iter_inpaint` to the end; -> the last `SampleStep` (x_t the completions, nfe)."""
    last = None
    for last in iter_inpaint(method, eps_fn, schedule, x0, known, x_T, **kwargs):
        pass
    return last
