"""File > Open session with hostile files: each is refused in one line naming the file and the
field, and nothing in the session changes (validated completely, then applied all at once)."""
from __future__ import annotations

import json

import pytest

from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    yield s
    s.shutdown()


def _state(s: Session):
    return (dict(s.schedule_state.params), s.sampler.settings, s.training.settings,
            s.export.settings, s.input_state.seed, s.input_state.start_name,
            dict(s.input_state.start_params), s.input_state.digit.tobytes())


def _set(d: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        d = d.setdefault(key, {})
    d[last] = value


CASES = [
    ("sampler.steps", 10**20, "sampler.steps"),
    ("sampler.steps", 1e30, "sampler.steps"),
    ("sampler.compare", "yes", "sampler.compare"),
    ("sampler.compare", "no", "sampler.compare"),
    ("training.conditional", "false", "training.conditional"),
    ("training.lr", 1e308, "training.lr"),
    ("export.kl", "false", "export.kl"),
    ("input.start", "exponential", None),  # the start itself is fine: its rate is not
    ("input.start_params.rate", 1e308, "input.start_params.rate"),
    ("input.start_params.rate", 1e-308, "input.start_params.rate"),
    ("input.seed", True, "input.seed"),
    ("schedule.T", 1000.0, "schedule.T"),
]


@pytest.mark.parametrize("path, value, words", [c for c in CASES if c[2]],
                         ids=[f"{p}={v!r}"[:40] for p, v, w in CASES if w])
def test_a_hostile_session_changes_nothing(qtbot, session, tmp_path, path, value, words):
    file = tmp_path / "hostile.json"
    assert session.files.save(file)
    data = json.loads(file.read_text())
    if path.startswith("input.start_params"):
        data["input"]["start"] = "exponential"
    _set(data, path, value)
    file.write_text(json.dumps(data))
    session.training.update(conditional=False)
    before = _state(session)
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.files.open(file)
    message = blocker.args[0]
    assert "hostile.json" in message and words in message and "\n" not in message
    assert _state(session) == before


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, "nested"),
    ('{"format": "ddpm-desktop-session", "version": 1' + "0" * 5000 + "}", "digits"),
    ('{"format": "ddpm-desktop-session", "version": NaN}', "NaN"),
], ids=["deeply-nested", "huge-integer", "nan"])
def test_unparseable_sessions_are_refused_in_one_line(qtbot, session, tmp_path, text, words):
    file = tmp_path / "hostile.json"
    file.write_text(text)
    before = _state(session)
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.files.open(file)
    message = blocker.args[0]
    assert "hostile.json" in message and words in message and "\n" not in message
    assert _state(session) == before


def test_a_session_never_chooses_where_export_writes(qtbot, session, tmp_path):
    """A session naming ~/.bashrc as its export path made one click on Export replace it."""
    victim = tmp_path / "bashrc.png"
    victim.write_text("export PATH=...\n")
    file = tmp_path / "s.json"
    assert session.files.save(file)
    data = json.loads(file.read_text())
    data["export"].update(path=str(victim), format="png")
    file.write_text(json.dumps(data))
    assert session.files.open(file)
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.exporter.start()
    assert "session or settings file" in blocker.args[0] and "\n" not in blocker.args[0]
    assert victim.read_text() == "export PATH=...\n"
    session.export.confirm_destination()  # the user said yes in the Export dialog
    assert session.export.destination_from_file is False


def test_a_path_chosen_in_the_app_is_the_users_choice(qtbot, session, tmp_path):
    file = tmp_path / "s.json"
    session.export.update(path=str(tmp_path / "a.png"))
    assert session.files.save(file)
    assert session.files.open(file)
    assert session.export.destination_from_file
    session.export.update(path=str(tmp_path / "b.png"))  # typed or browsed in the dialog
    assert not session.export.destination_from_file
