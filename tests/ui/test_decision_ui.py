"""The decision plot in the UI: it follows a reverse run (sampling, inpainting), its rows
equal core.decision on the chain's x̂₀; N completions of the reconstruct x_t; refusals. The
session is conftest's (T = 200, the bar digit); each test gives it a model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_desktop.core.classifier import bundled_reader
from ddpm_desktop.core.decision import bundled_classifier, decision_curve, settle_step
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.widgets.completions_panel import CompletionsPanel
from ddpm_desktop.ui.widgets.decision_view import DecisionView

from session_helpers import sample_to_the_end, shown_tiles


class FakeModel(torch.nn.Module):
    null_label = 10

    def forward(self, x, log_snr, labels=None):
        return 0.5 * x + 0.05 * torch.tanh(log_snr)[:, None, None, None]


def test_the_plot_follows_a_reverse_run(session, decision_view, qtbot):
    view = decision_view
    session.model_state.set_model(FakeModel(), "fake")
    sample_to_the_end(session, qtbot, SamplerSettings(sampler="ddim", steps=10))
    lane, d = session.reverse.lanes[0], session.decision
    assert len(d.ts) == 10 and d.ts.tolist() == lane.t[:-1]
    assert d.frames.tolist() == list(range(1, 11))
    expected = decision_curve(bundled_classifier(), np.stack(lane.x0_pred[1:]))
    np.testing.assert_allclose(d.probs, expected, atol=1e-6)
    assert d.settle_t == settle_step(expected, lane.t[:-1])
    # the view: ten lines of ten points, the settle marker at its t, the cursor at the frame shown
    assert all(len(c.getData()[0]) == 10 for c in view.curves)
    assert view.settle_line.isVisible() and view.settle_line.value() == d.settle_t
    final = bundled_reader().read(lane.x0_pred[-1][None])[0]
    assert d.final_is_digit == final.digit
    expected_readout = (f"settles on {d.settle_class} at t = {d.settle_t}," if final.digit
                        else f"not a digit (its most probable class {d.settle_class} settles at t = {d.settle_t})")
    assert expected_readout in view.readout.text()
    assert "so far" not in view.readout.text()
    session.reverse.set_frame(3)
    assert view.cursor.isVisible() and view.cursor.value() == lane.t[2]
    # a new run clears it and fills it again
    sample_to_the_end(session, qtbot, SamplerSettings(sampler="ddpm", steps=7, seed=3))
    assert len(session.decision.ts) == 7
    assert all(len(c.getData()[0]) == 7 for c in view.curves)


@pytest.mark.slow
def test_inpainting_chains_are_read_too_without_repaint_jumps(session, qtbot):
    session.model_state.set_model(FakeModel(), "fake")
    session.inpaint.set_settings(method="repaint", n=2, steps=30)   # jumps at 0 and 10
    assert session.inpainter.start()
    qtbot.waitUntil(lambda: not session.inpainter.is_running() and session.decision.complete, timeout=20_000)
    lane = session.reverse.lanes[0]
    assert len(session.decision.ts) == lane.nfe[-1] < len(lane) - 1   # jumps made no call
    # every completion's settle t is the t of one of the chain's network calls
    assert session.inpaint.settled.shape == (2,)
    assert set(session.inpaint.settled.tolist()) <= set(session.decision.ts.tolist())


def test_completions_of_the_reconstruct_x_t(session, completions_panel, qtbot):
    panel = completions_panel
    session.model_state.set_model(FakeModel(), "fake")
    settings = SamplerSettings(sampler="ddpm", steps=6, source="input", t_start=80, seed=4)
    sample_to_the_end(session, qtbot, settings)
    reconstruct = session.reverse.lanes[0].x_t[-1]
    panel.n_spin.setValue(3)
    assert session.completions.n == 3
    with qtbot.waitSignal(session.completions.running_changed, timeout=10_000):
        panel.run_button.click()
    qtbot.waitUntil(lambda: not session.completions.running, timeout=10_000)
    st = session.completions
    assert st.images.shape == (3, 28, 28) and st.t == 80 and st.nfe == 6
    np.testing.assert_allclose(st.images[0], reconstruct, atol=1e-5)   # seed + 0 = the reconstruct run
    assert not np.allclose(st.images[0], st.images[1])
    assert set(st.settled.tolist()) <= set(session.reverse.lanes[0].t[:-1])
    shown = shown_tiles(panel.grid)
    assert len(shown) == 3 and "settles t =" in shown[0].caption.text()
    assert "3 completions of x_80" in panel.result_label.text()


def test_a_deterministic_sampler_is_refused(session, qtbot):
    panel = CompletionsPanel(session.completions, session.sampler)
    qtbot.addWidget(panel)
    session.model_state.set_model(FakeModel(), "fake")
    session.sampler.update(sampler="dpmpp")
    assert not panel.run_button.isEnabled() and "deterministic" in panel.problem_label.text()
    with qtbot.waitSignal(session.error, timeout=1000) as blocker:
        assert not session.completer.start()
    assert "deterministic" in blocker.args[0]
    session.sampler.update(sampler="ddim", eta=0.5)
    assert panel.run_button.isEnabled() and panel.problem_label.isHidden()
    with pytest.raises(ValueError):
        session.completions.set_n(0)


def _contrast(a, b):
    def lum(c):
        ch = [v / 255 for v in theme.rgb(c)]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_class_colours_are_ten_distinct_legible_lines():
    for colours, bg in ((theme.CLASS_COLORS_DARK, theme.DARK_COLORS.background),
                        (theme.CLASS_COLORS_LIGHT, theme.LIGHT_COLORS.background)):
        assert len(set(colours)) == 10
        assert min(_contrast(c, bg) for c in colours) >= 3.0


def test_the_predicted_speciation_step_is_marked_and_follows_the_schedule(session, decision_view, qtbot):
    from ddpm_desktop.core.data import load_bundled_mnist

    view = decision_view
    session.model_state.set_model(FakeModel(), "fake")
    sample_to_the_end(session, qtbot, SamplerSettings(sampler="ddim", steps=10))
    qtbot.waitUntil(lambda: session.decision.speciation is not None, timeout=20_000)
    # oracle: Λ from numpy's covariance of the training digits, the step by a plain loop over ᾱ_t
    x = load_bundled_mnist("train").images.reshape(-1, 784).astype(np.float64) / 127.5 - 1.0
    lam = np.linalg.eigvalsh(np.cov(x, rowvar=False))[-1]

    def first_step(schedule):
        return next((t for t in range(1, schedule.T + 1) if schedule.alphas_cumprod[t - 1] <= 1.0 / lam), None)

    sp = session.decision.speciation
    assert sp.lambda_max == pytest.approx(lam, rel=1e-9)
    # linear β at T = 200 ends at ᾱ_T = 0.13, above ᾱ_S = 1/Λ: no step to mark
    assert sp.t is None is first_step(session.schedule_state.schedule)
    assert not view.speciation_line.isVisible() and "no predicted t_S" in view.readout.text()
    session.schedule_state.set_params(T=1000)
    sp = session.decision.speciation
    assert sp.t == first_step(session.schedule_state.schedule) is not None
    assert view.speciation_line.isVisible() and view.speciation_line.value() == sp.t
    assert f"predicted t_S = {sp.t}" in view.readout.text()
    before = sp.t
    session.schedule_state.set_params(kind="cosine")
    sp = session.decision.speciation
    assert sp.t == first_step(session.schedule_state.schedule) and sp.t != before
    assert view.speciation_line.value() == sp.t and f"predicted t_S = {sp.t}" in view.readout.text()


def test_before_its_first_reading_the_plot_spans_the_chain(qtbot):
    """While a run waits for its first x̂₀, the t axis runs over the chain (T to 0), not over
    a pixel's width around the predicted t_S line (it read 551.4 .. 550.6)."""
    from ddpm_desktop.core.speciation import SpeciationTime
    from ddpm_desktop.ui.decision_state import DecisionState
    from ddpm_desktop.ui.state import Lane, ReverseState

    state, reverse = DecisionState(), ReverseState()
    view = DecisionView(state, reverse)
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    state.set_speciation(SpeciationTime(lambda_max=21.7, alpha_bar=1 / 21.7, t=551))
    state.clear("DDPM")
    reverse.start([Lane("ddpm", 100)])
    z = np.zeros((28, 28), np.float32)
    reverse.add(0, z, z, 1000, 0, 100)
    reverse.commit()
    qtbot.waitUntil(lambda: view.plot.getPlotItem().vb.viewRange()[0][1] >= 1000, timeout=2000)
    lo, hi = view.plot.getPlotItem().vb.viewRange()[0]
    assert lo <= 0 and view.speciation_line.isVisible()
