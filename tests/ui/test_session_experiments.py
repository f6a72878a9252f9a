"""session.experiments.apply sets the app up in one click; the Experiments menu lists them."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core import experiments
from ddpm_desktop.ui.session import Session


@pytest.fixture
def session(qtbot):
    s = Session()
    yield s
    s.shutdown()


def test_exponential_experiment_sets_schedule_and_start(session):
    session.schedule_state.set_params(kind="cosine", T=200)
    assert session.experiments.apply("poster-exponential")
    assert session.schedule_state.params["kind"] == "linear" and session.schedule.T == 1000
    assert session.input_state.start_name == "exponential"
    assert session.input_state.start_params == {"rate": 0.5}
    assert session.input_state.forward_from == "noise"


def test_forget_experiment_sets_the_sampler_lanes(session):
    assert session.experiments.apply("forget-xT")
    s = session.sampler.settings
    assert (s.sampler, s.compare, s.sampler_b, s.eta, s.steps) == ("ddpm", True, "ddim", 0.0, 100)
    digit, _ = experiments.bundled_digit()
    np.testing.assert_array_equal(session.input_state.digit, digit)


def test_unknown_experiment_is_one_line_error(qtbot, session):
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.experiments.apply("nope")
    assert "unknown experiment" in blocker.args[0]


def test_every_experiment_applies(session):
    for name in experiments.NAMES:
        assert session.experiments.apply(name), name
