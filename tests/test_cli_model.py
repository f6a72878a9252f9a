"""The model commands end to end on a tiny checkpoint: train, sample, reconstruct, torchrun."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cli_helpers import run_cli, run_json, tiny_ckpt  # noqa: F401  (tiny_ckpt: a fixture)


@pytest.mark.slow
def test_sample_writes_png_gif_and_npz(tmp_path, capsys, tiny_ckpt):
    report = run_json(capsys, "sample", "--checkpoint", str(tiny_ckpt), "--n", "4", "--steps", "3",
                      "--label", "all", "--out", str(tmp_path / "s.npz"))
    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE

    assert report["nfe"] == 3 and report["n"] == 4 and report["guidance"] == DEFAULT_GUIDANCE
    assert report["guided"] is (DEFAULT_GUIDANCE not in (0.0, 1.0))
    arrays = np.load(tmp_path / "s.npz")
    assert arrays["images"].shape == (4, 28, 28) and arrays["images"].dtype == np.uint8
    assert arrays["labels"].tolist() == [0, 1, 2, 3]

    assert run_cli(capsys, "sample", "--checkpoint", str(tiny_ckpt), "--n", "4", "--steps", "2",
                   "--sampler", "ddim", "--out", str(tmp_path / "s.png"))[0] == 0
    assert Image.open(tmp_path / "s.png").size[0] > 56

    assert run_cli(capsys, "sample", "--checkpoint", str(tiny_ckpt), "--n", "2", "--steps", "4",
                   "--out", str(tmp_path / "s.gif"), "--fps", "10")[0] == 0
    gif = Image.open(tmp_path / "s.gif")
    assert gif.n_frames >= 2  # the start state and the steps (identical frames may merge)
    arrays2 = np.load(tmp_path / "s.npz")
    assert np.array_equal(arrays["images"], arrays2["images"])


def test_sample_is_deterministic_under_a_seed(tmp_path, capsys, tiny_ckpt):
    for name in ("a", "b"):
        run_cli(capsys, "sample", "--checkpoint", str(tiny_ckpt), "--n", "2", "--steps", "3", "--sampler",
                "ddpm", "--seed", "5", "--out", str(tmp_path / f"{name}.npz"))
    assert np.array_equal(np.load(tmp_path / "a.npz")["images"], np.load(tmp_path / "b.npz")["images"])


def test_reconstruct_reports_mse_and_saves_input_and_output(tmp_path, capsys, tiny_ckpt):
    report = run_json(capsys, "reconstruct", "--index", "7", "--t", "50", "--steps", "3",
                      "--checkpoint", str(tiny_ckpt), "--out", str(tmp_path / "r.npz"))
    arrays = np.load(tmp_path / "r.npz")
    from ddpm_desktop.core.data import load_bundled_mnist

    assert np.array_equal(arrays["input"], load_bundled_mnist("test").images[7])
    mse = np.mean((arrays["reconstruction_float"] - arrays["input_float"]) ** 2)
    assert report["mse"] == pytest.approx(mse, rel=1e-4)
    assert report["label"] == int(load_bundled_mnist("test").labels[7])


@pytest.mark.parametrize("argv, needle", [
    (["sample", "--out", "x.jpg"], "--out must end in"),
    (["sample", "--n", "0", "--out", "x.png"], "--n must be"),
    (["sample", "--steps", "0", "--out", "x.png"], "--steps must be"),
    (["sample", "--label", "11", "--out", "x.png"], "--label"),
    (["sample", "--checkpoint", "nope.safetensors", "--out", "x.png"], "does not exist"),
    (["reconstruct", "--index", "5000", "--t", "10", "--out", "x.png"], "--index"),
    (["reconstruct", "--index", "1", "--t", "0", "--out", "x.png"], "--t must be"),
    (["train", "--steps", "0"], "--steps"),
    (["train", "--data", "no-such-dataset", "--steps", "1"], "unknown dataset"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, monkeypatch, tiny_ckpt, argv, needle):
    monkeypatch.chdir(tmp_path)
    if "--checkpoint" not in argv and argv[0] != "train":
        argv = argv + ["--checkpoint", str(tiny_ckpt)]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_train_command_writes_a_resumable_checkpoint_and_log(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    args = ["train", "--steps", "3", "--batch-size", "8", "--threads", "1", "--base-channels", "8",
            "--out", str(out), "--log", str(tmp_path / "log.csv"), "--log-every", "1"]
    assert run_cli(capsys, *args)[0] == 0
    from ddpm_desktop.core.checkpoint import read_metadata, state_path_for

    assert read_metadata(out)["step"] == 3 and state_path_for(out).is_file()
    args[2] = "5"
    assert run_cli(capsys, *args, "--resume", str(out))[0] == 0
    assert read_metadata(out)["step"] == 5
    rows = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert rows[0].startswith("step,loss") and [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]


@pytest.mark.slow
def test_torchrun_trains_data_parallel_with_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--rdzv-backend", "c10d", "--rdzv-endpoint", "localhost:0",
         "-m", "ddpm_desktop", "train", "--steps", "3", "--batch-size", "4", "--threads", "1",
         "--base-channels", "8", "--device", "cpu", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        start_new_session=True,  # so a hang kills the workers too, not just the launcher
    )
    try:
        _, stderr = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, stderr[-2000:]
    from ddpm_desktop.core.checkpoint import load_model

    model, meta = load_model(out)
    assert meta["step"] == 3 and meta["world_size"] == 2
    assert "x2 processes" in stderr


def test_crafted_checkpoint_ends_the_cli_with_exit_2_and_one_line(tmp_path, capsys, tiny_ckpt):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(tiny_ckpt), framework="pt") as f:
        meta = dict(f.metadata())
    cfg = json.loads(meta["model_config"])
    for field, value in [("dropout", "x"), ("log_snr_range", ["a", "b"]), ("emb_dim", 9), ("in_channels", 3)]:
        bad = tmp_path / f"bad-{field}.safetensors"
        save_file(load_file(str(tiny_ckpt)), str(bad),
                  metadata={**meta, "model_config": json.dumps({**cfg, field: value})})
        code, _, err = run_cli(capsys, "sample", "--checkpoint", str(bad), "--n", "1", "--steps", "1",
                               "--out", str(tmp_path / "s.png"))
        assert code == 2 and err.count("\n") == 1 and field in err and "Traceback" not in err, err
        assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("recipe, weighting, init, steps", [("fast", "min_snr", 0.5, 850),
                                                            ("bundled", "min_snr", 0.5, 6000),
                                                            ("plain", "eps", 0.02, 6000)])
def test_train_recipe_sets_the_loss_weighting_and_label_start(tmp_path, capsys, recipe, weighting, init, steps):
    """`--recipe` picks core.training.RECIPES; flags given override it, the others keep it."""
    import json

    from ddpm_desktop.core.checkpoint import read_metadata
    from ddpm_desktop.core.training import RECIPES

    out = tmp_path / "m.safetensors"
    assert run_cli(capsys, "train", "--recipe", recipe, "--steps", "2", "--batch-size", "4", "--threads", "1",
                   "--base-channels", "8", "--save-every", "0", "--p-uncond", "0.25", "--out", str(out))[0] == 0
    meta = read_metadata(out)
    config = meta["train_config"]
    config = json.loads(config) if isinstance(config, str) else config
    assert (config["loss_weighting"], config["label_init_std"]) == (weighting, init)
    assert (config["steps"], config["batch_size"], config["p_uncond"]) == (2, 4, 0.25)  # given: overridden
    assert config["lr"] == RECIPES[recipe]["lr"] and RECIPES[recipe]["steps"] == steps
