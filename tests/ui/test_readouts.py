"""The KL readouts explain themselves (offscreen): an estimate under its resolution reads
"≈ 0 (below …)" with the raw value on hover, and t = 0 of an image reads ∞ with its reason in
words, never "∞ ± –" or a negative KL."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core import kl, readout
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.state import ForwardState, Lane, ReverseState, SamplerState, ScheduleState
from ddpm_desktop.ui.widgets.histogram_view import HistogramView
from ddpm_desktop.ui.widgets.maths_panel import MathsPanel

N = 784


def _negative_estimate_sample() -> np.ndarray:
    """784 draws of N(0, 1) whose estimate comes out below 0 (about a third of seeds do)."""
    for seed in range(200):
        x = np.random.default_rng(seed).standard_normal(N)
        if kl.estimated_kl(x) < 0:
            return x.reshape(28, 28).astype(np.float32)
    raise AssertionError("no negative estimate in 200 seeds")


def _image() -> np.ndarray:
    """An image: a flat background of -1 and a block of +1 (its values repeat)."""
    x0 = np.full((28, 28), -1.0, np.float32)
    x0[8:20, 10:18] = 1.0
    return x0


@pytest.fixture
def forward() -> ForwardState:
    """A 3-frame chain: an image, a half-noised frame, and N(0, 1) noise with a negative
    estimate; the exact marginal is not computed yet."""
    x0, noise = _image(), _negative_estimate_sample()
    frames = np.stack([x0, 0.6 * x0 + 0.8 * noise, noise])
    schedule = NoiseSchedule.named("linear", 2, 0.3, 0.6)
    flat = frames.reshape(3, -1)
    f = ForwardState()
    f.set_chain(frames, schedule, kl.histogram_kl_batch(flat), kl.analytic_kl_q(schedule, x0),
                kl.bias_floor(N), None, float(kl.indistinguishable_level(N)))
    f.set_estimate(*kl.estimated_kl_band_batch(flat))
    return f


def test_a_negative_estimate_reads_about_zero_with_the_raw_value_on_hover(qtbot, forward):
    raw = float(forward.kl_estimate[2])
    assert raw < 0
    view = HistogramView(forward, ReverseState())
    qtbot.addWidget(view)
    forward.set_frame(2)
    level = readout.number(forward.kl_level)
    text, tip = view.kl_label.text(), view.kl_label.toolTip()
    assert f"est. ≈ 0 (below {level})" in text
    assert "−" not in text and "-0." not in text  # no negative KL on screen
    assert readout.number(raw) in tip and "cannot be told from 0" in tip
    assert "∫ p_t ln(p_t/φ)" in tip  # the formulas stay on hover
    assert "KL exact <b>not computed yet</b>" in text


def test_t0_of_an_image_reads_infinity_with_its_reason(qtbot, forward):
    view = HistogramView(forward, ReverseState())
    qtbot.addWidget(view)
    forward.set_frame(0)
    assert np.isinf(forward.kl_estimate[0])
    text = view.kl_label.text()
    assert f"est. ∞ ({readout.NO_DENSITY})" in text and "±" not in text
    assert f"bound ∞ ({readout.POINT_MASS})" in text
    assert readout.NO_DENSITY_TIP in view.kl_label.toolTip()
    forward.set_marginal(np.array([np.inf, 0.5, 1e-3]))  # the exact KL: ∞ for the same reason
    assert (f"KL exact <b>∞</b> · est. ∞ ({readout.NO_DENSITY})" in view.kl_label.text())


def test_a_reverse_frame_below_the_level_reads_about_zero(qtbot, forward):
    reverse = ReverseState()
    view = HistogramView(forward, reverse)
    qtbot.addWidget(view)
    noise = forward.frames[2]
    reverse.start([Lane("ddim", 1)])
    reverse.add(0, noise, noise, 0, 1, 1, kl.estimated_kl(noise.ravel()))  # as the worker does
    reverse.commit()
    lane = reverse.lanes[0]
    assert lane.kl[-1] < 0
    assert "estimated KL ≈ 0 (below" in view.kl_label.text()
    assert readout.number(float(lane.kl[-1])) in view.kl_label.toolTip()


def test_the_maths_panel_at_t0_says_why_in_words(qtbot, forward):
    panel = MathsPanel(forward, ScheduleState(), SamplerState(), ReverseState())
    qtbot.addWidget(panel)
    forward.set_frame(0)
    panel.flush(force=True)
    row = panel.rows["kl.estimate"]
    value = row.value_label.text()
    assert value == f"KL̂ = ∞ ({readout.NO_DENSITY})"  # was "KL̂ = ∞ ± – nats"
    assert readout.NO_DENSITY_TIP in row.toolTip() and "m-spacing" in row.toolTip()
    assert "not computed yet" in panel.rows["kl.exact"].value_label.text()
    assert readout.POINT_MASS in panel.rows["kl.bound"].value_label.text()
    forward.set_frame(2)
    panel.flush(force=True)
    assert "KL̂ = ≈ 0 (below" in row.value_label.text()
    assert "raw value −" in row.toolTip()


def test_the_start_distribution_kl_says_why_it_is_infinite(qtbot):
    from ddpm_desktop.core.forward import start_analytic_kl
    from ddpm_desktop.ui.state import InputState
    from ddpm_desktop.ui.widgets.input_panel import InputPanel

    state = InputState()
    panel = InputPanel(state, load_dataset=False)
    qtbot.addWidget(panel)
    state.set_start("salt_pepper")
    assert panel.kl_label.text() == f"exact KL to N(0,1): ∞ ({readout.DISCRETE})"
    assert readout.DISCRETE_TIP in panel.kl_label.toolTip()
    state.set_start("exponential", rate=0.5)
    want = readout.number(start_analytic_kl("exponential", rate=0.5))
    assert panel.kl_label.text() == f"exact KL to N(0,1): {want} nats/pixel"
    assert "−H(p) + ½ ln 2π" in panel.kl_label.toolTip()
