"""`ddpm-desktop invert`: per-image MSE in --json, x_T in the .npz, bad input exits 2 in one line."""
import math

import numpy as np
import pytest

from cli_helpers import run_cli, run_json, tiny_ckpt, write_digits_npz  # noqa: F401  (tiny_ckpt: a fixture)


@pytest.fixture
def digits_npz(tmp_path):
    return write_digits_npz(tmp_path, 3)


def test_untrained_network_inverts_exactly(tmp_path, capsys, tiny_ckpt, digits_npz):
    # A fresh UNet's output layer is zero: ε̂ = 0, so DDIM moves x_0 along x_t = √ᾱ_t x_0 and back
    report = run_json(capsys, "invert", digits_npz, "--checkpoint", tiny_ckpt, "--steps", "5",
                      "--out", tmp_path / "x.npz")
    assert len(report["mse"]) == 3 and max(report["mse"]) < 1e-10
    assert report["nfe"] == 5 * 3 + 5
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.schedule import NoiseSchedule

    a = np.load(tmp_path / "x.npz")
    x0 = imaging.to_model_range(np.load(digits_npz)["images"])
    np.testing.assert_allclose(a["x_T"], math.sqrt(NoiseSchedule.default().alpha_bar_T) * x0, atol=1e-6)
    assert np.array_equal(a["reconstructions"], np.load(digits_npz)["images"])


def test_one_image_file(tmp_path, capsys, tiny_ckpt):
    from PIL import Image

    from ddpm_desktop.core.data import load_bundled_mnist

    Image.fromarray(load_bundled_mnist("test").images[4]).save(tmp_path / "d.png")
    report = run_json(capsys, "invert", tmp_path / "d.png", "--checkpoint", tiny_ckpt, "--steps", "2")
    assert len(report["mse"]) == 1


@pytest.mark.parametrize("content, needle", [
    (dict(pixels=np.zeros((2, 28, 28), np.uint8)), "no `images`"),
    (dict(images=np.zeros((2, 28, 28), np.float32)), "uint8"),
    (dict(images=np.zeros((2, 27, 28), np.uint8)), "[N, 28, 28]"),
    (None, "not an .npz"),
])
def test_bad_npz_exits_2_in_one_line(tmp_path, capsys, tiny_ckpt, content, needle):
    path = tmp_path / "bad.npz"
    if content is None:
        path.write_bytes(b"not a zip at all")
    else:
        np.savez(path, **content)
    code, out, err = run_cli(capsys, "invert", path, "--checkpoint", tiny_ckpt)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1


def test_bad_options_exit_2(tmp_path, capsys, tiny_ckpt, digits_npz):
    for extra in (["--steps", "0"], ["--refine", "-1"], ["--label", "11"]):
        code, _, err = run_cli(capsys, "invert", digits_npz, "--checkpoint", tiny_ckpt, *extra)
        assert code == 2 and err.count("\n") == 1
    code, _, err = run_cli(capsys, "invert", tmp_path / "missing.npz", "--checkpoint", tiny_ckpt)
    assert code == 2 and "no such file" in err


def test_decode_under_another_label(tmp_path, capsys, digits_npz):
    # the bundled model: a held-out 3 inverted unconditionally, decoded as an 8, changes; decoded
    # with no label it comes back
    from ddpm_desktop.core.data import load_bundled_mnist

    test = load_bundled_mnist("test")
    three = test.images[np.flatnonzero(test.labels == 3)[:1]]
    path = tmp_path / "three.npz"
    np.savez(path, images=three)
    report = run_json(capsys, "invert", path, "--steps", "10", "--refine", "1",
                      "--decode-label", "8", "--decode-guidance", "3", "--out", tmp_path / "e.npz")
    assert report["decode_label"] == 8 and report["nfe"] == 10 * 2 + 10 + 10
    assert report["mse"][0] > 0.01                          # it did change
    from ddpm_desktop.core.decision import bundled_classifier, decision_curve
    import torch

    from ddpm_desktop.core import imaging

    edited = imaging.to_model_range(np.load(tmp_path / "e.npz")["reconstructions"])
    probs = decision_curve(bundled_classifier(), torch.as_tensor(edited)[:, None])
    assert probs[0].argmax() == 8
