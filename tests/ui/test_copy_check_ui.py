"""The copy check beside a sample: the reverse chain's final x₀ and each completion against the
training digits, checked against a brute-force nearest neighbour."""
from __future__ import annotations

import numpy as np
import pytest

from ddpm_desktop.core.checkpoint import ModelSource
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.widgets.completions_panel import CompletionsPanel, connect_completions_panel
from ddpm_desktop.ui.widgets.copy_check_view import CopyCheckView


def brute_force(x0):
    """(nearest row, d1, d2) of x0 [28, 28] in [-1, 1] among the training digits, pixels in [0, 1]."""
    train = load_bundled_mnist("train").images.reshape(-1, 784).astype(np.float64) / 255.0
    d = np.linalg.norm(train - np.clip((np.asarray(x0, np.float64).reshape(1, 784) + 1) / 2, 0, 1), axis=1)
    order = np.argsort(d)
    return int(order[0]), float(d[order[0]]), float(d[order[1]])


@pytest.fixture
def session(make_session):
    return make_session(T=100)


def use_exact(session, qtbot):
    with qtbot.waitSignal(session.model_state.changed, timeout=20_000,
                          check_params_cb=lambda: session.model_state.source == ModelSource.EXACT):
        session.use_exact_denoiser()


def test_the_final_x0_of_a_run_is_checked(session, qtbot):
    view = CopyCheckView(session.copy_check)
    qtbot.addWidget(view)
    use_exact(session, qtbot)
    with qtbot.waitSignal(session.reverse.run_finished, timeout=30_000):
        assert session.request_sampling(SamplerSettings(sampler="ddim", steps=10, seed=2))
    qtbot.waitUntil(lambda: session.copy_check.finding is not None and not session.copy_check.running,
                    timeout=20_000)
    f = session.copy_check.finding
    nearest, d1, d2 = brute_force(session.reverse.lanes[0].x_t[-1])
    assert f.nearest == nearest and f.d1 == pytest.approx(d1, abs=1e-4) and f.d2 == pytest.approx(d2, abs=1e-4)
    assert f.copy and f.ratio < 1 / 3
    np.testing.assert_array_equal(f.image, load_bundled_mnist("train").images[nearest])
    assert f"d1 = {d1:.2f}, d1/d2 = {d1 / d2:.2f} (copy if < 1/3)" in view.text.text()
    assert f"copies training digit #{nearest}" in view.text.text()
    assert "d1/d2 < 1/3" in view.toolTip() and view.image.pixmap() is not None
    # a new chain clears it until its own check arrives
    session.reverse.clear()
    assert session.copy_check.finding is None and "d1 =" not in view.text.text()


def test_each_completion_is_checked(session, qtbot):
    panel = CompletionsPanel(session.completions, session.sampler)
    qtbot.addWidget(panel)
    connect_completions_panel(panel, session.completer)
    use_exact(session, qtbot)
    session.sampler.update(sampler="ddpm", steps=5, source="input", t_start=90, seed=1)
    session.completions.set_n(2)
    assert session.completer.start()
    qtbot.waitUntil(lambda: session.completions.images is not None and not session.completions.running,
                    timeout=20_000)
    st = session.completions
    assert len(st.copies) == 2
    for image, finding, tile in zip(st.images, st.copies, panel.grid.tiles):
        nearest, d1, d2 = brute_force(image)
        assert finding.nearest == nearest and finding.d1 == pytest.approx(d1, abs=1e-4)
        assert finding.copy == (d1 / d2 < 1 / 3)
        expected = f"copy of #{nearest}" if finding.copy else f"d1/d2 = {d1 / d2:.2f}"
        assert expected in tile.caption.text()
        assert f"d1 = {d1:.2f}" in tile.caption.toolTip()
        assert tile.nearest.isVisibleTo(panel)
        shown = tile.nearest.pixmap().toImage()
        train = load_bundled_mnist("train").images[nearest]
        assert [shown.pixelColor(c, r).red() for r, c in ((5, 14), (14, 14), (20, 10))] == \
            [int(train[r, c]) for r, c in ((5, 14), (14, 14), (20, 10))]
    n_copies = sum(brute_force(image)[1] / brute_force(image)[2] < 1 / 3 for image in st.images)
    assert f"{n_copies} of 2 copy a training digit" in panel.result_label.text()
    session.completions.clear()
    assert not panel.grid.tiles[0].nearest.isVisibleTo(panel)
