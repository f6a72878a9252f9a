"""Posterior principal components against the exact posterior covariance of a 2-D Gaussian mixture
(computed here by hand), and the two Jacobian-vector products against each other on the network."""
import math

import numpy as np
import pytest
import torch

from ddpm_desktop.core import toy2d
from ddpm_desktop.core.sampling import generator_for
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.uncertainty import posterior_principal_components


def exact_posterior_cov(mixture, alpha_bar, x_t):
    """Cov[x_0 | x_t] for x_0 ~ Σ w_k N(μ_k, Σ_k), x_t = a x_0 + s n: per component the Gaussian
    posterior N(m_k, C_k), C_k = (Σ_k⁻¹ + a²/s² I)⁻¹, m_k = C_k (Σ_k⁻¹ μ_k + a/s² x_t), weighted by
    r_k ∝ w_k N(x_t; a μ_k, a² Σ_k + s² I); the mixture's covariance by the law of total variance."""
    a, s2 = math.sqrt(alpha_bar), 1.0 - alpha_bar
    logs, means, covs = [], [], []
    for w, mu, sig in zip(mixture.weights, mixture.means, mixture.covs):
        inv = np.linalg.inv(sig)
        c = np.linalg.inv(inv + a * a / s2 * np.eye(2))
        means.append(c @ (inv @ mu + a / s2 * x_t))
        covs.append(c)
        marg = a * a * sig + s2 * np.eye(2)
        d = x_t - a * mu
        logs.append(math.log(w) - 0.5 * d @ np.linalg.solve(marg, d) - 0.5 * np.log(np.linalg.det(marg)))
    r = np.exp(np.array(logs) - max(logs))
    r /= r.sum()
    m = sum(ri * mi for ri, mi in zip(r, means))
    return sum(ri * (ci + np.outer(mi, mi)) for ri, ci, mi in zip(r, covs, means)) - np.outer(m, m)


@pytest.mark.parametrize("t, x_t", [(300, [0.0, -0.5]), (150, [-0.9, -0.8]), (600, [0.3, 0.2])])
def test_mixture_components_match_the_exact_posterior_covariance(t, x_t):
    schedule = NoiseSchedule.default()
    mixture = toy2d.DEFAULT_GMM
    cov = exact_posterior_cov(mixture, schedule.alpha_bar(t), np.array(x_t))
    values, vectors = np.linalg.eigh(cov)
    eps_fn = toy2d.exact_eps_fn(mixture, schedule)
    x = torch.tensor(x_t, dtype=torch.float64)
    pcs = posterior_principal_components(eps_fn, schedule, x, t, k=2, iterations=0,
                                         jvp="finite_difference", generator=generator_for(0))
    np.testing.assert_allclose(pcs.variances, values[::-1], rtol=1e-5)
    assert abs(pcs.directions[0] @ vectors[:, 1]) > 1 - 1e-8
    # k = 1 by plain power iteration (no extra directions) finds the same top direction
    top = posterior_principal_components(eps_fn, schedule, x, t, k=1, iterations=60, oversample=0,
                                         jvp="finite_difference", generator=generator_for(1))
    assert top.variances[0] == pytest.approx(values[1], rel=1e-4)
    assert abs(top.directions[0] @ vectors[:, 1]) > 1 - 1e-4


@pytest.mark.slow
def test_autograd_and_finite_difference_agree_on_the_network():
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.checkpoint import bundled_model_path, load_model
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import make_eps_fn

    model, _ = load_model(bundled_model_path())
    schedule = NoiseSchedule.default()
    x0 = torch.as_tensor(imaging.to_model_range(load_bundled_mnist("test").images[7]))[None, None]
    x_t = q_sample(schedule, x0, 300, generator=generator_for(0))
    eps_fn = make_eps_fn(model, schedule)
    a = posterior_principal_components(eps_fn, schedule, x_t, 300, k=2, iterations=2, jvp="autograd",
                                       generator=generator_for(3))
    b = posterior_principal_components(eps_fn, schedule, x_t, 300, k=2, iterations=2,
                                       jvp="finite_difference", generator=generator_for(3))
    np.testing.assert_allclose(a.variances, b.variances, rtol=2e-3)
    assert np.all(np.abs((a.directions * b.directions).sum(1)) > 0.999)
    assert a.directions.shape == (2, 784)
    np.testing.assert_allclose(a.directions @ a.directions.T, np.eye(2), atol=1e-9)
    assert np.all(a.variances > 0) and a.variances[0] >= a.variances[1]


def test_bad_arguments():
    schedule = NoiseSchedule.default()
    eps_fn = toy2d.exact_eps_fn(toy2d.DEFAULT_GMM, schedule)
    x = torch.zeros(2, dtype=torch.float64)
    for kwargs in (dict(k=3), dict(k=0), dict(iterations=-1), dict(jvp="nope"), dict(oversample=-1)):
        with pytest.raises(ValueError):
            posterior_principal_components(eps_fn, schedule, x, 100, **kwargs)
    with pytest.raises(ValueError):
        posterior_principal_components(eps_fn, schedule, x, 0)


@pytest.mark.slow
def test_first_direction_is_the_completions_first_principal_component():
    # digit 7 at t = 600 (reconstruct --index 7 --t 600 --seed 0): one dominant posterior direction
    # (variance ~43 against ~15 for the next); 32 DDPM completions of the same x_t spread along it
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.checkpoint import bundled_model_path, load_model
    from ddpm_desktop.core.completions import completions
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import make_eps_fn

    model, _ = load_model(bundled_model_path())
    schedule = NoiseSchedule.default()
    eps_fn = make_eps_fn(model, schedule)
    x0 = torch.as_tensor(imaging.to_model_range(load_bundled_mnist("test").images[7]))[None, None]
    x_t = q_sample(schedule, x0, 600, generator=generator_for(0))
    pcs = posterior_principal_components(eps_fn, schedule, x_t, 600, k=1, generator=generator_for(1))
    n = 32
    samples = completions(eps_fn, schedule, x_t, 600, n, sampler="ddpm", steps=25, seed=1)
    centred = samples.reshape(n, -1).double().numpy()
    centred = centred - centred.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    assert abs(vt[0] @ pcs.directions[0]) > 0.75            # measured 0.86 (a random direction: ~0.04)
    along = np.var(centred @ pcs.directions[0], ddof=1)
    assert 0.5 < along / pcs.variances[0] < 2.0              # measured 33.5 against 42.4
