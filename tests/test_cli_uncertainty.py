"""`ddpm-desktop uncertainty`: --json directions and variances at reconstruct's x_t; bad input exits 2."""
import numpy as np
import pytest

from cli_helpers import run_cli, run_json, tiny_ckpt  # noqa: F401  (tiny_ckpt: a fixture)


def test_zero_network_posterior_is_isotropic_with_the_gaussian_prior_variance(capsys, tiny_ckpt):
    # ε̂ = 0 everywhere (a fresh UNet's zero output layer) makes the Jacobian term vanish:
    # Cov[x_0 | x_t] = (1 - ᾱ_t)/ᾱ_t I, every direction has that variance, and x̂_0 = x_t/√ᾱ_t.
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import generator_for
    from ddpm_desktop.core.schedule import NoiseSchedule

    report = run_json(capsys, "uncertainty", "--index", "5", "--t", "200", "--k", "3", "--seed", "4",
                      "--checkpoint", tiny_ckpt, "--iterations", "1")
    schedule = NoiseSchedule.default()
    ab = schedule.alpha_bar(200)
    np.testing.assert_allclose(report["variances"], [(1 - ab) / ab] * 3, rtol=1e-4)
    d = np.array(report["directions"])
    assert d.shape == (3, 784)
    np.testing.assert_allclose(d @ d.T, np.eye(3), atol=1e-5)
    # the centre is x̂_0 of reconstruct's x_t (same digit, t and seed)
    import torch

    x0 = torch.as_tensor(imaging.to_model_range(load_bundled_mnist("test").images[5]))[None, None]
    x_t = q_sample(schedule, x0, 200, generator=generator_for(4))
    np.testing.assert_allclose(report["x0_mean"], (x_t / ab ** 0.5).reshape(-1).numpy(), atol=2e-5)


@pytest.mark.parametrize("extra, needle", [
    (["--t", "0"], "--t"),
    (["--t", "5", "--k", "0"], "--k"),
    (["--t", "5", "--iterations", "-1"], "--iterations"),
    (["--t", "5", "--label", "12"], "--label"),
])
def test_bad_options_exit_2_in_one_line(capsys, tiny_ckpt, extra, needle):
    code, out, err = run_cli(capsys, "uncertainty", "--index", "1", "--checkpoint", tiny_ckpt, *extra)
    assert code == 2 and out == "" and needle in err and err.count("\n") == 1


def test_index_out_of_range_exits_2(capsys, tiny_ckpt):
    code, _, err = run_cli(capsys, "uncertainty", "--index", "100000", "--t", "5", "--checkpoint", tiny_ckpt)
    assert code == 2 and "--index" in err


def test_a_label_conditions_every_batched_call(capsys, tiny_ckpt):
    # the iteration runs k + oversample copies of the image in one call: the label must cover them
    report = run_json(capsys, "uncertainty", "--index", "2", "--t", "50", "--k", "2", "--label", "3",
                      "--guidance", "2", "--iterations", "1", "--checkpoint", tiny_ckpt)
    assert len(report["variances"]) == 2


def test_out_png_has_a_row_per_direction(tmp_path, capsys, tiny_ckpt):
    from PIL import Image

    code, out, _ = run_cli(capsys, "uncertainty", "--index", "2", "--t", "50", "--k", "2", "--iterations", "1",
                           "--checkpoint", tiny_ckpt, "--out", tmp_path / "u.png")
    assert code == 0
    # 3 tiles a row (x̂_0 - 2σd, x̂_0, x̂_0 + 2σd), 2 rows, 28 px tiles with 2 px gaps, 4x
    assert Image.open(tmp_path / "u.png").size == (4 * (3 * 28 + 4 * 2), 4 * (2 * 28 + 3 * 2))
    code, _, err = run_cli(capsys, "uncertainty", "--index", "2", "--t", "50", "--checkpoint", tiny_ckpt,
                           "--out", tmp_path / "u.gif")
    assert code == 2 and ".png" in err
