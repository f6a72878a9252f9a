"""Reverse process: DDPM ancestral, DDIM and DPM-Solver++(2M) as generators yielding every step.

The network comes in as `eps_fn(x_t, t) -> ε̂` (t the 1-based step, an int); the sampler never
owns it and the schedule never calls it. `make_eps_fn` wraps a `UNet` (conditioned on log-SNR)
with classifier-free guidance.

Each `iter_*` generator yields the start state first (index 0, nfe 0), then one `SampleStep`
per reverse step, holding CPU copies, so a view can animate and cancel by iterating. The
network runs under `torch.inference_mode()`, entered per step and left before each `yield`
(grad mode is thread-local: a mode held across a yield would leak into the caller).

Timesteps for fewer steps than T ("trailing" spacing). From t_start (default T) to 0 in `steps`
steps: `np.linspace(t_start, 0, steps + 1)` rounded half-to-even, duplicates dropped (so
steps > t_start simply gives every step). With t_start = T this equals diffusers'
`timestep_spacing="trailing"`: diffusers' 0-based timestep k is our t = k + 1, and its final
"previous timestep" -1 (`set_alpha_to_one=True`, `final_sigmas_type="zero"`) is our t = 0,
ᾱ_0 = 1. A benchmark reproduces our timesteps in diffusers with `timesteps_for(...) - 1`
(drop the trailing 0), or just `timestep_spacing="trailing"`. Caveat: diffusers' DDIMScheduler
steps to t - T // steps, which is the next trailing step only when steps divides T (its
DDPMScheduler and DPMSolverMultistepScheduler step to the next entry of their timesteps).
tests/core/test_diffusers_reference.py checks all three samplers against diffusers.

All coefficients are looked up once per call as Python floats (from the float64 schedule);
a step is a handful of fused tensor ops, a CPU noise draw (DDPM, DDIM η > 0) and the two
CPU copies for the yield.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .forward import START_SEED_OFFSET  # noqa: F401  (the app's x_T stream; read here too)
from .schedule import NoiseSchedule

EpsFn = Callable[[torch.Tensor, int], torch.Tensor]
SAMPLERS = ("ddpm", "ddim", "dpmpp", "distilled")
# The distilled student's sampler takes 1..DISTILLED_MAX_STEPS network calls (core.distill).
DISTILLED_MAX_STEPS = 4
# Classifier-free guidance scale w used by the app and the CLI unless the user picks another,
# chosen by measurement (resources/guidance_sweep.json, docs/GUIDANCE.md; 500 samples, DPM-Solver++
# 20 NFE): w = 1.5 reads 99.6% legible with FD 3.64 = 0.91x the data floor; w = 1 was 95.0%
# legible, w = 2 100% but FD 1.52x the floor (variety lost).
DEFAULT_GUIDANCE = 1.5
DDPM_VARIANCES = ("beta", "beta_tilde")


@dataclass(frozen=True)
class SampleStep:
    """One state of a reverse chain, as CPU copies.

    x_t: the sample at step t ([B, ...] float32); x0_pred: the clipped (if clip_x0) x̂_0 the step
    that produced x_t used (at index 0 no network has run yet, and x0_pred is zeros);
    t: the step x_t is at (t_start first, 0 at the end); nfe: network calls so far;
    index: 0..total; total: number of reverse steps.
    """

    x_t: torch.Tensor
    x0_pred: torch.Tensor
    t: int
    nfe: int
    index: int
    total: int


def timesteps_for(T: int, steps: int | None = None, t_start: int | None = None) -> np.ndarray:
    """Descending int64 steps [t_start, ..., 0] ("trailing" spacing, see module docstring).

    steps None means every step t_start, t_start - 1, ..., 0. Raises ValueError on steps < 1 or
    t_start outside 1..T.
    """
    t_start = T if t_start is None else t_start
    if isinstance(t_start, bool) or int(t_start) != t_start or not 1 <= t_start <= T:
        raise ValueError(f"t_start = {t_start} is out of range: need 1 <= t_start <= T = {T}")
    t_start = int(t_start)
    if steps is None:
        return np.arange(t_start, -1, -1, dtype=np.int64)
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps = {steps} must be a positive integer")
    ts = np.round(np.linspace(t_start, 0, int(steps) + 1)).astype(np.int64)
    # linspace is monotone, so duplicates are adjacent.
    keep = np.append(True, ts[1:] != ts[:-1])
    return ts[keep]


def generator_for(seed: int) -> torch.Generator:
    """A CPU generator seeded with `seed` (drawn on CPU, so a seed gives the same picture on
    CPU and CUDA)."""
    return torch.Generator(device="cpu").manual_seed(int(seed))




def _copy(x: torch.Tensor) -> torch.Tensor:
    # A CPU copy the receiver may keep: never the live tensor (STYLE.md, "emit copies").
    return x.detach().to("cpu", copy=True)


def _noise_like(x: torch.Tensor, generator) -> torch.Tensor:
    # Drawn on CPU then moved, so a seed gives the same picture on CPU and CUDA.
    if isinstance(generator, (list, tuple)):
        # One generator per batch row (core.completions): row b draws exactly what a run of
        # that row alone with generator[b] draws, so a batch reproduces single-image runs.
        if len(generator) != x.shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {x.shape[0]}")
        z = torch.cat([torch.randn((1, *x.shape[1:]), generator=g, dtype=torch.float32)
                       for g in generator])
        return z.to(device=x.device, dtype=x.dtype)
    z = torch.randn(x.shape, generator=generator, dtype=torch.float32)
    return z.to(device=x.device, dtype=x.dtype)


def _check_x(x_T) -> torch.Tensor:
    if not isinstance(x_T, torch.Tensor):
        x_T = torch.as_tensor(np.asarray(x_T, dtype=np.float32))
    if not x_T.is_floating_point():
        raise ValueError(f"x_T must be a floating-point tensor, got {x_T.dtype}")
    return x_T


def x0_from_eps(x_t, eps, sqrt_ab: float, sqrt_1m_ab: float, clip: bool = False):
    """x̂_0 = (x_t - √(1-ᾱ_t) ε̂)/√ᾱ_t (Ho et al. 2020, eq. 4 solved for x_0, as in eq. 15),
    clipped to [-1, 1] when `clip`. sqrt_ab, sqrt_1m_ab: √ᾱ_t and √(1-ᾱ_t) of x_t's level."""
    x0 = (x_t - sqrt_1m_ab * eps) / sqrt_ab
    return x0.clamp_(-1.0, 1.0) if clip else x0


