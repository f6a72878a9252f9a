"""Reverse chain in the UI: a tiny fake network on the worker thread, frames shown, NFE
counted, side-by-side at equal NFE, stale requests cancelled, the no-model state."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from ddpm_desktop.ui.controller import WorkerController, live_threads
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings, SamplerState
from ddpm_desktop.ui.widgets.reverse_view import ReverseChainView
from ddpm_desktop.ui.widgets.sampler_panel import SamplerPanel


class FakeModel(torch.nn.Module):
    """Same call signature as core.model.UNet; predicts a fixed fraction of x as noise."""

    null_label = 10

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.calls = 0

    def forward(self, x, log_snr, labels=None):
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        return 0.5 * x


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    s.schedule_state.set_params(T=200)
    yield s
    s.shutdown()


@pytest.fixture
def reverse_view(qtbot, session):
    v = ReverseChainView(session.reverse, session.model_state)
    qtbot.addWidget(v)
    return v


def test_no_model_shows_placeholder_and_refuses(session, reverse_view, qtbot):
    assert reverse_view.stack.currentWidget() is reverse_view.no_model_page
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.request_sampling()
    assert "No model yet" in blocker.args[0]


def test_sample_pressed_while_the_model_loads_runs_once_it_is_in(session, qtbot):
    """At start-up the bundled model loads in the background: Sample then waits for it instead
    of saying there is no model."""
    errors = []
    session.error.connect(lambda message, details: errors.append(message))
    session.model_state.set_loading(True)
    with qtbot.waitSignal(session.status) as blocker:
        assert session.request_sampling(SamplerSettings(sampler="ddim", steps=5, seed=1))
    assert "still loading" in blocker.args[0] and not errors
    model = FakeModel()
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.set_model(model, "fake")
    assert session.reverse.lanes[0].nfe[-1] == 5 and model.calls == 5 and not errors


def test_sampling_finishes_and_shows_frames(session, reverse_view, qtbot):
    session.set_model(FakeModel(), "fake")
    assert reverse_view.stack.currentWidget() is reverse_view.ready_page
    first = []  # the lane as the first batch left it: the start state comes before any network call
    session.reverse.frames_added.connect(
        lambda: first.append(list(session.reverse.lanes[0].nfe)) if not first else None)
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000) as blocker:
        session.request_sampling(SamplerSettings(sampler="ddim", steps=20, seed=1))
    assert blocker.args == [True]
    assert first[0][0] == 0
    lane = session.reverse.lanes[0]
    assert len(lane) == 21 and lane.t[0] == 200 and lane.t[-1] == 0
    assert lane.nfe[-1] == 20
    assert reverse_view.stack.currentWidget() is reverse_view.lanes_page
    np.testing.assert_array_equal(reverse_view.lane_panels[0].x_t_pane.image.image, lane.x_t[-1])
    assert "20 / 20" in reverse_view.nfe_label.text()
    # scrub back to x_T
    reverse_view.slider.setValue(0)
    np.testing.assert_array_equal(reverse_view.lane_panels[0].x_t_pane.image.image, lane.x_t[0])
    assert not session.reverse.follow


def test_side_by_side_runs_two_samplers_from_the_same_x_T_at_equal_nfe(session, reverse_view,
                                                                         qtbot):
    session.set_model(FakeModel(), "fake")
    settings = SamplerSettings(sampler="ddpm", steps=15, compare=True, sampler_b="dpmpp")
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.request_sampling(settings)
    a, b = session.reverse.lanes
    assert (a.sampler, b.sampler) == ("ddpm", "dpmpp")
    np.testing.assert_array_equal(a.x_t[0], b.x_t[0])
    assert a.nfe[-1] == b.nfe[-1] == 15
    assert not np.allclose(a.x_t[-1], b.x_t[-1])
    assert all(p.isVisibleTo(reverse_view) for p in reverse_view.lane_panels)


def test_reconstruct_from_the_noised_input(session, qtbot):
    session.set_model(FakeModel(), "fake")
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.request_sampling(SamplerSettings(sampler="ddim", steps=10, source="input",
                                                 t_start=80))
    lane = session.reverse.lanes[0]
    assert lane.t[0] == 80
    np.testing.assert_array_equal(lane.x_t[0], session.forward.frames[80])


def test_new_request_cancels_the_stale_run(session, qtbot):
    session.set_model(FakeModel(delay=0.01), "slow fake")
    session.request_sampling(SamplerSettings(sampler="ddpm", steps=None))  # 200 slow steps
    qtbot.waitUntil(lambda: session.reverse.length() > 1, timeout=5000)
    stale_task = session.workers.task("sample")
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000) as blocker:
        session.request_sampling(SamplerSettings(sampler="ddim", steps=5))
    assert blocker.args == [True]
    assert stale_task.cancelled
    assert session.reverse.lanes[0].sampler == "ddim"
    assert len(session.reverse.lanes[0]) == 6


def test_schedule_change_reruns_the_reverse_chain(session, qtbot):
    session.set_model(FakeModel(), "fake")
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.request_sampling(SamplerSettings(sampler="ddim", steps=5))
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.schedule_state.set_params(T=300)
    assert session.reverse.lanes[0].t[0] == 300


def test_sampler_panel_is_a_view_of_the_one_sampler_state(qtbot):
    state = SamplerState()
    panel = SamplerPanel(state)
    qtbot.addWidget(panel)
    panel.set_model_available(True, "fake")
    panel.sampler_combo.setCurrentIndex(panel.sampler_combo.findData("dpmpp"))
    panel.steps_spin.setValue(12)
    panel.label_combo.setCurrentIndex(panel.label_combo.findData(3))
    panel.guidance_spin.setValue(2.5)
    panel.compare_check.setChecked(True)
    s = state.settings  # every edit is in the state at once
    assert (s.sampler, s.steps, s.label, s.guidance, s.compare) == ("dpmpp", 12, 3, 2.5, True)
    with qtbot.waitSignal(panel.sample_requested):
        panel.sample_button.click()
    state.set_settings(SamplerSettings(source="input", t_start=42))  # the view follows
    assert panel.source_combo.currentData() == "input" and panel.t_start_spin.value() == 42
    assert panel.t_start_spin.isEnabled()


@pytest.mark.slow
def test_rerun_after_a_schedule_change_uses_the_current_step_count(session, qtbot):
    """DDPM with Steps 100; T = 60 gave NFE 60/60 (right); then T = 1000 still gave 60/60."""
    session.set_model(FakeModel(), "fake")
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.request_sampling(SamplerSettings(sampler="ddpm", steps=100))
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.schedule_state.set_params(T=60)
    assert session.reverse.lanes[0].nfe[-1] == 60
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.schedule_state.set_params(T=1000)
    assert session.reverse.lanes[0].nfe[-1] == 100
    assert session.sampler.settings.steps == 100


def test_t_start_survives_a_short_schedule_in_the_panel(qtbot, session):
    panel = SamplerPanel(session.sampler)
    qtbot.addWidget(panel)
    session.sampler.update(source="input", t_start=500)
    panel.set_max_t(60)
    assert panel.t_start_spin.value() == 60 and session.sampler.settings.t_start == 500
    panel.set_max_t(1000)
    assert panel.t_start_spin.value() == 500


def test_model_load_reruns_only_what_is_cheap(session, qtbot):
    session.sampler.update(sampler="ddpm", steps=None)  # 200 network calls at T = 200
    session.schedule_state.set_params(T=1000)  # 1000: too long to start unasked
    statuses = []
    session.status.connect(statuses.append)
    session.set_model(FakeModel(), "fake")
    assert not session.is_sampling() and not session.rerun_pending  # nor queued
    assert session.reverse.lanes == []
    assert "Press Sample" in statuses[-1] and "1000 network evaluations" in statuses[-1]
    session.sampler.update(steps=20)
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.set_model(FakeModel(), "another fake")  # cheap: re-run with the new model
    assert session.reverse.lanes[0].nfe[-1] == 20


def test_shutdown_while_sampling_joins_the_thread(session, qtbot):
    session.set_model(FakeModel(delay=0.02), "slow fake")
    session.request_sampling(SamplerSettings(sampler="ddpm", steps=None))
    qtbot.waitUntil(lambda: session.reverse.length() > 0, timeout=5000)
    session.shutdown()
    assert live_threads() == []


def test_compare_mode_shows_both_samplers_histograms(session, qtbot):
    from ddpm_desktop.core import kl
    from ddpm_desktop.ui.widgets.histogram_view import HistogramView

    view = HistogramView(session.forward, session.reverse)
    qtbot.addWidget(view)
    session.set_model(FakeModel(), "fake")
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.request_sampling(SamplerSettings(sampler="ddim", steps=6, compare=True,
                                                 sampler_b="dpmpp"))
    a, b = session.reverse.lanes
    _, ya = view.reverse_hist.getData()
    _, yb = view.reverse_hist_b.getData()
    np.testing.assert_allclose(ya, kl.histogram_density(a.x_t[-1])[1])
    np.testing.assert_allclose(yb, kl.histogram_density(b.x_t[-1])[1])
    assert len(view.kl_reverse_curve_b.getData()[0]) == len(b)
    assert "DDIM" in view.kl_label.text() and "DPM-Solver++" in view.kl_label.text()
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.request_sampling(SamplerSettings(sampler="ddim", steps=6))
    assert view.reverse_hist_b.getData()[0] is None or len(view.reverse_hist_b.getData()[0]) == 0
