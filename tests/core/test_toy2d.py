"""The 2-D toy: data sets, the forward marginal and its KL, the exact mixture denoiser, the MLP."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from ddpm_desktop.core import toy2d
from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn, sample
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.toy2d_model import ToyMLP, iter_toy_training


@pytest.fixture(scope="module")
def schedule():
    return NoiseSchedule.default()


@pytest.mark.parametrize("name", [n for n in toy2d.DATASETS if n != "painted"])
def test_datasets_are_seeded_and_bounded(name):
    a = toy2d.sample_data(name, 500, generator_for(3))
    b = toy2d.sample_data(name, 500, generator_for(3))
    assert a.shape == (500, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.all(np.abs(a) < toy2d.GRID_EXTENT)
    assert 0.3 < a.std(0).mean() < 2.5


def test_moons_has_both_moons_in_any_prefix():
    x = toy2d.sample_data("moons", 400, generator_for(0))[:100]
    # the upper moon is above y = 0.5·1.5 - 0.375 near its top, the lower one below
    assert 20 < np.sum(x[:, 1] > 0) < 80


def test_painted_needs_points_and_jitters_them():
    with pytest.raises(ValueError, match="paint"):
        toy2d.sample_data("painted", 10)
    x = toy2d.sample_data("painted", 2000, generator_for(0), points=np.array([[1.0, -1.0]]))
    np.testing.assert_allclose(x.mean(0), [1.0, -1.0], atol=0.01)
    np.testing.assert_allclose(x.std(0), [toy2d.PAINT_JITTER] * 2, rtol=0.1)


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown 2-D data set"):
        toy2d.sample_data("spiral", 10)


def test_mixture_log_density_matches_scipy():
    mix = toy2d.GaussianMixture(np.array([0.3, 0.7]), np.array([[0.0, 1.0], [-1.0, 0.5]]),
                                np.array([[[0.5, 0.2], [0.2, 0.3]], [[0.1, 0.0], [0.0, 0.4]]]))
    x = np.random.default_rng(0).normal(size=(50, 2))
    ref = sum(w * multivariate_normal(m, c).pdf(x)
              for w, m, c in zip(mix.weights, mix.means, mix.covs))
    np.testing.assert_allclose(np.exp(mix.log_density(x)), ref, rtol=1e-10)


@pytest.mark.parametrize("ab", [1.0, 0.3, 1e-3])
def test_mixture_density_integrates_to_one_on_the_grid(ab):
    m = toy2d.Marginal(mixture=toy2d.RING8)
    assert m.density(ab).sum() * m.grid.dx ** 2 == pytest.approx(1.0, abs=1e-4)


def test_kernel_density_integrates_to_one_and_widens_to_the_normal():
    m = toy2d.Marginal(points=toy2d.sample_data("moons", 5000, generator_for(0)))
    for ab in (1.0, 0.5):
        assert m.density(ab).sum() * m.grid.dx ** 2 == pytest.approx(1.0, abs=1e-3)
    assert m.kl(1.0) > 1.0 > 0.05 > m.kl(1e-4)


def test_marginal_is_q_applied_to_samples():
    # p_t from the closed form vs x_t = √ᾱ x_0 + √(1-ᾱ) ε of many samples: mean and covariance
    ab = 0.4
    x0 = toy2d.DEFAULT_GMM.sample(200_000, generator_for(1)).astype(np.float64)
    eps = np.random.default_rng(2).normal(size=x0.shape)
    xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps
    m = toy2d.DEFAULT_GMM.marginal(ab)
    mean = m.weights @ m.means
    cov = sum(w * (c + np.outer(mu - mean, mu - mean)) for w, mu, c in zip(m.weights, m.means, m.covs))
    np.testing.assert_allclose(xt.mean(0), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(xt.T), cov, atol=0.015)


@pytest.mark.parametrize("ab", [0.9, 0.3, 0.02])
def test_grid_kl_matches_monte_carlo(ab):
    m = toy2d.Marginal(mixture=toy2d.RING8)
    mc, se = toy2d.kl_monte_carlo(toy2d.RING8, ab, 40_000, generator_for(5))
    assert m.kl(ab) == pytest.approx(mc, abs=4 * se + 1e-4)


def test_kl_of_one_gaussian_is_the_closed_form():
    mix = toy2d.GaussianMixture.make([[0.5, -0.3]], 0.4)
    ab = 0.6
    c = ab * 0.16 + 1 - ab
    mu2 = ab * (0.25 + 0.09)
    exact = 0.5 * (2 * c + mu2 - 2 - 2 * math.log(c))   # KL(N(μ, cI) || N(0, I)) in 2-D
    assert toy2d.Marginal(mixture=mix).kl(ab) == pytest.approx(exact, rel=1e-4)


@pytest.mark.parametrize("ab", [0.8, 0.3, 0.05])
def test_exact_denoiser_matches_monte_carlo(ab):
    # E[ε | x_t] = ∫ ε p(x_0 | x_t) dx_0, by self-normalised importance weights over x_0 ~ p
    mix = toy2d.DEFAULT_GMM
    a, s = math.sqrt(ab), math.sqrt(1 - ab)
    x0 = mix.sample(400_000, generator_for(7)).astype(np.float64)
    queries = np.array([[0.3, -0.4], [-1.0, -0.5], [0.8, 1.0]]) * a
    got = mix.eps(torch.tensor(queries), ab).numpy()
    for q, g in zip(queries, got):
        logw = -0.5 * np.sum((q - a * x0) ** 2, axis=1) / s ** 2
        w = np.exp(logw - logw.max())
        w /= w.sum()
        eps_i = (q - a * x0) / s
        ref = w @ eps_i
        se = np.sqrt(w ** 2 @ (eps_i - ref) ** 2)
        np.testing.assert_allclose(g, ref, atol=5 * se.max() + 1e-3)


def test_exact_denoiser_is_the_scaled_score():
    # E[ε|x_t] = -√(1-ᾱ) ∇ log p_t(x_t), ∇ by central differences of the closed-form density
    ab, h = 0.5, 1e-5
    m = toy2d.RING8.marginal(ab)
    x = np.array([[0.7, 0.2], [-1.1, 0.9]])
    grad = np.stack([(m.log_density(x + h * e) - m.log_density(x - h * e)) / (2 * h)
                     for e in np.eye(2)], axis=1)
    got = toy2d.RING8.eps(torch.tensor(x), ab).numpy()
    np.testing.assert_allclose(got, -math.sqrt(1 - ab) * grad, rtol=1e-5, atol=1e-7)


def test_samplers_run_unchanged_on_points(schedule):
    eps_fn = toy2d.exact_eps_fn(toy2d.RING8, schedule)
    x_T = torch.randn(64, 2, generator=generator_for(0))
    for name in ("ddpm", "ddim", "dpmpp"):
        steps = list(iter_sampler(name, eps_fn, schedule, x_T, steps=20, clip_x0=False,
                                  generator=generator_for(1)))
        assert steps[-1].x_t.shape == (64, 2) and steps[-1].t == 0
        assert torch.isfinite(steps[-1].x_t).all()


def test_ddim_carries_a_gaussian_to_itself(schedule):
    # The exact denoiser of one Gaussian is affine in x_t, so DDIM (η = 0) is an affine map
    # x_0 = A x_T + b. Pushing p_T = N(m_T, C_T) (ᾱ_T > 0: not quite N(0, I)) through it must
    # give N(μ, Σ): the image of m_T is μ, and with L_T Lᵀ_T = C_T, (A L_T)(A L_T)ᵀ = Σ.
    mu = np.array([0.8, -0.5])
    cov = np.array([[0.5, 0.2], [0.2, 0.3]])
    mix = toy2d.GaussianMixture(np.ones(1), mu[None], cov[None])
    p_T = mix.marginal(float(schedule.alphas_cumprod[-1]))
    L = np.linalg.cholesky(p_T.covs[0])
    basis = torch.tensor(p_T.means[0] + np.vstack([np.zeros(2), L.T]), dtype=torch.float64)
    errors = []
    for steps in (100, 1000):
        out = sample("ddim", toy2d.exact_eps_fn(mix, schedule), schedule, basis, steps=steps,
                     clip_x0=False).numpy()
        b = out[0]
        AL = (out[1:] - b).T
        errors.append(np.abs(AL @ AL.T - cov).max())
    np.testing.assert_allclose(b, mu, atol=1e-3)
    # DDIM is first order in the step: within 1 % at every step of T = 1000, and converging
    np.testing.assert_allclose(AL @ AL.T, cov, rtol=1e-2, atol=1e-3)
    assert errors[1] < 0.5 * errors[0]


@pytest.mark.slow
def test_ddim_with_the_exact_denoiser_recovers_the_ring(schedule):
    x_T = torch.randn(4000, 2, generator=generator_for(11))
    x = sample("ddim", toy2d.exact_eps_fn(toy2d.RING8, schedule), schedule, x_T, steps=250,
               clip_x0=False).numpy()
    means = toy2d.RING8.means
    nearest = np.argmin(((x[:, None] - means[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=8) / len(x)
    assert counts.min() > 0.09 and counts.max() < 0.16   # 1/8 = 0.125 each
    for k in range(8):
        pts = x[nearest == k]
        np.testing.assert_allclose(pts.mean(0), means[k], atol=0.03)
        assert pts.std(0).mean() == pytest.approx(0.15, rel=0.2)


def test_sliced_wasserstein_of_shifted_points():
    a = np.random.default_rng(0).normal(size=(1000, 2))
    assert toy2d.sliced_wasserstein(a, a) == 0.0
    # a shift by d: each projection moves by θ·d, mean square |d|²/2 over directions
    assert toy2d.sliced_wasserstein(a, a + [1.0, 0.0], 2000) == pytest.approx(math.sqrt(0.5), rel=0.05)


def test_mlp_has_the_unet_call_signature(schedule):
    net = ToyMLP()
    eps = make_eps_fn(net, schedule)(torch.zeros(5, 2), 10)
    assert eps.shape == (5, 2)


@pytest.mark.slow
def test_mlp_loss_falls_and_snapshots_are_copies(schedule):
    torch.set_num_threads(1)
    pts = toy2d.sample_data("ring8", 5000, generator_for(0))
    events = list(iter_toy_training(pts, schedule, steps=300, batch_size=256, snapshot_every=100))
    losses = np.array([e.loss for e in events])
    assert [e.step for e in events] == list(range(1, 301))
    assert losses[-50:].mean() < 0.75 * losses[:20].mean()
    snaps = [e.model for e in events if e.model is not None]
    assert len(snaps) == 3 and snaps[0] is not snaps[-1]
    assert not any(p.requires_grad for p in snaps[-1].parameters())
    w0 = next(snaps[0].parameters())
    w1 = next(snaps[-1].parameters())
    assert not torch.equal(w0, w1)


def test_training_refuses_bad_input(schedule):
    with pytest.raises(ValueError, match="at least 2"):
        next(iter_toy_training(np.zeros((1, 2)), schedule))
    with pytest.raises(ValueError, match="must be >= 1"):
        next(iter_toy_training(np.zeros((5, 2)), schedule, steps=0))


# -------------------------------------------------------------- the heat map and view box
@pytest.mark.parametrize("full_cov", [False, True])
def test_mixture_density_on_a_shifted_grid_matches_scipy(full_cov):
    """The separable (diagonal covariances) and the general path against scipy's pdf."""
    c01 = 0.15 if full_cov else 0.0
    mix = toy2d.GaussianMixture(np.array([0.25, 0.75]), np.array([[1.0, -0.5], [-0.7, 2.0]]),
                                np.array([[[0.4, c01], [c01, 0.2]], [[0.1, 0.0], [0.0, 0.3]]]))
    grid = toy2d.Grid(extent=2.5, n=40, cx=0.5, cy=1.0)
    ab = 0.6
    m = mix.marginal(ab)
    xx, yy = np.meshgrid(grid.x_centers, grid.y_centers)
    pts = np.stack([xx.ravel(), yy.ravel()], 1)
    ref = sum(w * multivariate_normal(mu, c).pdf(pts)
              for w, mu, c in zip(m.weights, m.means, m.covs)).reshape(40, 40)
    got = toy2d.Marginal(mixture=mix).density(ab, grid)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-300)
    assert grid.x_centers[0] == pytest.approx(0.5 - 2.5 + grid.dx / 2)


