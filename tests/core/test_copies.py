"""The copy check against brute force, its pixel scale, the copy rule and the bootstrap."""
import numpy as np
import pytest
import torch

from ddpm_desktop.core import copies
from ddpm_desktop.core.data import bundled_mnist_rows, load_bundled_mnist


def _brute_force(samples01: np.ndarray, train01: np.ndarray):
    """Every distance in float64, the loop way: (nearest, second, d1, d2) per sample."""
    out = []
    for s in samples01.astype(np.float64):
        d = np.array([np.sqrt(((s - t) ** 2).sum()) for t in train01.astype(np.float64)])
        i, j = np.argsort(d, kind="stable")[:2]
        out.append((i, j, d[i], d[j]))
    return out


def test_search_matches_brute_force_on_a_tiny_set():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    samples = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    samples[2] = train[11]                      # an exact copy: d1 = 0 despite the expansion
    samples[5] = np.clip(train[4].astype(int) + rng.integers(-3, 4, (28, 28)), 0, 255)  # near copy
    nb = copies.NearestIndex(train).search(samples)
    expect = _brute_force(samples.reshape(7, -1) / 255.0, train.reshape(30, -1) / 255.0)
    for k, (i, j, d1, d2) in enumerate(expect):
        assert nb.nearest[k] == i and nb.second[k] == j
        # pixels are held as float32 (x/255 rounded to 24 bits): agreement to ~1e-7 relative
        assert nb.d1[k] == pytest.approx(d1, rel=1e-6) and nb.d2[k] == pytest.approx(d2, rel=1e-6)
    assert nb.nearest[2] == 11 and nb.d1[2] == 0.0 and nb.copies[2]
    assert nb.nearest[5] == 4 and nb.copies[5]
    # random images are all about equally far from each other: none of the rest copies
    assert not nb.copies[[0, 1, 3, 4, 6]].any()


def test_model_range_and_uint8_mean_the_same_pixels():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    model_range = torch.from_numpy(u8.astype(np.float32) / 127.5 - 1.0)[:, None]  # [4, 1, 28, 28]
    np.testing.assert_allclose(copies.unit_pixels(model_range), copies.unit_pixels(u8), atol=1e-6)
    over = np.full((1, 28, 28), 1.7, np.float32)  # an unclipped sample: clipped as a saved image is
    assert copies.unit_pixels(over).max() == 1.0
    with pytest.raises(ValueError, match="uint8"):
        copies.unit_pixels(np.zeros((1, 28, 28), np.int32))


def test_ratio_and_rule():
    nb = copies.Nearest(np.array([0, 1, 2]), np.array([1, 0, 0]), np.array([1.0, 1.0, 0.0]),
                        np.array([3.5, 2.9, 0.0]))
    np.testing.assert_allclose(nb.ratio, [1 / 3.5, 1 / 2.9, 0.0])
    assert nb.copies.tolist() == [True, False, True]


def test_bootstrap_interval_is_seeded_and_covers_the_fraction():
    flags = np.zeros(100, bool)
    flags[:30] = True
    lo, hi = copies.bootstrap_ci(flags, seed=5)
    assert (lo, hi) == copies.bootstrap_ci(flags, seed=5)
    # the binomial standard error is sqrt(.3 * .7 / 100) = 0.046: a 95% interval is about ±0.09
    assert lo < 0.3 < hi and 0.15 < hi - lo < 0.22
    assert copies.bootstrap_ci(np.zeros(50), seed=0) == (0.0, 0.0)


def test_training_digits_copy_themselves_and_held_out_digits_do_not():
    train = load_bundled_mnist("train")
    check = copies.check_copies(train.images[[0, 100, 4321]])
    assert check.nearest.nearest.tolist() == [0, 100, 4321] and check.f_mem == 1.0
    ref = copies.held_out_reference()
    assert ref.n == 1000 and ref.f_mem <= 0.01
    d = ref.to_dict()
    assert set(d) >= {"f_mem", "ci", "samples"} and len(d["samples"]) == 1000
    assert set(d["samples"][0]) == {"nearest", "d1", "d2", "ratio", "copy"}


def test_file_rows_of_the_training_split():
    with np.load("resources/mnist.npz") as f:
        images, split = f["images"], f["split"]
    rows = bundled_mnist_rows("train")
    assert len(rows) == 9000 and (split[rows] == 0).all()
    np.testing.assert_array_equal(images[rows[[0, 777, 8999]]], load_bundled_mnist("train").images[[0, 777, 8999]])


def test_evaluate_sampler_reports_the_copy_check_of_its_own_samples():
    from ddpm_desktop.core.classifier import load_classifier
    from ddpm_desktop.core.evaluation import evaluate_sampler
    from ddpm_desktop.core.model import ModelConfig, UNet
    from ddpm_desktop.core.schedule import NoiseSchedule

    torch.manual_seed(0)
    model = UNet(ModelConfig(base_channels=8)).eval()
    classifier, _ = load_classifier(None)
    feats = {"train": np.random.default_rng(0).standard_normal((300, 128))}
    result, images = evaluate_sampler(model, classifier, NoiseSchedule.default(), feats, "ddim", 2, 12,
                                      guidance=1.0, seed=4, keep=12)
    expect = copies.check_copies(images, seed=4)
    assert result.f_mem == expect.f_mem and tuple(result.f_mem_ci) == expect.ci
