"""Forward process: closed form, the Markov chain and its noises, starting distributions."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ddpm_desktop.core.forward import (
    STARTS,
    NoiseCache,
    draw_start,
    forward_chain,
    forward_frames,
    forward_noises,
    iter_forward_chain,
    q_sample,
    sample_start,
    start_analytic_kl,
)
from ddpm_desktop.core.schedule import NoiseSchedule

SCHED = NoiseSchedule.named("linear")


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def digit():
    x = -np.ones((28, 28), np.float32)
    x[6:22, 12:16] = 1.0
    return x


def test_q_sample_closed_form_and_types():
    x0 = digit()
    noise = np.random.default_rng(0).standard_normal((28, 28)).astype(np.float32)
    out = q_sample(SCHED, x0, 500, noise)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    expect = SCHED.sqrt_alphas_cumprod[499] * x0 + SCHED.sqrt_one_minus_alphas_cumprod[499] * noise
    np.testing.assert_allclose(out, expect, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(q_sample(SCHED, x0, 0, noise), x0)
    # batched t, torch in -> torch out
    xb = torch.from_numpy(np.stack([x0, x0]))[:, None]
    nb = torch.from_numpy(np.stack([noise, noise]))[:, None]
    out_b = q_sample(SCHED, xb, torch.tensor([1, 500]), nb)
    assert isinstance(out_b, torch.Tensor) and out_b.shape == (2, 1, 28, 28)
    np.testing.assert_allclose(out_b[1, 0].numpy(), expect, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError):
        q_sample(SCHED, x0, 1001, noise)
    with pytest.raises(ValueError):
        q_sample(SCHED, xb, torch.tensor([0, 3]), nb)


def test_forward_chain_is_the_markov_chain():
    s = NoiseSchedule.named("cosine")
    chain = forward_chain(s, digit(), gen(1))
    x, z = chain.x, chain.noises
    assert x.shape == (1001, 28, 28) and z.shape == (1000, 28, 28)
    np.testing.assert_array_equal(x[0], digit())
    # every frame is one step of eq. 2 from the previous one, with the kept noise
    prev = np.sqrt(s.alphas)[:, None, None] * x[:-1] + np.sqrt(s.betas)[:, None, None] * z
    np.testing.assert_allclose(x[1:], prev, atol=2e-6)
    # ... and agrees with the generator, which runs eq. 2 literally, under the same seed
    frames = list(iter_forward_chain(s, digit(), gen(1)))
    assert [f.t for f in frames] == list(range(1001)) and frames[0].noise is None
    np.testing.assert_allclose(np.stack([f.x_t for f in frames]), x, atol=1e-5)
    np.testing.assert_array_equal(frames[7].noise, z[6])


def test_forward_chain_torch_batch():
    x0 = torch.zeros(2, 1, 4, 4)
    chain = forward_chain(NoiseSchedule.named("linear", 10), x0, gen())
    assert isinstance(chain.x, torch.Tensor) and chain.x.shape == (11, 2, 1, 4, 4)


def test_chain_statistics_within_sampling_error():
    """Closed form and chain draw from the same q(x_t|x_0): compare moments over many pixels."""
    x0 = np.full((64, 64), 0.7, np.float32)   # n = 4096 pixels
    chain = forward_chain(SCHED, x0, gen(3))
    n = x0.size
    for t in (1, 100, 400, 1000):
        mean = SCHED.sqrt_alphas_cumprod[t - 1] * 0.7
        std = SCHED.sqrt_one_minus_alphas_cumprod[t - 1]
        xt = chain.x[t]
        assert abs(xt.mean() - mean) < 5 * std / math.sqrt(n)
        assert abs(xt.std() / std - 1) < 5 / math.sqrt(2 * n)
        closed = q_sample(SCHED, x0, t, generator=gen(4))
        assert abs(closed.mean() - xt.mean()) < 5 * std * math.sqrt(2 / n)
    # x_T is N(0, 1) to within sampling error
    assert abs(chain.x[-1].mean()) < 5 / math.sqrt(n) and abs(chain.x[-1].std() - 1) < 0.05
    # the kept noises are standard normal and independent of each other
    z = chain.noises.reshape(1000, -1)
    assert abs(z.mean()) < 5 / math.sqrt(z.size) and abs(z.std() - 1) < 1e-2
    assert abs(np.corrcoef(z[10], z[11])[0, 1]) < 5 / math.sqrt(n)


def test_exponential_kl_pinned():
    assert start_analytic_kl("exponential") == pytest.approx(3.226, abs=5e-4)
    lam = 0.5
    assert start_analytic_kl("exponential", rate=lam) == pytest.approx(
        -(1 - math.log(lam)) + 0.5 * math.log(2 * math.pi) + 0.5 * 2 / lam ** 2)


def test_closed_form_kls():
    assert start_analytic_kl("gaussian") == 0.0
    assert start_analytic_kl("shifted_gaussian", mean=0.0, std=1.0) == pytest.approx(0.0)
    assert start_analytic_kl("shifted_gaussian", mean=2.0, std=1.0) == pytest.approx(2.0)
    assert start_analytic_kl("uniform") == pytest.approx(0.17649, abs=1e-5)
    assert start_analytic_kl("laplace") == pytest.approx(0.07236, abs=1e-5)
    assert start_analytic_kl("salt_pepper") is None and start_analytic_kl("image") is None


@pytest.mark.parametrize("name", ["exponential", "uniform", "laplace", "shifted_gaussian"])
def test_closed_form_kl_matches_monte_carlo(name):
    """E_p[ln p(x) - ln φ(x)] by Monte Carlo with the known density."""
    from scipy import stats

    x = sample_start(name, (100_000,), gen(7)).double().numpy()
    dist = {"exponential": stats.expon(scale=2.0), "uniform": stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)),
            "laplace": stats.laplace(scale=1 / math.sqrt(2)), "shifted_gaussian": stats.norm(1.0, 1.0)}[name]
    log_ratio = dist.logpdf(x) - stats.norm.logpdf(x)
    tol = 5 * log_ratio.std() / math.sqrt(x.size)
    assert log_ratio.mean() == pytest.approx(start_analytic_kl(name), abs=tol)


@pytest.mark.parametrize("name, mean, var", [
    ("gaussian", 0, 1), ("exponential", 2, 4), ("uniform", 0, 1), ("laplace", 0, 1),
    ("salt_pepper", 0, 1), ("shifted_gaussian", 1, 1),
])
def test_start_moments(name, mean, var):
    x = sample_start(name, (100_000,), gen(0))
    assert x.dtype == torch.float32 and torch.isfinite(x).all()
    assert abs(x.mean().item() - mean) < 0.03 and abs(x.var().item() / var - 1) < 0.03
    y = draw_start(name, (100_000,), 0)  # the same distribution drawn with numpy
    assert y.dtype == np.float32 and np.isfinite(y).all()
    assert abs(y.mean() - mean) < 0.03 and abs(y.var() / var - 1) < 0.03


@pytest.mark.parametrize("name", ["exponential", "uniform", "laplace", "shifted_gaussian"])
def test_numpy_start_draws_follow_the_distribution(name):
    """draw_start against scipy's CDF (Kolmogorov–Smirnov), as `kl` draws a noise start."""
    from scipy import stats

    dist = {"exponential": stats.expon(scale=2.0), "uniform": stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)),
            "laplace": stats.laplace(scale=1 / math.sqrt(2)), "shifted_gaussian": stats.norm(1.0, 1.0)}[name]
    x = draw_start(name, (20_000,), 11)
    assert stats.kstest(x, dist.cdf).pvalue > 1e-3
    np.testing.assert_array_equal(x, draw_start(name, (20_000,), 11))


