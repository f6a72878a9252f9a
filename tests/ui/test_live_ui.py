"""Reconstruct as you draw in the app: the session's long-lived job answers each edit, the
worker's IDLE items never reach the GUI, switching off stops the job, the view follows."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PySide6.QtCore import QCoreApplication, QPoint, Qt

from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.widgets.live_view import LiveView
from ddpm_desktop.ui.workers import IDLE


class FakeModel(torch.nn.Module):
    """UNet's call signature; predicts a fixed fraction of x as noise."""

    def forward(self, x, log_snr, labels=None):
        return 0.5 * x


def bar(col: int) -> np.ndarray:
    d = np.full((28, 28), -1.0, np.float32)
    d[4:24, col:col + 4] = 1.0
    return d


@pytest.fixture
def session(qtbot):
    s = Session(WorkerController())
    s.schedule_state.set_params(T=200)
    s.model_state.set_model(FakeModel(), "fake")
    s.input_state.set_digit(bar(12), "a bar")
    yield s
    s.shutdown()


def test_each_edit_is_reconstructed_and_off_stops_the_job(session, qtbot):
    view = LiveView(session.live)
    qtbot.addWidget(view)
    view.enabled_changed.connect(session.live_drawing.set_enabled)
    assert not view.result.isVisible() and session.live.result is None
    with qtbot.waitSignal(session.live.changed, check_params_cb=lambda w: w == "result", timeout=5000):
        view.enable_box.setChecked(True)                 # the current digit goes first
    assert np.array_equal(session.live.result.x0, bar(12))
    for col in (4, 8, 20):
        session.input_state.set_digit(bar(col), "drawn")
    qtbot.waitUntil(lambda: np.array_equal(session.live.result.x0, bar(20)), timeout=5000)
    assert "NFE" in view.info_label.text() and not np.array_equal(session.live.result.image, bar(20))
    task = session.live_drawing.task
    view.enable_box.setChecked(False)
    assert session.live_drawing.task is None and task.cancel_event.is_set()
    qtbot.waitUntil(lambda: not session.workers.is_running("live"), timeout=5000)
    session.input_state.set_digit(bar(6), "drawn")      # off: nothing more is computed
    assert session.live_drawing.task is None and not session.workers.is_running("live")
    QCoreApplication.processEvents()
    assert np.array_equal(session.live.result.x0, bar(20))


def test_t_restarts_the_job_and_out_of_range_is_refused(session, qtbot):
    session.live_drawing.set_enabled(True)
    qtbot.waitUntil(lambda: session.live.result is not None, timeout=5000)
    first = session.live_drawing.task
    session.live_drawing.set_t(50)
    assert session.live_drawing.task is not first
    qtbot.waitUntil(lambda: session.live.result is not None and
                    session.live.result.serial == 1 and session.live_drawing.task is not first, timeout=5000)
    with pytest.raises(ValueError, match="t must be in"):
        session.live_drawing.set_t(201)
    assert session.live.t == 50


def test_idle_items_are_never_emitted(qtbot):
    workers = WorkerController()
    go = threading.Event()

    def job(cancel):
        yield IDLE
        yield 1
        for _ in range(5):
            yield IDLE
        go.wait(2)
        yield 2

    got: list = []
    task = workers.start("idle-test", job, rate_hz=1000)
    task.items.connect(got.extend)
    qtbot.waitUntil(lambda: got == [1], timeout=3000)   # flushed while the job idles
    go.set()
    with qtbot.waitSignal(task.finished, timeout=3000):
        pass
    assert got == [1, 2]
    workers.shutdown(3000)


def test_while_live_the_forward_chain_follows_the_last_edit_at_a_lower_rate(session, qtbot):
    from ddpm_desktop.ui.session_live import LIVE_FORWARD_MS

    session.live_drawing.set_enabled(True)
    qtbot.waitUntil(lambda: session.live.result is not None, timeout=5000)
    chains = []
    session.forward.chain_changed.connect(lambda *a: chains.append(session.forward_x0().copy()))
    for col in (4, 8, 12, 16, 20):
        session.input_state.set_digit(bar(col), "drawn")
    assert chains == []                                    # not once per edit
    qtbot.waitUntil(lambda: len(chains) >= 1, timeout=20 * LIVE_FORWARD_MS)
    assert not session.live_drawing.forward_pending  # and no other one to come
    assert len(chains) == 1 and np.array_equal(chains[-1], bar(20))   # the trailing edit lands
    session.live_drawing.set_enabled(False)
    session.input_state.set_digit(bar(6), "drawn")         # off: at once again
    assert len(chains) == 2 and np.array_equal(chains[-1], bar(6))


