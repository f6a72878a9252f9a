"""`reconstruct --n N`: N completions of one x_t in the .npz / .png / --json, and a bad --n exits 2."""
import numpy as np
import pytest
from PIL import Image

from cli_helpers import run_cli, run_json, tiny_ckpt  # noqa: F401  (tiny_ckpt: a fixture)


@pytest.mark.slow
def test_n_completions_in_npz_and_json(tmp_path, capsys, tiny_ckpt):
    report = run_json(capsys, "reconstruct", "--index", "7", "--t", "60", "--steps", "4", "--n", "3",
                      "--sampler", "ddpm", "--seed", "5", "--checkpoint", str(tiny_ckpt),
                      "--out", str(tmp_path / "r.npz"))
    a = np.load(tmp_path / "r.npz")
    assert a["images"].shape == (3, 28, 28) and a["images"].dtype == np.uint8
    assert a["probabilities"].shape == (3, 10) and a["readings"].shape == (3,)
    np.testing.assert_allclose(a["probabilities"].sum(1), 1.0, atol=1e-5)
    assert report["n"] == 3 and report["readings"] == a["readings"].tolist()
    assert report["readings"] == a["probabilities"].argmax(1).tolist()
    assert len(report["probabilities"]) == 3 and len(report["settled_at_t"]) == 3
    # DDPM 4 steps from 60 runs its network at t = 60, 45, 30, 15: a settle step is one of them
    assert set(report["settled_at_t"]) <= {60, 45, 30, 15}
    assert np.array_equal(a["settled_at_t"], report["settled_at_t"])
    assert np.array_equal(a["reconstruction"], a["images"][0])
    # three seeds, three different completions
    assert not np.array_equal(a["images"][0], a["images"][1])


def test_completion_k_is_the_plain_sampler_with_seed_s_plus_1_plus_k(tmp_path, capsys, tiny_ckpt):
    import torch

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.checkpoint import load_model
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import generator_for, make_eps_fn, sample
    from ddpm_desktop.core.schedule import NoiseSchedule

    assert run_cli(capsys, "reconstruct", "--index", "2", "--t", "40", "--steps", "3", "--n", "2", "--sampler",
                   "ddpm", "--seed", "9", "--checkpoint", str(tiny_ckpt), "--out", str(tmp_path / "r.npz"))[0] == 0
    model, _ = load_model(tiny_ckpt)
    sched = NoiseSchedule.default()
    x0 = torch.from_numpy(imaging.to_model_range(load_bundled_mnist("test").images[2]))[None, None]
    x_t = q_sample(sched, x0, 40, generator=generator_for(9))
    for k in range(2):
        alone = sample("ddpm", make_eps_fn(model, sched), sched, x_t, steps=3, t_start=40,
                       generator=generator_for(10 + k))
        got = np.load(tmp_path / "r.npz")["images"][k].astype(int)
        assert np.abs(got - imaging.to_uint8(alone[0, 0].numpy()).astype(int)).max() <= 1


def test_n_completions_png_grid(tmp_path, capsys, tiny_ckpt):
    assert run_cli(capsys, "reconstruct", "--index", "1", "--t", "30", "--steps", "2", "--n", "4", "--sampler",
                   "ddim", "--eta", "1", "--checkpoint", str(tiny_ckpt), "--out", str(tmp_path / "r.png"))[0] == 0
    single = tmp_path / "one.png"
    assert run_cli(capsys, "reconstruct", "--index", "1", "--t", "30", "--steps", "2",
                   "--checkpoint", str(tiny_ckpt), "--out", str(single))[0] == 0
    # input | noised | 4 completions, against input | noised | reconstruction: 6 tiles vs 3
    w6, w3 = Image.open(tmp_path / "r.png").size[0], Image.open(single).size[0]
    assert w6 > 1.8 * w3


@pytest.mark.parametrize("extra, needle", [
    (["--n", "0"], "--n must be in 1..1000"),
    (["--n", "-4"], "--n must be in 1..1000"),
    (["--n", "100000000"], "--n must be in 1..1000"),
    (["--n", "3", "--sampler", "dpmpp"], "deterministic"),
    (["--n", "3", "--sampler", "ddim"], "deterministic"),
])
def test_bad_n_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, tiny_ckpt, extra, needle):
    out = tmp_path / "r.npz"
    code, _, err = run_cli(capsys, "reconstruct", "--index", "0", "--t", "10", "--checkpoint", str(tiny_ckpt),
                           "--out", str(out), *extra)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
