"""The 2-D diffusion window: a view of the session's Toy2DState; the session runs its work."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from ddpm_desktop.core import toy2d
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.session_toy2d import TOY_SAMPLE_JOB
from ddpm_desktop.ui.toy2d_window import build_toy2d_window
from settle import settle


@pytest.fixture
def session(qtbot):
    torch.set_num_threads(1)
    s = Session(WorkerController())
    s.schedule_state.set_params(T=200)
    yield s
    s.shutdown()


@pytest.fixture
def window(qtbot, session):
    w = build_toy2d_window(session)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def _run_job(qtbot, session, is_running):
    # not running once the job's `finished` is handled: its items were delivered before it
    qtbot.waitUntil(lambda: not is_running(), timeout=30_000)


def test_nothing_is_computed_before_the_window_opens(session):
    assert session.toy2d.frames is None


def test_window_shows_2000_particles_under_the_schedule(window, session):
    s = session.toy2d
    assert s.frames.shape == (201, 2000, 2)
    assert len(window.scatter.data) == 2000
    assert window.slider.maximum() == 200
    # the forward chain is q's: at T the particles are N(0, I)-like, at 0 they are the ring
    x_T = s.frames[-1]
    assert np.abs(x_T.mean(0)).max() < 0.1 and np.abs(x_T.std(0) - 1).max() < 0.1
    np.testing.assert_allclose(np.linalg.norm(s.frames[0], axis=1).mean(), 2.0, atol=0.05)


@pytest.mark.slow
def test_scrubbing_moves_particles_and_labels(window, session, qtbot):
    window.slider.setValue(50)
    s = session.toy2d
    assert s.t == 50
    np.testing.assert_array_equal(window.scatter.data["x"], s.frames[50][:, 0])
    ab = float(session.schedule.alphas_cumprod[49])
    assert f"{ab:.4g}" in window.ab_label.text()
    assert f"{s.kl_at(50):.4g}" in window.kl_label.text()
    assert "exact p_t" in window.kl_label.text()
    assert "∫ p_t ln(p_t/φ)" in window.kl_label.toolTip()


def test_kl_curve_falls_to_zero(window, session):
    s = session.toy2d
    # T = 200 of the linear schedule leaves ᾱ_T = 0.134: p_T is close to, not at, N(0, I)
    ab_T = float(session.schedule.alphas_cumprod[-1])
    mc, se = toy2d.kl_monte_carlo(toy2d.RING8, ab_T, 40_000, torch.Generator().manual_seed(0))
    assert s.kl_t[-1] == 200 and s.kl_values[-1] == pytest.approx(mc, abs=4 * se + 1e-3)
    assert s.kl_values[0] > 2.0 > 0.05 > s.kl_values[-1]
    assert np.all(np.diff(s.kl_values) <= 1e-6)   # data processing: the KL never rises with t


@pytest.mark.slow
def test_schedule_change_recomputes_the_particles(window, session, qtbot):
    session.schedule_state.set_params(T=300)
    qtbot.waitUntil(lambda: session.toy2d.frames.shape[0] == 301, timeout=3000)
    assert window.slider.maximum() == 300


@pytest.mark.slow
def test_play_advances_t(window, session, qtbot):
    window.play_button.setChecked(True)
    qtbot.waitUntil(lambda: session.toy2d.t > 10, timeout=5000)
    window.play_button.setChecked(False)


def test_exact_fields_are_shown_and_learned_absent(window, session):
    session.toy.set_frame(100)
    assert len(window.field_items["exact"].xData) > 0
    assert window.field_items["learned"].xData is None or len(window.field_items["learned"].xData) == 0
    assert "needs both" in window.diff_label.text()


@pytest.mark.slow
def test_reverse_chain_with_the_exact_denoiser_reaches_the_ring(window, session, qtbot):
    session.sampler.update(sampler="ddim", steps=50)
    assert session.toy.request_sampling()
    _run_job(qtbot, session, session.toy.is_sampling)
    s = session.toy2d
    assert s.reverse.shape == (51, 2000, 2) and s.reverse_done
    r = np.linalg.norm(s.reverse[-1], axis=1)
    assert abs(np.median(r) - 2.0) < 0.1
    assert window._show_mode() == "reverse"
    session.toy.set_frame(0)
    np.testing.assert_array_equal(window.scatter_rev.data["x"], s.reverse[-1][:, 0])
    # picked particles leave trajectories: one path of 51 points per pick, NaN separated
    n_picked = len(s.picked)
    assert len(window.trails.xData) == n_picked * 52


def test_picking_adds_the_nearest_particle(window, session, qtbot):
    session.toy.set_frame(0)
    p = session.toy2d.particles()[1234]
    window.pick_requested.emit(float(p[0]), float(p[1]), True)
    assert 1234 in session.toy2d.picked


@pytest.mark.slow
def test_training_runs_in_the_background_and_fills_the_loss_curve(window, session, qtbot):
    assert session.toy.start_training(200)
    assert window.train_button.text() == "Stop training"
    _run_job(qtbot, session, session.toy.is_training)
    s = session.toy2d
    assert s.loss_steps[-1] == 200 and s.learned is not None
    assert len(window.loss_curve.xData) == 200
    assert "step 200" in window.loss_label.text()
    session.toy.set_frame(100)
    assert len(window.field_items["learned"].xData) > 0
    assert "RMS" in window.diff_label.text()
    # the difference plot draws ε_exact − ε̂_learned; its RMS is the label's number
    d = window._fields["learned"][1] - window._fields["exact"][1]
    assert f"{np.sqrt(np.mean(np.sum(d * d, axis=1))):.4f}" in window.diff_label.text()
    assert len(window.field_items["difference"].xData) == len(window.field_items["exact"].xData)
    assert window.train_button.text() == "Train MLP"


@pytest.mark.slow
def test_no_exact_denoiser_for_moons(window, session, qtbot):
    window.dataset_combo.setCurrentIndex(toy2d.DATASETS.index("moons"))
    window.dataset_combo.activated.emit(window.dataset_combo.currentIndex())
    s = session.toy2d
    assert s.dataset == "moons" and s.model == "learned"
    assert "kernel estimate" in window.kl_label.text()
    with qtbot.waitSignal(session.error) as blocker:
        session.toy.set_model("exact")
    assert "only for the Gaussian mixtures" in blocker.args[0]
    assert s.model == "learned"
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.toy.request_sampling()
    assert "train the MLP first" in blocker.args[0]


@pytest.mark.slow
def test_painting_and_adding_components(window, session):
    window.mouse_combo.setCurrentIndex(2)  # paint
    assert window.vb.paint_mode
    window.vb.painted.emit(np.array([[0.5, 0.5], [1.0, -1.0]]))
    s = session.toy2d
    assert s.dataset == "painted" and len(s.painted) == 2
    near = np.min(np.linalg.norm(s.frames[0][:, None] - s.painted[None], axis=2), axis=1)
    assert near.max() < 6 * toy2d.PAINT_JITTER
    window.mouse_combo.setCurrentIndex(1)
    window.vb.clicked.emit(-2.0, 2.0, False)
    assert s.dataset == "gmm" and s.mixture.K == toy2d.DEFAULT_GMM.K + 1
    np.testing.assert_allclose(s.mixture.means[-1], [-2.0, 2.0])
    assert s.exact_available


@pytest.mark.slow
def test_main_window_menu_opens_the_2d_window(qtbot):
    from ddpm_desktop.ui.main_window import MainWindow

    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    try:
        w.menus.toy2d_action.trigger()
        assert w.toy2d_window.isVisible()
        assert w.toy2d_window.windowFlags() & Qt.WindowType.Window
        assert w.session.toy2d.frames is not None
    finally:
        w.close()


@pytest.mark.slow
def test_a_data_change_mid_sampling_cancels_the_stale_chain(window, session, qtbot):
    session.sampler.update(sampler="ddpm", steps=None)     # 200 steps: still running below
    assert session.toy.request_sampling()
    stale = session.workers.task(TOY_SAMPLE_JOB)
    session.toy.set_dataset("moons")
    assert not session.toy.is_sampling()
    # the stale job ends: every item it sent was delivered (and dropped) before its end
    qtbot.waitUntil(lambda: stale.done, timeout=10_000)
    assert session.toy2d.reverse is None


@pytest.mark.slow
def test_compare_runs_ddpm_beside_the_ode_from_the_same_x_T(window, session, qtbot):
    session.sampler.update(sampler="ddpm", steps=40, compare=True, sampler_b="ddim", eta=0.0)
    assert session.toy.request_sampling()
    _run_job(qtbot, session, session.toy.is_sampling)
    s = session.toy2d
    assert s.reverse.shape == s.reverse_b.shape == (41, 2000, 2)
    np.testing.assert_array_equal(s.reverse[0], s.reverse_b[0])        # the same x_T
    assert not np.allclose(s.reverse[-1], s.reverse_b[-1])             # different chains
    for lane in (s.reverse[-1], s.reverse_b[-1]):                      # both reach the ring
        assert abs(np.median(np.linalg.norm(lane, axis=1)) - 2.0) < 0.1
    session.toy.set_frame(0)
    np.testing.assert_array_equal(window.scatter_rev_b.data["x"], s.reverse_b[-1][:, 0])
    assert "DDIM" in window.reverse_label.text() and "same x_T" in window.reverse_label.text()


@pytest.mark.slow
def test_an_empty_painting_asks_for_points_and_refuses_to_sample(window, session, qtbot):
    with qtbot.waitSignal(session.status) as blocker:
        session.toy.set_dataset("painted")
    assert "paint" in blocker.args[0]
    with qtbot.assertNotEmitted(session.error):
        session.schedule_state.set_params(T=250)
    assert not session.toy.recompute_pending  # nothing queued to follow an empty painting
    assert session.toy2d.model == "learned"
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.toy.request_sampling()
    assert "paint some points first" in blocker.args[0]


@pytest.mark.slow
def test_a_theme_change_recolours_the_plots(window, qtbot):
    from ddpm_desktop.ui import theme

    for palette in (theme.dark_palette(), theme.light_palette()):
        window.setPalette(palette)      # a PaletteChange, as apply_theme sends every widget
        c = theme.plot_colors(palette)
        assert window.colors == c
        assert window.scatter.opts["brush"].color().name() == c.forward.lower()
        assert window.kl_curve.opts["pen"].color().name() == c.gaussian.lower()


# ----------------------------------------------------------- the frame's cost and view box
def test_a_frame_rebuilds_only_what_changed(window, session, monkeypatch):
    """Heat map and arrows follow t; a redraw for anything else (picking, the reverse chain)
    rebuilds neither, and the particle plot's arrows share the field plot's path."""
    calls = []
    source = window.field_source
    monkeypatch.setattr(window, "field_source", lambda *a, **k: calls.append(a) or source(*a, **k))
    window.arrows_check.setChecked(True)
    session.toy.set_frame(40)
    heat, exact = window.heat.builds, window.field_items["exact"].builds
    n_calls = len(calls)
    session.toy.set_frame(41)
    assert (window.heat.builds, window.field_items["exact"].builds) == (heat + 1, exact + 1)
    assert len(calls) == n_calls + 1
    session.toy.pick_particle(2.0, 0.0, add=False)      # a redraw at the same t
    window._redraw()
    assert (window.heat.builds, window.field_items["exact"].builds) == (heat + 1, exact + 1)
    assert len(calls) == n_calls + 1
    assert window.main_arrows.builds == 0
    assert window.main_arrows.path() is window.field_items["exact"].path()
    np.testing.assert_array_equal(window.main_arrows.xData, window.field_items["exact"].xData)


@pytest.mark.slow
def test_a_frame_does_not_lay_the_window_out_again(window, session, qtbot, monkeypatch):
    """The readouts that change with t are placed by their own column: a scrub lays the
    window out again only when the column's height changes (a readout wrapping to another
    line), not on every frame (it did, 20 layout requests in 10 frames)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    class Count(QObject):
        n = 0

        def eventFilter(self, obj, ev):  # noqa: N802 - Qt override
            Count.n += ev.type() == QEvent.Type.LayoutRequest and obj is window
            return False

    session.toy.set_frame(10)
    settle()
    grew = []
    column_update = window.readouts.updateGeometry
    monkeypatch.setattr(window.readouts, "updateGeometry",
                        lambda: grew.append(1) or column_update())
    counter = Count()
    QApplication.instance().installEventFilter(counter)
    try:
        for t in range(20, 120, 10):
            session.toy.set_frame(t)
            QApplication.processEvents()
    finally:
        QApplication.instance().removeEventFilter(counter)
    assert Count.n <= len(grew) <= 3
    assert "t = 110 of" in window.t_label.text()


