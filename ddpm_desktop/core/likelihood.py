"""The likelihood of a digit: bits per dimension by the probability-flow ODE, and the DDPM
variational bound term by term.

**Probability-flow ODE in log-SNR.** With x_λ = α x_0 + σ ε, α² = sigmoid(λ), σ² = sigmoid(-λ)
(the VP family; λ = log(ᾱ/(1-ᾱ)) as `NoiseSchedule.log_snr`), the ODE that carries the
marginals of the VP-SDE (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
eq. 13, dx = -½β(t)[x + ∇log p_t] dt with ∇log p_t = -ε/σ) becomes, since β dt = -σ² dλ,

    dx/dλ = ½ (σ² x - σ ε_θ(x, λ)),

the same for every schedule of the family: a schedule only picks the two ends λ_min (at T)
and λ_max (near the data). The instantaneous change of variables (Chen et al. 2018, Song et
al. 2021 eq. 39) along a solution x(λ) gives

    log p_{λ_max}(x(λ_max)) = log N(x(λ_min); 0, I) - ∫_{λ_min}^{λ_max} g(λ) dλ,
    g(λ) = div_x(dx/dλ) = ½ σ² D - ½ σ tr(∂ε_θ/∂x),

with the prior N(0, I) at λ_min (the prior's mismatch is `NoiseSchedule.prior_kl`, ~1e-5
nats/dim at the default T). The trace comes from vector-Jacobian products: exactly (D of
them, one a basis vector) or by Hutchinson's estimator tr J = E[vᵀ J v] with Rademacher
probes v (Hutchinson 1989; FFJORD, Grathwohl et al. 2019). The augmented ODE (x, ∫g) is
solved from λ_max down to λ_min by classical RK4 at fixed steps uniform in λ. The trace never
feeds back into x, so the exact and the estimated trace share one trajectory, and the probes
can be drawn afresh at every evaluation: the estimate stays unbiased (∫g is linear in each
trace) and its errors average over the 4 × steps evaluations instead of adding up coherently
as with one probe kept along the whole solution (Song et al. 2021 keep one, as an adaptive
solver needs a fixed ODE): on 20 held-out digits one fixed probe spread bits/dim by 0.83%
(median; up to 2.4%), fresh ones by 0.23% (up to 0.53%) (docs/LIKELIHOOD.md).

**Discrete pixels.** A digit is 8-bit: pixel u ∈ {0..255} sits at x = u/127.5 - 1, on a grid
of step Δ = 2/255. We use uniform dequantization (Theis et al. 2016; as Song et al. 2021 and
Ho et al.'s follow-ups report bits/dim): x = u/127.5 - 1 + Δ(v - ½), v ~ U[0, 1)^D, so that
by Jensen log P(u) ≥ E_v[log p(x)] + D log Δ and

    bits/dim = -(log p(x) + D log Δ)/(D ln 2) = -log p(x)/(D ln 2) + log2(127.5),

an upper bound on the discrete model's bits/dim (one draw of v per image unless more are
asked for). log2(127.5) = 6.994 is the "+8 - 1" of data scaled to width 2, with the bin of
the model's own grid (2/255) instead of 2/256.

**Variational bound** (Ho et al. 2020, eq. 5): L = L_T + Σ_{t>1} L_{t-1} + L_0 with
L_{t-1} = KL(q(x_{t-1}|x_t, x_0) ‖ p_θ(x_{t-1}|x_t)) at one draw of x_t ~ q(x_t|x_0),
p_θ's variance σ_t² = β̃_t (eq. 7's posterior variance, so only the means differ:
μ̃ - μ_θ = β_t/(√α_t √(1-ᾱ_t)) (ε̂ - ε), eq. 12), L_0 = -log p_θ(x_0|x_1) with the
discrete decoder of eq. 13 (a Gaussian of variance β_1 integrated over each pixel's bin,
the edge bins open to ±∞), and L_T = KL(q(x_T|x_0) ‖ N(0, I)). `vlb_terms` gives each term
in bits/dim at the steps asked for; their sum over every t is the bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .schedule import NoiseSchedule

EpsAt = Callable[[torch.Tensor, float], torch.Tensor]   # ε̂(x [B, ...], λ)
BIN = 2.0 / 255.0                                      # Δ: the model's pixel grid step
LOG2_BIN_OFFSET = -math.log2(BIN)                       # + log2(127.5) bits/dim
TRACES = ("hutchinson", "exact")
# λ_max: the model is trained on λ ∈ [-20, 20]; at λ = 14 the noise left (σ = 9e-4) is a quarter
# of the half-bin (0.0039). Measured on 4 held-out digits (docs/LIKELIHOOD.md): λ_max 9.2 -> 12
# lowers bits/dim by 0.10-0.12, 12 -> 14 by 0.008-0.015, 14 -> 16 by 0.002-0.005.
DEFAULT_LOG_SNR_MAX = 14.0
# RK4 steps uniform in λ: 4 network calls (each with its VJPs) a step. 32 steps differ from 64 by
# < 0.001 bits/dim on the same digits; 16 steps by 0.005-0.008 (docs/LIKELIHOOD.md).
DEFAULT_ODE_STEPS = 32
DEFAULT_PROBES = 1
EXACT_CHUNK = 98                                        # basis vectors per batched VJP (784 = 8 × 98)


def dequantize(images_u8, generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 [B, ...] -> float32 [B, ...]: u/127.5 - 1 + Δ(v - ½), v ~ U[0, 1) (module docstring)."""
    u = torch.as_tensor(np.asarray(images_u8))
    if u.dtype != torch.uint8:
        raise ValueError(f"images must be uint8 pixels 0..255, got {u.dtype}")
    v = torch.rand(u.shape, generator=generator, dtype=torch.float32)
    return u.to(torch.float32) / 127.5 - 1.0 + BIN * (v - 0.5)


