"""Speciation time: Λ of data with a known covariance, and ᾱ_S = 1/Λ placed on a schedule."""
import numpy as np
import pytest

from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.speciation import (largest_covariance_eigenvalue, speciation_step,
                                          speciation_time)


def _gaussian(eigenvalues, n, seed=0):
    """n points of N(m, Q diag(eigenvalues) Q^T) with a random rotation Q and mean m."""
    rng = np.random.default_rng(seed)
    d = len(eigenvalues)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    z = rng.standard_normal((n, d)) * np.sqrt(eigenvalues)
    return z @ q.T + rng.standard_normal(d)


def test_largest_eigenvalue_of_known_covariance():
    spectrum = np.array([16.0, 4.0] + [0.5] * 38)
    lam = largest_covariance_eigenvalue(_gaussian(spectrum, 20_000))
    # the sample estimate of a spike of 16 from n = 20,000: standard error 16 √(2/n) = 0.16
    assert lam == pytest.approx(16.0, abs=0.6)
    # fewer points than dimensions (the Gram-matrix path) agrees with the covariance path
    x = _gaussian(np.linspace(3.0, 0.1, 60), 40, seed=1)
    assert largest_covariance_eigenvalue(x) == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1])


def test_uint8_is_taken_to_the_model_range():
    rng = np.random.default_rng(2)
    u8 = rng.integers(0, 256, (50, 4, 4), dtype=np.uint8)
    x = u8.reshape(50, -1) / 127.5 - 1.0
    assert largest_covariance_eigenvalue(u8) == pytest.approx(np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1])


def test_step_on_a_schedule():
    # the linear schedule's ᾱ_t written out independently
    betas = np.linspace(1e-4, 0.02, 1000)
    alpha_bar = np.cumprod(1.0 - betas)
    schedule = NoiseSchedule.named("linear", 1000, 1e-4, 0.02)
    s = speciation_time(schedule, 16.0)
    assert s.alpha_bar == 1 / 16
    t = s.t
    assert alpha_bar[t - 1] <= 1 / 16 < alpha_bar[t - 2]
    assert speciation_time(schedule, 0.8).t is None          # Λ <= 1: never stands out of the noise
    assert speciation_step(schedule, 1e-9) is None            # ᾱ_T = 4e-5 never gets that low
    with pytest.raises(ValueError):
        speciation_time(schedule, float("nan"))
