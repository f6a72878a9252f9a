"""`ddpm-desktop classify`: one JSON reading a picture, "not a digit" for what is not one, and
one-line errors (exit 2) naming the whole path."""
import json

import numpy as np
from PIL import Image

from ddpm_desktop.core import nondigits
from ddpm_desktop.core.data import load_bundled_mnist

from cli_helpers import run_cli, tiny_ckpt  # noqa: F401  (tiny_ckpt: a fixture)


def test_npz_and_pictures_read_in_order(tmp_path, capsys):
    test = load_bundled_mnist("test")
    idx = [1, 301, 701]  # held-out half B
    images = np.concatenate([np.asarray(test.images)[idx],
                             nondigits.white_fills(np.random.default_rng(0), 1),
                             nondigits.noise(np.random.default_rng(0), 1)])
    np.savez(tmp_path / "mix.npz", images=images)
    Image.fromarray(np.asarray(test.images)[idx[0]]).resize((112, 112)).save(tmp_path / "d.png")
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")  # a white sheet: no ink at all
    code, out, err = run_cli(capsys, "classify", str(tmp_path / "mix.npz"), str(tmp_path / "d.png"),
                             str(tmp_path / "blank.png"), "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 7 and all(set(r) == {"label", "p", "digit"} for r in rows)
    labels = [int(test.labels[i]) for i in idx]
    assert [r["label"] for r in rows[:3]] == labels and all(r["digit"] for r in rows[:3])
    assert rows[3] == {**rows[3], "label": None, "digit": False}
    assert rows[4]["label"] is None and not rows[4]["digit"]
    assert rows[5]["label"] == labels[0] and rows[5]["digit"]
    assert rows[6]["label"] is None and not rows[6]["digit"]
    assert all(0.0 <= r["p"] <= 1.0 for r in rows)


def test_text_output_says_not_a_digit(tmp_path, capsys):
    np.savez(tmp_path / "c.npz", images=nondigits.checkerboards(np.random.default_rng(1), 1))
    code, out, _ = run_cli(capsys, "classify", str(tmp_path / "c.npz"))
    assert code == 0 and "c.npz[0]: not a digit" in out


def test_bad_inputs_are_one_line_errors_naming_the_path(tmp_path, capsys):
    np.savez(tmp_path / "noimages.npz", pictures=np.zeros((1, 28, 28), np.uint8))
    np.savez(tmp_path / "float.npz", images=np.zeros((2, 28, 28), np.float32))
    np.savez(tmp_path / "shape.npz", images=np.zeros((2, 32, 32), np.uint8))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    for name, words in (("/nonexistent.png", "'/nonexistent.png'"), ("/nonexistent.npz", "'/nonexistent.npz'"),
                        (tmp_path / "noimages.npz", "no 'images'"), (tmp_path / "float.npz", "uint8"),
                        (tmp_path / "shape.npz", "[N >= 1, 28, 28]"), (tmp_path / "junk.npz", "not an .npz"),
                        (tmp_path / "junk.png", str(tmp_path / "junk.png"))):
        code, out, err = run_cli(capsys, "classify", str(name), "--json")
        assert code == 2 and out == "", name
        assert err.count("\n") == 1 and words in err, err


def test_reconstruct_says_whether_its_result_is_a_digit(tmp_path, capsys, tiny_ckpt):
    """An untrained network from pure noise makes noise (the softmax alone read it as a digit
    with p near 1); from t = 3 the digit comes back nearly untouched."""
    reports = {}
    for t in (3, 1000):
        code, out, err = run_cli(capsys, "reconstruct", "--index", "1", "--t", str(t), "--steps", "3",
                                 "--sampler", "ddpm", "--n", "2", "--checkpoint", str(tiny_ckpt),
                                 "--out", str(tmp_path / f"r{t}.npz"), "--json")
        assert code == 0, err
        reports[t] = json.loads(out)
        assert np.load(tmp_path / f"r{t}.npz")["digits"].tolist() == reports[t]["digits"]
    assert reports[3]["digits"] == [True, True]
    assert reports[1000]["digits"] == [False, False]
