"""Diffusion in two dimensions: data sets, the forward marginal p_t, its KL to N(0, I), and the
exact denoiser of a Gaussian mixture.

Data sets (`DATASETS`, `sample_data(name, n, generator)`): seeded samplers of [n, 2] float32
points, scaled to roughly unit variance per axis like the digits' [-1, 1] pixels:
  "ring8"        8 Gaussians (std 0.15) evenly on a circle of radius 2 (a `GaussianMixture`)
  "gmm"          a mixture the user edits (`DEFAULT_GMM` until then; pass `mixture=`)
  "moons"        two interleaved half circles (sklearn's make_moons, noise 0.05), centred, ×1.5
  "swissroll"    the 2-D swiss roll t(cos t, sin t)/5, t ∈ [1.5π, 4.5π], noise 0.05
  "checkerboard" uniform on the 8 dark cells of a 4×4 board on [-2, 2]²
  "painted"      points the user painted (pass `points=`), each with N(0, 0.05²) jitter
  "mnist-latent" the bundled digits' 2-D codes (core.latent.sample_codes; labels from there)

Forward marginal. Under q(x_t|x_0) = N(√ᾱ_t x_0, (1-ᾱ_t) I) a Gaussian mixture stays one:
component k goes to N(√ᾱ_t μ_k, ᾱ_t Σ_k + (1-ᾱ_t) I) with the same weight (`marginal`). The
other sets have no closed form: `Marginal` stands in for them with a kernel estimate of the
data (Gaussian kernel, bandwidth h = `KDE_BANDWIDTH`), i.e. a mixture of n isotropic components
at the data points; its forward marginal at t is the kernel estimate with bandwidth
√(ᾱ_t h² + 1 - ᾱ_t) around √ᾱ_t x_i, drawn on a grid as a histogram of the scaled points blurred
by that Gaussian (exact for the kernel estimate up to the binning of the points).

KL(p_t || N(0, I)) (`Marginal.kl`): quadrature on the grid, Σ p ln(p/φ) ΔA over `Grid` cells
(the midpoint rule, p and φ each renormalised to mass 1 on the grid; for a mixture p is its
exact density, so the only error is the grid's: its truncation to [-4.5, 4.5]² and the cell
size; tests check it against a Monte Carlo estimate `kl_monte_carlo` with its standard error).

Exact denoiser (`GaussianMixture.eps`): with a = √ᾱ_t, s = √(1-ᾱ_t), C_k = a² Σ_k + s² I and the
posterior responsibilities r_k(x) ∝ w_k N(x; a μ_k, C_k),
  E[x_0 | x_t, k] = μ_k + a Σ_k C_k⁻¹ (x_t - a μ_k)          (Gaussian conditioning)
  E[ε | x_t, k] = (x_t - a E[x_0|x_t, k]) / s = s C_k⁻¹ (x_t - a μ_k)
  E[ε | x_t] = Σ_k r_k(x_t) s C_k⁻¹ (x_t - a μ_k) = -s ∇ log p_t(x_t)   (Tweedie)
`exact_eps_fn(mixture, schedule)` wraps it as a core.sampling EpsFn: the samplers run on [N, 2]
unchanged (pass clip_x0=False: the [-1, 1] clip is for pixels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .schedule import NoiseSchedule

DATASETS = ("ring8", "gmm", "moons", "swissroll", "checkerboard", "painted", "mnist-latent")
DATASET_NAMES = {
    "ring8": "8 Gaussians on a ring", "gmm": "Gaussian mixture (edit)", "moons": "Two moons",
    "swissroll": "Swiss roll", "checkerboard": "Checkerboard", "painted": "Painted points",
    "mnist-latent": "Digits' latent map",
}
MIXTURE_DATASETS = ("ring8", "gmm")
KDE_BANDWIDTH = 0.08
PAINT_JITTER = 0.05
# Points of the non-mixture sets that the kernel estimate of p_t uses.
KDE_POINTS = 20_000
GRID_EXTENT = 4.5
GRID_SIZE = 160


@dataclass(frozen=True)
class Grid:
    """n×n cells covering [cx - extent, cx + extent] × [cy - extent, cy + extent]; `centers`
    of the cells along each axis about 0, `x_centers` and `y_centers` in place.

    Images on this grid are row-major [y, x] (row 0 at y = cy - extent)."""

    extent: float = GRID_EXTENT
    n: int = GRID_SIZE
    cx: float = 0.0
    cy: float = 0.0

    @property
    def dx(self) -> float:
        return 2.0 * self.extent / self.n

    @property
    def centers(self) -> np.ndarray:
        return np.linspace(-self.extent + self.dx / 2, self.extent - self.dx / 2, self.n)

    @property
    def x_centers(self) -> np.ndarray:
        return self.cx + self.centers

    @property
    def y_centers(self) -> np.ndarray:
        return self.cy + self.centers

    def points(self) -> np.ndarray:
        """[n*n, 2] cell centres (x, y), in the row-major order of an image."""
        xx, yy = np.meshgrid(self.x_centers, self.y_centers)
        return np.stack([xx.ravel(), yy.ravel()], axis=1)


@dataclass(frozen=True)
class GaussianMixture:
    """Σ_k w_k N(μ_k, Σ_k) in 2-D: weights [K] (summing to 1), means [K, 2], covs [K, 2, 2]."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    @staticmethod
    def make(means, stds, weights=None) -> "GaussianMixture":
        """Isotropic components: means [K, 2], stds [K] (or one number); equal weights by
        default. ValueError for an empty mixture or a non-positive std or weight."""
        means = np.asarray(means, dtype=np.float64).reshape(-1, 2)
        k = len(means)
        if k == 0:
            raise ValueError("a Gaussian mixture needs at least one component")
        stds = np.broadcast_to(np.asarray(stds, dtype=np.float64), (k,))
        w = np.ones(k) if weights is None else np.asarray(weights, dtype=np.float64).reshape(k)
        if not (np.all(np.isfinite(means)) and np.all(stds > 0) and np.all(np.isfinite(stds))):
            raise ValueError("every component needs a finite mean and a std > 0")
        if not (np.all(w > 0) and np.all(np.isfinite(w))):
            raise ValueError("every component weight must be > 0")
        covs = stds[:, None, None] ** 2 * np.eye(2)[None]
        return GaussianMixture(w / w.sum(), means, covs)

    @property
    def K(self) -> int:
        return len(self.weights)

    def sample(self, n: int, generator: torch.Generator | None = None) -> np.ndarray:
        """n points [n, 2] float32: a component by weight, then its Gaussian."""
        n = int(n)
        w = torch.as_tensor(self.weights)
        k = torch.multinomial(w, n, replacement=True, generator=generator).numpy()
        z = torch.randn((n, 2), generator=generator, dtype=torch.float64).numpy()
        chol = np.linalg.cholesky(self.covs)
        x = self.means[k] + np.einsum("nij,nj->ni", chol[k], z)
        return x.astype(np.float32)

    def marginal(self, alpha_bar: float) -> "GaussianMixture":
        """The mixture of x_t = √ᾱ x_0 + √(1-ᾱ) ε: means √ᾱ μ_k, covariances ᾱ Σ_k + (1-ᾱ) I."""
        ab = float(alpha_bar)
        return GaussianMixture(self.weights, math.sqrt(ab) * self.means,
                               ab * self.covs + (1.0 - ab) * np.eye(2)[None])

    def _component_log_pdf(self, x: np.ndarray) -> np.ndarray:
        """[n, K] log(w_k N(x; μ_k, Σ_k))."""
        x = np.asarray(x, dtype=np.float64)
        inv = np.linalg.inv(self.covs)
        _, logdet = np.linalg.slogdet(self.covs)
        dx = x[:, 0, None] - self.means[None, :, 0]                # [n, K]
        dy = x[:, 1, None] - self.means[None, :, 1]
        maha = inv[:, 0, 0] * dx * dx + 2.0 * inv[:, 0, 1] * dx * dy + inv[:, 1, 1] * dy * dy
        return np.log(self.weights)[None] - 0.5 * (maha + logdet[None]) - math.log(2 * math.pi)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """log p(x) for x [n, 2] (float64 [n])."""
        lp = self._component_log_pdf(x)
        m = lp.max(axis=1, keepdims=True)
        return (m + np.log(np.exp(lp - m).sum(axis=1, keepdims=True)))[:, 0]

    def eps(self, x: torch.Tensor, alpha_bar: float) -> torch.Tensor:
        """E[ε | x_t = x] at ᾱ (module docstring), x [N, 2]; computed in float64, returned in
        x's dtype and device."""
        ab = float(alpha_bar)
        a, s = math.sqrt(ab), math.sqrt(1.0 - ab)
        xd = x.detach().to("cpu", torch.float64)
        mu = torch.as_tensor(a * self.means)                      # [K, 2]
        cov = torch.as_tensor(ab * self.covs + (1.0 - ab) * np.eye(2)[None])
        inv = torch.linalg.inv(cov)
        logdet = torch.logdet(cov)
        d = xd[:, None, :] - mu[None]                              # [N, K, 2]
        cd = torch.einsum("kij,nkj->nki", inv, d)                  # C_k⁻¹ (x - a μ_k)
        maha = (d * cd).sum(-1)
        logits = torch.log(torch.as_tensor(self.weights))[None] - 0.5 * (maha + logdet[None])
        r = torch.softmax(logits, dim=1)                           # responsibilities r_k(x)
        out = s * (r[:, :, None] * cd).sum(1)
        return out.to(device=x.device, dtype=x.dtype)


