"""The 2-D window's digits' latent map (offscreen): the codes as a scatter coloured by class,
click-to-decode, class-conditional sampling decoded live, and the animation export."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_desktop.core.latent import bundled_latent
from ddpm_desktop.ui import theme
from ddpm_desktop.ui.controller import WorkerController
from ddpm_desktop.ui.session import Session
from ddpm_desktop.ui.toy2d_window import build_toy2d_window
from ddpm_desktop.ui.widgets.toy2d_view import MOUSE_MODES


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
    w.dataset_combo.setCurrentIndex(w.dataset_combo.findData("mnist-latent"))
    w.dataset_combo.activated.emit(w.dataset_combo.currentIndex())
    return w


def _wait(qtbot, is_running):
    # not running once the job's `finished` is handled: its items were delivered before it
    qtbot.waitUntil(lambda: not is_running(), timeout=60_000)


def test_latent_scatter_is_the_codes_coloured_by_class(window, session):
    s = session.toy2d
    assert s.dataset == "mnist-latent" and s.model == "learned"
    codes, labels = bundled_latent().codes_of_bundled("train")
    # the particles are bundled codes, with those codes' labels
    idx = [int(np.argmin(((codes - p) ** 2).sum(1))) for p in s.x0[:50]]
    np.testing.assert_allclose(codes[idx], s.x0[:50], atol=1e-6)
    np.testing.assert_array_equal(labels[idx], s.labels[:50])
    # each point is drawn in its class's theme colour
    table = theme.class_colors(window.colors)
    np.testing.assert_array_equal(window.scatter.classes, s.labels)
    assert [c.name() for c in window.scatter.class_colors] == [t.lower() for t in table]
    np.testing.assert_array_equal(window.scatter.data["x"], s.x0[:, 0])
    assert window.latent_panel.isVisible()
    assert window.mouse_combo.currentData() == "decode"


@pytest.mark.slow
def test_clicking_the_map_decodes_that_point(window, session):
    s = session.toy2d
    window.mouse_combo.setCurrentIndex(list(MOUSE_MODES).index("decode"))
    window._on_plot_clicked(0.5, -0.25, False)      # what a click on the plot emits
    assert s.decoded_point == (0.5, -0.25)
    expected = bundled_latent().decode([[0.5, -0.25]])[0]
    np.testing.assert_array_equal(s.decoded_image, expected)
    assert window.decode_item.isVisible()
    np.testing.assert_array_equal(window.decode_item.image, np.flipud(expected))
    assert window.latent_panel.point_label.pixmap().width() == 28 * 3
    assert "(0.50, -0.25)" in window.latent_panel.point_info.text()


@pytest.mark.slow
def test_class_sampling_flows_into_the_class_and_decodes_live(window, session, qtbot):
    s = session.toy2d
    session.sampler.update(sampler="ddim", steps=40)
    window.latent_panel.class_combo.setCurrentIndex(4)          # digit 3
    window.latent_panel.class_combo.activated.emit(4)
    assert s.latent_label == 3
    assert session.toy.request_sampling()
    _wait(qtbot, session.toy.is_sampling)
    assert s.reverse_done and s.decoded is not None
    assert s.decoded.shape == (10, 28, 28) and s.decoded_t == 0
    np.testing.assert_array_equal(s.sample_labels, 3)
    # the final particles sit nearer class 3's centroid than any other class's
    codes, labels = bundled_latent().codes_of_bundled("train")
    cents = np.stack([codes[labels == k].mean(0) for k in range(10)])
    nearest = np.argmin(((s.reverse[-1][:, None] - cents[None]) ** 2).sum(-1), axis=1)
    assert (nearest == 3).mean() > 0.6
    # the decoded grid is the decoder's image of the first particles
    np.testing.assert_array_equal(s.decoded, bundled_latent().decode(s.reverse[-1][:10]))
    assert not window.latent_panel.grid_label.pixmap().isNull()
    # scrubbing shows the decoded particles of that reverse frame
    session.toy.set_frame(s.T)
    assert s.decoded_t == int(s.reverse_t[0])


@pytest.mark.slow
def test_export_writes_the_animation_through_the_main_writer(window, session, qtbot, tmp_path):
    out = tmp_path / "latent.gif"
    window.arrows_check.setChecked(True)
    window.request_export(str(out))
    _wait(qtbot, session.toy.is_exporting)
    im = Image.open(out)
    assert im.n_frames >= 30
    assert im.size == (480, 26 + 480 + 22)
    bad = tmp_path / "x.bmp"
    errors = []
    session.error.connect(lambda m, d: errors.append(m))
    assert not session.toy.export_animation(str(bad))
    assert errors and ".gif" in errors[0] and not bad.exists()
