"""The distilled sampler in the app: the student runs the distilled lane, the teacher the compare
lane at equal NFE (<= 4), reconstruct from a noised digit, and a clear refusal with no student."""
from __future__ import annotations

import pytest
import torch

from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings, SamplerState
from ddpm_desktop.ui.widgets.sampler_panel import SamplerPanel


class Counting(torch.nn.Module):
    """Same call signature as the UNet (and StudentNet); counts its calls."""

    null_label = 10

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor, self.calls = factor, 0

    def forward(self, x, log_snr, labels=None):
        self.calls += 1
        return self.factor * x


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    s.schedule_state.set_params(T=200)
    yield s
    s.shutdown()


def test_distilled_lane_runs_the_student_and_compare_runs_the_teacher_at_equal_nfe(session, qtbot):
    teacher, student = Counting(0.5), Counting(0.2)
    session.set_model(teacher, "fake")
    session.model_state.set_student(student, {"guidance": 1.5})
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        assert session.request_sampling(SamplerSettings(sampler="distilled", steps=100, compare=True,
                                                        sampler_b="dpmpp"))
    a, b = session.reverse.lanes
    assert a.nfe[-1] == b.nfe[-1] == 4 and a.t[-1] == b.t[-1] == 0
    assert session.distilled.on_device().calls == 4 and teacher.calls == 4


def test_distilled_reconstructs_from_the_noised_input(session, qtbot):
    session.set_model(Counting(0.5), "fake")
    session.model_state.set_student(Counting(0.2), {})
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.request_sampling(SamplerSettings(sampler="distilled", steps=2, source="input", t_start=120))
    lane = session.reverse.lanes[0]
    assert lane.t[0] == 120 and lane.t[-1] == 0 and lane.nfe[-1] == 2


def test_distilled_without_a_student_refuses_in_one_line(session, qtbot):
    session.set_model(Counting(0.5), "fake")
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.request_sampling(SamplerSettings(sampler="distilled", steps=4))
    assert "no distilled student" in blocker.args[0] and "\n" not in blocker.args[0]


def test_panel_offers_distilled_and_caps_its_steps_at_4(qtbot):
    state = SamplerState()
    panel = SamplerPanel(state)
    qtbot.addWidget(panel)
    panel.sampler_combo.setCurrentIndex(panel.sampler_combo.findData("distilled"))
    assert state.settings.sampler == "distilled"
    assert panel.steps_spin.maximum() == 4 and state.settings.steps <= 4
    assert "baked" in panel.sampler_combo.itemData(panel.sampler_combo.currentIndex(), 3)
