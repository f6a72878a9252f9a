"""Reproducible training subsets: the same rows from the same seed, disjoint sets by offset."""
import numpy as np
import pytest

from ddpm_desktop.core.data import load_bundled_mnist, random_subset, subset_rows


def test_rows_are_a_seeded_permutation_slice():
    rows = subset_rows(9000, 64, seed=3)
    np.testing.assert_array_equal(rows, subset_rows(9000, 64, seed=3))
    # the definition, written out: a Generator permutation, sliced, sorted
    np.testing.assert_array_equal(rows, np.sort(np.random.default_rng(3).permutation(9000)[:64]))
    assert not np.array_equal(rows, subset_rows(9000, 64, seed=4))
    assert len(np.unique(rows)) == 64


def test_offsets_give_disjoint_sets_that_cover_the_whole():
    a, b = subset_rows(9000, 4500, seed=0), subset_rows(9000, 4500, seed=0, offset=4500)
    assert not np.intersect1d(a, b).size
    np.testing.assert_array_equal(np.union1d(a, b), np.arange(9000))
    few_a, few_b = subset_rows(9000, 64, seed=0), subset_rows(9000, 64, seed=0, offset=64)
    assert not np.intersect1d(few_a, few_b).size


def test_subset_dataset_and_refusals():
    train = load_bundled_mnist("train")
    sub = random_subset(train, 64, seed=1)
    rows = subset_rows(len(train), 64, seed=1)
    np.testing.assert_array_equal(sub.images, train.images[rows])
    np.testing.assert_array_equal(sub.labels, train.labels[rows])
    assert "64 of 9000" in sub.name
    with pytest.raises(ValueError, match="has 9000"):
        subset_rows(9000, 9001)
    with pytest.raises(ValueError, match="runs past"):
        subset_rows(9000, 100, offset=8950)
