"""`ddpm-desktop likelihood`: --json bits/dim against the closed form of an ε̂ = 0 network, bad input exits 2."""
import math

import numpy as np
import pytest

from cli_helpers import run_cli, run_json, tiny_ckpt, write_digits_npz  # noqa: F401  (tiny_ckpt: a fixture)


@pytest.fixture
def digits_npz(tmp_path):
    return write_digits_npz(tmp_path, 2)


def test_zero_network_gives_the_density_of_the_scaled_prior(capsys, tiny_ckpt, digits_npz):
    # A fresh UNet outputs ε̂ = 0 (zero output layer): the flow only rescales, x(λ) = x_0 α(λ)/α(λ_max),
    # so the model's density is N(0, (α_max/α_min)² I) and bits/dim have a closed form.
    from ddpm_desktop.core.schedule import NoiseSchedule

    report = run_json(capsys, "likelihood", digits_npz, "--checkpoint", tiny_ckpt, "--steps", "24",
                      "--log-snr-max", "10")
    lam_min = float(NoiseSchedule.default().log_snr[-1])
    scale = math.sqrt((1 + math.exp(-lam_min)) / (1 + math.exp(-10.0)))     # α_max / α_min
    x0 = np.load(digits_npz)["images"].reshape(2, -1) / 127.5 - 1.0
    log_p = (-0.5 * (x0 / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)).sum(1)
    want = -log_p / (784 * math.log(2)) + math.log2(127.5)
    np.testing.assert_allclose(report["bits_per_dim"], want, atol=2e-4)


def test_vlb_and_one_image_file(tmp_path, capsys, tiny_ckpt):
    from PIL import Image

    from ddpm_desktop.core.data import load_bundled_mnist

    Image.fromarray(load_bundled_mnist("test").images[3]).save(tmp_path / "d.png")
    report = run_json(capsys, "likelihood", tmp_path / "d.png", "--checkpoint", tiny_ckpt, "--steps", "2",
                      "--vlb", "--vlb-steps", "5")
    assert len(report["bits_per_dim"]) == 1 and len(report["vlb_bits_per_dim"]) == 1
    assert report["vlb_bits_per_dim"][0] > 0
    # 5 steps evenly spaced in 2..T; the total is prior + decoder + (T - 1)/5 × the sum of the terms
    assert report["vlb_t"] == [2, 252, 501, 750, 1000]
    terms = np.array(report["vlb_terms"])
    assert terms.shape == (5, 1) and np.all(terms >= 0)
    total = report["vlb_prior"][0] + report["vlb_decoder"][0] + 999 / 5 * terms.sum()
    assert total == pytest.approx(report["vlb_bits_per_dim"][0], rel=1e-4)


@pytest.mark.parametrize("extra, needle", [
    (["--steps", "0"], "--steps"),
    (["--probes", "0"], "--probes"),
    (["--log-snr-max", "-30"], "--log-snr-max"),
    (["--log-snr-max", "nan"], "--log-snr-max"),
    (["--label", "x"], "--label"),
])
def test_bad_options_exit_2_in_one_line(capsys, tiny_ckpt, digits_npz, extra, needle):
    code, out, err = run_cli(capsys, "likelihood", digits_npz, "--checkpoint", tiny_ckpt, *extra)
    assert code == 2 and out == "" and needle in err and err.count("\n") == 1


def test_bad_file_exits_2(tmp_path, capsys, tiny_ckpt):
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((1, 28, 28), np.int16))
    code, _, err = run_cli(capsys, "likelihood", bad, "--checkpoint", tiny_ckpt)
    assert code == 2 and "uint8" in err and err.count("\n") == 1



def test_a_label_conditions_every_probe(capsys, tiny_ckpt, digits_npz):
    report = run_json(capsys, "likelihood", digits_npz, "--checkpoint", tiny_ckpt, "--steps", "1",
                      "--probes", "3", "--label", "4")
    assert len(report["bits_per_dim"]) == 2
    assert "more_likely_than_held_out" not in report    # another model: no placement
