"""A digit the classifier is unsure of reads as unsure in the views that show a reading: the
held-out digit it reads with the lowest p, made the only training image of an exact denoiser,
so every chain ends on it."""
from __future__ import annotations

import pytest

from ddpm_desktop.core.classifier import UNSURE_P, bundled_reader
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.exact_denoiser import ExactDenoiser
from ddpm_desktop.core.imaging import to_model_range
from ddpm_desktop.ui.state import SamplerSettings

from session_helpers import complete_the_input, sample_to_the_end, shown_tiles


@pytest.fixture(scope="module")
def unsure_digit():
    """(image float32 [28, 28], its reading): the kept held-out digit with the lowest p."""
    images = to_model_range(load_bundled_mnist("test").images[:300])
    reads = bundled_reader().read(images)
    k = min((i for i, r in enumerate(reads) if r.digit), key=lambda i: reads[i].p)
    assert reads[k].unsure and reads[k].p < UNSURE_P - 0.1
    return images[k], reads[k]


@pytest.fixture
def session(make_session, unsure_digit):
    image = unsure_digit[0]
    return make_session(T=100, digit=image, digit_name="an unsure digit",
                        model=ExactDenoiser(image[None]), model_name="its exact denoiser")


def test_decision_readout_says_unsure(session, decision_view, qtbot, unsure_digit):
    sample_to_the_end(session, qtbot, SamplerSettings(sampler="ddim", steps=8))
    text = decision_view.readout.text()
    assert f"settles on {unsure_digit[1].top}" in text and ", unsure" in text


def test_completions_grid_says_unsure(session, completions_panel, qtbot, unsure_digit):
    complete_the_input(session, qtbot, n=2)
    shown = [t.caption.text() for t in shown_tiles(completions_panel.grid)]
    assert len(shown) == 2
    assert all(c.startswith(f"reads {unsure_digit[1].top}? (p = ") and "unsure" in c for c in shown)
