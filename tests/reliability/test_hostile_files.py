"""Hostile files: a picture never runs a program, never hangs, never reads past its bounds."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from ddpm_desktop.core import data, imaging
from ddpm_desktop.core.imaging import ImageLoadError, load_digit, open_image
from ddpm_desktop.core.inpaint import load_mask

from reliability_helpers import assert_one_line_error, run_cli


def _postscript(marker) -> bytes:
    """An EPS file that, if Ghostscript ever ran it, would create `marker` and then loop forever."""
    return (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n"
            + f"({marker}) (w) file closefile\n".encode() + b"{} loop\n%%EOF\n")


@pytest.fixture
def ghostscript_watch(monkeypatch, tmp_path):
    """Records every use of Pillow's EPS plugin; its Ghostscript call writes the marker itself,
    as the real interpreter would (Ghostscript need not be installed for the test to bite)."""
    marker = tmp_path / "ran-postscript"
    calls = []
    real_open = EpsImagePlugin.EpsImageFile._open

    def spy_open(self):
        calls.append("EpsImageFile._open")
        return real_open(self)

    def fake_ghostscript(*a, **k):
        calls.append("Ghostscript")
        marker.write_text("ghostscript ran")
        raise OSError("Ghostscript was invoked")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", spy_open)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", fake_ghostscript)
    return marker, calls


def _glyph() -> np.ndarray:
    a = np.zeros((60, 48), np.uint8)
    a[10:50, 20:28] = 255
    a[10:18, 12:36] = 255
    return a


@pytest.mark.parametrize("name", ["digit.png", "digit.eps", "digit.jpg"])
def test_postscript_named_as_a_picture_is_refused_and_never_interpreted(name, tmp_path, ghostscript_watch):
    marker, calls = ghostscript_watch
    p = tmp_path / name
    p.write_bytes(_postscript(marker))
    with pytest.raises(ImageLoadError, match="not an image file") as info:
        load_digit(p)
    assert "\n" not in str(info.value) and name in str(info.value)
    with pytest.raises(ValueError, match="not an image file"):
        load_mask(p)
    assert calls == [] and not marker.exists()


def test_postscript_through_the_cli_image_option(tmp_path, ghostscript_watch):
    marker, calls = ghostscript_watch
    p = tmp_path / "digit.png"
    p.write_bytes(_postscript(marker))
    rc, out, err = run_cli(["kl", "--start", "image", "--image", str(p), "--steps", "2"])
    assert_one_line_error(rc, out, err)
    assert "digit.png" in err and "not an image file" in err
    assert calls == [] and not marker.exists()


def test_folder_skips_postscript_and_never_lists_eps(tmp_path, ghostscript_watch):
    marker, calls = ghostscript_watch
    for i in range(2):
        Image.fromarray(_glyph()).save(tmp_path / f"{i}_ok.png")
    (tmp_path / "3_evil.png").write_bytes(_postscript(marker))
    (tmp_path / "4_evil.eps").write_bytes(_postscript(marker))
    (tmp_path / "5_evil.pdf").write_bytes(b"%PDF-1.4\n" + _postscript(marker))
    ds = data.load_image_dir(tmp_path)
    assert len(ds) == 2
    assert len(ds.skipped) == 1 and "3_evil.png" in ds.skipped[0]
    assert calls == [] and not marker.exists()


def test_only_raster_extensions_are_listed():
    exts = imaging.image_extensions()
    assert {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"} <= exts
    assert not exts & {".eps", ".ps", ".pdf", ".xpm", ".ico", ".psd", ".svg"}


def _png_bomb(side: int) -> bytes:
    """A valid grey PNG of side x side zero pixels: a few hundred bytes that inflate to side**2."""
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    raw = zlib.compress(b"\0" * ((side + 1) * side), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_decompression_bomb_refused_on_every_path(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_bomb(7000))  # 49 Mpx from ~50 KB
    assert p.stat().st_size < 100_000
    with pytest.raises(ImageLoadError, match="too (many|large)"):
        load_digit(p)
    with pytest.raises(ValueError, match="too (many|large)"):
        load_mask(p)
    rc, out, err = run_cli(["kl", "--start", "image", "--image", str(p), "--steps", "2"])
    assert_one_line_error(rc, out, err)


def test_file_over_the_byte_limit_is_refused_unread(tmp_path, monkeypatch):
    p = tmp_path / "big.png"
    Image.fromarray(_glyph()).save(p)
    monkeypatch.setattr(imaging, "MAX_FILE_BYTES", p.stat().st_size - 1)
    with pytest.raises(ImageLoadError, match="limit"):
        load_digit(p)


def test_decoding_past_the_time_bound_is_abandoned(tmp_path, monkeypatch):
    p = tmp_path / "slow.png"
    Image.fromarray(_glyph()).save(p)
    monkeypatch.setattr(imaging, "DECODE_SECONDS", -1.0)  # the deadline has already passed
    with pytest.raises(ImageLoadError, match="longer than"):
        open_image(p)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_named_as_a_picture_does_not_block(tmp_path):
    p = tmp_path / "digit.png"
    os.mkfifo(p)
    with pytest.raises(ImageLoadError, match="special file"):
        open_image(p)


def test_sixteen_bit_mask_keeps_its_unknown_pixels(tmp_path):
    known = np.zeros((28, 28), bool)
    known[:, :14] = True
    levels = np.where(known, 65535, 300).astype(np.uint16)  # dark grey: 300 of 65535
    p = tmp_path / "mask16.png"
    Image.fromarray(levels).save(p)
    assert Image.open(p).mode.startswith("I")
    np.testing.assert_array_equal(load_mask(p), known)
    # The same mask at 8 bits reads the same.
    p8 = tmp_path / "mask8.png"
    Image.fromarray(np.where(known, 255, 1).astype(np.uint8)).save(p8)
    np.testing.assert_array_equal(load_mask(p8), known)


@pytest.mark.parametrize("fmt, ext", [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("GIF", "gif"),
                                      ("TIFF", "tif"), ("WEBP", "webp"), ("PPM", "pgm")])
def test_every_allowed_format_still_loads(fmt, ext, tmp_path):
    p = tmp_path / f"d.{ext}"
    Image.fromarray(_glyph()).save(p, format=fmt)
    x = load_digit(p)
    assert x.shape == (28, 28) and x.max() > 0.9


# ----------------------------------------------------------------------------- what was skipped

def _folder_with_bad_files(root):
    root.mkdir(exist_ok=True)
    for i in range(3):
        Image.fromarray(_glyph()).save(root / f"{i}_ok.png")
    (root / "5_text.png").write_text("not an image")
    (root / "6_empty.jpg").write_bytes(b"")
    (root / "7_cut.png").write_bytes((root / "0_ok.png").read_bytes()[:60])
    return root


def test_skipped_files_are_counted_with_their_reasons(tmp_path):
    ds = data.load_image_dir(_folder_with_bad_files(tmp_path))
    line = data.skipped_summary(ds)
    assert line.startswith("skipped 3 of 6 image files: ") and "\n" not in line
    assert "1 not an image file" in line and "1 the file is empty" in line
    assert data.skipped_summary(data.Dataset(ds.images, ds.labels, "x")) == ""


@pytest.mark.slow
def test_train_on_a_folder_says_what_it_skipped(tmp_path):
    folder = _folder_with_bad_files(tmp_path / "digits")
    rc, out, err = run_cli(["train", "--data", str(folder), "--steps", "1", "--batch-size", "2",
                            "--threads", "1", "--base-channels", "8", "--save-every", "0",
                            "--out", str(tmp_path / "m.safetensors")])
    assert rc == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning: skipped")]
    assert warning and "3 of 6 image files" in warning[0]


def test_iter_load_image_dir_reports_progress_and_ends_with_the_dataset(tmp_path):
    folder = _folder_with_bad_files(tmp_path)
    items = list(data.iter_load_image_dir(folder, every=2))
    assert [i.done for i in items] == [0, 2, 4, 6] and items[-1].total == 6
    assert items[-1].dataset is not None and len(items[-1].dataset) == 3
    assert all(i.dataset is None for i in items[:-1])


def test_dataset_browser_reads_a_folder_off_the_gui_thread(qtbot, tmp_path, monkeypatch):
    import threading

    from ddpm_desktop.ui.controller import WorkerController
    from ddpm_desktop.ui.session import Session
    from ddpm_desktop.ui.widgets.dataset_browser import DatasetBrowser, connect_dataset_browser

    folder = _folder_with_bad_files(tmp_path / "digits")
    gui = threading.get_ident()
    threads = set()
    real = data.load_digit

    def spy(path):
        threads.add(threading.get_ident())
        return real(path)

    monkeypatch.setattr(data, "load_digit", spy)
    session = Session(WorkerController())
    browser = DatasetBrowser(load_default=False)
    qtbot.addWidget(browser)
    connect_dataset_browser(browser, session.datasets)
    shown = []
    session.error.connect(lambda message, _details: shown.append(message))
    with qtbot.waitSignal(browser.dataset_changed, timeout=20_000):
        browser.source_requested.emit(str(folder))
    assert len(browser.dataset()) == 3 and threads and gui not in threads
    assert "skipped 3 of 6" in browser.info_label.text()
    # a folder with nothing readable: one message, the data set on show stays
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_text("no")
    browser.source_requested.emit(str(bad))
    qtbot.waitUntil(lambda: bool(shown), timeout=20_000)
    assert "could be read" in shown[0] and len(browser.dataset()) == 3
    session.shutdown()


def test_webp_has_its_own_pixel_bound(tmp_path, monkeypatch):
    """WebP decodes in one uninterruptible call: it is bounded by pixels before decoding."""
    monkeypatch.setattr(imaging, "MAX_PIXELS_BY_FORMAT", {"WEBP": 1000})
    for fmt, ext in (("WEBP", "webp"), ("PNG", "png")):
        Image.fromarray(_glyph()).save(tmp_path / f"g.{ext}", format=fmt)  # 2880 pixels
    with pytest.raises(ImageLoadError, match="too large"):
        open_image(tmp_path / "g.webp")
    assert open_image(tmp_path / "g.png").size == (48, 60)