def bits_per_dim(log_p, dims: int) -> np.ndarray:
    """bits/dim of a dequantized density value log p(x) (nats, per image): -log p/(D ln 2) + log2(1/Δ)."""
    return -np.asarray(log_p, dtype=np.float64) / (dims * math.log(2.0)) + LOG2_BIN_OFFSET


def log_p_of_bits_per_dim(bpd, dims: int) -> np.ndarray:
    """The density value log p(x) (nats) a bits/dim stands for: `bits_per_dim` solved for log p."""
    return -(np.asarray(bpd, dtype=np.float64) - LOG2_BIN_OFFSET) * dims * math.log(2.0)


def rademacher(shape, generator: torch.Generator | None = None) -> torch.Tensor:
    """±1 with equal probability, float32 (drawn on CPU)."""
    return torch.randint(0, 2, shape, generator=generator).to(torch.float32) * 2.0 - 1.0


def alpha_sigma(lam: float) -> tuple[float, float]:
    """(α, σ) at log-SNR λ: α = √sigmoid(λ), σ = √sigmoid(-λ), each without cancellation."""
    return math.sqrt(1.0 / (1.0 + math.exp(-lam))), math.sqrt(1.0 / (1.0 + math.exp(lam)))


def _eps_and_trace_hutchinson(eps_at: EpsAt, x: torch.Tensor, lam: float, probes: torch.Tensor):
    """(ε̂(x) [B, ...], estimated tr(∂ε̂/∂x) [B]) with probes [P, B, ...]: one batched call of P·B."""
    p = probes.shape[0]
    xs = x.detach().unsqueeze(0).expand(p, *x.shape).reshape(p * x.shape[0], *x.shape[1:]).requires_grad_(True)
    with torch.enable_grad():
        eps = eps_at(xs, lam)
        v = probes.reshape(eps.shape).to(eps.device)
        (vjp,) = torch.autograd.grad((eps * v).sum(), xs)
    est = (vjp * v).reshape(p, x.shape[0], -1).sum(-1).mean(0)
    return eps.detach().reshape(p, *x.shape)[0], est.detach()


def _eps_and_trace_exact(eps_at: EpsAt, x: torch.Tensor, lam: float, chunk: int = EXACT_CHUNK):
    """(ε̂(x), tr(∂ε̂/∂x) [B]) exactly: D basis-vector VJPs, `chunk` of them per batched call."""
    b = x.shape[0]
    d = x[0].numel()
    trace = torch.zeros(b, dtype=torch.float64)
    with torch.no_grad():
        eps0 = eps_at(x.detach(), lam)
    for lo in range(0, d, chunk):
        idx = torch.arange(lo, min(lo + chunk, d))
        c = len(idx)
        xs = x.detach().unsqueeze(1).expand(b, c, *x.shape[1:]).reshape(b * c, *x.shape[1:]).requires_grad_(True)
        with torch.enable_grad():
            eps = eps_at(xs, lam).reshape(b, c, d)
            onehot = torch.zeros(b, c, d, device=eps.device)
            onehot[:, torch.arange(c), idx] = 1.0
            (g,) = torch.autograd.grad((eps * onehot).sum(), xs)
        trace += g.reshape(b, c, d)[:, torch.arange(c), idx].sum(1).double().cpu()
    return eps0.detach(), trace.to(x.dtype)