def _x_t(mixture, ab, n=200_000, seed=0):
    x0 = mixture.sample(n, generator_for(seed)).astype(np.float64)
    eps = torch.randn((n, 2), generator=generator_for(seed + 1), dtype=torch.float64).numpy()
    return math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps


FAR = toy2d.GaussianMixture.make([[0.0, 0.0], [8.0, -6.0]], [0.3, 0.2], [0.5, 0.5])
TAIL = toy2d.GaussianMixture.make([[0.0, 0.0], [9.0, 9.0]], [0.5, 0.3], [0.998, 0.002])


@pytest.mark.parametrize("mixture", [FAR, TAIL, toy2d.RING8], ids=["far", "tail", "ring8"])
@pytest.mark.parametrize("ab", [1.0, 0.5, 0.05])
def test_marginal_std_is_that_of_q_sampled_points(mixture, ab):
    mean, std = toy2d.marginal_moments(*toy2d.data_moments(mixture), ab)
    x = _x_t(mixture, ab)
    np.testing.assert_allclose(mean, x.mean(0), atol=0.03)
    np.testing.assert_allclose(std, x.std(0), rtol=0.01)


@pytest.mark.parametrize("mixture", [FAR, TAIL, toy2d.RING8], ids=["far", "tail", "ring8"])
@pytest.mark.parametrize("ab", [1.0, 0.5, 0.05])
def test_view_box_is_4_std_of_p_t_or_its_components_reach(mixture, ab):
    """The rule: per axis min(4 std of p_t, max_k |mean_k - c| + 4 σ_k), the wider axis,
    rounded up to 0.5; std from q-sampled points (independent of the closed form)."""
    cx, cy, half = toy2d.view_box(toy2d.Marginal(mixture=mixture), ab)
    x = _x_t(mixture, ab)
    c = np.array([cx, cy])
    assert np.all(np.abs(c - x.mean(0)) <= toy2d.FIELD_VIEW_STEP / 2 + 0.03)
    m = mixture.marginal(ab)
    sd_k = np.sqrt(np.diagonal(m.covs, axis1=1, axis2=2))
    reach = (np.abs(m.means - c) + 4 * sd_k).max(0)
    need = float(np.minimum(np.abs(x.mean(0) - c) + 4 * x.std(0), reach).max())
    assert need - 0.05 <= half < need + toy2d.FIELD_VIEW_STEP + 0.05
    inside = np.all(np.abs(x - c) <= half, axis=1).mean()
    assert inside >= 0.99                      # the data's mass is in view
    if mixture is TAIL and ab == 1.0:          # a 0.2 % far mode does not stretch the view
        assert half <= 3.0


def test_view_box_of_the_ring_is_never_wider_than_needed():
    m = toy2d.Marginal(mixture=toy2d.RING8)
    assert toy2d.view_box(m, 1.0) == (0.0, 0.0, 3.0)     # radius 2 + 4·0.15, not 4 std = 5.7
    assert toy2d.view_box(m, 1e-6) == (0.0, 0.0, 4.0)    # N(0, I): 4 std
    # the kernel estimate's components: the data points with σ(t) = √(ᾱ h² + 1 − ᾱ)
    pts = toy2d.sample_data("moons", 5000, generator_for(0))
    cx, cy, half = toy2d.view_box(toy2d.Marginal(points=pts), 1.0)
    far = np.abs(pts - [cx, cy]).max() + 4 * toy2d.KDE_BANDWIDTH
    assert far <= half < far + toy2d.FIELD_VIEW_STEP
