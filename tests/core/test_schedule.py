"""Noise schedules: pinned values, the published formulas, and validation."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddpm_desktop.core.schedule import (
    ALPHA_BAR_FLOOR,
    DEFAULT_SCHEDULE,
    SCHEDULE_KINDS,
    NoiseSchedule,
    cosine_alpha_bar,
    get_named_beta_schedule,
    prior_warning,
    validate_betas,
)

FAST = settings(max_examples=50, deadline=None)


def test_linear_default_matches_ddpm():
    s = NoiseSchedule.default()
    assert s.kind == DEFAULT_SCHEDULE["kind"] == "linear"
    assert s.T == 1000
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    # Ho et al. 2020's schedule: ᾱ_1000 ≈ 4.04e-5.
    assert s.alpha_bar_T == pytest.approx(4.04e-5, rel=1e-2)
    assert s.prior_kl() == pytest.approx(2.018e-5, rel=1e-3)
    assert prior_warning(s) is None


def test_short_linear_schedule_leaves_signal_and_warns():
    s = NoiseSchedule.named("linear", T=50)
    assert s.alpha_bar_T == pytest.approx(0.603, abs=2e-3)
    a = s.alpha_bar_T
    assert s.prior_kl(1.0) == pytest.approx(0.5 * (a + (1 - a) - 1 - math.log(1 - a)))
    assert s.prior_kl(0.0) < s.prior_kl(1.0)
    msg = prior_warning(s)
    assert msg is not None and "\n" not in msg and "0.603" in msg


def test_cosine_matches_nichol_dhariwal_formula():
    T, s_ = 1000, 0.008
    s = NoiseSchedule.named("cosine", T=T)
    t = np.arange(1, T + 1)
    f = np.cos(((t / T) + s_) / (1 + s_) * np.pi / 2) ** 2
    f0 = np.cos(s_ / (1 + s_) * np.pi / 2) ** 2
    # Every β but the last (clipped to 0.999) is unclipped, so ᾱ is exactly f(t)/f(0).
    assert np.all(s.betas[:-1] < 0.999) and s.betas[-1] == 0.999
    np.testing.assert_allclose(s.alphas_cumprod[:-1], (f / f0)[:-1], rtol=1e-10)
    np.testing.assert_allclose(cosine_alpha_bar(t, T), f / f0, rtol=1e-12)
    assert s.betas[0] == pytest.approx(4.1284e-5, rel=1e-4)
    assert s.alpha_bar_T == pytest.approx(2.43e-9, rel=1e-2)


def test_quadratic_and_sigmoid_formulas():
    q = get_named_beta_schedule("quadratic", 10, 1e-4, 0.02)
    np.testing.assert_allclose(q, np.linspace(0.01, math.sqrt(0.02), 10) ** 2)
    sg = get_named_beta_schedule("sigmoid", 10, 1e-4, 0.02)
    x = np.linspace(-6, 6, 10)
    np.testing.assert_allclose(sg, 1 / (1 + np.exp(-x)) * (0.02 - 1e-4) + 1e-4)
    assert np.all(np.diff(q) > 0) and np.all(np.diff(sg) > 0)


@pytest.mark.parametrize("kind", SCHEDULE_KINDS)
def test_precomputed_coefficients(kind):
    s = NoiseSchedule.named(kind, T=200)
    b, ab, abp = s.betas, s.alphas_cumprod, s.alphas_cumprod_prev
    np.testing.assert_allclose(ab, np.cumprod(1 - b), rtol=1e-12)
    assert abp[0] == 1.0 and np.array_equal(abp[1:], ab[:-1])
    np.testing.assert_allclose(s.sqrt_alphas_cumprod ** 2 + s.sqrt_one_minus_alphas_cumprod ** 2, 1)
    np.testing.assert_allclose(s.posterior_variance, b * (1 - abp) / (1 - ab), rtol=1e-12)
    assert s.posterior_variance[0] == 0.0
    assert np.all(np.isfinite(s.posterior_log_variance_clipped))
    assert s.posterior_log_variance_clipped[0] == s.posterior_log_variance_clipped[1]
    # Posterior mean of q(x_{t-1}|x_t, x_0) at x_t = √ᾱ_t x_0 (zero noise) is √ᾱ_{t-1} x_0.
    np.testing.assert_allclose(
        s.posterior_mean_coef1 + s.posterior_mean_coef2 * np.sqrt(ab), np.sqrt(abp), rtol=1e-10)
    np.testing.assert_allclose(s.log_snr, np.log(ab / (1 - ab)), rtol=1e-9)
    assert np.all(np.diff(s.log_snr) < 0)
    with pytest.raises(ValueError):
        s.betas[0] = 0.5  # read-only


@pytest.mark.parametrize("kind", SCHEDULE_KINDS)
@pytest.mark.parametrize("kept", [[200, 150, 77, 13, 1, 0], [200, 100], [37], list(range(0, 201, 40))])
def test_respaced_is_the_chain_of_the_kept_steps(kind, kept):
    """Respacing (improved-diffusion's respace.py): the new ᾱ are the kept ones, and its posterior
    is that of each jump t -> s, here by conditioning the Gaussian pair (x_s, x_t) | x_0."""
    s = NoiseSchedule.named(kind, T=200)
    r = s.respaced(kept)
    up = sorted(set(kept) - {0})
    assert r.T == len(up) and r.kind == kind
    ab_t = np.array([s.alpha_bar(t) for t in up])
    ab_s = np.array([s.alpha_bar(t) for t in [0] + up[:-1]])
    # rtol 1e-8, not 1e-12: a β' near 1 (cosine's last jump) keeps 1 - β' to ~1e-16 absolute only.
    np.testing.assert_allclose(r.alphas_cumprod, ab_t, rtol=1e-8)
    np.testing.assert_allclose(r.betas, 1 - ab_t / ab_s, rtol=1e-8)
    c = np.sqrt(ab_t / ab_s) * (1 - ab_s) / (1 - ab_t)     # Cov(x_s, x_t | x_0) / Var(x_t | x_0)
    np.testing.assert_allclose(r.posterior_mean_coef2, c, rtol=1e-8)
    np.testing.assert_allclose(r.posterior_mean_coef1, np.sqrt(ab_s) - c * np.sqrt(ab_t), rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(r.posterior_variance, (1 - ab_s) - c * c * (1 - ab_t), rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(r.log_snr, s.log_snr[np.array(up) - 1], rtol=1e-8)


def test_respaced_with_every_step_is_the_schedule():
    s = NoiseSchedule.default()
    r = s.respaced(range(s.T, -1, -1))
    for name in ("betas", "alphas_cumprod", "posterior_mean_coef1", "posterior_mean_coef2",
                 "posterior_variance", "posterior_log_variance_clipped", "log_snr"):
        np.testing.assert_allclose(getattr(r, name), getattr(s, name), rtol=1e-12, err_msg=name)
    # Order, repeats and the 0 do not matter.
    a, b = s.respaced([0, 500, 10, 500, 1000]), s.respaced(np.array([1000, 500, 10]))
    assert np.array_equal(a.betas, b.betas)


@pytest.mark.parametrize("kept, match", [
    ([0], "at least one step"), ([], "at least one step"), ([1001, 5], "0..T"), ([-1, 5], "0..T"),
    (["a"], "integers"),
])
def test_respaced_bad_steps(kept, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule.default().respaced(kept)


def test_tensor_cache():
    import torch

    s = NoiseSchedule.named("linear", T=10)
    a = s.tensor("sqrt_alphas_cumprod")
    assert a.dtype == torch.float32 and a.shape == (10,)
    assert s.tensor("sqrt_alphas_cumprod") is a


def test_T_equal_one():
    s = NoiseSchedule.from_betas([0.5])
    assert s.T == 1 and s.alpha_bar_T == 0.5
    assert s.posterior_log_variance_clipped[0] == pytest.approx(math.log(0.5))


@given(betas=st.lists(st.floats(1e-6, 0.1), min_size=1, max_size=200))
@FAST
def test_valid_schedules_stay_valid(betas):
    s = NoiseSchedule.from_betas(betas)
    ab = s.alphas_cumprod
    assert np.all((ab > ALPHA_BAR_FLOOR) & (ab < 1)) and np.all(np.diff(ab) < 0)
    for name in ("posterior_mean_coef1", "posterior_mean_coef2", "posterior_log_variance_clipped",
                 "log_snr"):
        assert np.all(np.isfinite(getattr(s, name))), name
    assert np.all((s.posterior_variance >= 0) & (s.posterior_variance <= s.betas))


@given(
    betas=st.lists(st.floats(1e-4, 0.05), min_size=1, max_size=100),
    bad=st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0, -0.1, 1.5]),
    data=st.data(),
)
@FAST
def test_invalid_betas_raise_naming_the_index(betas, bad, data):
    i = data.draw(st.integers(0, len(betas)))
    betas = betas[:i] + [bad] + betas[i:]
    with pytest.raises(ValueError, match=rf"beta\[{i}\] \(t={i + 1}\)"):
        NoiseSchedule.from_betas(betas)


@given(kind=st.sampled_from(SCHEDULE_KINDS), T=st.integers(1, 2000),
       b1=st.floats(1e-5, 0.01), b2=st.floats(1e-3, 0.03))
@FAST
def test_named_schedules_valid_or_refused_for_underflow(kind, T, b1, b2):
    try:
        s = NoiseSchedule.named(kind, T, b1, b2)
    except ValueError as exc:
        assert "underflows" in str(exc)
        return
    assert s.T == T and np.all(np.diff(s.alphas_cumprod) < 0)


@pytest.mark.parametrize("args, match", [
    (("linear", 0), "out of range"),
    (("linear", -3), "out of range"),
    (("linear", 100_001), "out of range"),
    (("linear", 2.5), "integer"),
    (("linear", 100, 2.0), "beta_start"),
    (("linear", 100, 1e-4, math.nan), "beta_end"),
    (("linear", 100, 0.0), "beta_start"),
    (("exotic", 100), "unknown schedule"),
    (("linear", 5000), "underflows"),
])
def test_bad_named_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule.named(*args)


@pytest.mark.parametrize("betas, match", [
    ([], "out of range"),
    ([[0.1, 0.2]], "one-dimensional"),
    (["a"], "array of numbers"),
    ([1e-20], "too small"),
])
def test_validate_betas_shapes(betas, match):
    with pytest.raises(ValueError, match=match):
        validate_betas(betas)