@dataclass(frozen=True)
class FlowStep:
    """One state of the probability-flow solution, as CPU copies: x at log-SNR `log_snr`
    ([B, ...]); integral: ∫_λ^{λ_max} g dλ' so far ([B] nats); nfe: ε̂ evaluations so far
    (each with its trace); index: 0..total."""

    x: torch.Tensor
    log_snr: float
    integral: torch.Tensor
    nfe: int
    index: int
    total: int


def iter_probability_flow(eps_at: EpsAt, x0, log_snr_min: float, log_snr_max: float = DEFAULT_LOG_SNR_MAX,
                          steps: int = DEFAULT_ODE_STEPS, trace: str = "hutchinson", probes: int = DEFAULT_PROBES,
                          generator: torch.Generator | None = None) -> Iterator[FlowStep]:
    """Solve dx/dλ = ½(σ² x - σ ε̂) and d(∫g)/dλ = g from x(λ_max) = x0 [B, ...] down to λ_min
    by RK4 at `steps` equal steps; yields the start, then one `FlowStep` per step.

    trace: "hutchinson" (`probes` Rademacher vectors per image, fresh from `generator` at every
    evaluation) or "exact" (D VJPs an evaluation). x0 may be float64 (the ODE then runs in float64, for
    an exact ε̂ in tests).
    """
    if trace not in TRACES:
        raise ValueError(f"unknown trace {trace!r}: choose one of {', '.join(TRACES)}")
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps = {steps} must be a positive integer")
    if isinstance(probes, bool) or int(probes) != probes or probes < 1:
        raise ValueError(f"probes = {probes} must be a positive integer")
    if not (math.isfinite(log_snr_min) and math.isfinite(log_snr_max) and log_snr_min < log_snr_max):
        raise ValueError(f"need finite log-SNRs λ_min < λ_max, got {log_snr_min}, {log_snr_max}")
    x = x0 if isinstance(x0, torch.Tensor) else torch.as_tensor(np.asarray(x0, dtype=np.float32))
    x = x.detach()
    dims = x[0].numel()

    def field(xx, lam):
        _, sigma = alpha_sigma(lam)
        if trace == "exact":
            eps, tr = _eps_and_trace_exact(eps_at, xx, lam)
        else:
            v = rademacher((int(probes), *x.shape), generator).to(device=x.device, dtype=x.dtype)
            eps, tr = _eps_and_trace_hutchinson(eps_at, xx, lam, v)
        dx = 0.5 * (sigma * sigma * xx - sigma * eps)
        g = 0.5 * sigma * sigma * dims - 0.5 * sigma * tr.to(torch.float64).cpu()
        return dx, g

    steps = int(steps)
    h = -(log_snr_max - log_snr_min) / steps            # λ decreases
    lam = float(log_snr_max)
    integral = torch.zeros(x.shape[0], dtype=torch.float64)
    yield FlowStep(x.to("cpu", copy=True), lam, integral.clone(), 0, 0, steps)
    for i in range(steps):
        k1, g1 = field(x, lam)
        k2, g2 = field(x + 0.5 * h * k1, lam + 0.5 * h)
        k3, g3 = field(x + 0.5 * h * k2, lam + 0.5 * h)
        k4, g4 = field(x + h * k3, lam + h)
        x = (x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)).detach()
        # ∫_λ^{λ_max} g: the step runs from λ to λ + h (h < 0), so it adds -h × the RK4 mean of g
        integral = integral - (h / 6.0) * (g1 + 2 * g2 + 2 * g3 + g4)
        lam = log_snr_max + (i + 1) * h
        yield FlowStep(x.to("cpu", copy=True), lam, integral.clone(), 4 * (i + 1), i + 1, steps)


def standard_normal_log_pdf(x: torch.Tensor) -> torch.Tensor:
    """log N(x; 0, I) per image [B] (float64)."""
    flat = x.reshape(x.shape[0], -1).double()
    return -0.5 * (flat * flat).sum(1) - 0.5 * flat.shape[1] * math.log(2.0 * math.pi)


