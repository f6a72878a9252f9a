"""Forward chain playback (play, step, scrub, filmstrip), the histogram/KL view, and the
fast path that keeps schedule drags live."""
from __future__ import annotations


import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication

from ddpm_desktop.core.forward import forward_chain
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core import kl
from ddpm_desktop.core.forward import NoiseCache, forward_frames
from ddpm_desktop.core.sampling import generator_for
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.widgets.chain_view import ForwardChainView
from ddpm_desktop.ui.widgets.histogram_view import HistogramView


@pytest.fixture
def session(qtbot):
    workers = WorkerController()
    s = Session(workers)
    digit = np.full((28, 28), -1.0, np.float32)
    digit[6:22, 12:16] = 1.0  # a "1"
    s.input_state.set_digit(digit, "test")
    yield s
    s.shutdown()


@pytest.fixture
def view(qtbot, session):
    v = ForwardChainView(session.forward)
    qtbot.addWidget(v)
    return v


def test_forward_frames_match_core_forward_chain():
    schedule = NoiseSchedule.named("linear", 300)
    x0 = np.linspace(-1, 1, 784, dtype=np.float32).reshape(28, 28)
    ours = forward_frames(schedule, x0, NoiseCache().get(7, 300))
    core = forward_chain(schedule, x0, seed=7).x
    np.testing.assert_allclose(ours, core, atol=1e-5)


def test_forward_frames_in_column_blocks_match_one_float64_pass():
    """The app computes the chain in blocks of columns (speed); the result is the whole-array
    float64 formula bit for bit, for a cosine T = 1000 (1/√ᾱ_T ≈ 2e4) and a width that leaves a
    partial last block."""
    schedule = NoiseSchedule.named("cosine", 1000)
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-1, 1, (28, 28)).astype(np.float32)
    noises = rng.standard_normal((1000, 28, 28)).astype(np.float32)
    flat = noises.reshape(1000, -1).astype(np.float64)
    acc = np.cumsum(flat * np.sqrt(schedule.betas / schedule.alphas_cumprod)[:, None], axis=0)
    acc = (acc + x0.reshape(1, -1)) * schedule.sqrt_alphas_cumprod[:, None]
    ours = forward_frames(schedule, x0, noises).reshape(1001, -1)
    np.testing.assert_array_equal(ours[0], x0.reshape(-1))
    np.testing.assert_array_equal(ours[1:], acc.astype(np.float32))


def test_schedule_change_recomputes_chain_and_kl_curves(session):
    session.schedule_state.set_params(T=1000)
    for beta_end in (0.015, 0.03):
        session.schedule_state.set_params(beta_end=beta_end)
        f = session.forward
        assert f.T == 1000 and f.schedule.betas[-1] == pytest.approx(beta_end)
        x0 = session.forward_x0()
        expect = forward_frames(f.schedule, np.asarray(x0, np.float32),
                                       NoiseCache().get(session.input_state.seed, 1000))
        np.testing.assert_array_equal(f.frames, expect)
        np.testing.assert_allclose(f.kl_hist, kl.histogram_kl_batch(expect.reshape(len(expect), -1)))
        np.testing.assert_allclose(f.kl_conditional, kl.analytic_kl_q(f.schedule, x0))


def test_play_advances_frames_and_stops_at_T(view, qtbot, session):
    session.schedule_state.set_params(T=60)
    view.set_speed(1000)
    view.play()
    assert view.playing
    qtbot.waitUntil(lambda: session.forward.t > 0, timeout=2000)
    qtbot.waitUntil(lambda: not view.playing, timeout=3000)
    assert session.forward.t == 60


def test_pause_stops_advancing(view, qtbot):
    view.set_speed(10)
    view.play()
    qtbot.waitUntil(lambda: view.state.t > 0, timeout=2000)
    view.pause()
    t = view.state.t
    assert not view.playing  # its timer stopped: nothing is left to advance t
    QCoreApplication.processEvents()
    assert view.state.t == t


def test_step_home_end_and_scrub(view, session):
    view.step(1)
    view.step(1)
    assert session.forward.t == 2
    view.step(-1)
    assert session.forward.t == 1
    view.go_end()
    assert session.forward.t == session.forward.T
    view.go_start()
    assert session.forward.t == 0
    view.slider.setValue(321)  # scrub
    assert session.forward.t == 321
    image = view.pane.image.image
    np.testing.assert_array_equal(image, session.forward.frames[321])
    assert "321" in view.t_label.text()


