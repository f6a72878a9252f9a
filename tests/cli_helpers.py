"""Set-up shared by the CLI tests: one in-process run of `ddpm-desktop` (its exit code and output,
or its --json report), a tiny untrained network and its checkpoint (the zero output layer makes
ε̂ = 0, so results have a closed form), an .npz of bundled held-out digits, and stand-ins for the
bundled subset models."""
import json
from pathlib import Path

import numpy as np
import pytest

from ddpm_desktop.cli import main


def tiny_unet(seed: int = 0):
    """An untrained UNet small enough for a test (8 base channels, two levels, no attention),
    its weights drawn under torch.manual_seed(seed)."""
    import torch

    from ddpm_desktop.core.model import ModelConfig, UNet

    torch.manual_seed(seed)
    return UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False))


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    """The path of tiny_unet(0) saved as a checkpoint, one per test module."""
    from ddpm_desktop.core.checkpoint import save_weights

    return save_weights(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", tiny_unet())


def write_digits_npz(tmp_path, n: int):
    """tmp_path/d.npz holding the first n bundled held-out digits as 'images'."""
    from ddpm_desktop.core.data import load_bundled_mnist

    path = tmp_path / "d.npz"
    np.savez(path, images=load_bundled_mnist("test").images[:n])
    return path


def run_cli(capsys, *argv):
    """(exit code, stdout, stderr) of `ddpm-desktop ARGV...` run in-process."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    """The report of `ddpm-desktop ARGV... --json` run in-process, which must exit 0."""
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def save_subset_stand_ins(folder):
    """Tiny stand-ins for the bundled subset models (core.checkpoint.SUBSET_MODELS), one file
    each in `folder`, each with a different random network (so twins differ) and the `subset`
    metadata `train --subset 64 --subset-offset 64k` writes: {name: path}."""
    import torch

    from ddpm_desktop.core.checkpoint import SUBSET_MODELS, save_weights

    paths = {}
    for k, name in enumerate(SUBSET_MODELS):
        model = tiny_unet(k)
        with torch.no_grad():  # the zero-initialised layers would make ε̂ = 0 for all of them
            for p in model.parameters():
                if not p.abs().sum():
                    p.normal_(0.0, 0.05)
        extra = {"subset": {"n": 64, "seed": 0, "offset": 64 * k, "data": "mnist"}}
        paths[name] = save_weights(Path(folder) / f"{name}.safetensors", model, extra)
    return paths


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """save_subset_stand_ins in a temporary folder, once per test module: {name: path}."""
    return save_subset_stand_ins(tmp_path_factory.mktemp("subset"))


@pytest.fixture
def installed(stand_ins, monkeypatch):
    """The stand-ins installed as the bundled subset models for one test (checkpoint's
    subset_model_path returns their files): {name: path}."""
    from ddpm_desktop.core import checkpoint

    monkeypatch.setattr(checkpoint, "subset_model_path", lambda name: stand_ins[name])
    return stand_ins