def exact_eps_fn(mixture: GaussianMixture, schedule: NoiseSchedule):
    """The exact denoiser as a core.sampling EpsFn: eps_fn(x [N, 2], t) = E[ε | x_t = x]."""

    def eps_fn(x: torch.Tensor, t: int) -> torch.Tensor:
        return mixture.eps(x, schedule.alpha_bar(int(t)))

    return eps_fn


# ------------------------------------------------------------------------------- data sets
RING8 = GaussianMixture.make(
    [[2.0 * math.cos(2 * math.pi * k / 8), 2.0 * math.sin(2 * math.pi * k / 8)] for k in range(8)],
    0.15)
DEFAULT_GMM = GaussianMixture.make([[-1.5, -1.0], [1.5, -1.0], [0.0, 1.5]], [0.3, 0.5, 0.2],
                                   [0.3, 0.3, 0.4])


def _uniform(n, generator):
    return torch.rand((n,), generator=generator, dtype=torch.float64).numpy()


def _normal(shape, generator):
    return torch.randn(shape, generator=generator, dtype=torch.float64).numpy()


def _moons(n, generator):
    theta = math.pi * _uniform(n, generator)
    upper = _uniform(n, generator) < 0.5                  # which moon, each point by a coin
    outer = np.stack([np.cos(theta), np.sin(theta)], 1)
    inner = np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], 1)
    x = np.where(upper[:, None], outer, inner)
    x = x + 0.05 * _normal((n, 2), generator)
    return 1.5 * (x - np.array([0.5, 0.25]))


