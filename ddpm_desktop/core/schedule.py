"""Noise schedules: β_t as pure functions, and one `NoiseSchedule` holding every
coefficient precomputed once in float64.

The layout follows openai/improved-diffusion `gaussian_diffusion.py`
(`get_named_beta_schedule`, then all coefficients at construction) and keeps its paper names.

Conventions (docs/DESIGN.md): t is 1-based, t = 1..T; every array is length T with index 0 <-> t = 1.
ᾱ_0 := 1 (x_0 is the clean image), which is what `alphas_cumprod_prev[0]` holds.

Validity (checked by `validate_betas`, enforced by every constructor):
- 1 <= T <= `MAX_T` (100 000: beyond this the arrays stop being a "schedule" a person steps through);
- every β_t finite and strictly inside (0, 1), and 1 - β_t != 1 in float64, so ᾱ_t is strictly
  decreasing;
- ᾱ_T >= `ALPHA_BAR_FLOOR` (1e-12). Below that nothing is gained (x_T is already N(0, I) to
  1e-12 nats) and a lot is lost: x̂_0 = (x_t - √(1-ᾱ_t) ε)/√ᾱ_t amplifies float32 rounding by
  1/√ᾱ_t > 1e6, and the log-SNR the network is conditioned on (< -27.6) is far outside anything
  it was trained on. A schedule that underflows (linear 1e-4..0.02 with T > ~2700) is refused
  with a message saying how small ᾱ_T got.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SCHEDULE_KINDS = ("linear", "cosine", "quadratic", "sigmoid")
MAX_T = 100_000
ALPHA_BAR_FLOOR = 1e-12
# Above this prior KL (nats per dimension) x_T is visibly not N(0, I): `prior_warning` says so.
PRIOR_KL_WARN = 1e-3

# The paper's schedule (Ho et al. 2020, §4): the one default of the app, the CLI, training
# samples and checkpoints. `NoiseSchedule.default()` builds it.
DEFAULT_SCHEDULE = {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02}

_COSINE_S = 0.008
_COSINE_MAX_BETA = 0.999


def _check_T(T) -> int:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)):
        raise ValueError(f"number of steps T must be an integer, got {T!r}")
    T = int(T)
    if not 1 <= T <= MAX_T:
        raise ValueError(f"number of steps T = {T} is out of range: need 1 <= T <= {MAX_T}")
    return T


def _check_endpoint(name: str, value) -> float:
    value = float(value)
    if not math.isfinite(value) or not 0.0 < value < 1.0:
        raise ValueError(f"{name} = {value!r} must be a finite number strictly between 0 and 1")
    return value


def cosine_alpha_bar(t, T: int, s: float = _COSINE_S) -> np.ndarray:
    """ᾱ(t) = f(t)/f(0), f(t) = cos²(((t/T) + s)/(1 + s) · π/2) (Nichol & Dhariwal 2021, eq. 17).

    t may be fractional and is 0-based in the paper's sense: cosine_alpha_bar(0) = 1.
    """
    def f(u):
        return np.cos((np.asarray(u, dtype=np.float64) / T + s) / (1 + s) * math.pi / 2) ** 2

    return f(t) / f(0.0)


def get_named_beta_schedule(kind: str, T: int, beta_start: float = DEFAULT_SCHEDULE["beta_start"],
                            beta_end: float = DEFAULT_SCHEDULE["beta_end"]) -> np.ndarray:
    """β_1..β_T (float64, length T) for a named schedule.

    - "linear": β evenly spaced from beta_start to beta_end (Ho et al. 2020, §4; the endpoints are
      used as given, not rescaled by 1000/T as improved-diffusion does, so a short linear schedule
      really does leave signal at T: T = 50 gives ᾱ_T ≈ 0.6).
    - "cosine": β_t = min(1 - ᾱ(t)/ᾱ(t-1), 0.999) with ᾱ from `cosine_alpha_bar`, s = 0.008
      (Nichol & Dhariwal 2021, eq. 17; endpoints ignored).
    - "quadratic": linspace(√beta_start, √beta_end, T)² (latent-diffusion's "linear", i.e. sqrt-linear squared).
    - "sigmoid": sigmoid(linspace(-6, 6, T)) · (beta_end - beta_start) + beta_start (GeoDiff).

    The result is not validated here (a long linear schedule can underflow ᾱ_T); `NoiseSchedule`
    does that. Raises ValueError for an unknown kind, a bad T or endpoints outside (0, 1).
    """
    T = _check_T(T)
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"unknown schedule {kind!r}: choose one of {', '.join(SCHEDULE_KINDS)}")
    if kind == "cosine":
        t = np.arange(T + 1, dtype=np.float64)
        alpha_bar = cosine_alpha_bar(t, T)
        return np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], _COSINE_MAX_BETA)
    b1 = _check_endpoint("beta_start", beta_start)
    bT = _check_endpoint("beta_end", beta_end)
    if kind == "linear":
        return np.linspace(b1, bT, T, dtype=np.float64)
    if kind == "quadratic":
        return np.linspace(b1 ** 0.5, bT ** 0.5, T, dtype=np.float64) ** 2
    # sigmoid
    x = np.linspace(-6.0, 6.0, T, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-x)) * (bT - b1) + b1


def validate_betas(betas) -> np.ndarray:
    """Check a β array and return it as a fresh float64 1-D array.

    Raises ValueError naming the first problem, e.g. "beta[17] (t=18) = nan is not finite".
    See the module docstring for the rules.
    """
    try:
        arr = np.array(betas, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"betas must be an array of numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"betas must be one-dimensional, got shape {arr.shape}")
    if not 1 <= arr.size <= MAX_T:
        raise ValueError(f"number of steps T = {arr.size} is out of range: need 1 <= T <= {MAX_T}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"beta[{i}] (t={i + 1}) = {arr[i]} is not finite")
    bad = np.flatnonzero((arr <= 0.0) | (arr >= 1.0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"beta[{i}] (t={i + 1}) = {arr[i]:g} is outside (0, 1)")
    bad = np.flatnonzero(1.0 - arr == 1.0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"beta[{i}] (t={i + 1}) = {arr[i]:g} is too small: 1 - beta rounds to 1, "
                         "so alpha_bar would not decrease")
    log_alpha_bar_T = float(np.sum(np.log1p(-arr)))
    if log_alpha_bar_T < math.log(ALPHA_BAR_FLOOR):
        raise ValueError(
            f"alpha_bar_T = {math.exp(log_alpha_bar_T):.3g} underflows below {ALPHA_BAR_FLOOR:g}: "
            f"use fewer steps (T = {arr.size}) or smaller betas")
    # Each β_t > 0 yet ᾱ_t = ᾱ_{t-1}(1 − β_t) can still round to ᾱ_{t-1} in float64; a flat ᾱ
    # (and log-SNR) would make the samplers divide by a zero step.
    alpha_bar = np.cumprod(1.0 - arr)
    log_snr = np.log(alpha_bar) - np.log1p(-alpha_bar)
    flat = np.flatnonzero((np.diff(alpha_bar) >= 0) | (np.diff(log_snr) >= 0))
    if flat.size:
        i = int(flat[0]) + 1
        raise ValueError(f"alpha_bar does not decrease at t={i + 1} (beta[{i}] = {arr[i]:g} is too small "
                         "to change it in float64)")
    return arr


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """Every per-step coefficient of a diffusion, float64, length T (index 0 <-> t = 1), read-only.

    Names as improved-diffusion (Ho et al. 2020 notation):
      betas β_t; alphas α_t = 1 - β_t; alphas_cumprod ᾱ_t = Π_{s<=t} α_s;
      alphas_cumprod_prev ᾱ_{t-1} (ᾱ_0 = 1); sqrt_alphas_cumprod √ᾱ_t;
      sqrt_one_minus_alphas_cumprod √(1-ᾱ_t);
      posterior q(x_{t-1}|x_t, x_0) = N(coef1·x_0 + coef2·x_t, β̃_t) (Ho et al. 2020, eq. 6-7):
        posterior_mean_coef1 = β_t √ᾱ_{t-1}/(1-ᾱ_t), posterior_mean_coef2 = √α_t (1-ᾱ_{t-1})/(1-ᾱ_t),
        posterior_variance β̃_t = β_t (1-ᾱ_{t-1})/(1-ᾱ_t)  (0 at t = 1),
        posterior_log_variance_clipped = log β̃_t with the t = 1 entry replaced by log β̃_2
        (improved-diffusion's clip; when T = 1 there is no β̃_2 and log β_1 is used);
      log_snr = log(ᾱ_t/(1-ᾱ_t)) (Kingma et al. 2021's λ; DPM-Solver's λ is half of it).
    """

    kind: str
    betas: np.ndarray
    alphas: np.ndarray = field(init=False, repr=False)
    alphas_cumprod: np.ndarray = field(init=False, repr=False)
    alphas_cumprod_prev: np.ndarray = field(init=False, repr=False)
    sqrt_alphas_cumprod: np.ndarray = field(init=False, repr=False)
    sqrt_one_minus_alphas_cumprod: np.ndarray = field(init=False, repr=False)
    posterior_variance: np.ndarray = field(init=False, repr=False)
    posterior_log_variance_clipped: np.ndarray = field(init=False, repr=False)
    posterior_mean_coef1: np.ndarray = field(init=False, repr=False)
    posterior_mean_coef2: np.ndarray = field(init=False, repr=False)
    log_snr: np.ndarray = field(init=False, repr=False)
    # Torch copies of coefficient arrays, made on first use (see `tensor`).
    _tensors: dict = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self):
        betas = validate_betas(self.betas)
        alphas = 1.0 - betas
        # cumsum of logs rather than cumprod: same to 1 ulp here, and it states what is meant.
        alphas_cumprod = np.exp(np.cumsum(np.log1p(-betas)))
        alphas_cumprod_prev = np.append(1.0, alphas_cumprod[:-1])
        one_minus = -np.expm1(np.cumsum(np.log1p(-betas)))  # 1 - ᾱ_t without cancellation
        posterior_variance = betas * (1.0 - alphas_cumprod_prev) / one_minus
        if betas.size > 1:
            log_var = np.log(np.append(posterior_variance[1], posterior_variance[1:]))
        else:
            log_var = np.log(betas)
        values = dict(
            betas=betas,
            alphas=alphas,
            alphas_cumprod=alphas_cumprod,
            alphas_cumprod_prev=alphas_cumprod_prev,
            sqrt_alphas_cumprod=np.sqrt(alphas_cumprod),
            sqrt_one_minus_alphas_cumprod=np.sqrt(one_minus),
            posterior_variance=posterior_variance,
            posterior_log_variance_clipped=log_var,
            posterior_mean_coef1=betas * np.sqrt(alphas_cumprod_prev) / one_minus,
            posterior_mean_coef2=(1.0 - alphas_cumprod_prev) * np.sqrt(alphas) / one_minus,
            log_snr=np.log(alphas_cumprod) - np.log(one_minus),
        )
        for name, value in values.items():
            object.__setattr__(self, name, _readonly(value))

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_betas(cls, betas, kind: str = "custom") -> "NoiseSchedule":
        """A schedule from a user-supplied β array (validated; ValueError names the problem)."""
        return cls(kind=kind, betas=betas)

    @classmethod
    def named(cls, kind: str, T: int = DEFAULT_SCHEDULE["T"],
              beta_start: float = DEFAULT_SCHEDULE["beta_start"],
              beta_end: float = DEFAULT_SCHEDULE["beta_end"]) -> "NoiseSchedule":
        """A named schedule (see `get_named_beta_schedule`), validated."""
        return cls(kind=kind, betas=get_named_beta_schedule(kind, T, beta_start, beta_end))

    @classmethod
    def default(cls) -> "NoiseSchedule":
        """The project's default schedule (`DEFAULT_SCHEDULE`: linear, T = 1000, 1e-4..0.02)."""
        return cls.named(**DEFAULT_SCHEDULE)

    def respaced(self, timesteps) -> "NoiseSchedule":
        """The schedule of the chain that visits only the steps in `timesteps` (improved-diffusion,
        `respace.py`), as a new `NoiseSchedule` of length K.

        timesteps: the kept steps, ints in 0..T in any order (0, the clean image, is always the
        start and may be given or not; repeats are ignored), e.g. `timesteps_for(T, steps)`.
        With the kept steps 0 = t_0 < t_1 < ... < t_K, entry k - 1 of the result belongs to t_k:
            β'_k = 1 − ᾱ_{t_k}/ᾱ_{t_{k-1}},
        so its ᾱ'_k are the kept ᾱ_{t_k} (to the rounding of β' in float64) and every coefficient derived from
        them (the posterior of q(x_{t_{k-1}} | x_{t_k}, x_0), ...) is that of the jump t_k -> t_{k-1}.
        Keeping every step 1..T gives this schedule back to rounding. `kind` is kept.
        Raises ValueError for a step outside 0..T or no step above 0.
        """
        try:
            ts = np.unique(np.asarray(timesteps, dtype=np.int64).ravel())
        except (TypeError, ValueError) as exc:
            raise ValueError(f"timesteps must be integers: {exc}") from None
        if ts.size and (ts[0] < 0 or ts[-1] > self.T):
            raise ValueError(f"timesteps must lie in 0..T = {self.T}, got {int(ts[0])}..{int(ts[-1])}")
        ts = ts[ts > 0]
        if not ts.size:
            raise ValueError("timesteps must keep at least one step t >= 1")
        # log ᾱ at 0, t_1, ..., t_K; the ratio as a difference of logs keeps β' small and exact.
        log_ab = np.append(0.0, np.cumsum(np.log1p(-self.betas)))[np.append(0, ts)]
        return NoiseSchedule(kind=self.kind, betas=-np.expm1(np.diff(log_ab)))

    # -- derived ------------------------------------------------------------------------------
    @property
    def T(self) -> int:
        return int(self.betas.size)

    @property
    def alpha_bar_T(self) -> float:
        return float(self.alphas_cumprod[-1])

    def alpha_bar(self, t: int) -> float:
        """ᾱ_t for t = 0..T (ᾱ_0 = 1)."""
        return 1.0 if t == 0 else float(self.alphas_cumprod[t - 1])

    def prior_kl(self, x0_sq_mean: float = 1.0) -> float:
        """L_T = KL(q(x_T|x_0) ‖ N(0, I)) in nats per dimension (Ho et al. 2020, eq. 5):
        ½(ᾱ_T E[x_0²] + (1 - ᾱ_T) - 1 - ln(1 - ᾱ_T)).

        x0_sq_mean = E[x_0²] over pixels; 1 is the worst case for data in [-1, 1].
        """
        a = self.alpha_bar_T
        return 0.5 * (a * float(x0_sq_mean) - a - math.log1p(-a))

    def tensor(self, name: str, device="cpu", dtype=None):
        """A cached torch copy of coefficient array `name` (float32 unless dtype given)."""
        import torch

        dtype = torch.float32 if dtype is None else dtype
        key = (name, str(device), dtype)
        cached = self._tensors.get(key)
        if cached is None:
            cached = torch.tensor(getattr(self, name), dtype=dtype, device=device)
            self._tensors[key] = cached
        return cached

    def __repr__(self) -> str:
        return f"NoiseSchedule(kind={self.kind!r}, T={self.T}, alpha_bar_T={self.alpha_bar_T:.3g})"


def prior_warning(schedule: NoiseSchedule, x0_sq_mean: float = 1.0,
                  threshold: float = PRIOR_KL_WARN) -> str | None:
    """A one-line warning when x_T is far from N(0, 1) (prior KL above `threshold` nats/dim), else None."""
    kl = schedule.prior_kl(x0_sq_mean)
    if kl <= threshold:
        return None
    a = schedule.alpha_bar_T
    return (f"x_T is not pure noise: alpha_bar_T = {a:.3g} keeps {math.sqrt(a):.0%} of the image "
            f"(prior KL {kl:.3g} nats/pixel > {threshold:g}); use more steps or larger betas")
