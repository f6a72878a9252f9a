"""`ddpm-desktop kl`: the exact marginal KL, the estimate with its band, the conditional upper
bound and the histogram, for every start and its parameters."""
import math

import numpy as np
import pytest

from cli_helpers import run_cli, run_json


KEYS = {"exact_kl", "estimated_kl", "estimated_kl_spread", "conditional_kl", "histogram_kl",
        "indistinguishable_level", "bins", "range", "bias_floor", "params"}


def test_exponential_json(capsys):
    d = run_json(capsys, "kl", "--start", "exponential", "--seed", "1")
    assert set(d) >= KEYS
    for k in ("exact_kl", "estimated_kl", "conditional_kl", "histogram_kl"):
        assert len(d[k]) == 1001
    lam = 0.5  # closed form at t = 0: ln λ - 1 + ½ ln 2π + 1/λ²
    assert d["exact_kl"][0] == pytest.approx(math.log(lam) - 1 + 0.5 * math.log(2 * math.pi) + 1 / lam ** 2)
    assert d["conditional_kl"][0] is None  # q(x_0|x_0) is a point mass
    exact = np.array(d["exact_kl"])
    assert np.all(np.diff(exact) < 0)  # data processing: the forward chain only loses KL
    cond = np.array(d["conditional_kl"][1:], dtype=float)
    assert np.all(cond >= exact[1:])  # the upper bound
    # the estimate follows the exact curve within a few of its own spreads
    est, sd = np.array(d["estimated_kl"]), np.array(d["estimated_kl_spread"])
    assert np.mean(np.abs(est - exact) < 4 * sd) > 0.95
    assert d["indistinguishable_level"] == pytest.approx(0.0117, abs=2e-3)
    assert run_json(capsys, "kl", "--start", "exponential", "--seed", "1") == d  # seeded


@pytest.mark.parametrize("argv, start, params", [
    (["--rate", "2"], "exponential", {"rate": 2.0}),
    (["--half-width", "1"], "uniform", {"a": 1.0}),
    (["--scale", "0.5"], "laplace", {"scale": 0.5}),
    (["--amount", "0.3", "--value", "0.8"], "salt_pepper", {"amount": 0.3, "value": 0.8}),
    (["--mean", "-0.5", "--std", "2"], "shifted_gaussian", {"mean": -0.5, "std": 2.0}),
])
def test_every_start_takes_its_parameters(capsys, argv, start, params):
    d = run_json(capsys, "kl", "--start", start, *argv, "--T", "50")
    assert d["params"] == params
    from ddpm_desktop.core.marginal import marginal_kl_curve
    from ddpm_desktop.core.schedule import NoiseSchedule

    want = marginal_kl_curve(NoiseSchedule.named("linear", 50), start, **params)
    got = np.array([np.inf if v is None else v for v in d["exact_kl"]])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    if start == "salt_pepper":
        assert d["exact_kl"][0] is None and d["estimated_kl"][0] is None  # atoms: +inf
    if start == "shifted_gaussian":  # N(μ, s²) -> N(√ᾱ μ, ᾱ s² + 1 - ᾱ): closed form
        mu, sd = -0.5, 2.0
        assert d["exact_kl"][0] == pytest.approx(-math.log(sd) + (sd * sd + mu * mu) / 2 - 0.5)


def test_gaussian_start_is_exactly_zero_and_the_estimate_near_it(capsys):
    d = run_json(capsys, "kl", "--start", "gaussian", "--T", "100", "--schedule", "cosine")
    assert all(v == 0.0 for v in d["exact_kl"])
    est = np.array(d["estimated_kl"])
    assert abs(est.mean()) < 0.01 and np.mean(est < 3 * d["indistinguishable_level"]) > 0.95


@pytest.mark.parametrize("argv, message", [
    (["--start", "gaussian", "--rate", "2"], "--rate"),
    (["--start", "exponential", "--half-width", "1"], "--half-width"),
    (["--start", "laplace", "--scale", "-1"], "scale"),
    (["--start", "salt_pepper", "--amount", "2"], "amount"),
    (["--start", "shifted_gaussian", "--std", "0"], "std"),
])
def test_bad_parameters_are_one_line_errors(capsys, argv, message):
    code, out, err = run_cli(capsys, "kl", *argv, "--T", "10")
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_human_summary(capsys):
    code, out, err = run_cli(capsys, "kl", "--start", "laplace", "--T", "40")
    assert code == 0 and "upper bound" in out and "poster" in out
    assert any(line.split()[:1] == ["40"] for line in out.splitlines())


