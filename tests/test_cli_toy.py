"""`ddpm-desktop toy`: 2-D diffusion headless: its outputs (.npz, .png, .gif) and its errors
(one line, exit 2, nothing written)."""
import numpy as np
import pytest
from PIL import Image

from ddpm_desktop.core import toy2d
from ddpm_desktop.core.sampling import generator_for

from cli_helpers import run_cli, run_json


def test_exact_mixture_samples_match_the_mixture(capsys, tmp_path):
    out = tmp_path / "ring.npz"
    d = run_json(capsys, "toy", "--data", "ring8", "--model", "exact", "--sampler", "ddim",
                 "--steps", "50", "--n", "1000", "--out", str(out))
    pts = np.load(out)["points"]
    assert pts.shape == (1000, 2) and pts.dtype == np.float32
    assert set(np.load(out).files) == {"points"}
    # the exact denoiser's DDIM lands on the ring: radius 2, within the components' spread
    r = np.linalg.norm(pts, axis=1)
    assert abs(np.median(r) - 2.0) < 0.1
    # as close to the data as another data sample is (an independent sample of RING8)
    ref = toy2d.RING8.sample(1000, generator_for(123))
    other = toy2d.RING8.sample(1000, generator_for(321))
    assert toy2d.sliced_wasserstein(pts, ref) < 2.0 * toy2d.sliced_wasserstein(other, ref)
    assert d["model"] == "exact" and d["nfe"] == 50 and d["out"] == str(out)


@pytest.mark.slow
def test_learned_model_trains_for_the_time_given(capsys, tmp_path):
    d = run_json(capsys, "toy", "--data", "moons", "--train-seconds", "1", "--n", "300",
                 "--out", str(tmp_path / "m.npz"))
    assert d["model"] == "learned" and d["train"]["steps"] >= 50
    assert np.load(tmp_path / "m.npz")["points"].shape == (300, 2)


def test_data_only_writes_the_data(capsys, tmp_path):
    run_json(capsys, "toy", "--data", "checkerboard", "--data-only", "--n", "500", "--seed", "3",
             "--out", str(tmp_path / "c.npz"))
    pts = np.load(tmp_path / "c.npz")["points"]
    np.testing.assert_array_equal(pts, toy2d.sample_data("checkerboard", 500, generator_for(3)))


def test_mnist_latent_class_samples_with_decoded_images(capsys, tmp_path):
    out = tmp_path / "lat.npz"
    d = run_json(capsys, "toy", "--data", "mnist-latent", "--label", "1", "--n", "40",
                 "--sampler", "ddim", "--steps", "30", "--out", str(out))
    z = np.load(out)
    assert z["points"].shape == (40, 2) and z["images"].shape == (40, 28, 28)
    assert z["images"].dtype == np.uint8 and (z["labels"] == 1).all()
    from ddpm_desktop.core.latent import bundled_latent

    np.testing.assert_array_equal(z["images"], bundled_latent().decode(z["points"]))
    assert d["label"] == 1 and 0.0 <= d["classifier_agrees_with_label"] <= 1.0
    # all classes, cycled; --data-only gives bundled digits with their own labels
    run_json(capsys, "toy", "--data", "mnist-latent", "--data-only", "--n", "20",
             "--out", str(tmp_path / "d.npz"))
    dd = np.load(tmp_path / "d.npz")
    from ddpm_desktop.core.data import load_bundled_mnist

    train = load_bundled_mnist("train")
    for img, lab in zip(dd["images"][:5], dd["labels"][:5]):
        match = np.flatnonzero((train.images == img).all(axis=(1, 2)))
        assert len(match) and train.labels[match[0]] == lab


@pytest.mark.slow
def test_png_and_gif_outputs(capsys, tmp_path):
    run_json(capsys, "toy", "--data", "gmm", "--model", "exact", "--sampler", "ddpm",
             "--steps", "40", "--n", "400", "--out", str(tmp_path / "g.gif"))
    im = Image.open(tmp_path / "g.gif")
    assert im.n_frames >= 30
    run_json(capsys, "toy", "--data", "moons", "--data-only", "--out", str(tmp_path / "m.png"))
    assert Image.open(tmp_path / "m.png").size == (480, 528)


@pytest.mark.parametrize("args, message", [
    (["--data", "moons", "--model", "exact"], "--model exact needs a Gaussian mixture"),
    (["--data", "swissroll", "--label", "3"], "--label applies to --data mnist-latent only"),
    (["--data", "mnist-latent", "--label", "12"], "--label must be a class 0-9"),
    (["--data", "mnist-latent", "--label", "x"], "--label must be a class 0-9"),
    (["--data", "mnist-latent", "--train-seconds", "2"], "does not apply to mnist-latent"),
    (["--data", "mnist-latent", "--model", "exact"], "--model exact needs a Gaussian mixture"),
    (["--data", "ring8", "--model", "exact", "--train-seconds", "2"], "does not apply to --model exact"),
    (["--data", "moons", "--train-seconds", "0"], "--train-seconds must be in"),
    (["--data", "moons", "--n", "0"], "--n must be in 1..100000"),
    (["--data", "moons", "--steps", "5000"], "--steps must be in 1..1000"),
    (["--data", "moons", "--data-only", "--model", "learned"], "--data-only writes the data"),
    (["--data", "moons", "--eta", "2"], "--eta must be in [0, 1]"),
])
def test_bad_values_exit_2_in_one_line(capsys, tmp_path, args, message):
    out = tmp_path / "x.npz"
    code, stdout, err = run_cli(capsys, "toy", *args, "--out", str(out))
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_bad_output_and_choices_exit_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "toy", "--data", "moons", "--out", str(tmp_path / "x.txt"))
    assert code == 2 and "--out must end in .npz, .png, .gif" in err
    with pytest.raises(SystemExit) as e:
        run_cli(capsys, "toy", "--data", "spiral", "--out", str(tmp_path / "x.npz"))
    assert e.value.code == 2


@pytest.mark.slow
def test_latent_gif_of_one_class_draws_its_field(capsys, tmp_path):
    """The export's arrows evaluate the asked class's field on their own grid: the sampler's
    per-particle labels (a different batch size) once made this raise a size mismatch."""
    code, out, err = run_cli(capsys, "toy", "--data", "mnist-latent", "--label", "2", "--steps", "10",
                             "--n", "50", "--out", str(tmp_path / "l.gif"))
    assert code == 0, err
    im = Image.open(tmp_path / "l.gif")
    assert im.n_frames > 1
