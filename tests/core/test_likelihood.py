"""Likelihood by the probability-flow ODE against closed forms: correlated Gaussian data with its
exact ε (exact and Hutchinson traces), the pixel-bin bookkeeping, and the DDPM bound's decoder."""
import math

import numpy as np
import pytest
import torch

from ddpm_desktop.core.likelihood import (
    BIN,
    LOG2_BIN_OFFSET,
    discretized_gaussian_log_likelihood,
    bits_per_dim,
    dequantize,
    iter_probability_flow,
    log_likelihood,
)
from ddpm_desktop.core.sampling import generator_for
from ddpm_desktop.core.schedule import NoiseSchedule

D = 64
LOG_SNR_MIN = float(NoiseSchedule.default().log_snr[-1])


class CorrelatedGaussian:
    """x_0 ~ N(mu, C) in D dimensions, C with strong correlations; its exact ε at log-SNR λ is
    σ (α² C + σ² I)⁻¹ (x - α mu), a linear map with off-diagonal terms (so Hutchinson is noisy)."""

    def __init__(self, seed=0):
        g = np.random.default_rng(seed)
        q, _ = np.linalg.qr(g.standard_normal((D, D)))
        self.lam = np.geomspace(0.02, 1.5, D)            # eigenvalues of C
        self.q = q
        self.cov = (q * self.lam) @ q.T
        self.mu = g.uniform(-0.5, 0.5, D)

    def eps_at(self, x, log_snr):
        a2 = 1.0 / (1.0 + math.exp(-log_snr))
        s2 = 1.0 - a2
        q = torch.as_tensor(self.q, dtype=x.dtype)
        scale = torch.as_tensor(math.sqrt(s2) / (a2 * self.lam + s2), dtype=x.dtype)
        flat = x.reshape(x.shape[0], D) - math.sqrt(a2) * torch.as_tensor(self.mu, dtype=x.dtype)
        return (((flat @ q) * scale) @ q.T).reshape(x.shape)

    def sample(self, n, seed=1):
        g = np.random.default_rng(seed)
        return torch.as_tensor(g.multivariate_normal(self.mu, self.cov, size=n))

    def log_pdf(self, x):
        d = x.numpy() - self.mu
        z = (d @ self.q) / np.sqrt(self.lam)
        return -0.5 * (z * z).sum(1) - 0.5 * np.log(self.lam).sum() - 0.5 * D * math.log(2 * math.pi)


@pytest.fixture(scope="module")
def gaussian():
    return CorrelatedGaussian()


def test_exact_trace_matches_the_closed_form_density(gaussian):
    x0 = gaussian.sample(3)
    log_p = log_likelihood(gaussian.eps_at, x0, LOG_SNR_MIN, trace="exact")
    assert np.all(np.abs(log_p - gaussian.log_pdf(x0)) / D < 0.01)
    # and the ODE's own error is far smaller than the target at the default steps
    assert np.all(np.abs(log_p - gaussian.log_pdf(x0)) / D < 1e-3)


def test_hutchinson_is_unbiased_and_noisy_for_a_non_diagonal_jacobian(gaussian):
    x0 = gaussian.sample(2)
    exact = log_likelihood(gaussian.eps_at, x0, LOG_SNR_MIN, steps=8, trace="exact")
    draws = np.stack([log_likelihood(gaussian.eps_at, x0, LOG_SNR_MIN, steps=8, trace="hutchinson",
                                     generator=generator_for(k)) for k in range(40)])
    spread = draws.std(0)
    assert np.all(spread > 1e-3)                     # the probes do matter here ...
    se = spread / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(0) - exact) < 4 * se)   # ... and average to the exact trace
    many = log_likelihood(gaussian.eps_at, x0, LOG_SNR_MIN, steps=8, trace="hutchinson", probes=400,
                          generator=generator_for(99))
    assert np.all(np.abs(many - exact) < 4 * spread / math.sqrt(400))


def test_flow_runs_from_lambda_max_to_lambda_min_and_counts_calls(gaussian):
    states = list(iter_probability_flow(gaussian.eps_at, gaussian.sample(1), LOG_SNR_MIN, 14.0, steps=5))
    assert states[0].log_snr == 14.0 and states[-1].log_snr == pytest.approx(LOG_SNR_MIN)
    assert [s.nfe for s in states] == [0, 4, 8, 12, 16, 20]
    # x at λ_min is close to N(0, I) noise, not the data
    assert abs(float(states[-1].x.std()) - 1.0) < 0.4
    with pytest.raises(ValueError):
        next(iter_probability_flow(gaussian.eps_at, gaussian.sample(1), 1.0, 0.0))
    with pytest.raises(ValueError):
        next(iter_probability_flow(gaussian.eps_at, gaussian.sample(1), LOG_SNR_MIN, trace="nope"))


