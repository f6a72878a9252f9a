"""Every view that shows the classifier's reading of a result says "not a digit" for a picture
that is none: a solid blob, made the only training image of an exact denoiser, so every chain
ends on it (and every x̂₀ is it) whatever the sampler draws."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core.classifier import bundled_reader
from ddpm_desktop.core.exact_denoiser import ExactDenoiser
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.widgets.inpaint_panel import InpaintPanel

from session_helpers import complete_the_input, sample_to_the_end, shown_tiles


def blob() -> np.ndarray:
    """A white disc of radius 10 on black: float32 [28, 28] in [-1, 1]."""
    rr, cc = np.mgrid[:28, :28]
    return np.where((rr - 13.5) ** 2 + (cc - 13.5) ** 2 < 100, 1.0, -1.0).astype(np.float32)


@pytest.fixture
def session(make_session):
    return make_session(T=100, digit=blob(), digit_name="a blob",
                        model=ExactDenoiser(blob()[None]), model_name="a blob's exact denoiser")


def test_the_reader_itself_says_the_blob_is_no_digit():
    # the oracle the views are checked against; the bare softmax reads it as a class with p ≈ 1
    r = bundled_reader().read(blob()[None])[0]
    assert not r.digit and r.label is None and r.text == "not a digit"


def test_completions_grid_and_summary(session, completions_panel, qtbot):
    complete_the_input(session, qtbot, n=2)
    np.testing.assert_allclose(session.completions.images, np.stack([blob()] * 2), atol=1e-3)
    assert session.completions.digits.tolist() == [False, False]
    shown = shown_tiles(completions_panel.grid)
    assert len(shown) == 2 and all(t.caption.text().startswith("not a digit") for t in shown)
    assert "reads" not in shown[0].caption.text()
    assert "not a digit ×2" in completions_panel.result_label.text()


def test_inpainting_grid(session, qtbot):
    panel = InpaintPanel(session.inpaint, session.input_state)
    qtbot.addWidget(panel)
    session.inpaint.set_settings(n=2, steps=10)
    assert session.inpainter.start()
    qtbot.waitUntil(lambda: session.inpaint.completions is not None and not session.inpainter.is_running(),
                    timeout=20_000)
    assert session.inpaint.digits.tolist() == [False, False]
    shown = shown_tiles(panel.grid)
    assert len(shown) == 2 and all(t.caption.text().startswith("not a digit") for t in shown)


def test_decision_readout(session, decision_view, qtbot):
    sample_to_the_end(session, qtbot, SamplerSettings(sampler="ddim", steps=8))
    assert session.decision.final_is_digit is False
    readout = decision_view.readout.text()
    assert "not a digit" in readout and "settles on" not in readout
