"""Schedule panel: controls drive the state, the plots and the ᾱ_T label follow; bad input
is reported, never raised."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core.schedule import NoiseSchedule

from ddpm_desktop.ui.state import ScheduleState
from ddpm_desktop.ui.widgets.schedule_panel import SchedulePanel


@pytest.fixture
def panel(qtbot):
    state = ScheduleState()
    panel = SchedulePanel(state)
    qtbot.addWidget(panel)
    return panel


def test_T_slider_updates_state_plots_and_alpha_bar_label(panel, qtbot):
    before = panel.alpha_bar_label.text()
    with qtbot.waitSignal(panel.state.changed):
        panel.T_slider.setValue(200)
    assert panel.state.schedule.T == 200
    assert panel.T_spin.value() == 200
    x, y = panel.alpha_bar_curve.getData()
    assert len(x) == 200 and np.isclose(y[-1], panel.state.schedule.alpha_bar_T)
    assert panel.alpha_bar_label.text() != before
    assert f"{panel.state.schedule.alpha_bar_T:.3g}" in panel.alpha_bar_label.text()


def test_short_schedule_warns_that_x_T_is_not_noise(panel):
    assert panel.warning_label.property("level") == "ok"
    panel.T_spin.setValue(50)  # linear 1e-4..0.02 over 50 steps leaves ᾱ_T ≈ 0.6
    assert panel.warning_label.property("level") == "bad"
    assert "not pure noise" in panel.warning_label.text()


def test_kind_change_redraws_and_disables_endpoints_for_cosine(panel):
    _, linear = panel.beta_curve.getData()
    panel.kind_combo.setCurrentText("cosine")
    assert panel.state.params["kind"] == "cosine"
    _, cosine = panel.beta_curve.getData()
    assert not np.allclose(linear, cosine)
    assert not panel.beta_end_edit.isEnabled()


def test_beta_slider_changes_beta_end(panel):
    panel.beta_end_slider.setValue(-150)  # log10 = -1.50 -> 0.0316
    assert panel.state.params["beta_end"] == pytest.approx(0.0316)
    assert panel.beta_end_edit.text() == "0.0316"


def test_bad_typed_beta_reports_and_reverts(panel, qtbot):
    panel.beta_end_edit.setText("banana")
    with qtbot.waitSignal(panel.error) as blocker:
        panel.beta_end_edit.editingFinished.emit()
    assert "not a number" in blocker.args[0]
    assert panel.state.params["beta_end"] == 0.02
    assert panel.beta_end_edit.text() == "0.02"

    panel.beta_start_edit.setText("1.5")
    with qtbot.waitSignal(panel.error) as blocker:
        panel.beta_start_edit.editingFinished.emit()
    assert "between 0 and 1" in blocker.args[0]


def test_underflowing_schedule_is_refused_with_a_message(panel, qtbot):
    with qtbot.waitSignal(panel.error) as blocker:
        panel.T_spin.setValue(6000)  # linear 1e-4..0.02: ᾱ_T underflows beyond T ≈ 2700
    assert "underflow" in blocker.args[0]
    assert panel.state.schedule.T == 1000
    assert panel.T_spin.value() == 1000

    # The slider stops where the schedule stops being valid: it only produces valid values.
    panel.T_slider.setValue(4000)
    T = panel.state.schedule.T
    assert panel.T_slider.maximum() == T < 4000
    NoiseSchedule.named("linear", T)  # valid
    with pytest.raises(ValueError, match="underflow"):
        NoiseSchedule.named("linear", T + 1)
    assert not panel.inline_error.isVisibleTo(panel)


def test_beta_T_slider_never_reaches_an_invalid_value(panel):
    """The far right of the β_T slider was β_T = 1 (invalid): a red error and the green
    "x_T ≈ N(0, 1)" showed at once. Now its top is the largest β_T valid for this T."""
    slider = panel.beta_end_slider
    slider.setValue(slider.maximum())
    beta_end = panel.state.params["beta_end"]
    assert beta_end < 1 and panel.state.schedule.alpha_bar_T >= 1e-12
    assert not panel.inline_error.isVisibleTo(panel)
    assert float(panel.beta_end_edit.text()) == pytest.approx(beta_end, rel=1e-3)
    # one tick further would not be a valid schedule at T = 1000
    nxt = float(f"{10 ** ((slider.maximum() + 1) / 100):.3g}")
    with pytest.raises(ValueError):
        NoiseSchedule.named("linear", 1000, 1e-4, nxt)
    # a shorter schedule allows a larger β_T
    top = slider.maximum()
    panel.state.set_params(T=100)
    panel._update_limits()
    assert slider.maximum() > top


def test_plot_ranges_hold_the_curves_and_move_only_in_coarse_steps(panel):
    def y_range(plot):
        return tuple(plot.getPlotItem().getViewBox().viewRange()[1])

    ranges = []
    for beta_end in (0.020, 0.0205, 0.021, 0.05):
        panel.state.set_params(beta_end=beta_end)
        s = panel.state.schedule
        lo, hi = y_range(panel.beta_plot)
        assert lo <= 0 and s.betas.max() <= hi <= 1.25 * s.betas.max() * 1.05
        lo, hi = y_range(panel.log_snr_plot)
        assert lo <= s.log_snr.min() and s.log_snr.max() <= hi
        ranges.append((y_range(panel.beta_plot), y_range(panel.log_snr_plot)))
    assert ranges[0] == ranges[1] == ranges[2]  # a drag of a few ticks keeps the axes still
    assert ranges[3] != ranges[0]  # a large change re-ranges


@pytest.mark.parametrize("value, expect", [(0.021, 0.025), (0.02, 0.02), (7.3, 8.0), (9.1, 10.0),
                                           (1e-5, 1e-5), (0.0, 1.0)])
def test_nice_ceiling(value, expect):
    from ddpm_desktop.ui.theme import nice_ceiling

    assert nice_ceiling(value) == pytest.approx(expect)


def test_wiggling_across_a_range_step_keeps_the_axes(panel):
    """β_T wiggled by one slider tick either side of a log-SNR step boundary (λ_T = -10)."""
    def y_ranges():
        return [tuple(p.getPlotItem().getViewBox().viewRange()[1])
                for p in (panel.beta_plot, panel.log_snr_plot)]

    panel.state.set_params(beta_end=0.0195)
    lam_a = panel.state.schedule.log_snr.min()
    panel.state.set_params(beta_end=0.0205)
    lam_b = panel.state.schedule.log_snr.min()
    assert lam_a > -10 > lam_b  # the two values straddle a step of the fresh range
    first = y_ranges()
    for beta_end in (0.0195, 0.0205) * 3:
        panel.state.set_params(beta_end=beta_end)
        assert y_ranges() == first


def test_held_range():
    from ddpm_desktop.ui.theme import held_range

    assert held_range(None, 1, 2, (0, 4)) == (0, 4)
    assert held_range((0, 4), 1, 3.5, (0, 5)) == (0, 4)  # still fits, filled enough: held
    assert held_range((0, 4), 1, 4.5, (0, 5)) == (0, 5)  # outgrown
    assert held_range((0, 4), 0, 1, (0, 1.2)) == (0, 1.2)  # far too loose
