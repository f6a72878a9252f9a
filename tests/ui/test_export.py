"""Frame composition, GIF/PNG export (headless and through the dialog), errors and cancel."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image, ImageSequence

from ddpm_desktop.core import imaging
from ddpm_desktop.render import compose as export
from ddpm_desktop.render.compose import (
    ChainView,
    compose_frames,
    compose_strip,
    frame_layout,
)
from ddpm_desktop.render.frames import DEFAULT_FRAMES, output_indices
from ddpm_desktop.render.export_job import ExportJob, iter_export, run_export
from ddpm_desktop.render.palette import DARK_COLORS, LIGHT_COLORS, dark_palette, light_palette, plot_colors, rgb


def noisy_chain(n=12, seed=0):
    """A chain from a square 'digit' to noise; every frame distinct."""
    rng = np.random.default_rng(seed)
    x0 = -np.ones((28, 28), np.float32)
    x0[8:20, 10:18] = 1.0
    ab = np.linspace(1.0, 0.0, n)[:, None, None]
    eps = rng.standard_normal((n, 28, 28)).astype(np.float32)
    return (np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps).astype(np.float32)


def region(frame, rect):
    x, y, w, h = rect
    return frame[y:y + h, x:x + w]


def expected_image(x28, scale):
    return imaging.to_uint8(x28).repeat(scale, 0).repeat(scale, 1)


def test_output_indices_align_chains_of_different_lengths():
    fwd, rev = output_indices([11, 3], stride=2, min_frames=1)
    assert fwd.tolist() == [0, 2, 4, 6, 8, 10]
    assert rev[0] == 0 and rev[-1] == 2 and np.all(np.diff(rev) >= 0)
    (only,) = output_indices([10], stride=4, min_frames=1)
    assert only.tolist() == [0, 4, 8, 9]  # the last frame is always included


def test_compose_frames_shows_the_chain_frames(qapp):
    chain = noisy_chain(9)
    frames = compose_frames([chain], ["Forward"], scale=3, min_frames=1)
    lay = frame_layout(1, 3, False, False)
    assert len(frames) == 9
    for k, f in enumerate(frames):
        assert f.dtype == np.uint8 and f.shape == (lay.height, lay.width, 3)
        img = region(f, lay.image_rects[0])
        np.testing.assert_array_equal(img[..., 0], expected_image(chain[k], 3))
        assert (img[..., 0] == img[..., 2]).all()  # grey


def test_compose_side_by_side_with_histogram_and_kl(qapp):
    fwd, rev = noisy_chain(10), noisy_chain(4, seed=1)[::-1]
    kl = np.linspace(2.0, 0.0, 10)
    frames = compose_frames([fwd, rev], ["F", "R"], scale=2, with_histogram=True,
                            kl_curves=[kl, None], stride=3, min_frames=1)
    lay = frame_layout(2, 2, True, True)
    assert len(frames) == 4 and frames[0].shape == (lay.height, lay.width, 3)
    idx_f, idx_r = output_indices([10, 4], 3, min_frames=1)
    for k, f in enumerate(frames):
        np.testing.assert_array_equal(region(f, lay.image_rects[0])[..., 1],
                                      expected_image(fwd[idx_f[k]], 2))
        np.testing.assert_array_equal(region(f, lay.image_rects[1])[..., 1],
                                      expected_image(rev[idx_r[k]], 2))
    # the histogram differs between a clean and a noisy frame; it has colour (bars, N(0,1))
    h0, h3 = region(frames[0], lay.hist_rects[0]), region(frames[-1], lay.hist_rects[0])
    assert not np.array_equal(h0, h3)
    assert (np.ptp(h3.astype(int), axis=-1) > 40).any()
    # the KL marker moves along the curve; the chain without a curve has an empty plot
    k0, k3 = region(frames[0], lay.kl_rects[0]), region(frames[-1], lay.kl_rects[0])
    assert not np.array_equal(k0, k3)
    empty = region(frames[0], lay.kl_rects[1])
    assert (empty == rgb(plot_colors().inset)).all()


@pytest.mark.parametrize("colors", [DARK_COLORS, LIGHT_COLORS], ids=["dark", "light"])
def test_frames_take_every_colour_from_the_theme(qapp, colors):
    chain = noisy_chain(5)
    (frame,) = compose_frames([chain[-1:]], ["F"], scale=2, with_histogram=True,
                              kl_curves=[np.ones(1)], colors=colors, min_frames=1)
    lay = frame_layout(1, 2, True, True)
    assert tuple(frame[1, 1]) == rgb(colors.background)  # the margin
    hist = region(frame, lay.hist_rects[0]).reshape(-1, 3)
    kl = region(frame, lay.kl_rects[0]).reshape(-1, 3)
    # the plots' own background, the bars and the N(0,1) curve in the theme's roles
    assert tuple(hist[0]) == tuple(kl[0]) == rgb(colors.inset)
    hist_colours = {tuple(c) for c in hist}
    assert rgb(colors.bar) in hist_colours
    assert rgb(colors.gaussian) in hist_colours
    # the picture is the data's grey levels, whatever the theme
    np.testing.assert_array_equal(region(frame, lay.image_rects[0])[..., 1],
                                  expected_image(chain[-1], 2))
    # text is drawn: the title row holds pixels near the foreground colour
    title = region(frame, lay.title_rects[0]).reshape(-1, 3).astype(int)
    assert (np.abs(title - np.array(rgb(colors.foreground))).sum(axis=1) < 30).any()


def test_job_takes_the_theme_when_made_and_the_gif_uses_it(qapp, tmp_path):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    before = app.palette()
    try:
        app.setPalette(light_palette())
        job = ExportJob(str(tmp_path / "a.png"), (ChainView(noisy_chain(3)),), kind="png")
        assert job.colors == LIGHT_COLORS
        app.setPalette(dark_palette())  # a theme switch after the click changes nothing
        run_export(job)
    finally:
        app.setPalette(before)
    with Image.open(tmp_path / "a.png") as im:
        assert im.convert("RGB").getpixel((0, 0)) == rgb(LIGHT_COLORS.background)
    dark = ExportJob(str(tmp_path / "b.gif"), (ChainView(noisy_chain(3)),), colors=DARK_COLORS)
    assert dark.colors is DARK_COLORS


def test_long_chains_compose_frames_picked_along_the_chain_lazily(qapp):
    import inspect

    chain = noisy_chain(400)
    frames = export.iter_frames([chain, chain[::-1]], scale=4, with_histogram=True,
                                kl_curves=[np.linspace(1, 0, 400)] * 2)
    assert inspect.isgenerator(frames)  # composed one at a time, never all held at once
    shapes = [f.shape for f in frames]
    assert len(shapes) == DEFAULT_FRAMES and len(set(shapes)) == 1


def test_chain_view_validates():
    with pytest.raises(ValueError):
        ChainView(np.zeros((3, 28, 27)))
    with pytest.raises(ValueError):
        ChainView(np.zeros((3, 28, 28)), kl=np.zeros(2))
    with pytest.raises(ValueError):
        ChainView(np.zeros((3, 28, 28)), captions=("a",))


def test_gif_frames_match_composed_views(qapp, tmp_path):
    chain = noisy_chain(8)
    job = ExportJob(str(tmp_path / "chain.gif"), (ChainView(chain, "Forward"),), fps=10,
                    scale=3, with_histogram=True, with_kl=True, n_frames=8)
    expected = compose_frames(job.views(), scale=3, with_histogram=True, n_frames=8)
    assert run_export(job) == str(tmp_path / "chain.gif")
    lay = frame_layout(1, 3, True, True)
    with Image.open(tmp_path / "chain.gif") as im:
        assert im.size == (lay.width, lay.height)
        assert im.info.get("loop") == 0
        got, durations = [], []
        for f in ImageSequence.Iterator(im):
            got.append(np.asarray(f.convert("RGB")))
            durations.append(f.info.get("duration"))
    assert durations == [100] * 7 + [1000]  # the last frame held export.HOLD_LAST_S
    assert len(got) == len(expected) == 8
    for g, e, x in zip(got, expected, chain):
        # one shared 256-colour palette: grey levels come back to within a few steps
        gi = region(g, lay.image_rects[0]).astype(int)
        assert np.abs(gi - region(e, lay.image_rects[0]).astype(int)).mean() < 4
        assert np.abs(gi[..., 0] - expected_image(x, 3).astype(int)).mean() < 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.gif"]  # no temp left


def test_png_strip_of_key_frames(qapp, tmp_path):
    chain = noisy_chain(20)
    strip = compose_strip([chain], ["F"], scale=2, n_frames=5)
    job = ExportJob(str(tmp_path / "strip.png"), (ChainView(chain, "F"),), kind="png",
                    scale=2, key_frames=5)
    run_export(job)
    with Image.open(tmp_path / "strip.png") as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), strip)
    # the first and last key frames are the chain's ends
    y = export.MARGIN + export.TITLE_H
    x = export.MARGIN + (max(56, 56) - 56) // 2
    np.testing.assert_array_equal(strip[y:y + 56, x:x + 56, 0], expected_image(chain[0], 2))


def test_cancel_midway_leaves_no_file(qapp, tmp_path):
    target = tmp_path / "out.gif"
    target.write_bytes(b"old")  # an existing file survives a cancelled export untouched
    cancel = threading.Event()
    job = ExportJob(str(target), (ChainView(noisy_chain(50)),), scale=2)
    seen = 0
    for item in iter_export(job, cancel):
        seen += 1
        if seen == 10:
            cancel.set()
    assert seen == 10
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gif"]


def test_unwritable_path_raises_one_line_oserror(qapp, tmp_path):
    job = ExportJob(str(tmp_path / "missing" / "x.gif"), (ChainView(noisy_chain(3)),))
    with pytest.raises(OSError, match="does not exist"):
        run_export(job)
    job = ExportJob(str(tmp_path), (ChainView(noisy_chain(3)),))
    with pytest.raises(OSError, match="is a folder"):
        run_export(job)
