"""Exact KL of the pixel-value marginal p_t against N(0, 1), for every t and every start.

Under the forward chain x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε with the pixels x_0 ~ p_0, the distribution
of one pixel value at step t is p_t = (p_0 scaled by a = √ᾱ_t) * N(0, s²), s² = 1 - ᾱ_t: what
the histogram of a frame estimates. For an image, p_0 is the mixture over its distinct pixel
values (weights = their frequencies), so p_t is a mixture of Gaussians N(a v_k, s²) and the KL
is +inf at t = 0 (a discrete distribution has no density). The conditional KL of
`core.kl.analytic_kl_q` (per pixel KL(q(x_t|x_0) ‖ N(0, 1)), averaged) is an upper bound on
this one by convexity of KL; for a digit it is 2-3x larger for t >= 50.

p_t depends on t only through ᾱ_t, so the curve is a function of the log-SNR
λ = ln(ᾱ/(1-ᾱ)) alone, independent of the schedule. It is computed once per start (and cached):

- ᾱ <= 1e-3 (λ <= -6.9): the cumulant expansion KL = KL(N(m, v) ‖ N(0, 1)) + κ̃₃²/12 + κ̃₄²/48
  with the exact mean m, variance v and standardised cumulants κ̃ₙ = aⁿκₙ(p_0)/v^{n/2} of p_t
  (Pythagoras for the Gaussian moment projection, then Gram-Charlier); the first neglected
  term is O(a¹⁰), relative error <= 1e-6 there.
- -7.5 <= λ <= λ_max: quadrature on a grid of λ nodes 0.25 apart, then a cubic spline of
  ln KL in λ (interpolation error measured <= 8e-6 relative, tests/core/test_marginal_kl.py).
  Each node integrates KL = ∫ φ (r ln r - r + 1) dx, r = p_t/φ, whose integrand is >= 0 and of
  order (r - 1)², so tiny KLs keep their relative accuracy (no cancellation of O(1) terms):
  densities with a jump or kink (exponential, uniform, Laplace) by composite 8-point
  Gauss-Legendre on a mesh graded geometrically (ratio 2, down to s/8) around the jump;
  mixtures (image, salt-and-pepper) by the trapezoid rule with h = s/2 (spectrally accurate
  for sums of Gaussians of width s: 1e-8 against quad), on the points within 7.5 s of an atom
  while s < 0.25 (on the whole line above).
- λ > λ_max: a mixture whose atoms are 20 s apart or more is exactly
  KL = -H(atoms) - ln s - ½ + ½(a² E[x_0²] + s²) (up to e^{-50}); λ_max is where that starts
  (at most 30; atoms closer than 20·3e-7: the quadrature at each such t). Inside the table too,
  each atom 20 s from both neighbours enters in closed form and only the others by quadrature.
  A density: KL -> KL(a x_0 ‖ N(0, 1)) (closed form) as s -> 0, approached linearly in s from
  λ_max = 20 (s = 4.5e-5): the blend error is below 1e-6.

Accuracy: 1e-4 relative at every t is the contract (checked against scipy.integrate.quad in the
tests; in practice 1e-11 to 1e-5). Cost: one start's λ table takes 3-40 ms (Laplace up to 67,
an image 28-54 ms; 2-core machine, quiet to loaded), cached; a schedule's curve from it is a
spline evaluation (0.04-0.15 ms at T = 1000).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.special import erfcx, log_ndtr

from .forward import STARTS, checked_start_params
from .schedule import NoiseSchedule

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
LAMBDA_STEP = 0.25                 # spacing of the λ nodes
LAMBDA_LO = -7.5                   # first node (a margin below the cumulant switch)
CUMULANT_ALPHA_BAR = 1e-3          # ᾱ at or below this: the cumulant expansion
LAMBDA_MAX_DENSITY = 20.0          # last node for starts with a density
_LAMBDA_CAP = 30.0                 # last node for mixtures with very close atoms (s = 3e-7)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_CORE = 10.0                       # [-10, 10] always integrated: where N(0, 1) has its mass


def _log_phi(y):
    return -0.5 * y * y - _HALF_LOG_2PI


def _f_integrand(ell, log_p, y):
    """φ (r ln r - r + 1) with ℓ = ln r = ln p - ln φ; a series where |ℓ| is small."""
    phi = np.exp(_log_phi(y))
    small = np.abs(ell) < 1e-2
    e = np.where(small, 0.0, ell)
    direct = np.exp(log_p) * (e - 1.0) + phi
    series = phi * ell * ell * (0.5 + ell * (1.0 / 3.0 + ell * (1.0 / 8.0 + ell * (1.0 / 30.0 + ell / 144.0))))
    return np.where(small, series, direct)


def _lse(e: np.ndarray) -> np.ndarray:
    """log Σ exp over the last axis (-inf for a row of -inf); leaner than scipy's logsumexp,
    which costs more in checks than in arithmetic on these small arrays."""
    m = np.max(e, axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return m + np.log(np.sum(np.exp(e - m[:, None]), axis=1))


def _log_emg(y, r, s):
    """ln density of Exp(rate r) + N(0, s²) at y (exponentially modified Gaussian), stable for
    every y: through erfcx where the Gaussian CDF factor would underflow."""
    z = r * s - y / s
    pos = z > 0
    zp = np.where(pos, z, 0.0)
    a = math.log(r) + np.log(0.5 * erfcx(zp / _SQRT2)) - y * y / (2.0 * s * s)
    b = math.log(r) + r * (0.5 * r * s * s - y) + log_ndtr(np.where(pos, 0.0, -z))
    return np.where(pos, a, b)


def _log_ndtr_diff(u, v):
    """ln(Φ(u) - Φ(v)) for u > v."""
    lu, lv = log_ndtr(u), log_ndtr(v)
    return lu + np.log1p(-np.exp(lv - lu))


# -- the starts ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Density:
    """A start with a density: its scaled log density, jump points and moments."""

    name: str
    p: dict

    def moments(self) -> tuple[float, float, float, float]:
        """(mean, variance, κ₃, κ₄) of p_0."""
        if self.name == "exponential":
            r = self.p["rate"]
            return 1 / r, 1 / r ** 2, 2 / r ** 3, 6 / r ** 4
        if self.name == "uniform":
            A = self.p["a"]
            return 0.0, A * A / 3, 0.0, -2 * A ** 4 / 15
        b = self.p["scale"]  # laplace
        return 0.0, 2 * b * b, 0.0, 12 * b ** 4

    def entropy(self) -> float:
        if self.name == "exponential":
            return 1.0 - math.log(self.p["rate"])
        if self.name == "uniform":
            return math.log(2 * self.p["a"])
        return 1.0 + math.log(2 * self.p["scale"])

    def kl_scaled(self, a):
        """KL(a x_0 ‖ N(0, 1)) = -H(p_0) - ln a + ½ ln 2π + ½ a² E[x_0²] (the s -> 0 limit)."""
        mean, var, _, _ = self.moments()
        return -self.entropy() - np.log(a) + _HALF_LOG_2PI + 0.5 * a * a * (var + mean * mean)

    def log_density(self, y, a, s):
        if self.name == "exponential":
            return _log_emg(y, self.p["rate"] / a, s)
        if self.name == "uniform":
            A = a * self.p["a"]
            ay = np.abs(y)
            return _log_ndtr_diff((A - ay) / s, (-A - ay) / s) - math.log(2 * A)
        r = 1.0 / (a * self.p["scale"])  # laplace = ½ Exp + ½ (-Exp)
        return np.logaddexp(_log_emg(y, r, s), _log_emg(-y, r, s)) - math.log(2.0)

    def mesh(self, a, s) -> np.ndarray:
        """Panel breakpoints: [-10, 10] in steps of 0.5, the tails in steps of half their decay
        length, and around each jump/kink a geometric grading c ± s·2^k down to s/8."""
        if self.name == "exponential":
            jumps, scale = [0.0], a / self.p["rate"]
            lo, hi = -9 * s, 40 * scale + 9 * s
        elif self.name == "uniform":
            A = a * self.p["a"]
            jumps, scale = [-A, A], 1.0
            lo, hi = -A - 9 * s, A + 9 * s
        else:
            scale = a * self.p["scale"]
            jumps = [0.0]
            lo, hi = -40 * scale - 9 * s, 40 * scale + 9 * s
        lo, hi = min(lo, -_CORE), max(hi, _CORE)
        step = 0.5 * max(1.0, scale)
        parts = [np.arange(-_CORE, _CORE + 0.25, 0.5),
                 np.arange(_CORE, hi + step, step), -np.arange(_CORE, -lo + step, step)]
        g = s * 2.0 ** np.arange(-3, max(-2, math.ceil(math.log2((hi - lo) / s)) + 1))
        for c in jumps:
            parts += [c + g, c - g, [c]]
        b = np.unique(np.clip(np.concatenate(parts), lo, hi))
        return b

    def kl_at(self, ab: float) -> float:
        a, s = math.sqrt(ab), math.sqrt(1.0 - ab)
        b = self.mesh(a, s)
        half, mid = 0.5 * np.diff(b), 0.5 * (b[1:] + b[:-1])
        y = (mid[:, None] + half[:, None] * _GL_X).ravel()
        w = (half[:, None] * _GL_W).ravel()
        lp = self.log_density(y, a, s)
        return float(np.dot(w, _f_integrand(lp - _log_phi(y), lp, y)))


@dataclass(frozen=True)
class _Mixture:
    """A discrete start: atoms v (sorted, distinct) with weights w."""

    v: np.ndarray
    w: np.ndarray

    def moments(self):
        mean = float(np.dot(self.w, self.v))
        c = self.v - mean
        m2, m3, m4 = (float(np.dot(self.w, c ** k)) for k in (2, 3, 4))
        return mean, m2, m3, m4 - 3 * m2 * m2

    def kl_separated(self, a, s):
        """Atoms >= 20 s apart: each Gaussian alone, KL = -H(w) - ln s - ½ + ½(a² E v² + s²)."""
        h = -float(np.dot(self.w, np.log(self.w)))
        m2 = float(np.dot(self.w, self.v ** 2))
        return -h - np.log(s) - 0.5 + 0.5 * (a * a * m2 + s * s)

    def lambda_max(self) -> float:
        if len(self.v) < 2:
            return LAMBDA_LO + LAMBDA_STEP * 4
        gap = float(np.min(np.diff(self.v)))
        return min(_LAMBDA_CAP, 2.0 * math.log(20.0 / gap))

    def separated_beyond_table(self) -> bool:
        """Whether every atom pair is >= 20 s apart past the last λ node."""
        return len(self.v) < 2 or 2.0 * math.log(20.0 / float(np.min(np.diff(self.v)))) <= _LAMBDA_CAP

    def kl_at(self, ab: float) -> float:
        if ab >= 1.0:
            return math.inf
        a, s = math.sqrt(ab), math.sqrt(1.0 - ab)
        v, lw = self.v, np.log(self.w)
        x = a * v
        h = s / 2.0
        if s >= 0.25:
            # whole line, stable integrand (tiny KLs at large t)
            lo, hi = min(-_CORE, x[0] - 9 * s), max(_CORE, x[-1] + 9 * s)
            y = np.arange(math.floor(lo / h), math.ceil(hi / h) + 1) * h
            e = lw + a * (2.0 * v * y[:, None] - a * y[:, None] ** 2 - a * v * v) / (2 * s * s)
            ell = _lse(e) - 0.5 * math.log1p(-a * a)
            return float(h * np.sum(_f_integrand(ell, ell + _log_phi(y), y)))
        # -H(p_t) = ∫ p ln p; E[x²] exactly. An atom >= 20 s from both neighbours is a Gaussian on
        # its own (overlap e^-50): w ln w - w ln(s√(2πe)) in closed form. The rest by the
        # trapezoid rule on the points within 9 s of them (>= 11 s from any isolated atom).
        m2 = float(np.dot(self.w, v * v))
        gaps = np.diff(x)
        iso = np.ones(len(x), bool)
        if len(x) > 1:
            far = gaps >= 20 * s
            iso[:-1] &= far
            iso[1:] &= far
        wi = self.w[iso]
        neg_h = float(np.dot(wi, lw[iso])) - float(wi.sum()) * (math.log(s) + _HALF_LOG_2PI + 0.5)
        if not np.all(iso):
            xc, lwc = x[~iso], lw[~iso]
            k = np.arange(-15, 16)
            j = np.unique((np.round(xc / h)[:, None] + k).ravel())
            y = j * h
            lo = np.searchsorted(xc, y - 7.5 * s)
            hi = np.searchsorted(xc, y + 7.5 * s, side="right")
            band = max(1, int(np.max(hi - lo)))
            idx = lo[:, None] + np.arange(band)
            ok = idx < hi[:, None]
            idx = np.minimum(idx, len(xc) - 1)
            e = np.where(ok, lwc[idx] - (y[:, None] - xc[idx]) ** 2 / (2 * s * s), -np.inf)
            lp = _lse(e) - math.log(s) - _HALF_LOG_2PI
            lp = lp[np.isfinite(lp)]  # a point with no atom within 9 s: p = 0 there
            neg_h += h * float(np.sum(np.exp(lp) * lp))
        return neg_h + _HALF_LOG_2PI + 0.5 * (a * a * m2 + s * s)


def _cumulant_kl(ab, moments):
    mean, var, k3, k4 = moments
    a2 = ab
    d = a2 * (var - 1.0)          # v - 1
    v = 1.0 + d
    gauss = 0.5 * (d - np.log1p(d)) + 0.5 * a2 * mean * mean
    return gauss + (a2 ** 3 * k3 * k3 / v ** 3) / 12.0 + (a2 ** 4 * k4 * k4 / v ** 4) / 48.0


# -- the λ table ---------------------------------------------------------------------------------

class _Curve:
    """KL of p_t as a function of ᾱ for one start: cumulants, spline on λ nodes, s -> 0 limit."""

    def __init__(self, start):
        self.start = start
        self.discrete = isinstance(start, _Mixture)
        lam_max = start.lambda_max() if self.discrete else LAMBDA_MAX_DENSITY
        n = int(math.ceil((lam_max - LAMBDA_LO) / LAMBDA_STEP)) + 1
        lam = LAMBDA_LO + LAMBDA_STEP * np.arange(n)
        ab = 1.0 / (1.0 + np.exp(-lam))
        kl = np.array([start.kl_at(float(x)) for x in ab])
        self.lam_max = float(lam[-1])
        self.ab_max = float(ab[-1])
        self.kl_max = float(kl[-1])
        self.spline = CubicSpline(lam, np.log(np.maximum(kl, 1e-300)))
        self.moments = start.moments()

    def __call__(self, alpha_bar) -> np.ndarray:
        ab = np.asarray(alpha_bar, dtype=np.float64)
        out = np.empty_like(ab)
        with np.errstate(divide="ignore"):
            lam = np.log(ab) - np.log1p(-ab)
        cum = ab <= CUMULANT_ALPHA_BAR
        mid = ~cum & (lam <= self.lam_max)
        top = ~cum & ~mid
        out[cum] = _cumulant_kl(ab[cum], self.moments)
        out[mid] = np.exp(self.spline(lam[mid]))
        if np.any(top):
            a, s = np.sqrt(ab[top]), np.sqrt(1.0 - ab[top])
            if self.discrete and self.start.separated_beyond_table():
                with np.errstate(divide="ignore"):
                    out[top] = self.start.kl_separated(a, s)     # +inf at s = 0
            elif self.discrete:  # atoms closer than 20 s_min: the quadrature at each such t
                out[top] = [self.start.kl_at(float(x)) for x in ab[top]]
            else:
                a_m, s_m = math.sqrt(self.ab_max), math.sqrt(1.0 - self.ab_max)
                gap = self.kl_max - self.start.kl_scaled(a_m)
                out[top] = self.start.kl_scaled(a) + gap * s / s_m
        return out


_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 16


def _start_object(start_name: str, params: dict):
    p = checked_start_params(start_name, params)
    if start_name == "image":
        if p["image"] is None:
            raise ValueError("start 'image' needs an image")
        x = np.asarray(p["image"], dtype=np.float64).ravel()
        if x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError("image must be a non-empty finite array")
        v, c = np.unique(x, return_counts=True)
        return _Mixture(v, c / x.size)
    if start_name == "salt_pepper":
        amount, value = p["amount"], p["value"]
        v = np.array([-value, 0.0, value])
        w = np.array([amount / 2, 1.0 - amount, amount / 2])
        keep = w > 0
        return _Mixture(v[keep], w[keep])
    if start_name in ("gaussian", "shifted_gaussian"):
        return ("gaussian", 0.0, 1.0) if start_name == "gaussian" else ("gaussian", p["mean"], p["std"])
    return _Density(start_name, p)


def _cache_key(start):
    if isinstance(start, _Mixture):
        return ("mixture", start.v.tobytes(), start.w.tobytes())
    if isinstance(start, tuple):
        return start
    return (start.name, tuple(sorted(start.p.items())))


def _gaussian_kl(ab, mean, std):
    """x_0 ~ N(μ, σ²): p_t = N(√ᾱ μ, ᾱσ² + 1 - ᾱ), closed form; exactly 0 for N(0, 1)."""
    from .kl import normal_kl

    m = np.sqrt(ab) * mean
    var = 1.0 + ab * (std * std - 1.0)
    return normal_kl(m, np.log(var), 0.0, 0.0)


def marginal_kl_at(alpha_bar, start_name: str, **params) -> np.ndarray:
    """Exact KL(p_t ‖ N(0, 1)) at the given ᾱ values (float64 array, any shape, in (0, 1]) for a
    start of `core.forward.STARTS` with its parameters (`START_PARAMS`; "image" takes
    image=array). +inf at ᾱ = 1 for image and salt_pepper. Caches the start's λ table."""
    if start_name not in STARTS:
        raise ValueError(f"unknown start {start_name!r}: choose one of {', '.join(STARTS)}")
    ab = np.asarray(alpha_bar, dtype=np.float64)
    if ab.size and not (np.all(ab > 0) and np.all(ab <= 1)):
        raise ValueError("alpha_bar must lie in (0, 1]")
    start = _start_object(start_name, params)
    if isinstance(start, tuple):
        return _gaussian_kl(ab, start[1], start[2])
    key = _cache_key(start)
    curve = _CACHE.get(key)
    if curve is None:
        curve = _Curve(start)
        _CACHE[key] = curve
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return curve(ab)


def marginal_kl_curve(schedule: NoiseSchedule, start_name: str, **params) -> np.ndarray:
    """Exact KL(p_t ‖ N(0, 1)) for t = 0..T -> float64 [T + 1] (inf where infinite: t = 0 of
    image and salt_pepper). p_0 is the start's per-pixel distribution (see the module docstring)."""
    ab = np.append(1.0, schedule.alphas_cumprod)
    return marginal_kl_at(ab, start_name, **params)


def marginal_kl_image_curve(schedule: NoiseSchedule, x0) -> np.ndarray:
    """`marginal_kl_curve` of an image x0 (any shape; p_0 = its pixel-value distribution)."""
    return marginal_kl_curve(schedule, "image", image=x0)


def marginal_kl_direct(alpha_bar: float, start_name: str, **params) -> float:
    """The quadrature at one ᾱ in (0, 1), no table or spline: the reference the spline is tested
    against (slow-ish: ~1 ms)."""
    start = _start_object(start_name, params)
    if isinstance(start, tuple):
        return float(_gaussian_kl(np.float64(alpha_bar), start[1], start[2]))
    return start.kl_at(float(alpha_bar))
