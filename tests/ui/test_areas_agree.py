"""A change in one area reaches every area that depends on it: the state-drift cases a new
user met (a changed T, model, lesson step, sampler or experiment left another view showing
what no longer holds), each checked through the window or the session as the user drives it."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PySide6.QtCore import QObject

from ddpm_desktop.core.live import LIVE_T
from ddpm_desktop.core.model import ModelConfig, UNet
from ddpm_desktop.core.checkpoint import bundled_model_path, save_weights
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.main_window import MainWindow
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.widgets.maths_panel import MathsPanel

TINY = ModelConfig(base_channels=8, channel_mults=(1, 2), attention=False, emb_dim=16, groups=4)


class FakeModel(torch.nn.Module):
    """The UNet's call signature; ε̂ = factor·x."""

    null_label = 10

    def __init__(self, factor: float = 0.5) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x, log_snr, labels=None):
        return self.factor * x


@pytest.fixture
def window(qtbot):
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    yield w
    w.close()


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    yield s
    s.shutdown()


def test_live_from_t_follows_T_down_and_back_up(window):
    """T 1000 -> 50 caps the live t at 50; back to 1000 it is the chosen t again, in the view
    and in the job (it stayed 50 on screen while the job ran at the old t)."""
    s, view = window.session, window.live_view
    s.schedule_state.set_params(T=50)
    assert s.live.t == 50 and view.t_spin.value() == 50
    s.schedule_state.set_params(T=1000)
    assert s.live.t == LIVE_T and view.t_spin.value() == LIVE_T
    assert view.t_spin.maximum() == 1000


@pytest.mark.slow
@pytest.mark.skipif(bundled_model_path() is None, reason="no bundled model")
def test_training_panel_forgets_a_loaded_checkpoint_when_the_bundled_model_is_used(
        window, qtbot, tmp_path):
    s = window.session
    path = save_weights(tmp_path / "mine.safetensors", UNet(TINY), {"step": 7})
    assert s.trainer.load_checkpoint(str(path))
    assert "Loaded" in window.training_panel.status_label.text()
    assert s.load_bundled_model()
    qtbot.waitUntil(lambda: s.model_state.source == "bundled model" and not s.model_state.loading,
                    timeout=20_000)
    text = window.training_panel.status_label.text()
    assert "mine.safetensors" not in text and "bundled model" in text
    assert s.training.resumable_step == 0
    qtbot.waitUntil(lambda: not s.workers.is_running("student"), timeout=20_000)


def test_a_lesson_step_leaves_no_reverse_chain_of_other_settings(session, qtbot):
    session.set_model(FakeModel(), "fake")
    session.input_state.set_digit(np.full((28, 28), 0.3, dtype=np.float32), "grey")
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        assert session.request_sampling(SamplerSettings(sampler="ddim", steps=5))
    assert session.reverse.lanes
    assert session.lessons.open("forward")  # a step that does not run the reverse chain
    assert not session.lesson.step.setup.run
    assert session.reverse.lanes == [] and not session.reverse.running


def test_the_maths_panel_shows_the_distilled_sampler_and_its_own_steps(session, qtbot):
    """Choosing the distilled sampler raised "unknown sampler 'distilled'" from the panel, which
    then kept the previous DDIM run's "step 20 of 20" for a 4-step run."""
    panel = MathsPanel(session.forward, session.schedule_state, session.sampler, session.reverse)
    qtbot.addWidget(panel)
    session.set_model(FakeModel(0.5), "fake")
    session.model_state.set_student(FakeModel(0.2), {})
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        assert session.request_sampling(SamplerSettings(sampler="ddim", steps=20))
    panel.flush(force=True)
    assert "step 20 of 20" in panel.header_reverse.text()
    session.sampler.update(sampler="distilled", steps=20)
    panel.flush(force=True)  # the DDIM run is still on screen: its step, no error
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        assert session.request_sampling()
    panel.flush(force=True)
    header = panel.header_reverse.text()
    assert "Distilled" in header and "step 4 of 4" in header
    assert "σ = 0" in panel.rows["reverse.update"].value_label.text() or \
        "deterministic" in panel.rows["reverse.update"].value_label.text()


@pytest.mark.parametrize("name", ["poster-noise", "ddpm-linear"])
def test_after_a_poster_experiment_steps_shows_the_steps_the_run_takes(window, name):
    """Poster experiments sample every step (steps None): the box said 100000, its maximum,
    while the run took T = 1000 steps."""
    s = window.session
    assert s.experiments.apply(name)
    assert s.sampler.settings.steps is None
    assert window.sampler_panel.steps_spin.value() == s.schedule.T
    assert s.plan().n_steps == s.schedule.T
    s.schedule_state.set_params(T=300)
    assert window.sampler_panel.steps_spin.value() == 300
    # another edit keeps "every step": the planned count shown is not written back as a number
    window.sampler_panel.seed_spin.setValue(5)
    assert s.sampler.settings.seed == 5 and s.sampler.settings.steps is None


AREAS = {"trainer": "training", "exporter": "export", "inpainter": "inpaint",
         "completer": "completions", "decisions": "decision", "live_drawing": "live",
         "toy": "toy2d", "lessons": "lesson", "experiments": None, "distilled": None,
         "files": None}


def test_the_session_is_composed_of_areas(session):
    """Each area is an object of its own (not a base class of the session) whose state is the
    one the views know by name, and no area module describes what it needs from a host."""
    import ddpm_desktop.ui.session as session_module

    bases = {cls.__module__ for cls in type(session).__mro__}
    for area, state in AREAS.items():
        obj = getattr(session, area)
        assert obj.__module__ not in (None, "ddpm_desktop.ui.session")
        assert obj.__class__.__module__ not in bases
        if state is not None:
            assert getattr(session, state) is obj.state
        text = open(sys.modules[obj.__class__.__module__].__file__, encoding="utf-8").read()
        assert "Mixin" not in text and "from Session" not in text
    assert session_module.Session.__bases__ == (QObject,)
