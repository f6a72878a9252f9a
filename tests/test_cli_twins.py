"""`ddpm-desktop twins`: two tiny stand-in models in place of the bundled pair, the JSON against
an independent recomputation (each model sampled alone, distances by scipy's cdist), and its
refusals."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from ddpm_desktop.core import checkpoint, sampling
from ddpm_desktop.core.data import load_bundled_mnist, subset_rows
from ddpm_desktop.core.schedule import NoiseSchedule

from cli_helpers import installed, run_cli, run_json, stand_ins  # noqa: F401  (installed, stand_ins: fixtures)


def _alone(path, n, seed, steps, guidance):
    model, _ = checkpoint.load_model(path)
    schedule = NoiseSchedule.default()
    x_T = torch.randn((n, 1, 28, 28), generator=sampling.generator_for(seed))
    eps_fn = sampling.make_eps_fn(model, schedule, labels=torch.arange(n) % 10, guidance=guidance)
    with torch.no_grad():
        return sampling.sample("dpmpp", eps_fn, schedule, x_T, steps=steps)[:, 0].numpy()


def test_json_matches_each_model_sampled_alone(installed, capsys):
    d = run_json(capsys, "twins", "--pair", "few", "--n", "3", "--seed", "4",
                 "--steps", "5", "--guidance", "2", "--threads", "1")
    assert d["models"] == ["few-a", "few-b"] and d["n"] == 3 and len(d["pairs"]) == 3
    a = _alone(installed["few-a"], 3, 4, 5, 2.0)
    b = _alone(installed["few-b"], 3, 4, 5, 2.0)
    to01 = lambda x: np.clip((x.reshape(len(x), -1).astype(np.float64) + 1) / 2, 0, 1)  # noqa: E731
    with np.load("resources/mnist.npz") as f:
        file_images, split = f["images"], f["split"]
    train = load_bundled_mnist("train")
    train01 = train.images.reshape(len(train.images), -1) / 255.0
    d_ab = np.diag(cdist(to01(a), to01(b)))
    for side, x, offset in (("a", a, 2 * 64), ("b", b, 3 * 64)):
        dist = cdist(to01(x), train01)
        for i, r in enumerate(d["pairs"]):
            assert r[f"d1_{side}"] == pytest.approx(dist[i].min(), rel=1e-5)
            # `nearest` is a training row of resources/mnist.npz, as `copies` reports it
            assert split[r[f"nearest_{side}"]] == 0
            diff = file_images[r[f"nearest_{side}"]].reshape(-1) / 255.0 - to01(x)[i]
            assert np.sqrt((diff ** 2).sum()) == pytest.approx(dist[i].min(), rel=1e-5)
            assert r[f"own_{side}"] == (dist[i].argmin() in subset_rows(9000, 64, 0, offset))
    assert [r["d_ab"] for r in d["pairs"]] == pytest.approx(d_ab.tolist(), rel=1e-5)
    assert d["median"]["median_d_ab"] == pytest.approx(np.median(d_ab), rel=1e-5)
    assert [r["label"] for r in d["pairs"]] == [0, 1, 2]


def test_table_prints_each_pair_and_the_medians(installed, capsys):
    code, out, _ = run_cli(capsys, "twins", "--n", "2", "--steps", "3", "--label", "none",
                           "--threads", "1")
    assert code == 0
    lines = out.strip().splitlines()
    assert "twin-a and twin-b" in lines[0]
    assert "d(a,b)" in lines[1] and "d1(a)" in lines[1] and "d1(b)" in lines[1]
    assert lines[-1].startswith("median") and len(lines) == 2 + 2 + 1


def test_a_missing_model_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint, "subset_model_path", lambda name: tmp_path / f"{name}.safetensors")
    code, out, err = run_cli(capsys, "twins", "--n", "1")
    assert code == 2 and "'twin-a' is not installed" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--n", "0"], "--n must be in"),
    (["--label", "12"], "--label must be a class"),
    (["--label", "x"], "--label must be a class"),
    (["--steps", "0"], "--steps must be in"),
])
def test_bad_arguments_exit_2(installed, capsys, argv, message):
    code, _, err = run_cli(capsys, "twins", *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_an_unknown_pair_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(capsys, "twins", "--pair", "triplet")
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