def test_image(capsys, tmp_path):
    from PIL import Image

    img = np.zeros((28, 28), np.uint8)
    img[5:23, 11:17] = 255
    path = tmp_path / "digit.png"
    Image.fromarray(img).save(path)
    d = run_json(capsys, "kl", "--start", "image", "--image", str(path), "--T", "100")
    assert d["exact_kl"][0] is None and d["estimated_kl"][0] is None  # discrete at t = 0
    exact = np.array(d["exact_kl"][1:])
    assert np.all(np.diff(exact) < 0)
    assert np.all(np.array(d["conditional_kl"][1:]) >= exact)
    code, _, err = run_cli(capsys, "kl", "--start", "image", "--image", str(tmp_path / "missing.png"))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [("--start", "gaussian", "--T", "100", "--schedule", "cosine"),
                                  ("--start", "salt_pepper", "--T", "50")])
def test_human_table_reads_below_the_level_and_infinity_in_words(capsys, argv):
    """The table reads as core.readout does: an estimate at or under the N(0, 1) level is "≈ 0"
    (its raw value in the note below the table), +∞ is "∞" with its reason, never "inf"."""
    from ddpm_desktop.core import readout

    d = run_json(capsys, "kl", *argv)
    code, out, _ = run_cli(capsys, "kl", *argv)
    assert code == 0 and "inf" not in out.split()
    rows = {int(line.split()[0]): line.split() for line in out.splitlines()
            if line.split()[:1] and line.split()[0].isdigit()}
    level = d["indistinguishable_level"]
    for t, cells in rows.items():
        est = d["estimated_kl"][t]
        if est is None:
            assert cells[2] == "∞"
        elif est <= level:
            assert cells[2:4] == ["≈", "0"]
            assert readout.number(est) in out  # the raw value, in the note
        else:
            assert float(cells[2]) == pytest.approx(est, rel=1e-3)
    assert f"∞ at t = 0 (conditional): {readout.POINT_MASS}" in out
    if d["exact_kl"][0] is None:
        assert f"∞ at t = 0 (exact, estimate): {readout.NO_DENSITY}" in out


def test_the_chain_of_a_seed_is_the_apps(capsys, tmp_path):
    """`kl --seed S` runs the forward chain the app shows for input seed S: the app's frames are
    forward_frames of its NoiseCache's noises (ui.session.recompute_forward), and every KL the
    command prints is that chain's."""
    from PIL import Image

    from ddpm_desktop.core.forward import NoiseCache, forward_frames
    from ddpm_desktop.core.imaging import load_digit
    from ddpm_desktop.core.kl import estimated_kl_band_batch, histogram_kl_batch
    from ddpm_desktop.core.schedule import NoiseSchedule

    img = np.zeros((28, 28), np.uint8)
    img[6:22, 9:19] = 255
    path = tmp_path / "digit.png"
    Image.fromarray(img).save(path)
    d = run_json(capsys, "kl", "--start", "image", "--image", str(path), "--T", "200", "--seed", "3")
    frames = forward_frames(NoiseSchedule.named("linear", 200), load_digit(str(path)),
                            NoiseCache().get(3, 200)).reshape(201, -1)
    est, spread = estimated_kl_band_batch(frames)
    got = np.array([np.inf if v is None else v for v in d["estimated_kl"]])
    np.testing.assert_array_equal(got, est)
    np.testing.assert_array_equal(np.array(d["histogram_kl"]), histogram_kl_batch(frames))
    other = run_json(capsys, "kl", "--start", "image", "--image", str(path), "--T", "200", "--seed", "4")
    assert other["estimated_kl"][1:] != d["estimated_kl"][1:]


def test_a_noise_start_is_the_apps_x_T(capsys):
    """`kl --start exponential --seed S` starts from the x_T the app draws for input seed S
    (ui.session.start_noise: draw_start of S + START_SEED_OFFSET) and runs the app's chain."""
    from ddpm_desktop.core.forward import START_SEED_OFFSET, NoiseCache, draw_start, forward_frames
    from ddpm_desktop.core.kl import estimated_kl_band_batch
    from ddpm_desktop.core.schedule import NoiseSchedule

    d = run_json(capsys, "kl", "--start", "exponential", "--rate", "2", "--T", "100", "--seed", "5")
    x0 = draw_start("exponential", (28, 28), 5 + START_SEED_OFFSET, rate=2.0)
    frames = forward_frames(NoiseSchedule.named("linear", 100), x0, NoiseCache().get(5, 100))
    est, _ = estimated_kl_band_batch(frames.reshape(101, -1))
    np.testing.assert_array_equal(np.array(d["estimated_kl"], dtype=float), est)