def test_a_burst_of_strokes_recomputes_the_forward_chain_once_and_shows_the_newest(session, qtbot):
    from ddpm_desktop.ui.session_live import LIVE_FORWARD_MS
    from ddpm_desktop.ui.widgets.canvas import DrawCanvas

    canvas = DrawCanvas(size=280)
    qtbot.addWidget(canvas)
    canvas.resize(280, 280)
    canvas.show()
    qtbot.waitExposed(canvas)
    drawn: list = []
    canvas.digit_changed.connect(drawn.append)
    canvas.digit_changed.connect(lambda x: session.input_state.set_digit(x, "drawn"))
    session.live_drawing.set_enabled(True)
    qtbot.waitUntil(lambda: session.live.result is not None, timeout=5000)
    chains = []
    session.forward.chain_changed.connect(lambda *a: chains.append(session.forward_x0().copy()))
    for k in range(8):                                   # 8 strokes, no pause between them
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(60 + 20 * k, 40))
        for j in range(5):
            qtbot.mouseMove(canvas, pos=QPoint(60 + 20 * k + 3 * j, 60 + 35 * j))
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(75 + 20 * k, 220))
    assert len(drawn) >= 16 and chains == []             # 16 edits, no forward chain yet
    qtbot.waitUntil(lambda: len(chains) >= 1, timeout=20 * LIVE_FORWARD_MS)
    assert not session.live_drawing.forward_pending  # and no other one to come
    assert len(chains) == 1 and np.array_equal(chains[0], drawn[-1])   # once, the last edit
    qtbot.waitUntil(lambda: np.array_equal(session.live.result.x0, drawn[-1]), timeout=5000)
    assert session.live.result.serial <= len(drawn) + 1  # stale drawings were dropped, not queued


def test_switching_off_lands_a_deferred_forward_chain_at_once(session, qtbot):
    session.live_drawing.set_enabled(True)
    qtbot.waitUntil(lambda: session.live.result is not None, timeout=5000)
    session.input_state.set_digit(bar(4), "drawn")
    assert not np.array_equal(session.forward.frames[0], bar(4))    # deferred
    session.live_drawing.set_enabled(False)
    assert np.array_equal(session.forward.frames[0], bar(4))


@pytest.mark.slow
def test_the_bundled_model_reconstructs_with_its_student_in_one_call(qtbot):
    from ddpm_desktop.core import checkpoint
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.distill import bundled_student_path, load_student
    from ddpm_desktop.core.live import TEACHER_SAMPLER, TEACHER_STEPS

    torch.set_num_threads(1)
    s = Session(WorkerController())
    try:
        model, meta = checkpoint.load_model(checkpoint.bundled_model_path())
        student, smeta = load_student(bundled_student_path())
        s.model_state.set_model(model.eval(), "bundled model", meta)
        s.model_state.set_student(student, smeta)
        x0 = load_bundled_mnist("test").images[7].astype(np.float32) / 127.5 - 1.0
        s.input_state.set_digit(x0, "MNIST")
        s.live_drawing.set_enabled(True)
        qtbot.waitUntil(lambda: s.live.result is not None and np.array_equal(s.live.result.x0, x0),
                        timeout=10_000)
        r = s.live.result
        assert (s.live.sampler, s.live.steps, r.nfe) == ("distilled", 1, 1)
        # The oracle: one DDIM step from t to 0 is x̂₀ = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t of the
        # student's unconditional ε̂, with x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε and ε the seed's draw.
        t, ab = s.live.t, float(s.schedule.alphas_cumprod[s.live.t - 1])
        seed = torch.Generator().manual_seed(s.input_state.seed)
        eps = torch.randn((1, 1, 28, 28), generator=seed)
        x_t = np.sqrt(ab) * torch.from_numpy(x0)[None, None] + np.sqrt(1 - ab) * eps
        with torch.no_grad():
            eps_hat = student(x_t.float(), torch.tensor([float(s.schedule.log_snr[t - 1])]), None)
        want = ((x_t - np.sqrt(1 - ab) * eps_hat) / np.sqrt(ab)).clamp(-1, 1)[0, 0].numpy()
        np.testing.assert_allclose(r.image, want, atol=1e-4)
        # Another model (trained here, a file) has no student of its own: DPM-Solver++ again.
        s.model_state.set_model(model.eval(), "trained here", meta)
        assert (s.live.sampler, s.live.steps) == (TEACHER_SAMPLER, TEACHER_STEPS)
    finally:
        s.shutdown()