def _swissroll(n, generator):
    t = 1.5 * math.pi * (1.0 + 2.0 * _uniform(n, generator))
    x = np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5.0
    return x + 0.05 * _normal((n, 2), generator)


def _checkerboard(n, generator):
    # FFJORD's board: x uniform on [-2, 2], y on the cells whose parity matches floor(x)'s.
    x1 = 4.0 * _uniform(n, generator) - 2.0
    y = _uniform(n, generator) - 2.0 * np.floor(2.0 * _uniform(n, generator))
    x2 = y + np.floor(x1) % 2
    return np.stack([x1, x2], 1)


def sample_data(name: str, n: int, generator: torch.Generator | None = None, *,
                mixture: GaussianMixture | None = None,
                points: np.ndarray | None = None) -> np.ndarray:
    """n points [n, 2] float32 of the data set `name` (module docstring). ValueError for an
    unknown name, n < 1, or "painted" without points."""
    n = int(n)
    if n < 1:
        raise ValueError(f"number of points n = {n} must be >= 1")
    if name == "ring8":
        return RING8.sample(n, generator)
    if name == "gmm":
        return (mixture or DEFAULT_GMM).sample(n, generator)
    if name == "painted":
        pts = np.asarray(points if points is not None else np.zeros((0, 2)), np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
            raise ValueError("paint some points first: the painted data set is empty")
        idx = torch.randint(len(pts), (n,), generator=generator).numpy()
        return (pts[idx] + PAINT_JITTER * _normal((n, 2), generator)).astype(np.float32)
    if name == "mnist-latent":
        from .latent import sample_codes

        return sample_codes(n, generator)[0]
    makers = {"moons": _moons, "swissroll": _swissroll, "checkerboard": _checkerboard}
    if name not in makers:
        raise ValueError(f"unknown 2-D data set {name!r}: choose one of {', '.join(DATASETS)}")
    return makers[name](n, generator).astype(np.float32)


def mixture_for(name: str, mixture: GaussianMixture | None = None) -> GaussianMixture | None:
    """The Gaussian mixture of a data set, or None where it has none (no exact denoiser)."""
    if name == "ring8":
        return RING8
    if name == "gmm":
        return mixture or DEFAULT_GMM
    return None


# ------------------------------------------------------------------------- p_t and its KL
def _log_std_normal_grid(grid: Grid) -> np.ndarray:
    c = grid.centers
    r2 = c[None, :] ** 2 + c[:, None] ** 2
    return -0.5 * r2 - math.log(2 * math.pi)


class Marginal:
    """p_t of one data set on a `Grid`: exact for a mixture, a kernel estimate otherwise.

    `density(alpha_bar)` float64 [n, n] (row-major [y, x]), `kl(alpha_bar)` nats (quadrature),
    `kl_curve(schedule, points)`. `exact` says which of the two it is.
    """

    def __init__(self, mixture: GaussianMixture | None = None, points: np.ndarray | None = None,
                 grid: Grid | None = None, bandwidth: float = KDE_BANDWIDTH) -> None:
        if (mixture is None) == (points is None):
            raise ValueError("give either a mixture or data points")
        self.grid = grid or Grid()
        self.mixture = mixture
        self.points = None if points is None else np.asarray(points, dtype=np.float64)
        self.bandwidth = float(bandwidth)
        self._moments: tuple[np.ndarray, np.ndarray] | None = None
        if self.points is not None:
            self._lo, self._hi = self.points.min(0), self.points.max(0)
        # φ renormalised on the grid like p (below): both are compared over the same cells, so
        # the mass of N(0, I) outside the grid (1.4e-5 at extent 4.5) is no floor on the KL
        log_phi = _log_std_normal_grid(self.grid)
        self._log_phi = log_phi - math.log(np.exp(log_phi).sum() * self.grid.dx ** 2)
        self._grid_points = self.grid.points()

    @property
    def exact(self) -> bool:
        return self.mixture is not None

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean [2], variance per axis [2]) of p_0 (`data_moments`: closed form for a mixture,
        else of the data points)."""
        if self._moments is None:
            self._moments = data_moments(self.mixture, self.points)
        return self._moments

    def reach(self, alpha_bar: float, centre: np.ndarray) -> np.ndarray:
        """Per axis [2]: max over p_t's components of |mean − centre| + FIELD_VIEW_STDS σ (the
        mixture's components, or the kernel estimate's at the data points)."""
        ab = float(alpha_bar)
        centre = np.asarray(centre, np.float64)
        if self.mixture is not None:
            m = self.mixture.marginal(ab)
            sd = np.sqrt(np.diagonal(m.covs, axis1=1, axis2=2))
            return (np.abs(m.means - centre) + FIELD_VIEW_STDS * sd).max(0)
        a = math.sqrt(ab)
        far = np.maximum(a * self._hi - centre, centre - a * self._lo)
        return far + FIELD_VIEW_STDS * math.sqrt(ab * self.bandwidth ** 2 + 1.0 - ab)

    def density(self, alpha_bar: float, grid: Grid | None = None) -> np.ndarray:
        """p_t on `grid` (default: this Marginal's), float64 [n, n] row-major [y, x]."""
        g = grid or self.grid
        ab = float(alpha_bar)
        if self.mixture is not None:
            # Σ_k w_k N(x; m_k, C_k) on the grid's rows and columns by broadcasting (no log)
            m = self.mixture.marginal(ab)
            c, cy = g.x_centers, g.y_centers
            inv = np.linalg.inv(m.covs)
            norm = m.weights / (2 * math.pi * np.sqrt(np.linalg.det(m.covs)))
            if not np.any(m.covs[:, 0, 1]):
                # diagonal covariances (every component the app makes): each Gaussian is the
                # outer product of its y and x profiles, so the sum is one [n, K] @ [K, n]
                # product (2·n·K exponentials instead of n²·K; a frame's heat map in ~0.1 ms)
                ex = np.exp(-0.5 * inv[None, :, 0, 0] * (c[:, None] - m.means[None, :, 0]) ** 2)
                ey = np.exp(-0.5 * inv[None, :, 1, 1] * (cy[:, None] - m.means[None, :, 1]) ** 2)
                return (ey * norm[None]) @ ex.T
            out = np.zeros((g.n, g.n))
            for k in range(m.K):
                dx = (c - m.means[k, 0])[None, :]
                dy = (cy - m.means[k, 1])[:, None]
                maha = inv[k, 0, 0] * dx * dx + 2 * inv[k, 0, 1] * dx * dy + inv[k, 1, 1] * dy * dy
                out += norm[k] * np.exp(-0.5 * maha)
            return out
        # kernel estimate: histogram of √ᾱ x_i blurred by N(0, (ᾱ h² + 1 - ᾱ) I)
        from scipy.ndimage import gaussian_filter  # here: ~40 ms the app's start need not pay
        pts = math.sqrt(ab) * self.points
        hist, _, _ = np.histogram2d(pts[:, 1], pts[:, 0], bins=g.n,
                                    range=[[g.cy - g.extent, g.cy + g.extent],
                                           [g.cx - g.extent, g.cx + g.extent]])
        sigma = math.sqrt(ab * self.bandwidth ** 2 + 1.0 - ab)
        dens = gaussian_filter(hist / (len(pts) * g.dx * g.dx), sigma / g.dx, mode="constant",
                               truncate=5.0)
        return dens

    def kl(self, alpha_bar: float) -> float:
        """KL(p_t || N(0, I)) = Σ p ln(p/φ) ΔA over the grid (midpoint rule), nats."""
        p = self.density(alpha_bar)
        area = self.grid.dx ** 2
        p = p / max(p.sum() * area, 1e-300)    # the grid's mass (≈ 1) renormalised
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * (np.log(p) - self._log_phi), 0.0)
        return float(max(terms.sum() * area, 0.0))

    def kl_curve(self, schedule: NoiseSchedule, n_points: int = 100) -> tuple[np.ndarray, np.ndarray]:
        """(t, KL(p_t || N(0, I))) at about n_points steps from 0 to T (t int64)."""
        ts = np.unique(np.round(np.linspace(0, schedule.T, n_points)).astype(np.int64))
        return ts, np.array([self.kl(schedule.alpha_bar(int(t))) for t in ts])


