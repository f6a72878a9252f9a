"""The generalisation lab's core: a tiny training run's evaluations, the copy fraction recounted
with scipy's distances, and the shipped curves' reader on good and malformed files."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ddpm_desktop.core.data import load_bundled_mnist, subset_rows
from ddpm_desktop.core.generalisation import LabPoint, evaluate_model, iter_lab, load_curves

from ddpm_desktop.core.model import ModelConfig

TINY_MODEL = ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False)


def _recount(samples, labels_asked=None):
    """f_mem, median d1 and the nearest rows of float samples in [-1, 1] against the 9,000
    training digits, from scipy's pairwise distances (no code of core.copies)."""
    train = load_bundled_mnist("train").images.reshape(9000, -1).astype(np.float64) / 255.0
    x = np.clip((np.asarray(samples, dtype=np.float64).reshape(len(samples), -1) + 1.0) / 2.0, 0, 1)
    d = cdist(x, train)
    order = np.argsort(d, axis=1)
    d1 = d[np.arange(len(x)), order[:, 0]]
    d2 = d[np.arange(len(x)), order[:, 1]]
    copies = d1 < d2 / 3.0
    return float(copies.mean()), float(np.median(d1)), order[:, 0], copies


def _few_digit_exact_denoiser():
    """The perfect denoiser of 30 training digits (3 of each class), dressed as a network with a
    config, so its guided samples copy those digits."""
    from ddpm_desktop.core.exact_denoiser import ExactDenoiser

    train = load_bundled_mnist("train")
    rows = np.concatenate([np.flatnonzero(train.labels == c)[:3] for c in range(10)])
    model = ExactDenoiser(train.images[rows], train.labels[rows])
    model.config = SimpleNamespace(num_classes=10)
    return model, rows


def test_evaluate_model_counts_copies_as_scipy_does():
    torch.set_num_threads(1)
    model, rows = _few_digit_exact_denoiser()
    r = evaluate_model(model, n=10)
    f_mem, median_d1, nearest, copies = _recount(r["samples"])
    assert r["f_mem"] == pytest.approx(f_mem) and r["median_d1"] == pytest.approx(median_d1, rel=1e-4, abs=1e-5)
    # the perfect denoiser of 30 digits copies them: every sample, each one of the 30, of its class
    assert copies.all() and set(nearest) <= set(rows)
    train = load_bundled_mnist("train")
    np.testing.assert_array_equal(train.labels[nearest], np.arange(10))
    assert r["accuracy"] >= 0.9 and r["n"] == 10
    assert r["ci"][0] <= r["f_mem"] <= r["ci"][1]


def test_evaluate_model_of_an_untrained_network_finds_no_copies():
    from ddpm_desktop.core.model import UNet

    torch.manual_seed(0)
    model = UNet(TINY_MODEL).eval()
    r = evaluate_model(model, n=6)
    f_mem, median_d1, _nearest, _copies = _recount(r["samples"])
    assert r["f_mem"] == f_mem == 0.0 and r["ci"] == (0.0, 0.0)
    assert r["median_d1"] == pytest.approx(median_d1, rel=1e-4, abs=1e-5)
    assert r["samples"].shape == (6, 28, 28)


@pytest.mark.slow
def test_iter_lab_on_sixteen_digits_evaluates_at_its_steps():
    torch.set_num_threads(1)
    box = []
    points = list(iter_lab(16, steps=3, eval_every=2, n_eval=4, offset=16, trainer_out=box))
    assert [p.step for p in points] == [2, 3]  # every 2 steps and at the last one
    for p in points:
        assert isinstance(p, LabPoint) and p.n == 4
        assert 0.0 <= p.f_mem <= 1.0 and 0.0 <= p.accuracy <= 1.0
        assert p.ci[0] <= p.f_mem <= p.ci[1]
        assert np.isfinite(p.loss_smooth) and p.median_d1 > 0
    assert points[0].elapsed_s <= points[1].elapsed_s
    # it trained on the 16 digits at offset 16 of the seed-0 permutation
    images = load_bundled_mnist("train").images[subset_rows(9000, 16, 0, 16)]
    np.testing.assert_allclose(box[0].images[:, 0].numpy(), images / 127.5 - 1.0, atol=1e-6)
    # the record round-trips through the curves file
    d = points[0].to_dict()
    assert d["step"] == 2 and d["ci"] == [round(v, 4) for v in points[0].ci]


def test_iter_lab_refuses_non_positive_counts():
    for kwargs in ({"steps": 0}, {"eval_every": 0}, {"n_eval": 0}):
        with pytest.raises(ValueError, match="positive"):
            next(iter_lab(16, **kwargs))


def _curves(runs):
    return {"recipe": "fast", "steps": 2000, "eval_every": 250, "n_eval": 100, "sample_steps": 10,
            "guidance": 1.5, "runs": runs}


def _point(step, f_mem=0.5):
    return {"step": step, "loss_smooth": 0.05, "f_mem": f_mem, "ci": [f_mem - 0.1, f_mem + 0.1],
            "median_d1": 5.0, "accuracy": 0.9, "n": 100, "elapsed_s": 1.0}


def test_load_curves_sorts_runs_by_size_and_points_by_step(tmp_path):
    path = tmp_path / "curves.json"
    path.write_text(json.dumps(_curves([
        {"name": "twin-a", "size": 4500, "subset_seed": 0, "offset": 0, "points": [_point(500), _point(250)]},
        {"name": "few-b", "size": 64, "offset": 64, "points": [_point(250, 0.2)]},
        {"name": "few-a", "size": 64, "subset_seed": 0, "offset": 0, "points": [_point(250, 0.1)]},
    ])))
    c = load_curves(path)
    assert [(r["name"], r["size"], r["offset"]) for r in c["runs"]] == \
        [("few-a", 64, 0), ("few-b", 64, 64), ("twin-a", 4500, 0)]
    assert [q["step"] for q in c["runs"][2]["points"]] == [250, 500]
    assert c["runs"][1]["subset_seed"] == 0  # absent: the default
    assert c["n_eval"] == 100 and c["recipe"] == "fast"


@pytest.mark.parametrize("text", [
    "not json",
    json.dumps({"recipe": "fast"}),                                   # no runs
    json.dumps(_curves([{"name": "x", "size": 64}])),                 # a run without points
    json.dumps(_curves([{"name": "x", "size": 64, "points": [{"step": 1}]}])),  # a bare point
    json.dumps(_curves([{"name": "x", "size": "many", "points": []}])),
    json.dumps(_curves([{"name": "x", "size": 64, "points": [{**_point(1), "ci": [0.1]}]}])),
    json.dumps([1, 2, 3]),
])
def test_load_curves_refuses_malformed_files_in_one_line(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="not a lab curves file") as info:
        load_curves(path)
    assert "\n" not in str(info.value)


def test_load_curves_names_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read the lab curves") as info:
        load_curves(tmp_path / "absent.json")
    assert "absent.json" in str(info.value)
