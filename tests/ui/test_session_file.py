"""File > Save / Open session: every setting, seed and x_0 in one versioned JSON file; a bad or
newer file gives one clear line and changes nothing."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ddpm_desktop.core.snapshot import VERSION
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    yield s
    s.shutdown()


def _customise(s: Session) -> None:
    s.schedule_state.set_params(kind="cosine", T=321)
    digit = np.linspace(-1, 1, 784, dtype=np.float32).reshape(28, 28)
    s.input_state.set_digit(digit, "a test ramp", 4)
    s.input_state.set_start("exponential", rate=0.7)
    s.input_state.set_seed(1234)
    s.input_state.set_forward_from("noise")
    s.sampler.set_settings(SamplerSettings(sampler="ddim", steps=17, seed=9, label=3,
                                           guidance=2.5, eta=0.3, compare=True))
    s.training.update(batch_size=32, steps=777)
    s.export.update(format="png", scale=6)


def test_a_session_round_trips_through_its_file(qtbot, session, tmp_path):
    _customise(session)
    path = tmp_path / "s.json"
    assert session.files.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "ddpm-desktop-session" and data["version"] == VERSION

    other = Session(WorkerController())
    try:
        assert other.files.open(path)
        for attr in ("params",):
            assert getattr(other.schedule_state, attr) == getattr(session.schedule_state, attr)
        a, b = other.input_state, session.input_state
        assert (a.seed, a.start_name, a.start_params, a.forward_from, a.digit_label) == \
            (b.seed, b.start_name, b.start_params, b.forward_from, b.digit_label)
        np.testing.assert_allclose(a.digit, b.digit, atol=1e-6)
        assert other.sampler.settings == session.sampler.settings
        assert other.training.settings == session.training.settings
        assert other.export.settings == session.export.settings
        # the same settings and seeds give the same chain
        np.testing.assert_array_equal(other.forward.frames, session.forward.frames)
    finally:
        other.shutdown()


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(version=VERSION + 1), "newer version"),
    (lambda d: d.update(format="something else"), "not a ddpm-desktop session"),
    (lambda d: d["schedule"].update(T=10**6), "T = 1000000"),
    (lambda d: d["schedule"].update(beta_end=1.5), "beta_end"),
    (lambda d: d["input"].update(digit=[[0.0] * 27] * 28), "28 rows of 28"),
    (lambda d: d["input"].update(start="cauchy"), "input.start must be one of"),
    (lambda d: d["sampler"].update(steps=-3), "steps"),
    (lambda d: d["sampler"].update(bogus=1), "unknown field(s) in sampler: bogus"),
    (lambda d: d["training"].update(batch_size="lots"), "training.batch_size must be an integer"),
])
def test_a_bad_or_newer_file_changes_nothing(qtbot, session, tmp_path, edit, words):
    path = tmp_path / "s.json"
    session.files.save(path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    _customise(session)
    before = (session.schedule_state.params, session.sampler.settings, session.input_state.seed,
              session.training.settings)
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.files.open(path)
    message = blocker.args[0]
    assert words in message and "\n" not in message and "s.json" in message
    assert (session.schedule_state.params, session.sampler.settings, session.input_state.seed,
            session.training.settings) == before


def test_not_json_and_missing_files_say_so(qtbot, session, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_bytes(b"\x00\xffnot json")
    with qtbot.waitSignal(session.error) as blocker:
        session.files.open(bad)
    assert "not a session file" in blocker.args[0]
    with qtbot.waitSignal(session.error) as blocker:
        session.files.open(tmp_path / "missing.json")
    assert "missing.json" in blocker.args[0]
