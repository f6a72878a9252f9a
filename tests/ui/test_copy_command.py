"""Copy as command: the command the app puts on the clipboard, run through the CLI's main()
in-process, gives the pixels of the app's own reverse run (same seeds, same model)."""
from __future__ import annotations

import shlex

import numpy as np
import pytest

from ddpm_desktop import cli
from ddpm_desktop.core.reproduce import RunSpec, export_command, reverse_command
from ddpm_desktop.core import imaging
from ddpm_desktop.core.checkpoint import bundled_model_path, load_model
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.copy_command import export_command_for, reverse_command_for
from ddpm_desktop.ui.session import Session

pytestmark = pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")


@pytest.fixture(scope="module")
def model():
    return load_model(bundled_model_path(), device="cpu")[0]


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    s.device_state.set_device("cpu")
    yield s
    s.shutdown()


def _run_app(session, model, qtbot, **settings):
    session.sampler.update(**settings)
    with qtbot.waitSignal(session.reverse.run_finished, timeout=120_000) as blocker:
        session.set_model(model, "bundled model")  # a cheap run starts by itself
    assert blocker.args == [True]
    return session.reverse.lanes[0].x_t[-1]


def _run_cli(command: str, out) -> int:
    words = shlex.split(command)
    assert words[0] == "ddpm-desktop"
    argv = words[1:]
    argv[argv.index("--out") + 1] = str(out)
    return cli.main(argv)


@pytest.mark.slow
def test_a_sample_from_noise_reproduces_the_apps_pixels(session, model, qtbot, tmp_path):
    session.input_state.set_seed(5)
    session.input_state.set_start("uniform")
    session.schedule_state.set_params(T=400, kind="cosine")
    x0 = _run_app(session, model, qtbot, sampler="ddpm", steps=8, seed=11, label=3,
                  guidance=2.0, source="noise")
    command = reverse_command_for(session)
    assert " sample " in command and "--x-seed" in command and "--start uniform" in command
    assert _run_cli(command, tmp_path / "s.npz") == 0
    got = np.load(tmp_path / "s.npz")["images"][0]
    assert got.std() > 10  # a digit, not a blank
    np.testing.assert_array_equal(got, imaging.to_uint8(x0))


@pytest.mark.slow
def test_a_reconstruction_reproduces_the_apps_pixels(session, model, qtbot, tmp_path):
    test = load_bundled_mnist("test")
    session.input_state.set_digit(imaging.to_model_range(test.images[42]), "MNIST test #42")
    session.input_state.set_seed(3)
    x0 = _run_app(session, model, qtbot, sampler="ddim", steps=6, eta=0.5, seed=7,
                  source="input", t_start=300)
    command = reverse_command_for(session)
    assert " reconstruct " in command and "--index 42" in command and "--noise-seed 3" in command
    assert _run_cli(command, tmp_path / "r.npz") == 0
    got = np.load(tmp_path / "r.npz")["reconstruction_float"]
    assert not np.array_equal(got, session.forward.frames[300])  # it was denoised
    np.testing.assert_array_equal(got, x0)


@pytest.mark.slow
def test_an_export_command_reproduces_the_apps_reverse_strip(session, model, qtbot, tmp_path):
    from PIL import Image

    from dataclasses import replace

    from ddpm_desktop.render.export_job import run_export
    from ddpm_desktop.ui.theme import dark_palette, plot_colors

    _run_app(session, model, qtbot, sampler="dpmpp", steps=5, seed=2, source="noise")
    session.export.update(what="reverse", format="png", scale=4, key_frames=4,
                          path=str(tmp_path / "app.png"))
    # the app's export in the CLI's --theme dark colours
    run_export(replace(session.exporter.job(), colors=plot_colors(dark_palette())))
    command = export_command_for(session, theme="dark")
    assert " export --chain reverse " in command and "--frames 4" in command
    assert _run_cli(command, tmp_path / "cli.png") == 0
    a = np.asarray(Image.open(tmp_path / "app.png").convert("RGB"))
    b = np.asarray(Image.open(tmp_path / "cli.png").convert("RGB"))
    np.testing.assert_array_equal(a, b)


def test_states_no_command_can_name_are_refused(session):
    session.input_state.set_digit(np.zeros((28, 28), np.float32), "drawn on the canvas")
    session.sampler.update(source="input")
    with pytest.raises(ValueError, match="bundled held-out digits"):
        reverse_command_for(session)
    session.model_state.set_model(object(), "trained here")
    with pytest.raises(ValueError, match="trained in this session"):
        reverse_command_for(session)


def test_the_builder_writes_floats_that_read_back_exactly():
    spec = RunSpec(schedule={"kind": "linear", "T": 1000, "beta_start": 1e-4,
                             "beta_end": 0.1 + 0.2}, sampler="ddim", eta=1 / 3, steps=None)
    words = shlex.split(reverse_command(spec))
    assert float(words[words.index("--beta-end") + 1]) == 0.1 + 0.2
    assert float(words[words.index("--eta") + 1]) == 1 / 3
    assert "--steps" not in words
    args = cli.build_parser().parse_args(words[1:])
    assert args.sampler == "ddim" and args.x_seed == 0 and args.T == 1000
    forward = shlex.split(export_command(RunSpec(digit_index=3, noise_seed=9), "forward",
                                         "f.gif"))
    assert forward[forward.index("--noise-seed") + 1] == "9" and "--sampler" not in forward
