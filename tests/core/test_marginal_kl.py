"""Exact KL of the pixel-value marginal p_t (core.marginal) against scipy.integrate.quad on
scipy.stats densities, for every start, at small, middle and large t."""
import math

import numpy as np
import pytest
from scipy import integrate, stats

from ddpm_desktop.core.kl import analytic_kl_q, normal_kl
from ddpm_desktop.core.marginal import (marginal_kl_at, marginal_kl_curve, marginal_kl_direct,
                                        marginal_kl_image_curve)
from ddpm_desktop.core.schedule import NoiseSchedule

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def quad_kl(pdf, breaks, lo, hi):
    """∫ p ln(p/φ) by adaptive quadrature, split at `breaks`."""
    def f(y):
        p = pdf(y)
        return p * (math.log(p) + 0.5 * y * y + HALF_LOG_2PI) if p > 1e-300 else 0.0

    pts = sorted({float(b) for b in breaks if lo < b < hi} | {lo, hi})
    return sum(integrate.quad(f, a, b, limit=400, epsabs=1e-15, epsrel=1e-11)[0]
               for a, b in zip(pts, pts[1:]))


def reference(name, ab, **p):
    a, s = math.sqrt(ab), math.sqrt(1 - ab)
    if name == "exponential":
        r = p.get("rate", 0.5) / a
        d = stats.exponnorm(1 / (r * s), scale=s)
        return quad_kl(d.pdf, [0, -s, s, 5 * s, 1, 5], -10 - 9 * s, 40 / r + 12)
    if name == "laplace":
        r = 1 / (a * p.get("scale", 1 / math.sqrt(2)))
        d = stats.exponnorm(1 / (r * s), scale=s)
        return quad_kl(lambda y: 0.5 * (d.pdf(y) + d.pdf(-y)), [0, -s, s, 1, -1],
                       -40 / r - 12, 40 / r + 12)
    if name == "uniform":
        A = a * p.get("a", math.sqrt(3))
        pdf = lambda y: (stats.norm.cdf((y + A) / s) - stats.norm.cdf((y - A) / s)) / (2 * A)  # noqa: E731
        return quad_kl(pdf, [-A, A, -A - s, A + s, -A + s, A - s], -A - 12, A + 12)
    v, w = p["v"], p["w"]  # a mixture of atoms
    pdf = lambda y: float(np.dot(w, stats.norm.pdf(y, a * v, s)))  # noqa: E731
    breaks = (a * v[:, None] + s * np.array([-8, -3, -1, 0, 1, 3, 8])).ravel()
    return quad_kl(pdf, breaks, a * v.min() - 12, a * v.max() + 12)


SCHED = NoiseSchedule.named("linear")
AB = SCHED.alphas_cumprod
# t = 1, 10, 100, 300, 700 of the default schedule, and a step with tiny noise (λ ≈ 18)
ALPHA_BARS = [AB[0], AB[9], AB[99], AB[299], AB[699], 1 - 1e-8]


@pytest.mark.parametrize("name, params", [
    ("exponential", {}), ("exponential", {"rate": 2.0}), ("uniform", {}), ("uniform", {"a": 0.5}),
    ("laplace", {}), ("laplace", {"scale": 2.0}),
])
@pytest.mark.slow
@pytest.mark.parametrize("ab", ALPHA_BARS)
def test_densities_against_quad(name, params, ab):
    want = reference(name, ab, **params)
    got = float(marginal_kl_at(ab, name, **params))
    assert got == pytest.approx(want, rel=1e-4, abs=1e-12)


def test_density_starts_at_t0_are_the_closed_forms_and_fall_smoothly_to_them():
    from ddpm_desktop.core.forward import start_analytic_kl

    for name in ("exponential", "uniform", "laplace"):
        assert marginal_kl_at(1.0, name) == pytest.approx(start_analytic_kl(name), rel=1e-12)
        # beyond the last λ node (s < 4.5e-5) the curve joins the s -> 0 limit
        tiny = float(marginal_kl_at(1 - 1e-12, name))
        assert tiny == pytest.approx(reference(name, 1 - 1e-12), rel=1e-4)


def _digit():
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.imaging import to_model_range

    d = load_bundled_mnist("test")
    return to_model_range(d.images[np.flatnonzero(d.labels == 0)[0]]).astype(np.float64)


@pytest.mark.slow
@pytest.mark.parametrize("ab", ALPHA_BARS[:5] + [0.5])
def test_image_against_quad(ab):
    x0 = _digit()
    v, c = np.unique(x0, return_counts=True)
    want = reference("image", ab, v=v, w=c / c.sum())
    assert float(marginal_kl_at(ab, "image", image=x0)) == pytest.approx(want, rel=1e-4)


def test_image_values_quoted_in_the_issue_and_docs():
    kl = marginal_kl_image_curve(SCHED, _digit())
    assert kl[0] == math.inf
    assert kl[200] == pytest.approx(0.170, abs=1e-3) and kl[400] == pytest.approx(0.0343, abs=1e-4)
    upper = analytic_kl_q(SCHED, _digit())
    assert np.all(upper[1:] >= kl[1:]) and upper[200] == pytest.approx(0.506, abs=1e-3)
    assert np.all(np.diff(kl[1:]) < 0)


