"""The bundled model and classifier ship with the app, load, and agree with each other."""
import numpy as np
import torch

from ddpm_desktop.core.checkpoint import bundled_model_path, load_model
from ddpm_desktop.core.classifier import accuracy, load_classifier
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


def test_bundled_classifier_recognises_held_out_digits():
    classifier, info = load_classifier()
    x, y = load_bundled_mnist("test").as_tensor()
    acc = accuracy(classifier, x, y)
    assert acc >= 0.97
    assert abs(acc - info["held_out_accuracy"]) < 1e-6


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
