"""The perfect denoiser: its closed form against brute force and against Tweedie's formula,
its limits (small noise: the nearest image; a wide kernel: the mean), class restriction,
and that the samplers it drives copy the training set."""
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from ddpm_desktop.core import copies
from ddpm_desktop.core.exact_denoiser import ExactDenoiser
from ddpm_desktop.core.sampling import make_eps_fn, sample
from ddpm_desktop.core.schedule import NoiseSchedule


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.array([0, 1, 1, 2, 0])


def _brute_x0(x_t, ab, images01):
    """Posterior mean from the Gaussian log-densities written out directly, one image at a time."""
    x0s = images01.reshape(len(images01), -1).astype(np.float64)
    logp = np.array([-((x_t - math.sqrt(ab) * xi) ** 2).sum() / (2 * (1 - ab)) for xi in x0s])
    w = np.exp(logp - logsumexp(logp))
    return w @ x0s


@pytest.mark.parametrize("ab", [0.999, 0.9, 0.3, 0.02])
def test_closed_form_matches_brute_force(tiny, ab):
    images, labels = tiny
    model = ExactDenoiser(images, labels)
    x0s = images.reshape(5, -1) / 127.5 - 1.0
    rng = np.random.default_rng(1)
    x_t = math.sqrt(ab) * x0s[[1, 3]] + math.sqrt(1 - ab) * rng.standard_normal((2, 784)) * 3.0
    lam = math.log(ab / (1 - ab))
    eps = model(torch.from_numpy(x_t.astype(np.float32)).reshape(2, 1, 28, 28),
                torch.full((2,), lam, dtype=torch.float32)).reshape(2, -1).double().numpy()
    x_t32 = x_t.astype(np.float32).astype(np.float64)      # what the model was given
    ab32 = 1 / (1 + math.exp(-float(np.float32(lam))))      # and the ᾱ its float32 λ means
    for b in range(2):
        x0 = _brute_x0(x_t32[b], ab32, x0s)
        expect = (x_t32[b] - math.sqrt(ab32) * x0) / math.sqrt(1 - ab32)
        np.testing.assert_allclose(eps[b], expect, atol=2e-5 * max(1.0, np.abs(expect).max()))


def test_posterior_mean_is_tweedie_of_the_noised_mixture(tiny):
    """Tweedie (Efron 2011): E[x_0|x_t] = (x_t + (1-ᾱ) ∇ log p_t(x_t)) / √ᾱ, with p_t the mixture
    of N(√ᾱ x_i, (1-ᾱ) I) - its gradient by autograd, no softmax in sight."""
    images, _ = tiny
    x0s = torch.from_numpy(images.reshape(5, -1) / 127.5 - 1.0)
    ab = 0.7
    x_t = (math.sqrt(ab) * x0s[2] + math.sqrt(1 - ab) * torch.randn(784, generator=torch.Generator().manual_seed(3),
                                                                   dtype=torch.float64) * 4).requires_grad_()
    logp = torch.logsumexp(-((x_t[None] - math.sqrt(ab) * x0s) ** 2).sum(1) / (2 * (1 - ab)), 0)
    (grad,) = torch.autograd.grad(logp, x_t)
    tweedie = (x_t.detach() + (1 - ab) * grad) / math.sqrt(ab)
    ours = ExactDenoiser(images).x0_prediction(x_t.detach().numpy()[None], np.array([ab]))[0]
    np.testing.assert_allclose(ours, tweedie.numpy(), atol=1e-9)


def test_small_noise_gives_the_nearest_image_and_labels_restrict(tiny):
    images, labels = tiny
    model = ExactDenoiser(images, labels)
    x0s = images.reshape(5, -1) / 127.5 - 1.0
    ab = 0.995
    rng = np.random.default_rng(0)
    x_t = math.sqrt(ab) * x0s + math.sqrt(1 - ab) * rng.standard_normal((5, 784))
    np.testing.assert_allclose(model.x0_prediction(x_t, np.full(5, ab)), x0s, atol=1e-12)
    # image 3 (class 2) asked for as class 0: the nearest class-0 image, not image 3
    d = ((x_t[3] - math.sqrt(ab) * x0s[labels == 0]) ** 2).sum(1)
    got = model.x0_prediction(x_t[[3]], np.array([ab]), np.array([0]))[0]
    np.testing.assert_allclose(got, x0s[labels == 0][np.argmin(d)], atol=1e-12)
    # the null label means every image: the same as no label
    null = model.x0_prediction(x_t, np.full(5, ab), np.full(5, model.null_label))
    np.testing.assert_allclose(null, x0s, atol=1e-12)
    with pytest.raises(ValueError, match="label 7"):
        model.x0_prediction(x_t[:1], np.array([ab]), np.array([7]))


def test_bandwidth_walks_from_copying_to_the_mean(tiny):
    images, _ = tiny
    x0s = images.reshape(5, -1) / 127.5 - 1.0
    ab = np.array([0.999])                     # nearly no noise: the exact model snaps to image 0
    x_t = math.sqrt(ab[0]) * (0.9 * x0s[0] + 0.1 * x0s[1])
    exact = ExactDenoiser(images).x0_prediction(x_t[None], ab)[0]
    np.testing.assert_allclose(exact, x0s[0], atol=1e-9)
    wide = ExactDenoiser(images, bandwidth=1e4).x0_prediction(x_t[None], ab)[0]
    np.testing.assert_allclose(wide, x0s.mean(0), atol=1e-6)
    # in between: a Nadaraya-Watson average with the widened Gaussian kernel, written out
    h = 1.5
    d2 = ((x_t - math.sqrt(ab[0]) * x0s) ** 2).sum(1)
    logw = -d2 / (2 * ((1 - ab[0]) + ab[0] * h * h))
    w = np.exp(logw - logsumexp(logw))
    np.testing.assert_allclose(ExactDenoiser(images, bandwidth=h).x0_prediction(x_t[None], ab)[0],
                               w @ x0s, atol=1e-9)
    with pytest.raises(ValueError, match="bandwidth"):
        ExactDenoiser(images, bandwidth=-1.0)


@pytest.mark.slow  # ~6 s: 30 samples, each step a posterior over 9,000 digits
def test_its_samples_copy_the_training_digits():
    model = ExactDenoiser.bundled()
    schedule = NoiseSchedule.default()
    x_T = torch.randn((20, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    out = sample("dpmpp", make_eps_fn(model, schedule), schedule, x_T, steps=20)
    check = copies.check_copies(out)
    assert check.f_mem >= 0.95
    # guided and class-conditional (w = 1.5): still copies, and copies a digit of the asked class
    labels = torch.arange(10)
    out = sample("ddim", make_eps_fn(model, schedule, labels, 1.5), schedule, x_T[:10], steps=20)
    check = copies.check_copies(out)
    assert check.f_mem >= 0.9
    train_labels = model.labels
    assert (train_labels[check.nearest.nearest] == labels.numpy()).all()
