"""The guidance trade-off plot: the bundled measurements drawn as measured, the marker and the
caption following the sampler's w, and the default w meeting the targets it was chosen by."""
from __future__ import annotations

import json

import numpy as np

from ddpm_desktop import resources_path
from ddpm_desktop.core.evaluation import load_guidance_sweep
from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE
from ddpm_desktop.ui.state import SamplerState
from ddpm_desktop.ui.widgets.guidance_plot import FD_RATIO_TARGET, LEGIBLE_TARGET, GuidancePlot


def test_the_plot_draws_the_bundled_file_and_follows_w(qtbot):
    raw = json.loads(resources_path("guidance_sweep.json").read_text())["sweep"]
    points = load_guidance_sweep()
    assert [p.guidance for p in points] == sorted(r["guidance"] for r in raw)
    state = SamplerState()
    view = GuidancePlot(state, points)
    qtbot.addWidget(view)
    xs, ys = view.fd_curve.getData()
    np.testing.assert_allclose(ys, [p.fd / p.floor for p in points])
    xs, ys = view.acc_curve.getData()
    assert 0.0 not in xs                                   # unconditional: no label to read
    assert view.acc_marker.value() == DEFAULT_GUIDANCE
    assert view.isHidden()                                 # no class picked: guidance unused
    state.update(label=3)
    assert not view.isHidden()
    state.update(guidance=3.0)
    assert view.fd_marker.value() == 3.0 and view.caption.text().startswith("w = 3: ")
    state.update(guidance=3.3)
    assert view.caption.text().startswith("w = 3.3 (nearest measured: w = 3): ")


def test_the_default_guidance_meets_the_targets_it_was_chosen_by():
    at = {p.guidance: p for p in load_guidance_sweep()}[DEFAULT_GUIDANCE]
    assert at.accuracy >= LEGIBLE_TARGET and at.fd <= FD_RATIO_TARGET * at.floor and at.n >= 500
    uncond = {p.guidance: p for p in load_guidance_sweep()}[0.0]
    assert all(0.06 <= f <= 0.14 for f in uncond.class_fractions)   # the class balance
