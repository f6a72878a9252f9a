"""What the model is unsure of: the top principal directions and variances of p(x_0 | x_t),
from the denoiser's Jacobian (Manor & Michaeli, ICLR 2024, "On the Posterior Distribution in
Denoising: Application to Uncertainty Quantification").

**The identity.** For y = x_0 + s n, n ~ N(0, I), the posterior covariance is the noise
variance times the Jacobian of the posterior mean (Tweedie to second order; Manor & Michaeli
2024, Theorem 1): Cov[x_0 | y] = s² ∂E[x_0 | y]/∂y. Our x_t = √ᾱ x_0 + √(1-ᾱ) ε is
y = x_t/√ᾱ with s² = (1-ᾱ)/ᾱ, and E[x_0 | x_t] = (x_t - √(1-ᾱ) E[ε | x_t])/√ᾱ (Ho et al.
2020, eq. 15), so ∂/∂y = √ᾱ ∂/∂x_t and

    Cov[x_0 | x_t] = ((1-ᾱ)/√ᾱ) ∂x̂_0/∂x_t = ((1-ᾱ)/ᾱ) (I - √(1-ᾱ) ∂ε̂/∂x_t),

with the network's ε̂ in place of E[ε | x_t]. Only products with this matrix are needed:
Jacobian-vector products J v of ε̂, by double backward (the VJP u -> Jᵀu is linear in u, and
its own VJP against v is J v), or by central finite differences (Manor & Michaeli's
choice; exact enough in float64 and the only way through a denoiser autograd cannot see).

**Subspace iteration** (Manor & Michaeli 2024, Algorithm 1; Golub & Van Loan §8.2.4): start
from k random orthonormal directions V, repeat V <- orth(Cov V); then Rayleigh-Ritz: the
eigenvectors of the k×k matrix Vᵀ Cov V (symmetrised: a trained network's Jacobian is only
nearly symmetric) rotate V into the principal directions, and its eigenvalues are the
variances along them. Each iteration is one batched call of k images.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .sampling import EpsFn
from .schedule import NoiseSchedule

JVPS = ("autograd", "finite_difference")
DEFAULT_JVP = "finite_difference"    # 3x faster than autograd on CPU, the same directions to 3 digits
DEFAULT_OVERSAMPLE = 4
# Subspace iterations and extra directions the CLI and the app run unless told otherwise: with
# k = 4 on a held-out digit, 4 iterations on 4 + 4 directions came within |cos| 0.988 (t = 300)
# and 0.944 (t = 600) of all four directions after 40 iterations; 8 iterations on 4 + 0 left the
# fourth at 0.72 and 0.47 (docs/LIKELIHOOD.md).
DEFAULT_ITERATIONS = 4
FD_STEP = 1e-3            # central-difference step, relative to the input's norm per image


def _jvp_autograd(eps_fn: EpsFn, x: torch.Tensor, t: int, v: torch.Tensor) -> torch.Tensor:
    """J v for the rows of v [k, ...] (x [k, ...], the same image repeated): double backward."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    xs = x.detach().requires_grad_(True)
    # the fused CPU attention kernel has no double backward; the math one has (same numbers)
    with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH):
        eps = eps_fn(xs, t)
        u = torch.zeros_like(eps, requires_grad=True)
        (jt_u,) = torch.autograd.grad((eps * u).sum(), xs, create_graph=True)     # Jᵀu, linear in u
        (jv,) = torch.autograd.grad((jt_u * v).sum(), u)                          # ∂(vᵀJᵀu)/∂u = J v
    return jv.detach()


def _jvp_finite_difference(eps_fn: EpsFn, x: torch.Tensor, t: int, v: torch.Tensor) -> torch.Tensor:
    h = FD_STEP * max(1.0, float(x[0].norm()))
    with torch.no_grad():
        both = eps_fn(torch.cat([x + h * v, x - h * v]), t)
    plus, minus = both.chunk(2)
    return (plus - minus) / (2.0 * h)


def posterior_cov_coefficients(schedule: NoiseSchedule, t: int) -> tuple[float, float]:
    """(c, r) = ((1-ᾱ_t)/ᾱ_t, √(1-ᾱ_t)) at step t (1..T): Cov[x_0 | x_t] = c (I - r ∂ε̂/∂x_t)."""
    ab = schedule.alpha_bar(t)
    return (1.0 - ab) / ab, math.sqrt(1.0 - ab)