def test_dequantization_stays_in_each_pixels_bin_and_the_offset_is_the_bins():
    u = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    x = dequantize(u, generator_for(0)).numpy()
    centre = u / 127.5 - 1.0
    assert np.all(np.abs(x - centre) <= BIN / 2 + 1e-7)
    assert np.std(x - centre) > BIN / 5                      # really spread over the bin
    # log p = D log(1/Δ): all mass on one bin per pixel, so the pixels cost 0 bits
    assert bits_per_dim(np.array([D * math.log(1 / BIN)]), D)[0] == pytest.approx(0.0, abs=1e-12)
    assert LOG2_BIN_OFFSET == pytest.approx(math.log2(127.5))
    with pytest.raises(ValueError):
        dequantize(np.zeros((1, 4, 4), np.float32))


def test_discrete_decoder_matches_the_normal_cdf_over_each_bin():
    from scipy.stats import norm

    x0 = (np.array([[0, 1, 64, 128, 254, 255]]) / 127.5 - 1.0)
    mean = x0 + np.array([[0.003, -0.01, 0.02, 0.0, -0.004, 0.5]])
    std = 0.01
    got = discretized_gaussian_log_likelihood(x0, mean, math.log(std))
    upper = np.where(x0 > 1 - 1e-3, np.inf, x0 + BIN / 2)
    lower = np.where(x0 < -1 + 1e-3, -np.inf, x0 - BIN / 2)
    want = np.log(norm.cdf(upper, mean, std) - norm.cdf(lower, mean, std)).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    # far in a tail, where the difference of CDFs rounds to 0, the log still is finite
    far = discretized_gaussian_log_likelihood(np.array([[0.0]]), np.array([[0.9]]), math.log(std))
    assert np.isfinite(far[0]) and far[0] < -3000


@pytest.mark.slow
def test_bundled_model_rates_digits_above_noise_stripes_and_checkers():
    from ddpm_desktop.core.checkpoint import bundled_model_path, load_model
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.likelihood import image_bits_per_dim
    from ddpm_desktop.core.sampling import make_log_snr_eps_fn

    model, _ = load_model(bundled_model_path())
    yy, xx = np.mgrid[:28, :28]
    others = np.stack([np.random.default_rng(0).integers(0, 256, (28, 28)),     # uniform noise
                       (xx // 2) % 2 * 255,                                     # vertical stripes
                       (xx + yy) % 2 * 255]).astype(np.uint8)                   # checkerboard
    digits = load_bundled_mnist("test").images[[0, 500]]
    bpd = image_bits_per_dim(make_log_snr_eps_fn(model), np.concatenate([digits, others]),
                             NoiseSchedule.default(), steps=8, generator=generator_for(0))
    assert np.all(np.isfinite(bpd))
    assert bpd[:2].max() + 2.0 < bpd[2:].min()      # measured ~1.7-2.6 against 7-10 bits/dim


def test_reference_places_a_value_among_the_held_out_digits(tmp_path):
    import json

    from ddpm_desktop.core.likelihood import load_reference
    from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE

    path = tmp_path / "ref.json"
    path.write_text(json.dumps({"bits_per_dim": [3.0, 1.0, 2.0, 4.0], "steps": 32, "log_snr_max": 14.0,
                                "schedule": DEFAULT_SCHEDULE}))
    ref = load_reference(path)
    np.testing.assert_array_equal(ref.more_likely_than([0.5, 1.0, 2.5, 9.0]), [1.0, 0.75, 0.5, 0.0])
    assert ref.matches(32, 14.0, NoiseSchedule.default())
    assert not ref.matches(16, 14.0, NoiseSchedule.default())
    assert not ref.matches(32, 14.0, NoiseSchedule.named("cosine", 1000))
    assert load_reference(tmp_path / "absent.json") is None


def test_bundled_reference_was_made_at_the_present_defaults():
    # a change of the ODE's defaults must come with a new resources/likelihood_reference.json
    from ddpm_desktop.core.likelihood import DEFAULT_LOG_SNR_MAX, DEFAULT_ODE_STEPS, load_reference

    ref = load_reference()
    assert ref is not None and len(ref.bits_per_dim) >= 50
    assert ref.matches(DEFAULT_ODE_STEPS, DEFAULT_LOG_SNR_MAX, NoiseSchedule.default())
