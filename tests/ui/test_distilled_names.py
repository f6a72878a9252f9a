"""What a caption calls a sampler run: the distilled student by its step count."""
from __future__ import annotations

import numpy as np

from ddpm_desktop.ui.distilled_names import lane_name
from ddpm_desktop.ui.state import Lane, ModelState, ReverseState
from ddpm_desktop.ui.widgets.reverse_view import ReverseChainView


def test_lane_names():
    assert lane_name("distilled", 1) == "distilled student, 1 step"
    assert lane_name("distilled", 4) == "distilled student, 4 steps"
    assert lane_name("dpmpp", 20) == "DPM-Solver++(2M)"


def test_the_reverse_view_captions_a_distilled_lane_by_its_steps(qtbot):
    reverse, models = ReverseState(), ModelState()
    view = ReverseChainView(reverse, models)
    qtbot.addWidget(view)
    models.set_model(object(), "fake")
    reverse.start([Lane(sampler="distilled", steps=2), Lane(sampler="ddim", steps=2)])
    x = np.zeros((28, 28), np.float32)
    for lane in (0, 1):
        for i, t in enumerate((1000, 500, 0)):
            reverse.add(lane, x, x, t, i, 2)
    reverse.commit()
    captions = [p.caption.text().replace("\u00a0", " ") for p in view.lane_panels[:2]]
    assert captions[0].startswith("distilled student, 2 steps   t = 0")
    assert captions[1].startswith("DDIM")
