"""A digit the classifier is unsure of reads as unsure in the views that show a reading: the
held-out digit it reads with the lowest p, made the only training image of an exact denoiser,
so every chain ends on it."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core.classifier import UNSURE_P, bundled_reader
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.exact_denoiser import ExactDenoiser
from ddpm_desktop.core.imaging import to_model_range
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.widgets.completions_panel import CompletionsPanel, connect_completions_panel
from ddpm_desktop.ui.widgets.decision_view import DecisionView


@pytest.fixture(scope="module")
def unsure_digit():
    """(image float32 [28, 28], its reading): the kept held-out digit with the lowest p."""
    images = to_model_range(load_bundled_mnist("test").images[:300])
    reads = bundled_reader().read(images)
    k = min((i for i, r in enumerate(reads) if r.digit), key=lambda i: reads[i].p)
    assert reads[k].unsure and reads[k].p < UNSURE_P - 0.1
    return images[k], reads[k]


@pytest.fixture
def session(qtbot, unsure_digit):
    s = Session(WorkerController())
    s.schedule_state.set_params(T=100)
    s.input_state.set_digit(unsure_digit[0], "an unsure digit")
    s.model_state.set_model(ExactDenoiser(unsure_digit[0][None]), "its exact denoiser")
    yield s
    s.shutdown()


def test_decision_readout_says_unsure(session, qtbot, unsure_digit):
    view = DecisionView(session.decision, session.reverse)
    qtbot.addWidget(view)
    with qtbot.waitSignal(session.reverse.run_finished, timeout=10_000):
        assert session.request_sampling(SamplerSettings(sampler="ddim", steps=8))
    qtbot.waitUntil(lambda: session.decision.complete, timeout=10_000)
    text = view.readout.text()
    assert f"settles on {unsure_digit[1].top}" in text and ", unsure" in text


def test_completions_grid_says_unsure(session, qtbot, unsure_digit):
    panel = CompletionsPanel(session.completions, session.sampler)
    qtbot.addWidget(panel)
    connect_completions_panel(panel, session.completer)
    session.sampler.update(sampler="ddpm", steps=5, source="input", t_start=60, seed=1)
    session.completions.set_n(2)
    assert session.completer.start()
    qtbot.waitUntil(lambda: session.completions.images is not None and not session.completions.running,
                    timeout=20_000)
    shown = [t.caption.text() for t in panel.grid.tiles if not t.isHidden()]
    assert len(shown) == 2
    assert all(c.startswith(f"reads {unsure_digit[1].top}? (p = ") and "unsure" in c for c in shown)
