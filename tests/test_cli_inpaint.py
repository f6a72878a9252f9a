"""`ddpm-desktop inpaint` end to end on a tiny checkpoint: outputs, known pixels, NFE, bad input."""
import json

import numpy as np
import pytest
from PIL import Image

from ddpm_desktop.core import imaging
from ddpm_desktop.core.data import load_bundled_mnist

from cli_helpers import run_cli, tiny_ckpt  # noqa: F401  (tiny_ckpt: a fixture)


@pytest.mark.parametrize("method, extra, nfe", [
    ("paste", ["--sampler", "ddim", "--steps", "4"], 4),
    ("x0", ["--sampler", "dpmpp", "--steps", "4"], 4),
    ("paste", ["--sampler", "ddpm", "--steps", "3"], 3),
    # RePaint: 6 steps, jumps of 2 at levels 0 and 2, each passed twice: 6 + 1·2·2
    ("repaint", ["--steps", "6", "--jump-length", "2", "--resample", "2"], 10),
])
@pytest.mark.slow
def test_npz_keeps_the_known_pixels(capsys, tmp_path, tiny_ckpt, method, extra, nfe):
    out = tmp_path / "c.npz"
    code, stdout, err = run_cli(capsys, "inpaint", "--index", 123, "--mask", "top", "--method", method, *extra,
                                "--n", 3, "--seed", 1, "--checkpoint", tiny_ckpt, "--threads", 1,
                                "--out", out, "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["nfe"] == nfe and report["n"] == 3 and report["known_unchanged"] is True
    test = load_bundled_mnist("test")
    assert report["label"] == int(test.labels[123]) and len(report["readings"]) == 3
    with np.load(out) as d:
        images, mask = d["images"], d["mask"]
        assert images.dtype == np.uint8 and images.shape == (3, 28, 28)
        assert mask.dtype == bool and not mask[:14].any() and mask[14:].all()
        # the input went through [-1, 1] and back: uint8 -> float -> uint8 is exact
        assert np.array_equal(images[:, mask], np.broadcast_to(test.images[123][mask], (3, int(mask.sum()))))
        assert not np.array_equal(images[:, ~mask], np.broadcast_to(test.images[123][~mask], (3, 14 * 28)))
        assert d["probabilities"].shape == (3, 10)


@pytest.mark.slow
def test_png_gif_and_a_mask_image(capsys, tmp_path, tiny_ckpt):
    digit = tmp_path / "digit.png"
    Image.fromarray(load_bundled_mnist("test").images[500]).save(digit)
    mask = np.full((28, 28), 255, np.uint8)
    mask[:, 20:] = 0
    Image.fromarray(mask).save(tmp_path / "mask.png")
    common = ["--image", digit, "--mask", tmp_path / "mask.png", "--method", "paste", "--steps", 3,
              "--n", 4, "--checkpoint", tiny_ckpt, "--threads", 1]
    code, out, err = run_cli(capsys, "inpaint", *common, "--out", tmp_path / "c.png")
    assert code == 0, err
    assert Image.open(tmp_path / "c.png").size == (3 * (6 * 30 + 2), 3 * 32)   # input, masked, 4
    code, out, err = run_cli(capsys, "inpaint", *common, "--out", tmp_path / "c.gif", "--fps", 5)
    assert code == 0, err
    gif = Image.open(tmp_path / "c.gif")
    assert gif.n_frames >= 4
    code, out, err = run_cli(capsys, "inpaint", *common, "--out", tmp_path / "c.npz", "--json")
    x0 = imaging.to_uint8(imaging.load_digit(digit))
    with np.load(tmp_path / "c.npz") as d:
        known = d["mask"]
        assert known[:, :20].all() and not known[:, 20:].any()
        assert np.array_equal(d["images"][:, known], np.broadcast_to(x0[known], (4, 20 * 28)))


def _mask_file(tmp_path, name, array):
    path = tmp_path / name
    Image.fromarray(array.astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("argv, match", [
    (["--mask", "WHITE"], "every pixel as known"),
    (["--mask", "BLACK"], "no pixel as known"),
    (["--mask", "BIG"], "30x28 pixels; it must be exactly 28x28"),
    (["--mask", "diagonal"], "must be one of top, bottom, left, right or an image file"),
    (["--mask", "top", "--rows", "28"], "rows"),
    (["--mask", "top", "--method", "repaint", "--sampler", "ddim"], "DDPM"),
    (["--mask", "top", "--n", "0"], "--n must be in 1..1000"),
    (["--mask", "top", "--steps", "0"], "--steps must be in 1.."),
    (["--mask", "top", "--resample", "0"], "--resample must be in 1.."),
    (["--mask", "top", "--index", "1000"], "--index must be in 0..999"),
])
def test_bad_input_one_line_exit_2(capsys, tmp_path, tiny_ckpt, argv, match):
    files = {"WHITE": _mask_file(tmp_path, "white.png", np.full((28, 28), 255)),
             "BLACK": _mask_file(tmp_path, "black.png", np.zeros((28, 28))),
             "BIG": _mask_file(tmp_path, "big.png", np.zeros((28, 30)))}
    argv = [str(files.get(a, a)) for a in argv]
    if "--index" not in argv:
        argv += ["--index", "0"]
    out = tmp_path / "c.npz"
    # argparse keeps the last of a repeated flag: the case's own --steps wins over this default
    code, stdout, err = run_cli(capsys, "inpaint", "--steps", 2, *argv, "--checkpoint", tiny_ckpt, "--out", out)
    assert code == 2
    assert match in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_bad_out_suffix_and_missing_mask(capsys, tmp_path):
    code, _, err = run_cli(capsys, "inpaint", "--index", 0, "--mask", "top", "--out", tmp_path / "c.jpg")
    assert code == 2 and "--out must end in .png, .gif, .npz" in err
    with pytest.raises(SystemExit) as info:       # argparse's own errors exit from inside it
        run_cli(capsys, "inpaint", "--index", 0, "--out", tmp_path / "c.npz")
    err = capsys.readouterr().err
    assert info.value.code == 2 and "required: --mask" in err and err.count("\n") == 1