# ------------------------------------------------------------------ the fields' view box
# The field plots, the heat map and the particle plot show a square around p_t's mean
# (`view_box`; the centre rounded to a multiple of FIELD_VIEW_STEP). Its half-width is, on the
# wider axis, the smaller of
#   FIELD_VIEW_STDS standard deviations of p_t (closed form, `marginal_moments`), and
#   the reach of p_t's components: max_k |√ᾱ μ_k − c| + FIELD_VIEW_STDS σ_k(t), each
#   component's mean and σ_k(t) = √(ᾱ Σ_k + 1 − ᾱ) (for the kernel estimate: the data points
#   with σ(t) = √(ᾱ h² + 1 − ᾱ)), so the box is never wider than the data needs,
# rounded up to a multiple of FIELD_VIEW_STEP (a scrub changes the range a few times, not
# every frame; an overshoot under 2 % of a step is rounded down, so N(0, I) gets ±4, not
# ±4.5) and at least FIELD_VIEW_MIN. Both terms are smooth in t and need no particles.
FIELD_VIEW_STDS = 4.0
FIELD_VIEW_STEP = 0.5
FIELD_VIEW_MIN = 1.0


def data_moments(mixture: GaussianMixture | None = None,
                 points: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean [2], variance per axis [2]) of p_0: in closed form for a mixture,
    E = Σ w_k μ_k and Var_i = Σ w_k (Σ_k,ii + μ_k,i²) − E_i²; else of the points."""
    if mixture is not None:
        w = mixture.weights[:, None]
        mean = (w * mixture.means).sum(0)
        second = (w * (np.diagonal(mixture.covs, axis1=1, axis2=2) + mixture.means ** 2)).sum(0)
        return mean, second - mean ** 2
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return pts.mean(0), pts.var(0)


def marginal_moments(mean0: np.ndarray, var0: np.ndarray,
                     alpha_bar: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std per axis) of p_t, x_t = √ᾱ x_0 + √(1-ᾱ) ε: √ᾱ E[x_0] and
    √(ᾱ Var(x_0) + 1 − ᾱ), for any p_0."""
    ab = float(alpha_bar)
    mean0, var0 = np.asarray(mean0, np.float64), np.asarray(var0, np.float64)
    return math.sqrt(ab) * mean0, np.sqrt(ab * var0 + (1.0 - ab))