def test_far_data_clamps_the_plots_to_p_t(window, session):
    """A component far out: the view box (core.toy2d.view_box) sets the plots' ranges, the
    heat map and the arrows' grid, and shrinks back as p_t tends to N(0, I)."""
    session.toy.add_component(9.0, 9.0, 0.3)
    s = session.toy2d
    session.toy.set_frame(0)
    cx, cy, half = toy2d.view_box(s.marginal, 1.0)
    assert half > 6
    for plot in (window.main_plot, window.field_plots["exact"]):
        (x0, x1), (y0, y1) = plot.viewRange()
        assert x0 <= cx - half and x1 >= cx + half and y0 <= cy - half and y1 >= cy + half
        assert min(x1 - x0, y1 - y0) < 2 * half * 1.2       # and not much wider
    session.toy.set_frame(100)
    ab = float(session.schedule.alphas_cumprod[99])
    cx, cy, half = toy2d.view_box(s.marginal, ab)
    pts = window._fields["exact"][0]
    np.testing.assert_allclose(pts.min(0), [cx - 0.9 * half, cy - 0.9 * half], atol=1e-5)
    np.testing.assert_allclose(pts.max(0), [cx + 0.9 * half, cy + 0.9 * half], atol=1e-5)
    rect = window.heat.boundingRect()
    assert rect.center().x() == pytest.approx(cx) and rect.width() >= 2 * half
    session.toy.set_frame(s.T)
    assert toy2d.view_box(s.marginal, float(session.schedule.alphas_cumprod[-1]))[2] < half
    (x0, x1), (y0, y1) = window.field_plots["exact"].viewRange()
    assert min(x1 - x0, y1 - y0) < 2 * half                   # shrunk with p_t


@pytest.mark.slow
def test_file_menu_exports_the_2d_animation(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog
    from PIL import Image

    from ddpm_desktop.ui.main_window import MainWindow

    out = tmp_path / "toy.gif"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    w = MainWindow(load_model=False)
    qtbot.addWidget(w)
    try:
        assert w.menus.toy2d_export_action in w.menuBar().actions()[0].menu().actions()
        w.menus.toy2d_export_action.trigger()
        assert w.toy2d_window.isVisible()
        qtbot.waitUntil(lambda: out.exists() and not w.session.toy.is_exporting(), timeout=60_000)
        assert Image.open(out).n_frames >= 30
    finally:
        w.close()