@pytest.mark.parametrize("params", [{}, {"amount": 0.3, "value": 2.0}])
@pytest.mark.parametrize("ab", [AB[0], AB[99], AB[499], 1 - 1e-9])
def test_salt_pepper_against_quad(params, ab):
    amount, value = params.get("amount", 1.0), params.get("value", 1.0)
    v = np.array([-value, 0.0, value])
    w = np.array([amount / 2, 1 - amount, amount / 2])
    keep = w > 0
    want = reference("salt_pepper", ab, v=v[keep], w=w[keep])
    assert float(marginal_kl_at(ab, "salt_pepper", **params)) == pytest.approx(want, rel=1e-4)
    assert marginal_kl_at(1.0, "salt_pepper", **params) == math.inf


@pytest.mark.slow
def test_small_alpha_bar_cumulants_against_quad():
    # ᾱ <= 1e-3: the cumulant expansion (exponential and an image have a mean: KL ~ ½ ᾱ μ²)
    for ab in (1e-3, 2e-4):
        assert float(marginal_kl_at(ab, "exponential")) == pytest.approx(reference("exponential", ab), rel=1e-4)
        x0 = _digit()
        v, c = np.unique(x0, return_counts=True)
        assert float(marginal_kl_at(ab, "image", image=x0)) == pytest.approx(
            reference("image", ab, v=v, w=c / c.sum()), rel=1e-4)


@pytest.mark.parametrize("name, params", [("exponential", {}), ("uniform", {}), ("laplace", {}),
                                          ("salt_pepper", {}), ("image", {"image": None})])
def test_spline_between_nodes_matches_the_quadrature(name, params):
    """The λ-table spline against the direct quadrature at every 7th step of two schedules."""
    if name == "image":
        params = {"image": _digit()}
    for sched in (SCHED, NoiseSchedule.named("cosine", 300)):
        ab = sched.alphas_cumprod
        curve = marginal_kl_curve(sched, name, **params)
        for t in range(1, sched.T + 1, 7):
            if 1e-3 < ab[t - 1] < 1 - 1e-9:
                direct = marginal_kl_direct(ab[t - 1], name, **params)
                assert curve[t] == pytest.approx(direct, rel=2e-5, abs=1e-14)


def test_gaussian_start_is_exactly_zero_and_shifted_gaussian_is_the_closed_form():
    for sched in (SCHED, NoiseSchedule.named("cosine", 50)):
        assert np.all(marginal_kl_curve(sched, "gaussian") == 0.0)
        got = marginal_kl_curve(sched, "shifted_gaussian", mean=0.7, std=1.5)
        ab = np.append(1.0, sched.alphas_cumprod)
        m, var = np.sqrt(ab) * 0.7, ab * 2.25 + 1 - ab
        np.testing.assert_allclose(got, 0.5 * (var + m * m - 1 - np.log(var)), rtol=1e-9)


def test_normal_kl_primitive():
    assert normal_kl(0.0, 0.0, 0.0, 0.0) == 0.0
    m1, lv1, m2, lv2 = 0.3, math.log(2.0), -1.0, math.log(0.5)
    # KL(N(μ1, σ1²) ‖ N(μ2, σ2²)) = ln(σ2/σ1) + (σ1² + (μ1 - μ2)²)/(2σ2²) - ½
    want = 0.5 * (lv2 - lv1) + (2.0 + 1.3 ** 2) / (2 * 0.5) - 0.5
    assert normal_kl(m1, lv1, m2, lv2) == pytest.approx(want, rel=1e-14)
    assert normal_kl(np.zeros(3), np.array([1e-9, 0, -1e-9]), 0, 0) == pytest.approx([5e-19, 0, 5e-19], rel=1e-6)


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown start"):
        marginal_kl_at(0.5, "cauchy")
    with pytest.raises(ValueError, match="alpha_bar"):
        marginal_kl_at(0.0, "exponential")
    with pytest.raises(ValueError, match="needs an image"):
        marginal_kl_at(0.5, "image")
    with pytest.raises(ValueError, match="rate"):
        marginal_kl_at(0.5, "exponential", rate=-1)


def test_atoms_closer_than_the_table_resolves_and_a_schedule_with_tiny_betas():
    img = np.r_[np.full(392, 0.3), np.full(392, 0.3 + 1e-9)]
    sched = NoiseSchedule.named("linear", 40, 1e-15, 0.2)
    kl = marginal_kl_image_curve(sched, img)
    assert kl[0] == math.inf and np.all(np.isfinite(kl[1:])) and np.all(np.diff(kl[1:]) < 0)
    # at t = 1 (s = 3e-8) the two atoms still overlap: nearly one Gaussian N(0.3, s²)
    ab = sched.alphas_cumprod[0]
    one = float(normal_kl(math.sqrt(ab) * 0.3, math.log1p(-ab), 0.0, 0.0))
    assert kl[1] == pytest.approx(one, rel=1e-3)
    for t in (1, 5, 20):
        assert kl[t] == pytest.approx(marginal_kl_direct(sched.alphas_cumprod[t - 1], "image", image=img), rel=1e-5)
