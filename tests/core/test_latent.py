"""The digits' latent map (core.latent): the bundled 2-D autoencoder and the class-conditional
latent diffusion model on its codes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_desktop.core.checkpoint import CheckpointError
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.latent import (
    NUM_CLASSES,
    bundled_latent,
    load_latent,
    sample_codes,
    save_latent,
)
from ddpm_desktop.core.sampling import generator_for, sample
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.toy2d_model import ToyMLP


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return bundled_latent()


def _to_model_range(images):
    return images.astype(np.float64) / 127.5 - 1.0


def test_encode_decode_shapes_and_types(models):
    test = load_bundled_mnist("test")
    codes = models.encode(test.images[:7])
    assert codes.shape == (7, 2) and codes.dtype == np.float32
    images = models.decode(codes)
    assert images.shape == (7, 28, 28) and images.dtype == np.uint8
    assert models.decode(codes[0]).shape == (1, 28, 28)          # one code [2]
    # float input in [-1, 1] encodes like uint8 input
    np.testing.assert_allclose(models.encode(_to_model_range(test.images[:7])), codes, atol=1e-5)
    with pytest.raises(ValueError):
        models.decode([[np.nan, 0.0]])
    with pytest.raises(ValueError):
        models.encode(np.zeros((2, 14, 14), np.uint8))


def test_codes_are_standardised(models):
    codes, labels = models.codes_of_bundled("train")
    assert codes.shape == (9000, 2) and labels.shape == (9000,)
    np.testing.assert_allclose(codes.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose((codes ** 2).mean(0).mean(), 1.0, rtol=1e-3)


@pytest.mark.slow
def test_round_trip_beats_the_best_linear_2d_code(models):
    """Held-out reconstruction error below that of PCA onto 2 components (the optimal linear
    2-D autoencoder, fitted here by SVD on the same training split): an independent bound."""
    train = _to_model_range(load_bundled_mnist("train").images.reshape(-1, 784))
    test = _to_model_range(load_bundled_mnist("test").images.reshape(-1, 784))
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train[::3] - mean, full_matrices=False)
    w = vt[:2]
    pca = (test - mean) @ w.T @ w + mean
    pca_mse = ((pca - test) ** 2).mean()
    recon = _to_model_range(models.decode(models.encode(load_bundled_mnist("test").images)))
    ae_mse = ((recon.reshape(-1, 784) - test) ** 2).mean()
    assert ae_mse < 0.9 * pca_mse, (ae_mse, pca_mse)
    # and far below the error of the mean image alone
    assert ae_mse < 0.75 * ((test - mean) ** 2).mean()


def test_class_samples_land_nearest_their_class_centroid(models):
    schedule = NoiseSchedule.default()
    codes, labels = models.codes_of_bundled("train")
    cents = np.stack([codes[labels == k].mean(0) for k in range(NUM_CLASSES)])
    for k in (0, 1, 7):
        x_T = torch.randn((60, 2), generator=generator_for(k))
        z = sample("ddim", models.eps_fn(schedule, k), schedule, x_T, steps=30, clip_x0=False).numpy()
        nearest = np.argmin(((z[:, None] - cents[None]) ** 2).sum(-1), axis=1)
        assert (nearest == k).mean() >= 0.7, (k, np.bincount(nearest, minlength=10))
    with pytest.raises(ValueError):
        models.eps_fn(schedule, 10)


def test_conditional_toymlp_null_class_is_the_unconditional_model():
    torch.manual_seed(0)
    net = ToyMLP(num_classes=10).eval()
    x, lam = torch.randn(5, 2), torch.zeros(5)
    null = torch.full((5,), net.null_label, dtype=torch.long)
    torch.testing.assert_close(net(x, lam, None), net(x, lam, null))
    assert not torch.allclose(net(x, lam, torch.zeros(5, dtype=torch.long)), net(x, lam, null))


def test_sample_codes_draws_bundled_codes_of_a_class(models):
    z, y = sample_codes(100, generator_for(0), label=4, models=models)
    codes, labels = models.codes_of_bundled("train")
    assert z.shape == (100, 2) and (y == 4).all()
    d = ((z[:, None] - codes[None, labels == 4]) ** 2).sum(-1).min(1)
    assert d.max() < 1e-10


def test_save_and_load_round_trip_and_bad_files(models, tmp_path):
    path = save_latent(tmp_path / "l.safetensors", models)
    again = load_latent(path)
    c = np.array([[0.3, -1.2], [1.0, 0.5]])
    np.testing.assert_array_equal(again.decode(c), models.decode(c))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_latent(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        load_latent(tmp_path / "junk.safetensors")
    from ddpm_desktop import resources_path

    with pytest.raises(CheckpointError, match="not a ddpm-desktop latent"):
        load_latent(resources_path("classifier.safetensors"))
