"""The subset models in the app's model switch (loading, the session file, a missing file) and the
twins view: its area's job against an independent recomputation, its view's rows and intents.
Tiny stand-ins (tests/cli_helpers.py) take the bundled models' place."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.checkpoint import ModelSource
from ddpm_desktop.core.data import load_bundled_mnist, subset_rows
from ddpm_desktop.core.snapshot import ModelRef, Snapshot
from ddpm_desktop.ui.session_file import model_ref

from cli_helpers import installed, stand_ins  # noqa: F401  (fixtures: the tiny subset stand-ins)


@pytest.fixture
def session(make_session):
    return make_session(T=100)


def _use(session, qtbot, name):
    with qtbot.waitSignal(session.model_state.changed, timeout=20_000,
                          check_params_cb=lambda: session.model_state.source == name):
        assert session.use_subset_model(name)


def test_a_subset_model_loads_and_a_session_file_restores_it(installed, session, make_session,
                                                             qtbot, tmp_path):
    _use(session, qtbot, "few-b")
    m = session.model_state
    assert m.source == ModelSource.FEW_B and m.meta["subset"]["offset"] == 3 * 64
    assert model_ref(m) == ModelRef("few-b")
    path = tmp_path / "s.ddpm-session"
    assert session.files.save(path)
    assert Snapshot.from_json(path.read_text()).model == ModelRef("few-b")
    other = make_session()
    with qtbot.waitSignal(other.model_state.changed, timeout=20_000,
                          check_params_cb=lambda: other.model_state.source == "few-b"):
        assert other.files.open(path)


def test_a_missing_subset_model_is_one_line(session, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "subset_model_path", lambda name: tmp_path / f"{name}.safetensors")
    errors = []
    session.error.connect(lambda message, details: errors.append((message, details)))
    before = session.model_state.source
    assert not session.use_subset_model("twin-a")
    assert len(errors) == 1 and "twin-a is not installed" in errors[0][0] and errors[0][1] == ""
    assert "\n" not in errors[0][0] and session.model_state.source == before


def test_copy_command_names_the_subset_models_file(installed, session, qtbot):
    from ddpm_desktop.ui.copy_command import run_spec

    _use(session, qtbot, "twin-a")
    assert run_spec(session).checkpoint.endswith("twin-a.safetensors")


def test_the_twins_job_matches_an_independent_recomputation(installed, session, qtbot):
    area = session.twins
    area.set_pair("few")
    area.set_n(2)
    area.set_seed(7)
    with qtbot.waitSignal(area.state.changed, timeout=30_000,
                          check_params_cb=lambda: area.state.result is not None):
        assert area.run()
    qtbot.waitUntil(lambda: not area.state.running, timeout=10_000)
    r = area.state.result
    assert r.models == ("few-a", "few-b") and r.settings.seed == 7 and len(r.pairs) == 2
    to01 = lambda x: np.clip((x.reshape(len(x), -1).astype(np.float64) + 1) / 2, 0, 1)  # noqa: E731
    train = load_bundled_mnist("train").images
    np.testing.assert_allclose(r.pairs.distance, np.diag(cdist(to01(r.pairs.a), to01(r.pairs.b))),
                               rtol=1e-5)
    for x, nearest, own, offset in ((r.pairs.a, r.nearest_a, r.pairs.own_a, 2 * 64),
                                    (r.pairs.b, r.nearest_b, r.pairs.own_b, 3 * 64)):
        d = cdist(to01(x), train.reshape(len(train), -1) / 255.0)
        np.testing.assert_array_equal(nearest, train[d.argmin(1)])
        np.testing.assert_array_equal(own, np.isin(d.argmin(1), subset_rows(9000, 64, 0, offset)))
    area.set_seed(8)  # a setting moved on: the result no longer matches, so it goes
    assert area.state.result is None


def test_a_missing_pair_fails_in_the_view_and_once_on_error(session, qtbot, tmp_path, monkeypatch):
    from ddpm_desktop.ui.twins_window import build_twins_window

    monkeypatch.setattr(checkpoint, "subset_model_path", lambda name: tmp_path / f"{name}.safetensors")
    errors = []
    session.error.connect(lambda message, details: errors.append(message))
    w = build_twins_window(session)
    qtbot.addWidget(w)
    w.run_button.click()
    qtbot.waitUntil(lambda: bool(session.twins.state.message) and not session.twins.state.running,
                    timeout=10_000)
    assert "'twin-a' is not installed" in w.summary.text()
    assert len(errors) == 1 and errors[0].count("\n") == 0


def test_the_view_shows_each_pair_and_sends_its_intents(installed, session, qtbot, tmp_path):
    from ddpm_desktop.ui.twins_window import build_twins_window

    w = build_twins_window(session)
    qtbot.addWidget(w)
    w.n_spin.setValue(3)
    w.pair_combo.setCurrentIndex(w.pair_combo.findData("few"))
    w.label_combo.setCurrentIndex(w.label_combo.findData("4"))
    s = session.twins.state.settings
    assert (s.n, s.pair, s.label, s.labels) == (3, "few", "4", 4)
    w.run_button.click()
    qtbot.waitUntil(lambda: session.twins.state.result is not None
                    and not session.twins.state.running, timeout=30_000)
    r = session.twins.state.result
    assert len(w.rows) == 3
    for i, row in enumerate(w.rows):
        assert row["d_ab"].text() == f"d(a, b) = {r.pairs.distance[i]:.2f}"
        assert row["d1_a"].text().startswith(f"d1(few-a) = {r.pairs.nearest_a.d1[i]:.2f}")
        for key in ("d_ab", "d1_a", "d1_b"):
            assert "‖" in row[key].toolTip()   # the formula it is
        assert row["a"].pixmap() is not None and not row["a"].pixmap().isNull()
    assert "median d(a, b)" in w.summary.text() and w.summary.toolTip()
    for control in (w.pair_combo, w.seed_spin, w.label_combo, w.n_spin, w.run_button):
        assert control.accessibleName()
    w.resize(900, 700)
    w.grab().save(str(tmp_path / "twins.png"))


def test_the_window_offers_the_models_and_opens_the_twins_view(installed, qtbot):
    from ddpm_desktop.ui.main_window import MainWindow

    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    try:
        assert set(w.menus.subset_model_actions) == set(checkpoint.SUBSET_MODELS)
        with qtbot.waitSignal(w.session.model_state.changed, timeout=20_000,
                              check_params_cb=lambda: w.session.model_state.source == "twin-b"):
            w.menus.subset_model_actions["twin-b"].trigger()
        w.copy_check_view.twins_button.click()
        assert w.twins_window is not None and w.twins_window.isVisible()
        first = w.twins_window
        w.menus.twins_action.trigger()
        assert w.twins_window is first   # built once, raised after
        screen = w.twins_window.screen().availableGeometry()
        assert w.twins_window.width() <= screen.width() and w.twins_window.height() <= screen.height()
        assert w.lab_view is w.training_panel.plot_tabs.widget(w.training_panel.plot_tabs.count() - 1)
    finally:
        w.session.shutdown()