def test_filmstrip_shows_key_frames_and_jumps(view, session, qtbot):
    strip = view.filmstrip
    assert strip.ts == [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    with qtbot.waitSignal(strip.frame_clicked) as blocker:
        strip.frame_clicked.emit(700)
    assert blocker.args == [700]
    assert session.forward.t == 700


def test_histogram_view_follows_the_frame_and_shows_kl(qtbot, session):
    hv = HistogramView(session.forward, session.reverse)
    qtbot.addWidget(hv)
    session.forward.set_frame(0)
    _, clean = hv.forward_hist.getData()
    session.forward.set_frame(session.forward.T)
    _, noisy = hv.forward_hist.getData()
    assert not np.allclose(clean, noisy)
    assert hv.cursor.value() == session.forward.T
    assert "≈ N(0,1)" in hv.kl_label.text()
    session.forward.set_frame(10)
    assert "not N(0,1) yet" in hv.kl_label.text()
    # dragging the KL cursor scrubs the chain
    hv.cursor.setValue(250)
    assert session.forward.t == 250
    x, y = hv.kl_hist_curve.getData()
    assert len(x) == session.forward.T + 1


def test_histogram_axis_fits_the_taller_of_forward_and_reverse(qtbot, session):
    from ddpm_desktop.ui.state import Lane

    hv = HistogramView(session.forward, session.reverse)
    qtbot.addWidget(hv)
    session.forward.set_frame(session.forward.T)  # noise: peak density ~0.4
    top_noise = hv.hist_plot.getViewBox().viewRange()[1][1]
    digit = np.full((28, 28), -1.0, np.float32)
    digit[10:18, 10:18] = 1.0  # a clean image: most pixels in one bin
    session.reverse.start([Lane("ddim", 1)])
    session.reverse.add(0, digit, digit, 0, 1, 1)
    session.reverse.commit()
    _, density = hv.reverse_hist.getData()
    top = hv.hist_plot.getViewBox().viewRange()[1][1]
    assert top > top_noise and top >= min(density.max(), 4.0)
    session.reverse.start([])  # no reverse chain: back to the forward histogram's own range
    assert hv.hist_plot.getViewBox().viewRange()[1][1] == pytest.approx(top_noise)


def test_noise_start_forward_chain_converges(session):
    session.input_state.set_start("exponential", rate=0.5)
    session.input_state.set_forward_from("noise")
    kl = session.forward.kl_hist
    assert kl[0] > 0.5  # exponential noise is far from N(0, 1)
    assert kl[-1] < 3 * session.forward.kl_floor


def test_the_kl_curves_the_views_show_are_the_four_quantities(qtbot, session):
    """Exact KL of p_t and the estimate arrive from the background; the bound and the poster's
    histogram are there at once; the exact marginal never exceeds the bound."""
    from ddpm_desktop.core import marginal

    hv = HistogramView(session.forward, session.reverse)
    qtbot.addWidget(hv)
    f = session.forward
    qtbot.waitUntil(lambda: f.kl_marginal is not None and f.kl_estimate is not None,
                    timeout=20_000)
    digit = session.input_state.digit
    np.testing.assert_allclose(f.kl_marginal, marginal.marginal_kl_image_curve(f.schedule, digit))
    est, spread = kl.estimated_kl_band_batch(f.frames.reshape(len(f.frames), -1))
    np.testing.assert_allclose(f.kl_estimate, est)
    assert np.isinf(f.kl_marginal[0])  # an image's pixel values are discrete at t = 0
    assert np.all(f.kl_marginal[1:] <= f.kl_conditional[1:] + 1e-9)
    x, _ = hv.kl_marginal_curve.getData()
    assert len(x) == f.T  # t = 1..T (inf at t = 0 is not drawn)
    session.forward.set_frame(200)
    assert f"exact <b>{f.kl_marginal[200]:.3g}</b>" in hv.kl_label.text()
    assert "bound" in hv.kl_label.text() and "hist." in hv.kl_label.text()
    # a schedule edit gets the exact marginal at once: the input's table is built
    session.schedule_state.set_params(beta_end=0.03)
    assert f.kl_marginal is not None
    np.testing.assert_allclose(f.kl_marginal, marginal.marginal_kl_image_curve(f.schedule, digit))


def test_exponential_start_exact_kl_is_the_closed_form(qtbot, session):
    from ddpm_desktop.core.forward import start_analytic_kl

    session.input_state.set_start("exponential", rate=0.5)
    session.input_state.set_forward_from("noise")
    f = session.forward
    qtbot.waitUntil(lambda: f.kl_marginal is not None, timeout=20_000)
    assert f.kl_marginal[0] == pytest.approx(start_analytic_kl("exponential", rate=0.5), rel=1e-4)
    assert f.kl_marginal[0] == pytest.approx(3.2258, abs=1e-3)