def log_likelihood(eps_at: EpsAt, x0, log_snr_min: float, log_snr_max: float = DEFAULT_LOG_SNR_MAX,
                   steps: int = DEFAULT_ODE_STEPS, trace: str = "hutchinson", probes: int = DEFAULT_PROBES,
                   generator: torch.Generator | None = None) -> np.ndarray:
    """log p_{λ_max}(x0) per image (float64 [B], nats) by `iter_probability_flow` to λ_min and the
    N(0, I) prior there."""
    last = None
    for last in iter_probability_flow(eps_at, x0, log_snr_min, log_snr_max, steps, trace, probes, generator):
        pass
    return (standard_normal_log_pdf(last.x) - last.integral).numpy()


def image_bits_per_dim(eps_at: EpsAt, images_u8, schedule: NoiseSchedule, log_snr_max: float = DEFAULT_LOG_SNR_MAX,
                       steps: int = DEFAULT_ODE_STEPS, trace: str = "hutchinson", probes: int = DEFAULT_PROBES,
                       generator: torch.Generator | None = None, device="cpu") -> np.ndarray:
    """Bits/dim of 8-bit images [B, 28, 28] (uint8): uniform dequantization, the ODE from λ_max to
    the schedule's λ_T, and the offset log2(127.5) (module docstring). float64 [B]."""
    u = np.asarray(images_u8)
    x = dequantize(u, generator)
    if x.dim() == 3:
        x = x[:, None]
    log_p = log_likelihood(eps_at, x.to(device), float(schedule.log_snr[-1]), log_snr_max, steps, trace,
                           probes, generator)
    return bits_per_dim(log_p, x[0].numel())


# -- the variational bound ------------------------------------------------------------------------

@dataclass(frozen=True)
class VlbTerms:
    """The terms of Ho et al. 2020 eq. 5 in bits/dim, per image: prior L_T [B]; decoder L_0 [B];
    ts: the steps t (2..T) whose L_{t-1} were evaluated; terms [len(ts), B]; total [B]: the bound,
    with Σ_{t=2}^{T} L_{t-1} estimated as (T-1)/len(ts) × the sum over `ts` when ts skips steps."""

    prior: np.ndarray
    decoder: np.ndarray
    ts: np.ndarray
    terms: np.ndarray
    total: np.ndarray


def discretized_gaussian_log_likelihood(x0: np.ndarray, mean: np.ndarray, log_std: float) -> np.ndarray:
    """Σ over pixels of log ∫_bin N(y; mean, e^{2 log_std}) dy, bins of width Δ around x0, the edge
    bins (x0 = ±1) open to ∓∞ (Ho et al. 2020, eq. 13). x0, mean [B, D] -> [B] nats."""
    from scipy.special import log_ndtr

    inv = math.exp(-log_std)
    upper = (x0 - mean + BIN / 2) * inv
    lower = (x0 - mean - BIN / 2) * inv
    log_cdf_upper, log_cdf_lower = log_ndtr(upper), log_ndtr(lower)       # log Φ
    log_sf_upper, log_sf_lower = log_ndtr(-upper), log_ndtr(-lower)       # log(1 - Φ)
    # log(Φ(upper) - Φ(lower)) without cancellation: through the tail the bin lies in
    tiny = -1e-300
    mid = np.where(lower > 0,
                   log_sf_lower + np.log(-np.expm1(np.minimum(log_sf_upper - log_sf_lower, tiny))),
                   log_cdf_upper + np.log(-np.expm1(np.minimum(log_cdf_lower - log_cdf_upper, tiny))))
    ll = np.where(x0 < -1 + 1e-3, log_cdf_upper, np.where(x0 > 1 - 1e-3, log_sf_lower, mid))
    return ll.sum(1)


