"""KL against N(0, 1): histogram estimator (binning, bias floor, batch) and exact KL of q(x_t|x_0)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from ddpm_desktop.core.kl import (
    histogram_density,
    analytic_kl_q,
    bias_floor,
    bin_counts,
    default_binning,
    histogram_kl,
    histogram_kl_batch,
    reference_masses,
)
from ddpm_desktop.core.schedule import NoiseSchedule

RNG = np.random.default_rng(0)


def test_default_binning_puts_pixel_values_at_bin_centres():
    bins, (lo, hi) = default_binning(784)
    assert (bins, lo, hi) == (31, -31 / 6, 31 / 6)
    assert bias_floor(784, bins) == pytest.approx(30 / 1568)
    for n in (100, 784, 50_000):
        bins, (lo, hi) = default_binning(n)
        w = (hi - lo) / bins
        assert bins % 2 == 1 and lo <= -5 and hi >= 5 and lo == -hi
        for v in (-1.0, 0.0, 1.0):  # centres: (v - lo)/w is a half-integer
            assert ((v - lo) / w) % 1 == pytest.approx(0.5)


def test_reference_masses():
    q = reference_masses(10, (-2, 3))
    assert q.sum() == pytest.approx(1.0, abs=1e-15)
    assert q[0] == pytest.approx(ndtr(-1.5)) and q[-1] == pytest.approx(1 - ndtr(2.5))
    assert q[3] == pytest.approx(ndtr(0) - ndtr(-0.5))


def test_normal_samples_sit_near_the_bias_floor():
    x = RNG.standard_normal((300, 784))
    kl = histogram_kl_batch(x)
    floor = bias_floor(784, default_binning(784)[0])
    # Miller-Madow with every bin counted; the rarely-hit tail bins make it a little less
    assert 0.5 * floor < kl.mean() < 1.1 * floor
    assert histogram_kl(RNG.standard_normal(200_000)) < 1e-3


def test_histogram_kl_of_a_point_mass_and_of_a_shift():
    bins, rng_ = default_binning(784)
    q = reference_masses(bins, rng_)
    centre_bin = bins // 2 + 3  # the bin centred on +1
    # all samples in one bin: KL = -ln q_bin
    assert histogram_kl(np.ones(784)) == pytest.approx(-math.log(q[centre_bin]))
    # many samples, fine bins: close to the continuous KL(N(1, 1) ‖ N(0, 1)) = 0.5
    # (sampling std ≈ 1/√n = 1.6e-3, bias floor 2.5e-4)
    big = RNG.standard_normal(400_000) + 1.0
    assert histogram_kl(big, bins=200, range=(-6, 7)) == pytest.approx(0.5, abs=8e-3)


def test_out_of_range_mass_goes_to_edge_bins():
    x = np.array([-1e30, -7.0, 7.0, 1e30, 0.0])
    bins, (lo, hi) = default_binning(x.size)
    q = reference_masses(bins, (lo, hi))
    p = np.zeros(bins)
    p[0], p[-1], p[bins // 2] = 0.4, 0.4, 0.2
    expect = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)
    assert histogram_kl(x) == pytest.approx(expect)
    assert histogram_kl_batch(x[None]) == pytest.approx([expect])


@given(n_rows=st.integers(1, 6), d=st.integers(1, 300), bins=st.integers(2, 60),
       scale=st.floats(0.1, 8), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_batch_agrees_with_a_per_row_loop(n_rows, d, bins, scale, seed):
    x = np.random.default_rng(seed).standard_normal((n_rows, d)) * scale
    loop = np.array([histogram_kl(row, bins=bins, range=(-5, 5)) for row in x])
    np.testing.assert_allclose(histogram_kl_batch(x, bins=bins, range=(-5, 5)), loop, atol=1e-12)
    loop = np.array([histogram_kl(row) for row in x])
    np.testing.assert_allclose(histogram_kl_batch(x), loop, atol=1e-12)


def test_bins_agree_with_np_histogram_off_the_edges_and_with_the_drawn_histogram_on_them():
    bins, (lo, hi) = default_binning(784)
    x = RNG.standard_normal((50, 784)) * 2
    x[0, :3] = [1.5, -1.5, 1e6]  # 1.5 lies on an edge: floor and linspace disagree there
    counts = bin_counts(x, bins, (lo, hi))
    assert (counts.sum(axis=1) == 784).all()
    for row, c in zip(x[1:], counts[1:]):
        np.testing.assert_array_equal(c, np.histogram(np.clip(row, lo, hi), bins, (lo, hi))[0])
    assert counts[0, bins - 1] >= 1 and counts[0, int((1.5 - lo) * bins / (hi - lo))] >= 1
    for row, c in zip(x, counts):  # the picture and the number use the same bins
        edges, density = histogram_density(row)
        np.testing.assert_allclose(density * 784 * (edges[1] - edges[0]), c, atol=1e-9)


def test_batch_in_blocks_agrees_with_a_per_row_loop():
    """A forward chain's shape [1001, 784] spans several row blocks and ends in a partial one;
    row 2 holds every 8-bit pixel value, row 3 values far outside the range."""
    x = RNG.standard_normal((1001, 784)).astype(np.float32) * np.linspace(0.2, 3, 1001)[:, None]
    x = x.astype(np.float32)
    x[2] = (np.arange(784) % 256) / 127.5 - 1.0
    x[3, ::2], x[3, 1::2] = 1e30, -1e30
    loop = np.array([histogram_kl(row) for row in x])
    np.testing.assert_allclose(histogram_kl_batch(x), loop, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="finite"):
        histogram_kl([0.0, math.nan])
    with pytest.raises(ValueError, match="at least one"):
        histogram_kl([])
    with pytest.raises(ValueError, match="2-D"):
        histogram_kl_batch(np.zeros(5))
    with pytest.raises(ValueError, match="bins"):
        histogram_kl(np.zeros(5), bins=1)
    with pytest.raises(ValueError, match="range"):
        histogram_kl(np.zeros(5), range=(1, -1))


def test_analytic_kl_q():
    s = NoiseSchedule.named("linear")
    x0 = np.where(RNG.random((28, 28)) < 0.2, 1.0, -1.0)  # a binary image: mean x0² = 1
    kl = analytic_kl_q(s, x0)
    assert kl.shape == (1001,) and kl[0] == math.inf
    assert kl[-1] == pytest.approx(s.prior_kl(1.0))
    a = s.alphas_cumprod[9]
    assert kl[10] == pytest.approx(0.5 * (a + (1 - a) - 1 - math.log(1 - a)))
    assert np.all(np.diff(kl[1:]) < 0)
    # only mean(x0²) matters; a black image (x0 = 0 everywhere) has the smallest KL
    assert np.all(analytic_kl_q(s, np.zeros((28, 28)))[1:] < kl[1:])


def test_digit_forward_chain_falls_to_the_floor():
    import torch

    from ddpm_desktop.core.forward import forward_chain

    x0 = -np.ones((28, 28), np.float32)
    x0[5:23, 11:17] = 1.0
    s = NoiseSchedule.named("linear")
    kl = histogram_kl_batch(forward_chain(s, x0, torch.Generator().manual_seed(0)).x.reshape(1001, -1))
    floor = bias_floor(784, default_binning(784)[0])
    assert kl[0] > 1.0 and abs(kl[1] - kl[0]) < 0.05  # no bin-edge artefact at t = 1
    assert kl[-1] < 2 * floor
    assert np.mean(kl[:100]) > np.mean(kl[400:500]) > np.mean(kl[900:])
