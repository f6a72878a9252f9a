"""`ddpm-desktop copies`: the JSON it prints for a file of samples, and its refusals."""
import json

import numpy as np
import pytest

from ddpm_desktop.core.data import load_bundled_mnist

from cli_helpers import run_cli, run_json


def test_json_names_file_rows_and_flags_the_copies(tmp_path, capsys):
    train, test = load_bundled_mnist("train"), load_bundled_mnist("test")
    images = np.concatenate([train.images[[5, 6000]], test.images[:4]])
    path = tmp_path / "s.npz"
    np.savez(path, images=images)
    d = run_json(capsys, "copies", path, "--no-reference")
    assert d["f_mem"] == pytest.approx(2 / 6)
    assert d["ci"][0] <= d["f_mem"] <= d["ci"][1]
    rows = [s["nearest"] for s in d["samples"]]
    with np.load("resources/mnist.npz") as f:
        file_images, split = f["images"], f["split"]
    # `nearest` is a row of the file's `images` array, from its training split
    np.testing.assert_array_equal(file_images[rows[:2]], images[:2])
    assert (split[rows] == 0).all()
    assert [s["copy"] for s in d["samples"]] == [True, True, False, False, False, False]
    for image, s in zip(images, d["samples"]):
        diff = file_images[s["nearest"]].astype(float) / 255 - image / 255
        assert s["d1"] == pytest.approx(np.sqrt((diff ** 2).sum()), rel=1e-6)
        assert s["ratio"] == pytest.approx(s["d1"] / s["d2"])


@pytest.mark.parametrize("make, message", [
    (lambda p: np.savez(p, pics=np.zeros((2, 28, 28), np.uint8)), "no `images`"),
    (lambda p: np.savez(p, images=np.zeros((2, 28, 28))), "uint8"),
    (lambda p: np.savez(p, images=np.zeros((0, 28, 28), np.uint8)), "N >= 1"),
    (lambda p: p.write_text("not a zip"), "not an .npz"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    path = tmp_path / "bad.npz"
    make(path)
    code, _, err = run_cli(capsys, "copies", path)
    assert code == 2 and message in err and err.count("\n") == 1


def test_exact_model_samples_are_copies(tmp_path, capsys):
    out = tmp_path / "exact.npz"
    report = run_json(capsys, "sample", "--model", "exact", "--n", "4", "--steps", "10", "--out", out,
                      "--threads", "1")
    assert report["model"] == "exact" and report["bandwidth"] == 0.0
    assert run_json(capsys, "copies", out, "--no-reference")["f_mem"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--model", "exact", "--checkpoint", "x.safetensors"], "not a --checkpoint"),
    (["--model", "exact", "--sampler", "distilled"], "not distilled"),
    (["--bandwidth", "2"], "--model exact only"),
    (["--model", "exact", "--bandwidth", "-1"], "--bandwidth must be"),
])
def test_sample_refuses_meaningless_exact_combinations(tmp_path, capsys, argv, message):
    code, _, err = run_cli(capsys, "sample", "--out", tmp_path / "x.png", *argv)
    assert code == 2 and message in err


@pytest.mark.slow
def test_train_on_a_subset_records_it(tmp_path, capsys):
    from ddpm_desktop.core.checkpoint import read_metadata

    out = tmp_path / "few.safetensors"
    code, _, err = run_cli(capsys, "train", "--steps", "2", "--batch-size", "8", "--threads", "1",
                           "--base-channels", "8", "--subset", "64", "--subset-seed", "5", "--subset-offset",
                           "64", "--out", out)
    assert code == 0 and "(64 images)" in err
    meta = read_metadata(out)
    subset = meta["subset"] if isinstance(meta["subset"], dict) else json.loads(meta["subset"])
    assert subset == {"n": 64, "seed": 5, "offset": 64, "data": "mnist"}
    code, _, err = run_cli(capsys, "train", "--subset", "9001", "--steps", "1", "--out", out)
    assert code == 2 and "has 9000" in err

