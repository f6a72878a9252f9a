"""`sample --model twin-a|twin-b|few-a|few-b`: the bundled subset model runs as its file would
with --checkpoint, and the combinations that mean nothing are refused in one line."""
import numpy as np
import pytest

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.checkpoint import SUBSET_MODELS

from cli_helpers import run_cli, tiny_ckpt  # noqa: F401  (tiny_ckpt: a fixture)


def test_subset_models_are_model_choices():
    from ddpm_desktop.commands._models import MODEL_CHOICES

    assert set(SUBSET_MODELS) <= set(MODEL_CHOICES)


@pytest.mark.parametrize("name", ["twin-a", "few-b"])
def test_a_subset_model_samples_as_its_file_does(tmp_path, capsys, monkeypatch, tiny_ckpt, name):
    monkeypatch.setattr(checkpoint, "subset_model_path", lambda n: tiny_ckpt if n == name else None)
    common = ("--n", "3", "--steps", "2", "--label", "all", "--seed", "4")
    code, _, err = run_cli(capsys, "sample", "--model", name, *common, "--out", tmp_path / "m.npz")
    assert code == 0, err
    assert run_cli(capsys, "sample", "--checkpoint", tiny_ckpt, *common, "--out", tmp_path / "c.npz")[0] == 0
    np.testing.assert_array_equal(np.load(tmp_path / "m.npz")["images"], np.load(tmp_path / "c.npz")["images"])


@pytest.mark.parametrize("extra, needle", [
    (("--checkpoint", "x.safetensors"), "--model twin-b is a bundled model; leave out --checkpoint"),
    (("--sampler", "distilled", "--steps", "2"), "not distilled"),
    (("--bandwidth", "1"), "--bandwidth applies to --model exact only"),
])
def test_meaningless_combinations_are_refused(tmp_path, capsys, extra, needle):
    code, out, err = run_cli(capsys, "sample", "--model", "twin-b", *extra, "--out", tmp_path / "s.png")
    assert code == 2 and out == "" and needle in err and len(err.strip().splitlines()) == 1


def test_a_missing_bundled_file_is_named(tmp_path, capsys, monkeypatch):
    missing = tmp_path / "few-a.safetensors"
    monkeypatch.setattr(checkpoint, "subset_model_path", lambda n: missing)
    code, out, err = run_cli(capsys, "sample", "--model", "few-a", "--out", tmp_path / "s.png")
    assert code == 2 and out == ""
    assert str(missing) in err and "no few-a model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.png").exists()
