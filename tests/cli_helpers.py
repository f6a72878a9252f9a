"""Set-up shared by the CLI tests of the model commands (invert, likelihood, uncertainty): a tiny
untrained checkpoint (its zero output layer makes ε̂ = 0, so results have a closed form), an .npz
of bundled held-out digits, and one in-process run of `ddpm-desktop`."""
import numpy as np
import pytest

from ddpm_desktop.cli import main


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    import torch

    from ddpm_desktop.core.checkpoint import save_weights
    from ddpm_desktop.core.model import ModelConfig, UNet

    torch.manual_seed(0)
    model = UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False))
    return save_weights(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", model)


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