def test_the_chain_of_a_seed_is_one_stream_of_standard_normals():
    """forward_noises is the one noise source of a seed: NoiseCache (the app), forward_chain(seed=)
    and its generator form all read it; the noises are N(0, 1), independent across steps, and a
    shorter T's are the first rows of a longer T's."""
    z = forward_noises(5, 200)
    assert z.shape == (200, 28, 28) and z.dtype == np.float32
    from scipy import stats

    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    assert abs(np.corrcoef(z[10].ravel(), z[11].ravel())[0, 1]) < 5 / 28
    np.testing.assert_array_equal(forward_noises(5, 50), z[:50])
    assert not np.array_equal(forward_noises(6, 50), z[:50])
    cache = NoiseCache()
    np.testing.assert_array_equal(cache.get(5, 200), z)
    short = cache.get(5, 50)  # a view of the longer draw, equal to its own draw
    np.testing.assert_array_equal(short, forward_noises(5, 50))
    assert short.base is not None and not short.flags.writeable
    np.testing.assert_array_equal(cache.get(5, 300), forward_noises(5, 300))
    s = NoiseSchedule.named("linear", 200)
    chain = forward_chain(s, digit(), seed=5)
    np.testing.assert_array_equal(chain.noises, z)
    np.testing.assert_array_equal(chain.x, forward_frames(s, digit(), z))
    steps = list(iter_forward_chain(s, digit(), seed=5))
    np.testing.assert_allclose(np.stack([f.x_t for f in steps]), chain.x, atol=1e-5)


def test_start_details():
    sp = sample_start("salt_pepper", (10_000,), gen(0), amount=0.2, value=0.5)
    assert set(np.unique(sp.numpy())) <= {-0.5, 0.0, 0.5}
    assert abs((sp != 0).float().mean().item() - 0.2) < 0.02
    img = sample_start("image", (3, 28, 28), image=digit())
    assert img.shape == (3, 28, 28) and np.array_equal(img[2].numpy(), digit())
    u = sample_start("uniform", (10_000,), gen(0), a=2.0)
    assert u.min() >= -2 and u.max() <= 2
    assert torch.equal(sample_start("laplace", (5,), gen(9)), sample_start("laplace", (5,), gen(9)))
    assert set(STARTS) >= {"gaussian", "exponential", "uniform", "laplace", "image"}


@pytest.mark.parametrize("name, params, match", [
    ("exponential", {"rate": -1}, "rate"), ("exponential", {"rate": 0}, "rate"),
    ("exponential", {"rate": math.nan}, "finite"), ("uniform", {"a": 0}, "a ="),
    ("salt_pepper", {"amount": 1.5}, "amount"), ("gaussian", {"rate": 1}, "unknown parameter"),
    ("cauchy", {}, "unknown start"), ("image", {}, "needs an image"),
])
def test_bad_start_params(name, params, match):
    with pytest.raises(ValueError, match=match):
        sample_start(name, (4,), gen(), **params)


@given(rate=st.floats(0.05, 20), seed=st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_exponential_is_finite_and_positive(rate, seed):
    x = sample_start("exponential", (1000,), gen(seed), rate=rate)
    assert torch.isfinite(x).all() and (x >= 0).all()
    assert start_analytic_kl("exponential", rate=rate) >= 0
