"""Lessons in the app: every step of every lesson sets the session up for its question, the
answer stays hidden until asked, and the Lessons dock is a view reached from Help."""
from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from ddpm_desktop.core import experiments
from ddpm_desktop.core.lessons import LAST, LESSONS
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.widgets.lesson_panel import LessonPanel, connect_lesson_panel


class FakeModel(torch.nn.Module):
    null_label = 10

    def forward(self, x, log_snr, labels=None):
        return 0.5 * x


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    yield s
    s.shutdown()


def _check_state(session, step):
    setup = step.setup
    params = setup.schedule_params()
    assert session.schedule_state.params == params
    assert session.schedule.T == params["T"]
    t = params["T"] if setup.forward_t == LAST else setup.forward_t
    assert session.forward.t == t and session.forward.T == params["T"]
    assert session.sampler.settings == replace(SamplerSettings(), **setup.sampler)
    inp = session.input_state
    assert (inp.start_name, inp.start_params) == (setup.start[0], dict(setup.start[1]))
    assert inp.forward_from == setup.forward_from and inp.seed == setup.seed
    if setup.digit:
        np.testing.assert_array_equal(inp.digit, experiments.bundled_digit()[0])


def test_every_step_sets_the_app_up_for_its_question(qtbot, session):
    # start from a state unlike every lesson's, so each setting must really be applied
    session.schedule_state.set_params(kind="sigmoid", T=77)
    session.input_state.set_seed(99)
    session.input_state.set_start("uniform")
    session.sampler.update(sampler="dpmpp", steps=7, label=5, guidance=3.0)
    for lesson in LESSONS:
        assert session.lessons.open(lesson.name)
        for i, step in enumerate(lesson.steps):
            if i:
                assert session.lessons.next()
            assert session.lesson.index == i and session.lesson.step is step
            _check_state(session, step)
            assert not session.lesson.revealed and session.lesson.answer == ""
        assert not session.lessons.next()  # the last step stays the last
        for i in reversed(range(len(lesson.steps) - 1)):
            assert session.lessons.back()
            _check_state(session, lesson.steps[i])
        assert not session.lessons.back()


def test_a_step_that_runs_starts_the_reverse_chain(qtbot, session):
    session.set_model(FakeModel(), "fake")
    session._rerun_timer.stop()
    session.lessons.open("guidance")
    assert session.lesson.step.setup.run
    assert session.is_sampling()
    with qtbot.waitSignal(session.reverse.run_finished, timeout=20_000):
        pass
    lane = session.reverse.lanes[0]
    assert lane.nfe[-1] == 50  # w = 0: one call per step, 50 steps
    session.lessons.open("forward")  # a step that does not run: nothing starts
    assert not session.is_sampling() and not session.rerun_pending


def test_the_answer_is_hidden_until_revealed(qtbot, session):
    panel = LessonPanel(session.lesson)
    qtbot.addWidget(panel)
    connect_lesson_panel(panel, session.lessons)
    panel.show()
    assert not panel.answer_label.isVisible() and panel.answer_label.text() == ""
    panel.lesson_combo.setCurrentIndex(panel.lesson_combo.findData("alpha-bar"))
    assert session.lesson.lesson.name == "alpha-bar"
    assert panel.question_label.text() == session.lesson.step.question
    assert panel.answer_label.text() == "" and not panel.answer_label.isVisible()
    assert panel.reveal_button.isVisible() and not panel.back_button.isEnabled()
    panel.reveal_button.click()
    expected = session.lesson.step.answer_text()
    qtbot.waitUntil(lambda: panel.answer_label.text() == expected, timeout=5000)
    assert panel.answer_label.isVisible()
    assert f"{session.schedule.alpha_bar_T:.2e}" in expected  # the number on screen, computed
    assert not panel.reveal_button.isVisible()
    panel.next_button.click()  # a new step hides its answer again
    assert session.lesson.index == 1 and session.schedule.T == 50
    assert not panel.answer_label.isVisible() and session.lesson.answer == ""
    panel.back_button.click()
    assert session.lesson.index == 0 and session.schedule.T == 1000


def test_set_up_again_restores_the_step(qtbot, session):
    session.lessons.open("forward")
    session.schedule_state.set_params(T=300)
    session.forward.set_frame(7)
    assert session.lessons.reapply()
    _check_state(session, session.lesson.step)


def test_an_unknown_lesson_is_one_line(qtbot, session):
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.lessons.open("nope")
    assert "unknown lesson" in blocker.args[0] and "\n" not in blocker.args[0]
    assert session.lesson.lesson is None


@pytest.mark.slow
def test_help_menu_opens_the_lessons_dock(qtbot):
    from ddpm_desktop.ui.main_window import MainWindow

    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    w.show()
    assert not w.lesson_dock.isVisible()
    w.menus.lessons_action.trigger()
    assert w.lesson_dock.isVisible()
    w.lesson_panel.lesson_combo.setCurrentIndex(1)
    assert w.session.lesson.lesson is LESSONS[0]
    w.close()


def test_a_reveal_computes_its_numbers_off_the_gui_thread(qtbot, session, monkeypatch):
    """Some answers run sampling chains for seconds (the copies lesson): the reveal returns at
    once, the panel says it is computing, and the answer arrives from the lessons area's job.
    The step's numbers here wait until the test lets them go: computed on the GUI thread, the
    reveal would not return before the release below."""
    from ddpm_desktop.core import lessons

    release, ran_on, done = threading.Event(), [], []

    def facts(_setup):
        ran_on.append(threading.current_thread())
        release.wait(5)
        done.append(True)
        return {"n": 3}

    first = lessons.get("forward")
    slow = replace(first, name="slow", steps=(
        replace(first.steps[0], answer="{n} of 4 copy", facts=facts),) + first.steps[1:])
    real_get = lessons.get
    monkeypatch.setattr(lessons, "get", lambda name: slow if name == "slow" else real_get(name))
    panel = LessonPanel(session.lesson)
    qtbot.addWidget(panel)
    connect_lesson_panel(panel, session.lessons)
    panel.show()
    assert session.lessons.open("slow")
    try:
        panel.reveal_button.click()
        assert done == []  # the click returned while the numbers were still being computed
        assert session.lesson.revealed and session.lesson.computing
        assert panel.answer_label.isVisible() and "Computing" in panel.answer_label.text()
        assert not panel.reveal_button.isVisible()
        qtbot.waitUntil(lambda: ran_on != [], timeout=5000)
        assert ran_on[0] is not threading.main_thread()
    finally:
        release.set()
    qtbot.waitUntil(lambda: panel.answer_label.text() == "3 of 4 copy", timeout=5000)
    assert not session.lesson.computing and session.lesson.answer == "3 of 4 copy"


def test_an_answer_of_a_step_left_is_never_shown(qtbot, session, monkeypatch):
    from ddpm_desktop.core import lessons

    release = threading.Event()

    def facts(_setup):
        release.wait(10)
        return {"n": 3}

    first = lessons.get("forward")
    slow = replace(first, name="slow", steps=(
        replace(first.steps[0], answer="{n} of 4 copy", facts=facts),) + first.steps[1:])
    real_get = lessons.get
    monkeypatch.setattr(lessons, "get", lambda name: slow if name == "slow" else real_get(name))
    assert session.lessons.open("slow")
    session.lessons.reveal()
    assert session.lessons.next()  # on before the answer came
    release.set()
    session.lessons.reveal()  # the next step's own answer
    qtbot.waitUntil(lambda: not session.lesson.computing, timeout=5000)
    assert session.lesson.index == 1
    assert session.lesson.answer == slow.steps[1].answer_text()