def posterior_cov_matvec(eps_fn: EpsFn, schedule: NoiseSchedule, x_t: torch.Tensor, t: int,
                         jvp: str = "autograd"):
    """A function V [k, ...] -> Cov[x_0 | x_t] V [k, ...] (module docstring) for one x_t
    ([1, ...] or [...]) at step t (1..T)."""
    if jvp not in JVPS:
        raise ValueError(f"unknown jvp {jvp!r}: choose one of {', '.join(JVPS)}")
    scale, root = posterior_cov_coefficients(schedule, t)
    one = x_t if x_t.dim() > 1 and x_t.shape[0] == 1 else x_t[None]
    product = _jvp_autograd if jvp == "autograd" else _jvp_finite_difference

    def matvec(v: torch.Tensor) -> torch.Tensor:
        x = one.expand(v.shape[0], *one.shape[1:]).to(v.dtype)
        return scale * (v - root * product(eps_fn, x, t, v))

    return matvec


@dataclass(frozen=True)
class PosteriorPCs:
    """directions [k, D] (orthonormal rows, largest variance first, each with its sign fixed so its
    largest entry is positive), variances [k] (descending, in model units² [-1, 1]), iterations run."""

    directions: np.ndarray
    variances: np.ndarray
    iterations: int


def posterior_principal_components(eps_fn: EpsFn, schedule: NoiseSchedule, x_t, t: int, k: int = 4,
                                   iterations: int = DEFAULT_ITERATIONS, jvp: str = DEFAULT_JVP,
                                   generator: torch.Generator | None = None,
                                   oversample: int = DEFAULT_OVERSAMPLE) -> PosteriorPCs:
    """The top-k principal directions and variances of p(x_0 | x_t) by subspace iteration on
    Cov[x_0 | x_t] (module docstring). x_t: one image (any shape, or [1, ...]); k: 1..D.

    The iteration runs on k + `oversample` directions (capped at D) and keeps the top k: the
    k-th direction then converges at the rate λ_{k+p+1}/λ_k instead of λ_{k+1}/λ_k (Halko,
    Martinsson & Tropp 2011, §4.3)."""
    x = x_t if isinstance(x_t, torch.Tensor) else torch.as_tensor(np.asarray(x_t, dtype=np.float32))
    x = x.detach()
    one = x if x.dim() > 1 and x.shape[0] == 1 else x[None]
    dims = one[0].numel()
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= dims:
        raise ValueError(f"k = {k} must be an integer in 1..{dims}")
    if isinstance(iterations, bool) or int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations = {iterations} must be an integer >= 0")
    if not 1 <= int(t) <= schedule.T:
        raise ValueError(f"t = {t} is out of range: need 1 <= t <= {schedule.T}")
    if isinstance(oversample, bool) or int(oversample) != oversample or oversample < 0:
        raise ValueError(f"oversample = {oversample} must be an integer >= 0")
    k, shape = int(k), one.shape[1:]
    block = min(dims, k + int(oversample))
    matvec = posterior_cov_matvec(eps_fn, schedule, one, int(t), jvp)
    start = torch.randn((dims, block), generator=generator, dtype=torch.float64)
    basis, _ = torch.linalg.qr(start)                                        # [D, block], orthonormal
    dtype = one.dtype

    def apply(b: torch.Tensor) -> torch.Tensor:                               # [D, block] -> [D, block]
        v = b.T.reshape(block, *shape).to(device=one.device, dtype=dtype)
        return matvec(v).reshape(block, dims).T.to("cpu", torch.float64)

    for _ in range(int(iterations)):
        basis, _ = torch.linalg.qr(apply(basis))
    # Rayleigh-Ritz on the subspace
    h = basis.T @ apply(basis)
    values, vectors = torch.linalg.eigh(0.5 * (h + h.T))
    order = torch.argsort(values, descending=True)[:k]
    directions = (basis @ vectors[:, order]).T.numpy()
    signs = np.sign(directions[np.arange(k), np.abs(directions).argmax(1)])
    return PosteriorPCs(directions * signs[:, None], values[order].numpy(), int(iterations))
