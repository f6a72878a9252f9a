"""Inpainting in the UI: the mask state (brush, eraser, undo, presets), the session's job filling
the reverse view and the completions grid, refusals, and the panel as a view of the state. The
session is conftest's (T = 200, the bar digit, no model yet)."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from ddpm_desktop.core.inpaint import preset_mask
from ddpm_desktop.ui.inpaint_state import InpaintState
from ddpm_desktop.ui.widgets.inpaint_panel import InpaintPanel, connect_inpaint_panel


class FakeModel(torch.nn.Module):
    """UNet's call signature; predicts a fixed fraction of x as noise."""

    null_label = 10

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay

    def forward(self, x, log_snr, labels=None):
        if self.delay:
            time.sleep(self.delay)
        return 0.5 * x


def test_mask_state_brush_eraser_undo_presets():
    st = InpaintState()
    assert np.array_equal(st.known, preset_mask("bottom"))
    st.set_preset("left")
    assert np.array_equal(st.known, preset_mask("left"))
    st.begin_stroke()
    st.paint(5, 20, hole=True, radius=1)          # a plus-shaped disc of radius 1
    assert not st.known[5, 20] and not st.known[4, 20] and not st.known[5, 21] and st.known[4, 21]
    st.begin_stroke()
    st.paint(5, 20, hole=False, radius=0)
    assert st.known[5, 20] and not st.known[4, 20]
    st.undo()
    assert not st.known[5, 20]
    st.undo()
    assert np.array_equal(st.known, preset_mask("left"))
    st.undo()
    assert np.array_equal(st.known, preset_mask("bottom")) and not st.can_undo()
    st.set_preset("top", 14)
    st.begin_stroke()
    for r in range(14, 28):
        for c in range(28):
            st.paint(r, c, hole=True, radius=0)
    assert "no pixel as known" in st.problem()
    with pytest.raises(ValueError, match="completions"):
        st.set_settings(n=0)
    assert st.n == 8


def test_inpainting_fills_the_reverse_view_and_the_completions(session, qtbot):
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):   # the cheap first run
        session.set_model(FakeModel(), "fake")
    st = session.inpaint
    st.set_settings(method="paste", sampler="ddim", n=5, steps=10)
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000) as blocker:
        assert session.inpainter.start()
    assert blocker.args == [True] and not st.running
    lane = session.reverse.lanes[0]
    assert len(lane) == 11 and lane.t[0] == 200 and lane.t[-1] == 0 and lane.nfe[-1] == 10
    assert st.completions.shape == (5, 28, 28) and st.nfe == 10
    known = st.known
    digit = session.input_state.digit
    assert all(np.array_equal(c[known], digit[known]) for c in st.completions)
    assert np.array_equal(lane.x_t[-1][known], digit[known])
    assert st.readings.shape == (5,) and np.all((st.probabilities > 0) & (st.probabilities <= 1))


def test_refusals_and_cancel(session, qtbot):
    with qtbot.waitSignal(session.error) as blocker:
        assert not session.inpainter.start()
    assert "No model" in blocker.args[0]
    model = FakeModel()
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.set_model(model, "fake")
    model.delay = 0.02
    with pytest.raises(ValueError, match="every pixel"):
        session.inpaint.set_mask(np.ones((28, 28), bool))
    assert np.array_equal(session.inpaint.known, preset_mask("bottom"))
    session.inpaint.set_settings(method="repaint", steps=40)
    assert session.inpainter.start()
    qtbot.waitUntil(lambda: session.reverse.length() > 2, timeout=10_000)
    session.inpainter.cancel()
    assert not session.inpaint.running and session.inpaint.completions is None
    assert not session.reverse.running


@pytest.mark.slow
def test_sampling_takes_the_reverse_view_back(session, qtbot):
    model = FakeModel()
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        session.set_model(model, "fake")
    model.delay = 0.005
    session.inpaint.set_settings(method="paste", sampler="ddpm", steps=100)
    assert session.inpainter.start()
    qtbot.waitUntil(lambda: session.reverse.length() > 2, timeout=10_000)
    with qtbot.waitSignal(session.reverse.run_finished, timeout=20_000):
        assert session.request_sampling()
    qtbot.waitUntil(lambda: not session.inpainter.is_running(), timeout=10_000)
    assert session.reverse.lanes[0].sampler == session.sampler.settings.sampler
    assert not session.inpaint.running


def test_panel_is_a_view_of_the_state(session, qtbot):
    panel = InpaintPanel(session.inpaint, session.input_state)
    qtbot.addWidget(panel)
    connect_inpaint_panel(panel, session.inpainter)
    panel.resize(300, 600)
    panel.show()
    st = session.inpaint
    with qtbot.waitSignal(st.mask_changed):
        panel.preset_buttons["top"].click()
    assert np.array_equal(st.known, preset_mask("top"))
    editor = panel.editor
    r = editor._square()
    centre = QPointF(r.left() + r.width() * (20.5 / 28), r.top() + r.height() * (20.5 / 28))
    assert editor.pixel_at(centre) == (20, 20)
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=centre.toPoint())
    assert not st.known[20, 20]
    panel.eraser.click()
    qtbot.mouseClick(editor, Qt.MouseButton.LeftButton, pos=centre.toPoint())
    assert st.known[20, 20]
    panel.undo.click()
    assert not st.known[20, 20]
    panel.method.setCurrentIndex(panel.method.findData("x0"))
    assert st.method == "x0" and panel.sampler.isEnabled()
    st.set_settings(method="repaint", n=3)
    assert panel.method.currentData() == "repaint" and panel.n.value() == 3
    assert not panel.sampler.isEnabled()
    st.set_completions(np.zeros((3, 28, 28)), [7, 1, 9], [0.9, 0.5, 0.25], 140)
    shown = [t.caption.text() for t in panel.tiles if t.isVisible()]
    assert shown == ["reads 7 (p = 0.90)", "reads 1? (p = 0.50, unsure)", "reads 9? (p = 0.25, unsure)"]
    assert "140 network evaluations" in panel.info.text()