def view_box(marginal: "Marginal", alpha_bar: float) -> tuple[float, float, float]:
    """(centre x, centre y, half-width) of the square the fields and p_t are shown on at ᾱ_t
    (the rule above the constants)."""
    ab = float(alpha_bar)
    mean, std = marginal_moments(*marginal.moments(), ab)
    centre = FIELD_VIEW_STEP * np.round(mean / FIELD_VIEW_STEP)
    wide = np.abs(mean - centre) + FIELD_VIEW_STDS * std
    half = float(np.minimum(wide, marginal.reach(ab, centre)).max())
    half = max(FIELD_VIEW_MIN, FIELD_VIEW_STEP * math.ceil(half / FIELD_VIEW_STEP - 0.02))
    return float(centre[0]) + 0.0, float(centre[1]) + 0.0, half


def kl_monte_carlo(mixture: GaussianMixture, alpha_bar: float, n: int,
                   generator: torch.Generator | None = None) -> tuple[float, float]:
    """(KL(p_t || N(0, I)), its standard error) from n samples of p_t: the mean of
    ln p_t(x) - ln φ(x). An independent check of the grid quadrature."""
    m = mixture.marginal(alpha_bar)
    x = m.sample(n, generator).astype(np.float64)
    f = m.log_density(x) - (-0.5 * (x ** 2).sum(1) - math.log(2 * math.pi))
    return float(f.mean()), float(f.std(ddof=1) / math.sqrt(n))


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_projections: int = 256,
                       seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between two point sets [n, 2] of the same size:
    √(mean over random directions θ of W_2²(θ·a, θ·b)), W_2 of sorted projections."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) != len(b):
        raise ValueError("the two point sets must have the same size")
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n_projections, 2))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    pa, pb = np.sort(a @ theta.T, axis=0), np.sort(b @ theta.T, axis=0)
    return float(np.sqrt(np.mean((pa - pb) ** 2)))
