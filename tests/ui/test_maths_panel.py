"""The maths panel follows the forward cursor and the sampler, renders nothing while hidden,
and a hovered term frames the view it drives (offscreen)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication

from ddpm_desktop.core import maths
from ddpm_desktop.core.schedule import get_named_beta_schedule
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.highlight import is_highlighted
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.widgets.maths_panel import MathsPanel


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    yield s
    s.shutdown()


@pytest.fixture
def panel(qtbot, session):
    p = MathsPanel(session.forward, session.schedule_state, session.sampler, session.reverse, session.belief)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitExposed(p)
    return p


def _value(panel, key):
    return panel.rows[key].value_label.text()


def test_the_forward_terms_follow_the_cursor(panel, session, qtbot):
    betas = get_named_beta_schedule("linear", 1000)
    ab = np.cumprod(1 - betas)
    for t in (1, 250, 999):
        session.forward.set_frame(t)
        want = f"x<sub>{t}</sub> = {maths.num(math.sqrt(ab[t - 1]))} x<sub>0</sub>"
        qtbot.waitUntil(lambda: want in _value(panel, "forward.marginal"), timeout=2000)
        assert f"β<sub>{t}</sub> = {maths.num(betas[t - 1])}" in _value(panel, "schedule.values")
        assert f"t = {t}:" in _value(panel, "kl.exact")


def test_the_reverse_terms_follow_the_sampler(panel, session, qtbot):
    session.sampler.update(sampler="ddim", steps=10, eta=0.5)
    qtbot.waitUntil(lambda: "DDIM" in panel.rows["reverse.update"].name_label.text(), timeout=2000)
    assert "step 1 of 10" in panel.header_reverse.text()
    assert "σ = 0.5000 ×" in _value(panel, "reverse.posterior")
    session.sampler.update(sampler="dpmpp")
    qtbot.waitUntil(lambda: "DPM-Solver++" in panel.rows["reverse.update"].name_label.text(),
                    timeout=2000)
    assert "h = " in _value(panel, "reverse.posterior")
    session.sampler.update(label=3, guidance=2.0)
    qtbot.waitUntil(lambda: "class 3, w = 2" in _value(panel, "guidance"), timeout=2000)


def test_schedule_edits_reach_the_panel(panel, session, qtbot):
    session.forward.set_frame(100)
    session.schedule_state.set_params(T=200)
    qtbot.waitUntil(lambda: "of T = 200" in _value(panel, "schedule.values"), timeout=2000)


def test_nothing_renders_while_hidden_and_the_news_arrives_on_show(panel, session, qtbot):
    qtbot.waitUntil(lambda: not panel._dirty, timeout=2000)
    panel.hide()
    before = panel.renders
    for t in range(10, 60):
        session.forward.set_frame(t)
    QApplication.processEvents()
    panel.flush()  # what the frame timer would do: a hidden panel renders nothing
    assert panel.renders == before
    panel.show()
    qtbot.waitUntil(lambda: "x<sub>59</sub> =" in _value(panel, "forward.marginal"), timeout=2000)
    assert panel.renders == before + 1  # one render for the whole burst


def test_an_inpainting_run_shows_the_sampler_settings_step(panel, session, qtbot):
    # an inpainting lane is named "inpaint: <method>", not a sampler: the panel used to raise
    # "unknown sampler 'inpaint: repaint'" from its render slot on every frame of the run
    from ddpm_desktop.ui.state import Lane

    session.sampler.update(sampler="ddim", steps=10)
    z = np.zeros((28, 28), np.float32)
    session.reverse.start([Lane("inpaint: repaint", 0)])
    for k, t in enumerate((999, 998, 997)):
        session.reverse.add(0, z, z, t, k, 3)
    session.reverse.commit()
    panel.flush(force=True)
    assert panel.reverse_step(session.schedule)[0] == "ddim"
    assert "DDIM" in panel.header_reverse.text()


def test_hovering_a_term_frames_its_view(qtbot):
    from ddpm_desktop.ui.main_window import MainWindow

    w = MainWindow(load_model=False, load_dataset=False)
    qtbot.addWidget(w)
    w.show()
    w.maths_dock.raise_()
    row = w.maths_panel.rows["forward.marginal"]
    QApplication.sendEvent(row, QEnterEvent(QPointF(2, 2), QPointF(2, 2), QPointF(2, 2)))
    assert is_highlighted(w.forward_view) and not is_highlighted(w.reverse_view)
    bits_row = w.maths_panel.rows["likelihood.bits"]
    QApplication.sendEvent(bits_row, QEnterEvent(QPointF(2, 2), QPointF(2, 2), QPointF(2, 2)))
    assert is_highlighted(w.beliefs_panel.likelihood_label) and not is_highlighted(w.forward_view)
    kl_row = w.maths_panel.rows["kl.exact"]
    QApplication.sendEvent(kl_row, QEnterEvent(QPointF(2, 2), QPointF(2, 2), QPointF(2, 2)))
    assert is_highlighted(w.histogram_view.kl_plot) and not is_highlighted(w.forward_view)
    w.maths_panel.term_hovered.emit("")
    assert not is_highlighted(w.histogram_view.kl_plot)
    # the View menu toggles the dock
    assert w.menus.maths_action.isChecked()
    w.menus.maths_action.trigger()
    assert w.maths_dock.isHidden()
    w.close()


def test_the_belief_views_render_and_carry_the_docks_results(panel, session, qtbot):
    """The likelihood, inversion and uncertainty sections: their equations before any result,
    the cursor's inversion step, and the Beliefs dock's numbers once set, each equal to what core
    computes for the same state (coefficients recomputed from the betas here)."""
    from ddpm_desktop.core.likelihood import LOG2_BIN_OFFSET
    from ddpm_desktop.ui.beliefs_state import InversionResult, LikelihoodResult, UncertaintyResult

    for key in ("likelihood.flow", "likelihood.change", "likelihood.bits", "inversion.step",
                "inversion.round_trip", "uncertainty.covariance", "uncertainty.iteration",
                "uncertainty.variances"):
        row = panel.rows[key]
        assert row.term is not None and row.term.view in maths.VIEWS
        assert row.formula_label.text() and row.value_label.text() and row.toolTip()
    assert "not computed yet" in _value(panel, "likelihood.bits")
    assert "not computed yet" in _value(panel, "uncertainty.variances")

    ab = np.cumprod(1 - get_named_beta_schedule("linear", 1000))
    session.forward.set_frame(120)
    qtbot.waitUntil(lambda: "through t = 120" in _value(panel, "inversion.step"), timeout=2000)
    n = panel.rows["inversion.step"].term.numbers
    assert (n["s"], n["t"]) == (100, 150)
    assert n["ratio"] == pytest.approx(math.sqrt(ab[149] / ab[99]), rel=1e-12)
    assert panel.rows["uncertainty.covariance"].term.numbers["scale"] == pytest.approx(
        (1 - ab[119]) / ab[119], rel=1e-12)            # no result yet: the cursor t

    session.belief.set_result("likelihood", LikelihoodResult(2.25, 32, 0.4, 2.12))
    qtbot.waitUntil(lambda: "2.250" in _value(panel, "likelihood.bits"), timeout=2000)
    bits = panel.rows["likelihood.bits"].term.numbers
    assert bits["log_p"] == pytest.approx(-(2.25 - math.log2(127.5)) * 784 * math.log(2), rel=1e-12)
    assert "40% of held-out digits" in _value(panel, "likelihood.bits")
    assert LOG2_BIN_OFFSET == pytest.approx(math.log2(127.5))

    z = np.zeros((28, 28), np.float32)
    session.belief.set_result("uncertainty", UncertaintyResult(600, z, np.zeros((2, 28, 28), np.float32),
                                                               np.array([43.0, 15.0])))
    qtbot.waitUntil(lambda: "t = 600" in _value(panel, "uncertainty.variances"), timeout=2000)
    assert panel.rows["uncertainty.covariance"].term.numbers["scale"] == pytest.approx(
        (1 - ab[599]) / ab[599], rel=1e-12)            # the result's t, not the cursor's
    assert panel.rows["uncertainty.variances"].term.numbers["two_sigma"] == pytest.approx(
        [2 * math.sqrt(43.0), 2 * math.sqrt(15.0)])

    session.belief.set_result("inversion", InversionResult(z, z, z, z, 8, 3.0, 2.7e-4))
    qtbot.waitUntil(lambda: "MSE = 2.700·10<sup>−4</sup>" in _value(panel, "inversion.round_trip"),
                    timeout=2000)
    assert "class 8 at w = 3" in _value(panel, "inversion.round_trip")
    session.belief.clear("likelihood")
    qtbot.waitUntil(lambda: "not computed yet" in _value(panel, "likelihood.bits"), timeout=2000)
