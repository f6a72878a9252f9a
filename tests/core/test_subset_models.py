"""What the bundled subset models (docs/COPIES.md) are for, checked on the models themselves:
the twins, trained on disjoint halves of the training digits, draw nearly the same digit from the
same noise and copy neither half; the few-digit pair, trained on 64 digits each, copy their own
64. Distances are recounted here with scipy's cdist, independently of core.copies.

Skipped for a model whose file this build lacks (resources/NAME.safetensors)."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.data import load_bundled_mnist, subset_rows
from ddpm_desktop.core.generalisation import evaluate_model, lab_samples

pytestmark = pytest.mark.slow

N_TWIN_SAMPLES = 20


def _model(name):
    path = checkpoint.subset_model_path(name)
    if not path.is_file():
        pytest.skip(f"this build has no {name} model ('{path}')")
    torch.set_num_threads(1)
    return checkpoint.load_model(path)


def _unit(x):
    """float samples in [-1, 1] → float64 rows with pixels in [0, 1]."""
    return np.clip((np.asarray(x, dtype=np.float64).reshape(len(x), -1) + 1.0) / 2.0, 0.0, 1.0)


def _train_rows():
    return load_bundled_mnist("train").images.reshape(9000, -1).astype(np.float64) / 255.0


def _nearest(x):
    """(d1, d2, nearest row) of each sample against the 9,000 training digits (scipy)."""
    d = cdist(_unit(x), _train_rows())
    order = np.argsort(d, axis=1)[:, :2]
    rows = np.arange(len(d))
    return d[rows, order[:, 0]], d[rows, order[:, 1]], order[:, 0]


def test_the_twins_draw_nearly_the_same_digit_from_the_same_noise():
    (a, meta_a), (b, meta_b) = _model("twin-a"), _model("twin-b")
    half_a, half_b = meta_a["subset"], meta_b["subset"]
    assert (half_a["n"], half_b["n"]) == (4500, 4500) and half_a["seed"] == half_b["seed"]
    assert {half_a["offset"], half_b["offset"]} == {0, 4500}  # the two disjoint halves
    x_a, labels = lab_samples(a, n=N_TWIN_SAMPLES)  # same x_T, labels 0-9 twice, guided
    x_b, labels_b = lab_samples(b, n=N_TWIN_SAMPLES)
    np.testing.assert_array_equal(labels, labels_b)
    d_ab = np.linalg.norm(_unit(x_a) - _unit(x_b), axis=1)
    d1_a, _, _ = _nearest(x_a)
    d1_b, _, _ = _nearest(x_b)
    closer = d_ab < np.minimum(d1_a, d1_b)
    print(f"twins: median |a - b| {np.median(d_ab):.2f}, median nearest training digit "
          f"{np.median(d1_a):.2f} (a) {np.median(d1_b):.2f} (b); closer to each other for "
          f"{closer.sum()} of {len(closer)}")
    assert np.median(d_ab) < np.median(d1_a) and np.median(d_ab) < np.median(d1_b)
    assert closer.mean() >= 0.5


@pytest.mark.parametrize("name", ["twin-a", "twin-b"])
def test_the_twins_do_not_copy(name):
    model, _meta = _model(name)
    r = evaluate_model(model)
    d1, d2, _rows = _nearest(r["samples"])
    f_mem = float(np.mean(d1 < d2 / 3.0))
    print(f"{name}: f_mem {r['f_mem']:.3f} (95% CI {r['ci'][0]:.3f}-{r['ci'][1]:.3f}), "
          f"accuracy {r['accuracy']:.2f}, median d1 {r['median_d1']:.2f}")
    assert r["f_mem"] == pytest.approx(f_mem)
    assert f_mem <= 0.1


@pytest.mark.parametrize("name, offset", [("few-a", 0), ("few-b", 64)])
def test_the_few_digit_models_copy_their_own_64_digits(name, offset):
    model, meta = _model(name)
    assert meta["subset"]["n"] == 64 and meta["subset"]["offset"] == offset
    own = subset_rows(9000, 64, meta["subset"]["seed"], offset)
    r = evaluate_model(model)
    d1, d2, rows = _nearest(r["samples"])
    copies = d1 < d2 / 3.0
    inside = np.isin(rows, own)
    print(f"{name}: f_mem {r['f_mem']:.3f} (95% CI {r['ci'][0]:.3f}-{r['ci'][1]:.3f}), accuracy "
          f"{r['accuracy']:.2f}; nearest digit in its own 64 for {inside.sum()} of {len(rows)}")
    assert r["f_mem"] == pytest.approx(copies.mean())
    assert copies.mean() >= 0.5
    assert inside[copies].all()  # what it copies is one of the digits it was trained on