def vlb_terms(eps_fn, schedule: NoiseSchedule, images_u8, ts=None,
              generator: torch.Generator | None = None, device="cpu", batch: int = 100) -> VlbTerms:
    """The DDPM variational bound of 8-bit images [B, 28, 28] term by term, bits/dim (`VlbTerms`).

    eps_fn(x_t, t) as core.sampling's; ts: the steps t in 2..T whose L_{t-1} to evaluate (default
    all), each at one x_t ~ q(x_t|x_0) drawn from `generator`. The data are the grid values
    u/127.5 - 1 (no dequantization: the discrete decoder integrates over each pixel's bin).
    """
    from .forward import q_sample
    from .kl import normal_kl

    u = np.asarray(images_u8)
    if u.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels 0..255, got {u.dtype}")
    x0 = torch.as_tensor(u.astype(np.float32) / 127.5 - 1.0)
    if x0.dim() == 3:
        x0 = x0[:, None]
    b, dims = x0.shape[0], x0[0].numel()
    x0_np = x0.reshape(b, dims).double().numpy()
    T = schedule.T
    ts = np.arange(2, T + 1) if ts is None else np.unique(np.asarray(ts, dtype=np.int64))
    if ts.size and (ts[0] < 2 or ts[-1] > T):
        raise ValueError(f"ts must lie in 2..T = {T}")
    to_bits = 1.0 / (dims * math.log(2.0))

    def eps_error(t: int, count: int = 1):
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float32)
        x_t = q_sample(schedule, x0, t, noise=noise)
        with torch.inference_mode():
            out = torch.cat([eps_fn(x_t[lo:lo + batch].to(device), t).cpu() for lo in range(0, b, batch)])
        return (out - noise).reshape(b, dims).double().numpy()

    terms = np.zeros((len(ts), b))
    for k, t in enumerate(ts.tolist()):
        row = t - 1
        # μ̃ - μ_θ = β_t/(√α_t √(1-ᾱ_t)) (ε̂ - ε)  (eq. 12); both variances β̃_t
        coef = float(schedule.betas[row]) / math.sqrt(float(schedule.alphas[row]) * (1.0 - float(schedule.alphas_cumprod[row])))
        log_var = float(np.log(schedule.posterior_variance[row]))
        terms[k] = normal_kl(0.0, log_var, coef * eps_error(t), log_var).sum(1) * to_bits
    # L_0: the decoder's mean at t = 1 is x̂_0 = x_0 + √((1-ᾱ_1)/ᾱ_1)(ε - ε̂); its variance β_1
    d1 = eps_error(1)
    mean = x0_np - math.exp(-0.5 * float(schedule.log_snr[0])) * d1
    decoder = -discretized_gaussian_log_likelihood(x0_np, mean, 0.5 * math.log(float(schedule.betas[0]))) * to_bits
    prior = np.array([schedule.prior_kl(float(np.mean(x * x))) for x in x0_np]) * dims * to_bits
    scale = (T - 1) / len(ts) if len(ts) else 0.0
    total = prior + decoder + scale * terms.sum(0)
    return VlbTerms(prior, decoder, ts, terms, total)


# -- a digit's place among the held-out digits --------------------------------------------------

REFERENCE_FILE = "likelihood_reference.json"


@dataclass(frozen=True)
class LikelihoodReference:
    """Bits/dim of held-out digits under the bundled model at fixed settings
    (resources/likelihood_reference.json, written by `python -m bench.likelihood --only reference`)."""

    bits_per_dim: np.ndarray            # sorted ascending
    steps: int
    log_snr_max: float
    schedule: dict

    def more_likely_than(self, bpd) -> np.ndarray:
        """The share (0..1) of the reference digits with higher bits/dim than each value of `bpd`:
        "more likely than 70% of held-out digits"."""
        ref = self.bits_per_dim
        return (len(ref) - np.searchsorted(ref, np.asarray(bpd, dtype=np.float64), side="right")) / len(ref)

    def matches(self, steps: int, log_snr_max: float, schedule: NoiseSchedule) -> bool:
        """Whether numbers computed with these settings may be placed in this reference."""
        ref = NoiseSchedule.named(self.schedule["kind"], self.schedule["T"], self.schedule["beta_start"],
                                  self.schedule["beta_end"])
        return (int(steps) == self.steps and float(log_snr_max) == self.log_snr_max
                and np.array_equal(ref.betas, schedule.betas))


def load_reference(path=None) -> LikelihoodReference | None:
    """The bundled reference distribution, or None when the file is absent."""
    import json
    from pathlib import Path

    if path is None:
        from ddpm_desktop import resources_path

        path = resources_path(REFERENCE_FILE)
    path = Path(path)
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return LikelihoodReference(np.sort(np.asarray(data["bits_per_dim"], dtype=np.float64)), int(data["steps"]),
                               float(data["log_snr_max"]), dict(data["schedule"]))
