"""The bundled model and classifier ship with the app, load, and agree with each other."""
import numpy as np
import pytest
import torch

from ddpm_desktop.core.checkpoint import bundled_model_path, load_model
from ddpm_desktop.core.classifier import accuracy, load_classifier, predict
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.evaluation import frechet_distance, generate
from ddpm_desktop.core.schedule import NoiseSchedule


def test_bundled_model_loads_with_its_configuration():
    path = bundled_model_path()
    assert path is not None, "resources/model.safetensors is missing"
    model, meta = load_model(path)
    assert meta["dataset"].startswith("MNIST") and meta["step"] >= 1000
    assert meta["schedule"] == {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02}
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.slow
def test_bundled_classifier_recognises_held_out_digits():
    classifier, info = load_classifier()
    x, y = load_bundled_mnist("test").as_tensor()
    acc = accuracy(classifier, x, y)
    assert acc >= 0.97
    assert abs(acc - info["held_out_accuracy"]) < 1e-6


@pytest.mark.slow
def test_guided_samples_of_each_class_are_recognised():
    torch.set_num_threads(1)
    model, _ = load_model(bundled_model_path())
    classifier, _ = load_classifier()
    schedule = NoiseSchedule.named("linear", 1000)
    images, labels, nfe = generate(model, schedule, "dpmpp", 10, 20, guidance=2.0, seed=1)
    assert nfe == 10
    x, _ = load_bundled_mnist("test").as_tensor()
    from ddpm_desktop.core.classifier import predict

    pred, _ = predict(classifier, images)
    per_class = [(pred[labels.numpy() == c] == c).mean() for c in range(10)]
    assert sum(a >= 0.5 for a in per_class) >= 8, per_class


def test_frechet_distance_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 8))
    assert abs(frechet_distance(a, a)) < 1e-6
    assert frechet_distance(a, a + 1.0) > 7.5  # ‖μ shift‖² = 8


@pytest.fixture(scope="module")
def classifier_and_features():
    """The bundled classifier and its features of all 10,000 bundled digits (several seconds
    on one thread), computed once for the tests that need them."""
    from ddpm_desktop.core.evaluation import data_features

    classifier, _ = load_classifier()
    return classifier, data_features(classifier)


@pytest.mark.slow
def test_the_data_floor_at_n_uses_every_class(classifier_and_features):
    """Regression: the held-out set is stored by class, so its first 500 digits were classes
    0-4 only and scored an FD of 186 where an even spread scores ~4."""
    from ddpm_desktop.core.evaluation import data_floor

    _, feats = classifier_and_features
    floor500, n = data_floor(feats, 500)
    first500 = frechet_distance(feats["test"][:500], feats["train"])
    full, _ = data_floor(feats)
    assert n == 500 and full < floor500 < 2 * full < first500 / 10


@pytest.mark.slow
def test_guidance_sweep_compares_w_on_the_same_seeds(classifier_and_features):
    from ddpm_desktop.core.evaluation import data_floor, guidance_sweep

    torch.set_num_threads(1)
    model, _ = load_model(bundled_model_path())
    classifier, feats = classifier_and_features
    schedule = NoiseSchedule.default()
    points = guidance_sweep(model, classifier, schedule, feats, [0.0, 2.0], n=20, steps=8)
    assert [p.guidance for p in points] == [0.0, 2.0]
    floor, _ = data_floor(feats, 20)
    for p in points:
        assert p.n == 20 and p.floor == floor and abs(p.fd_ratio - p.fd / floor) < 1e-12
        assert abs(sum(p.class_fractions) - 1) < 1e-3
    assert points[1].accuracy >= 0.85 > points[0].accuracy   # guidance is what makes the label legible
    images, labels, _ = generate(model, schedule, "dpmpp", 8, 20, 2.0, 0)
    pred, _ = predict(classifier, images)
    assert points[1].accuracy == float((pred == labels.numpy()).mean())   # the same seeds as generate