def eps_from_x0(x_t, x0, sqrt_ab, sqrt_1m_ab):
    """ε = (x_t - √ᾱ_t x̂_0)/√(1-ᾱ_t): the noise that x̂_0 implies at x_t (eq. 4 solved for ε;
    the inverse of `x0_from_eps`), e.g. after x̂_0 was clipped or replaced. Tensors or arrays;
    sqrt_ab, sqrt_1m_ab: floats, or per-item values broadcasting against x_t."""
    return (x_t - sqrt_ab * x0) / sqrt_1m_ab


def ddim_step(eps_fn: EpsFn, schedule: NoiseSchedule, x: torch.Tensor, t: int, s: int,
              eta: float = 0.0, generator: torch.Generator | None = None,
              clip_x0: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step t -> s (Song et al. 2021, eq. 12): -> (x_s, x̂_0), one network call.

    x_s = √ᾱ_s x̂_0 + √(1 - ᾱ_s - σ²) ε̂ + σ z with `ddim_coefficients`. When clip_x0, ε̂ is
    re-derived from the clipped x̂_0 (`eps_from_x0`) so the two stay consistent. z is drawn
    from `generator` (CPU) only when σ > 0 (η > 0)."""
    ab_t, ab_s = schedule.alpha_bar(t), schedule.alpha_bar(s)
    sqrt_ab_t, sqrt_1m_ab_t = math.sqrt(ab_t), math.sqrt(1.0 - ab_t)
    sqrt_ab_s, dir_coef, sigma = ddim_coefficients(ab_t, ab_s, eta)
    eps = eps_fn(x, t)
    x0 = x0_from_eps(x, eps, sqrt_ab_t, sqrt_1m_ab_t, clip_x0)
    if clip_x0:
        eps = eps_from_x0(x, x0, sqrt_ab_t, sqrt_1m_ab_t)
    # eq. 12: "predicted x_0" + "direction pointing to x_t" + random noise
    x_s = sqrt_ab_s * x0 + dir_coef * eps
    if sigma > 0.0:
        x_s = x_s + sigma * _noise_like(x, generator)
    return x_s, x0


def ddpm_chain(schedule: NoiseSchedule, ts: np.ndarray) -> tuple[NoiseSchedule, np.ndarray]:
    """(the schedule the DDPM steps along `ts` run on, the row of each step in it): `schedule`
    itself when no step is skipped (row t - 1), else `schedule.respaced(ts)` (kept step k:
    row k - 1), improved-diffusion's respacing."""
    total = len(ts) - 1
    if total == int(ts[0]):
        return schedule, ts[:-1] - 1
    return schedule.respaced(ts), np.arange(total - 1, -1, -1)


def ddim_coefficients(ab_t: float, ab_s: float, eta: float) -> tuple[float, float, float]:
    """(√ᾱ_s, √(1 - ᾱ_s - σ²), σ) of the DDIM step t -> s (Song et al. 2021, eq. 12 and 16):
    σ = η √((1-ᾱ_s)/(1-ᾱ_t)) √(1 - ᾱ_t/ᾱ_s)."""
    sigma = eta * math.sqrt((1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s))
    return math.sqrt(ab_s), math.sqrt(max(1.0 - ab_s - sigma * sigma, 0.0)), sigma


def dpmpp_coefficients(schedule: NoiseSchedule, t: int, s: int) -> tuple[float, float, float]:
    """(σ_s/σ_t, -α_s (e^{-h} - 1), h) of the DPM-Solver++ step t -> s >= 1 (Lu et al. 2022),
    with α = √ᾱ, σ = √(1-ᾱ) and h = λ_s - λ_t, λ = ½ log-SNR."""
    ab_t, ab_s = schedule.alpha_bar(t), schedule.alpha_bar(s)
    h = 0.5 * float(schedule.log_snr[s - 1]) - 0.5 * float(schedule.log_snr[t - 1])
    return math.sqrt((1.0 - ab_s) / (1.0 - ab_t)), -math.sqrt(ab_s) * math.expm1(-h), h


def step_terms(name: str, schedule: NoiseSchedule, ts: np.ndarray, i: int, eta: float = 0.0,
               variance: str = "beta") -> dict:
    """The numbers step i (t = ts[i] -> s = ts[i+1]) of sampler `name` runs with, for a view
    of its equation: t, s, ᾱ_t, ᾱ_s, the x̂_0 coefficients, and per sampler
    ddpm: coef1, coef2, sigma (x_s = coef1 x̂_0 + coef2 x_t + sigma z, eq. 7);
    ddim: sqrt_ab_s, dir_coef, sigma (eq. 12); dpmpp: ratio, coef, h, r and order
    (x_s = ratio x_t + coef D; D = x̂_0 at first order, (1 + 1/2r) x̂_0 - (1/2r) x̂_0' else).
    The samplers read the same functions (`ddpm_chain`, `ddim_coefficients`,
    `dpmpp_coefficients`)."""
    t, s = int(ts[i]), int(ts[i + 1])
    ab_t, ab_s = schedule.alpha_bar(t), schedule.alpha_bar(s)
    out = {"t": t, "s": s, "ab_t": ab_t, "ab_s": ab_s, "sqrt_ab_t": math.sqrt(ab_t),
           "sqrt_1m_ab_t": math.sqrt(1.0 - ab_t)}
    if name == "ddpm":
        chain, rows = ddpm_chain(schedule, np.asarray(ts))
        row = int(rows[i])
        if variance == "beta":
            sigma = math.sqrt(float(chain.betas[row]))
        else:
            sigma = math.exp(0.5 * float(chain.posterior_log_variance_clipped[row]))
        out.update(coef1=float(chain.posterior_mean_coef1[row]),
                   coef2=float(chain.posterior_mean_coef2[row]), sigma=sigma if s > 0 else 0.0)
    elif name == "ddim":
        sqrt_ab_s, dir_coef, sigma = ddim_coefficients(ab_t, ab_s, float(eta))
        out.update(sqrt_ab_s=sqrt_ab_s, dir_coef=dir_coef, sigma=sigma)
    elif name == "dpmpp":
        if s == 0:
            out.update(ratio=0.0, coef=1.0, h=math.inf, r=None, order=1)
        else:
            ratio, coef, h = dpmpp_coefficients(schedule, t, s)
            r = None
            if i > 0:
                _, _, h_prev = dpmpp_coefficients(schedule, int(ts[i - 1]), t)
                r = h_prev / h
            out.update(ratio=ratio, coef=coef, h=h, r=r, order=1 if r is None else 2)
    else:
        raise ValueError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")
    return out


def iter_ddpm(eps_fn: EpsFn, schedule: NoiseSchedule, x_T, t_start: int | None = None,
              generator: torch.Generator | None = None, variance: str = "beta",
              steps: int | None = None, clip_x0: bool = True) -> Iterator[SampleStep]:
    """DDPM ancestral sampling (Ho et al. 2020, Algorithm 2), one `SampleStep` per step.

    variance: σ_t² = β_t ("beta", the paper's choice for x_0 ~ N(0, I)) or β̃_t ("beta_tilde",
    eq. 7). No noise is added on the last step (to t = 0).

    clip_x0=True (default): x_{t-1} = μ̃_t(clip(x̂_0), x_t) + σ_t z, the posterior mean of eq. 7
    with x̂_0 clipped to [-1, 1] (improved-diffusion's `p_mean_variance`; better digits).
    clip_x0=False: Algorithm 2 literally, x_{t-1} = (x_t - β_t/√(1-ᾱ_t) ε̂)/√α_t + σ_t z, which is
    the same number as the posterior mean with the unclipped x̂_0.

    steps (default: every step) respaces the chain as improved-diffusion does: the step runs on
    `schedule.respaced(timesteps)`, whose β'_k = 1 - ᾱ_{t_k}/ᾱ_{t_{k-1}} plays the role of β_t.
    Either way the step reads the schedule's `posterior_mean_coef1/2` and (for "beta_tilde")
    `posterior_log_variance_clipped`, improved-diffusion's `p_sample`; when no step is skipped
    that is `schedule` itself.
    """
    if variance not in DDPM_VARIANCES:
        raise ValueError(f"unknown DDPM variance {variance!r}: choose one of {', '.join(DDPM_VARIANCES)}")
    x = _check_x(x_T)
    ts = timesteps_for(schedule.T, steps, t_start)
    total = len(ts) - 1
    chain, rows = ddpm_chain(schedule, ts)
    # Python floats per step, read once (the σ of the last step is never used: no noise to t = 0).
    coef1, coef2 = chain.posterior_mean_coef1[rows].tolist(), chain.posterior_mean_coef2[rows].tolist()
    sqrt_ab = chain.sqrt_alphas_cumprod[rows].tolist()
    sqrt_1m_ab = chain.sqrt_one_minus_alphas_cumprod[rows].tolist()
    betas, sqrt_alphas = chain.betas[rows].tolist(), np.sqrt(chain.alphas[rows]).tolist()
    if variance == "beta":
        sigmas = np.sqrt(chain.betas[rows]).tolist()
    else:
        # β̃ (Ho et al. 2020, eq. 7); the clipped log only differs at t = 1, where no noise is added.
        sigmas = np.exp(0.5 * chain.posterior_log_variance_clipped[rows]).tolist()
    yield SampleStep(_copy(x), torch.zeros(x.shape), int(ts[0]), 0, 0, total)
    for i in range(total):
        t, s = int(ts[i]), int(ts[i + 1])
        with torch.inference_mode():
            eps = eps_fn(x, t)
            x0 = x0_from_eps(x, eps, sqrt_ab[i], sqrt_1m_ab[i], clip_x0)
            if clip_x0:
                # μ̃_t(x_t, x_0) = β_t √ᾱ_{t-1}/(1-ᾱ_t) x_0 + √α_t (1-ᾱ_{t-1})/(1-ᾱ_t) x_t (eq. 7)
                x_new = coef1[i] * x0 + coef2[i] * x
            else:
                # Algorithm 2, line 4
                x_new = (x - (betas[i] / sqrt_1m_ab[i]) * eps) / sqrt_alphas[i]
            if s > 0:
                x_new = x_new + sigmas[i] * _noise_like(x, generator)
        x = x_new
        yield SampleStep(_copy(x), _copy(x0), s, i + 1, i + 1, total)


def iter_ddim(eps_fn: EpsFn, schedule: NoiseSchedule, x_T, steps: int | None = None,
              eta: float = 0.0, t_start: int | None = None,
              generator: torch.Generator | None = None,
              clip_x0: bool = True) -> Iterator[SampleStep]:
    """DDIM (Song et al. 2021, eq. 12), `steps` trailing steps (default every step), η adjustable.

    x_s = √ᾱ_s x̂_0 + √(1 - ᾱ_s - σ²) ε̂ + σ z,  σ = η √((1-ᾱ_s)/(1-ᾱ_t)) √(1 - ᾱ_t/ᾱ_s)  (eq. 16).
    η = 0 is deterministic (no generator needed); η = 1 is DDPM with σ² = β̃. When clip_x0,
    ε̂ is re-derived from the clipped x̂_0 so the two stay consistent: diffusers'
    DDIMScheduler(clip_sample=True) does that only with step(..., use_clipped_model_output=True);
    with its default False it keeps the network's ε̂ in the direction term, and the images
    differ wherever the clip changed x̂_0.
    """
    eta = float(eta)
    if not math.isfinite(eta) or eta < 0:
        raise ValueError(f"eta = {eta} must be a finite number >= 0")
    x = _check_x(x_T)
    ts = timesteps_for(schedule.T, steps, t_start)
    total = len(ts) - 1
    yield SampleStep(_copy(x), torch.zeros(x.shape), int(ts[0]), 0, 0, total)
    for i in range(total):
        t, s = int(ts[i]), int(ts[i + 1])
        with torch.inference_mode():
            x, x0 = ddim_step(eps_fn, schedule, x, t, s, eta, generator, clip_x0)
        yield SampleStep(_copy(x), _copy(x0), s, i + 1, i + 1, total)


def iter_dpmpp_2m(eps_fn: EpsFn, schedule: NoiseSchedule, x_T, steps: int | None = 20,
                  t_start: int | None = None, clip_x0: bool = True) -> Iterator[SampleStep]:
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), data prediction.

    Works in λ_t = log(α_t/σ_t) = ½ log-SNR with α_t = √ᾱ_t, σ_t = √(1-ᾱ_t). With h_i = λ_{t_i} - λ_{t_{i-1}}:
      first step:  x_{t_i} = (σ_{t_i}/σ_{t_{i-1}}) x - α_{t_i} (e^{-h_i} - 1) x̂_0(t_{i-1})         (eq. 8, k = 1)
      later steps: D_i = (1 + 1/(2r_i)) x̂_0(t_{i-1}) - 1/(2r_i) x̂_0(t_{i-2}), r_i = h_{i-1}/h_i,
                   x_{t_i} = (σ_{t_i}/σ_{t_{i-1}}) x - α_{t_i} (e^{-h_i} - 1) D_i
    The final step goes to t = 0 where σ = 0 (λ = +∞) and is first order, i.e. returns x̂_0 of
    the last network call, as diffusers' DPMSolverMultistepScheduler(algorithm_type="dpmsolver++",
    solver_order=2, final_sigmas_type="zero"). Deterministic: no generator.
    """
    x = _check_x(x_T)
    ts = timesteps_for(schedule.T, steps, t_start)
    total = len(ts) - 1
    yield SampleStep(_copy(x), torch.zeros(x.shape), int(ts[0]), 0, 0, total)
    x0_prev = None
    h_prev = 0.0
    for i in range(total):
        t, s = int(ts[i]), int(ts[i + 1])
        ab_t = schedule.alpha_bar(t)
        sqrt_ab_t, sqrt_1m_ab_t = math.sqrt(ab_t), math.sqrt(1.0 - ab_t)
        with torch.inference_mode():
            eps = eps_fn(x, t)
            x0 = x0_from_eps(x, eps, sqrt_ab_t, sqrt_1m_ab_t, clip_x0)
            if s == 0:
                x_new = x0          # σ_s = 0, α_s = 1: the first-order step lands on x̂_0
                h = math.inf
            else:
                ratio, coef, h = dpmpp_coefficients(schedule, t, s)
                if x0_prev is None:
                    d = x0
                else:
                    r = h_prev / h
                    d = (1.0 + 0.5 / r) * x0 - (0.5 / r) * x0_prev
                x_new = ratio * x + coef * d
        x0_prev, h_prev, x = x0, h, x_new
        yield SampleStep(_copy(x), _copy(x0), s, i + 1, i + 1, total)


def iter_distilled(eps_fn: EpsFn, schedule: NoiseSchedule, x_T, steps: int | None = None,
                   t_start: int | None = None, clip_x0: bool = True) -> Iterator[SampleStep]:
    """The distilled student's sampler: 1..4 deterministic DDIM steps (η = 0, trailing spacing).

    eps_fn must wrap the student (`core.distill.StudentNet` through `make_eps_fn`, guidance 1:
    the student's conditional output already is the guided one); steps None means 4. Each step
    is one network call, so nfe = steps. With the teacher in place of the student this is
    iter_ddim at the same steps. Raises ValueError for steps outside 1..4.
    """
    steps = DISTILLED_MAX_STEPS if steps is None else steps
    if isinstance(steps, bool) or int(steps) != steps or not 1 <= steps <= DISTILLED_MAX_STEPS:
        raise ValueError(f"the distilled sampler takes 1..{DISTILLED_MAX_STEPS} steps, got {steps}")
    return iter_ddim(eps_fn, schedule, x_T, steps=int(steps), eta=0.0, t_start=t_start, clip_x0=clip_x0)


def iter_sampler(name: str, eps_fn: EpsFn, schedule: NoiseSchedule, x_T,
                 steps: int | None = None, t_start: int | None = None,
                 generator: torch.Generator | None = None, clip_x0: bool = True,
                 eta: float = 0.0, variance: str = "beta") -> Iterator[SampleStep]:
    """Dispatch by name ("ddpm", "ddim", "dpmpp", "distilled"). steps None: every step for
    ddpm/ddim, 20 for dpmpp, 4 for distilled (whose eps_fn must be the student's, see
    `iter_distilled`).

    eta only applies to ddim, variance only to ddpm, generator to ddpm and ddim (η > 0);
    generator may also be a list of one generator per batch row (each row then draws what
    it would draw alone).
    """
    if name == "ddpm":
        return iter_ddpm(eps_fn, schedule, x_T, t_start=t_start, generator=generator,
                         variance=variance, steps=steps, clip_x0=clip_x0)
    if name == "ddim":
        return iter_ddim(eps_fn, schedule, x_T, steps=steps, eta=eta, t_start=t_start,
                         generator=generator, clip_x0=clip_x0)
    if name == "dpmpp":
        return iter_dpmpp_2m(eps_fn, schedule, x_T, steps=20 if steps is None else steps,
                             t_start=t_start, clip_x0=clip_x0)
    if name == "distilled":
        return iter_distilled(eps_fn, schedule, x_T, steps=steps, t_start=t_start, clip_x0=clip_x0)
    raise ValueError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")


def sample(name: str, eps_fn: EpsFn, schedule: NoiseSchedule, x_T, **kwargs) -> torch.Tensor:
    """Run `iter_sampler(name, ...)` to the end and return the final x_0 (CPU copy)."""
    last = None
    for last in iter_sampler(name, eps_fn, schedule, x_T, **kwargs):
        pass
    return last.x_t


def make_eps_fn(model, schedule: NoiseSchedule, labels=None, guidance: float = 1.0) -> EpsFn:
    """Wrap a network `model(x [B,...], log_snr [B], labels [B] long | None) -> ε̂` as an EpsFn.

    The model sees the log-SNR of step t of *this* schedule (`make_log_snr_eps_fn` at
    λ = schedule.log_snr[t - 1]; labels and guidance as there).
    """
    eps_at = make_log_snr_eps_fn(model, labels, guidance)
    log_snr = schedule.log_snr

    def eps_fn(x: torch.Tensor, t: int) -> torch.Tensor:
        return eps_at(x, float(log_snr[t - 1]))

    return eps_fn


def make_log_snr_eps_fn(model, labels=None, guidance: float = 1.0) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """Wrap a network as eps_at(x [B,...], λ) -> ε̂ at any log-SNR λ (a float), for the solvers
    that run in continuous λ (core.likelihood's probability-flow ODE).

    labels: None (unconditional), an int (the same class for the whole batch) or a [B] long tensor.
    Classifier-free guidance (Ho & Salimans 2022, eq. 6): ε̂ = ε_u + w (ε_c - ε_u), computed in one
    batched call of 2B; w = 1 is plain conditional and w = 0 unconditional (one call of B each).
    The null label is `model.null_label` (falls back to model.config.num_classes, then 10).
    Runs in the caller's grad mode, so autograd can differentiate ε̂ with respect to x.
    """
    w = float(guidance)
    if not math.isfinite(w):
        raise ValueError(f"guidance = {guidance} must be a finite number")
    null = getattr(model, "null_label", None)
    if null is None:
        null = getattr(getattr(model, "config", None), "num_classes", 10)
    null = int(null)

    def eps_at(x: torch.Tensor, log_snr: float) -> torch.Tensor:
        b = x.shape[0]
        lam = torch.full((b,), float(log_snr), dtype=torch.float32, device=x.device)
        if labels is None or w == 0.0:
            return model(x, lam, None)
        if isinstance(labels, torch.Tensor):
            y = labels.to(device=x.device, dtype=torch.long).expand(b) if labels.dim() == 0 \
                else labels.to(device=x.device, dtype=torch.long)
        else:
            y = torch.full((b,), int(labels), dtype=torch.long, device=x.device)
        if w == 1.0:
            return model(x, lam, y)
        y_all = torch.cat([y, torch.full_like(y, null)])
        eps_c, eps_u = model(torch.cat([x, x]), torch.cat([lam, lam]), y_all).chunk(2)
        return eps_u + w * (eps_c - eps_u)

    return eps_at
