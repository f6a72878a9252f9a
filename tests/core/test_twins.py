"""Two models from one x_T (core.twins) against an independent recomputation: the samples drawn
one model at a time by core.sampling, every distance by scipy's cdist."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ddpm_desktop.core import sampling, twins
from ddpm_desktop.core.copies import NearestIndex
from ddpm_desktop.core.data import load_bundled_mnist, subset_rows
from ddpm_desktop.core.exact_denoiser import ExactDenoiser
from ddpm_desktop.core.schedule import NoiseSchedule

N_TRAIN = 200


@pytest.fixture(scope="module")
def world():
    """200 training digits split in two disjoint sets of 100, and the perfect denoiser of each:
    two stand-in models that copy their own set (as few-a and few-b should)."""
    train = load_bundled_mnist("train")
    spread = np.arange(N_TRAIN) * (len(train.images) // N_TRAIN)  # every class (the file is sorted)
    images, labels = train.images[spread], train.labels[spread]
    rows_a = subset_rows(N_TRAIN, 100, seed=5, offset=0)
    rows_b = subset_rows(N_TRAIN, 100, seed=5, offset=100)
    model_a = ExactDenoiser(images[rows_a], labels[rows_a])
    model_b = ExactDenoiser(images[rows_b], labels[rows_b])
    return images, labels, NearestIndex(images), rows_a, rows_b, model_a, model_b


def _alone(model, n, seed, steps, labels=None, guidance=1.0):
    """What one model draws from the x_T of `seed`, computed without core.twins."""
    schedule = NoiseSchedule.default()
    x_T = torch.randn((n, 1, 28, 28), generator=sampling.generator_for(seed))
    lab = None if labels is None else torch.as_tensor(labels)
    eps_fn = sampling.make_eps_fn(model, schedule, labels=lab, guidance=guidance)
    x0 = sampling.sample("dpmpp", eps_fn, schedule, x_T, steps=steps)
    return x0[:, 0].numpy()


def test_pairs_match_an_independent_recomputation(world):
    images, _, index, rows_a, rows_b, model_a, model_b = world
    pairs = twins.twin_pair(model_a, model_b, n=5, seed=3, steps=8, index=index,
                            rows_a=rows_a, rows_b=rows_b)
    a, b = _alone(model_a, 5, 3, 8), _alone(model_b, 5, 3, 8)
    np.testing.assert_allclose(pairs.a, a, atol=1e-6)
    np.testing.assert_allclose(pairs.b, b, atol=1e-6)
    to01 = lambda x: np.clip((x.reshape(len(x), -1).astype(np.float64) + 1) / 2, 0, 1)  # noqa: E731
    train01 = images.reshape(len(images), -1) / 255.0
    d_ab = np.diag(cdist(to01(a), to01(b)))
    np.testing.assert_allclose(pairs.distance, d_ab, rtol=1e-5, atol=1e-6)
    for x, nb, own, rows in ((a, pairs.nearest_a, pairs.own_a, rows_a),
                             (b, pairs.nearest_b, pairs.own_b, rows_b)):
        d = cdist(to01(x), train01)
        np.testing.assert_array_equal(nb.nearest, d.argmin(1))
        np.testing.assert_allclose(nb.d1, d.min(1), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(own, np.isin(d.argmin(1), rows))
    # perfect denoisers of disjoint sets: each copies a digit of its own set, so the two differ
    assert pairs.own_a.all() and pairs.own_b.all()
    assert pairs.nearest_a.copies.all() and pairs.nearest_b.copies.all()
    assert (pairs.distance > 1.0).all()
    s = pairs.summary()
    assert s["median_d_ab"] == pytest.approx(np.median(d_ab), rel=1e-5)
    assert s["copies_a"] == s["copies_b"] == 5


def test_one_model_twice_gives_the_same_sample(world):
    _, _, index, _, _, model_a, _ = world
    pairs = twins.twin_pair(model_a, model_a, n=3, seed=1, steps=6, index=index)
    np.testing.assert_array_equal(pairs.distance, np.zeros(3))
    assert pairs.own_a is None and pairs.rows()[0]["own_a"] is None


def test_labels_and_stochastic_samplers_share_their_noise(world):
    _, labels, index, _, _, model_a, _ = world
    pairs = twins.twin_pair(model_a, model_a, n=4, seed=2, labels="all", guidance=1.0,
                            sampler="ddpm", steps=10, index=index)
    assert pairs.labels.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(pairs.a, pairs.b)  # the same per-step noise for both
    # a class-conditional perfect denoiser copies a digit of the class asked for
    assert (labels[pairs.nearest_a.nearest] == pairs.labels).all()
    rows = pairs.rows(row_ids=np.arange(N_TRAIN) + 1000)
    assert rows[1]["nearest_a"] == int(pairs.nearest_a.nearest[1]) + 1000


def test_bad_labels_are_one_line_errors():
    with pytest.raises(ValueError, match="labels for"):
        twins.pair_labels([1, 2], 3)
    with pytest.raises(ValueError, match="class 0-9"):
        twins.pair_labels(12, 2)
    assert twins.pair_labels(7, 3).tolist() == [7, 7, 7]


def test_training_rows_read_the_subset_metadata():
    rows = twins.training_rows({"subset": {"n": 64, "seed": 0, "offset": 64}})
    np.testing.assert_array_equal(rows, subset_rows(9000, 64, 0, 64))
    assert twins.training_rows({}) is None and twins.training_rows(None) is None


def test_every_subset_model_is_a_model_source_and_a_session_model_kind():
    from ddpm_desktop.core.checkpoint import SUBSET_MODELS, ModelSource, model_file
    from ddpm_desktop.core.snapshot import MODEL_KINDS, ModelRef, Snapshot

    for name in SUBSET_MODELS:
        assert ModelSource(name) == name and model_file(ModelSource(name)) is None
        assert name in MODEL_KINDS
    assert set(sum(twins.PAIRS.values(), ())) == set(SUBSET_MODELS)
    assert ModelRef("few-b").to_dict() == {"kind": "few-b", "path": "", "sha256": ""}
    assert Snapshot  # the session file reads the kind back: tests/ui/test_twins_ui.py
