"""load_digit on every kind of picture, MNIST-style centring, grids, PNG/GIF writers."""
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ddpm_desktop.core import imaging
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.imaging import (
    ImageLoadError,
    load_digit,
    make_grid,
    preprocess_digit,
    save_gif,
    save_png,
    save_strip,
    to_uint8,
    upscale,
)


def _shape(h=60, w=40) -> np.ndarray:
    """An asymmetric digit-like mask (float 0/1): a vertical bar with a block at its top."""
    m = np.zeros((h, w))
    m[10:50, 18:24] = 1.0
    m[10:20, 10:30] = 1.0
    return m


def _com(digit: np.ndarray) -> tuple[float, float]:
    ink = (digit.astype(np.float64) + 1.0) / 2.0
    yy, xx = np.indices(ink.shape)
    return (ink * yy).sum() / ink.sum(), (ink * xx).sum() / ink.sum()


def _bbox(digit: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero((digit > -1).any(1)), np.flatnonzero((digit > -1).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _check_digit(d: np.ndarray):
    assert d.shape == (28, 28) and d.dtype == np.float32
    assert d.min() >= -1.0 and d.max() <= 1.0 and d.max() > 0.9
    assert d[0].max() == -1.0 and d[:, 0].max() == -1.0  # black background
    cy, cx = _com(d)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    h, w = _bbox(d)
    assert max(h, w) <= 20 and max(h, w) >= 19


def _top_heavy(d: np.ndarray) -> bool:
    ink = (d + 1) / 2
    return ink[:14].sum() > 1.3 * ink[14:].sum()


# ----------------------------------------------------------------------------- formats


def test_rgb_dark_on_light_is_inverted(tmp_path):
    m = _shape()
    rgb = np.stack([255 - 200 * m] * 3, -1).astype(np.uint8)  # dark grey ink on white
    Image.fromarray(rgb, "RGB").save(tmp_path / "a.png")
    d = load_digit(tmp_path / "a.png")
    _check_digit(d)
    assert _top_heavy(d)
    assert _bbox(d) == (20, 10)  # 40x20 bbox scaled by 1/2, aspect kept


def test_rgba_transparent_background(tmp_path):
    m = _shape()
    for ink in (0, 255):  # black ink and white ink on fully transparent (black) pixels
        rgba = np.zeros(m.shape + (4,), np.uint8)
        rgba[..., :3] = ink
        rgba[..., 3] = (255 * m).astype(np.uint8)
        Image.fromarray(rgba, "RGBA").save(tmp_path / f"a{ink}.png")
        d = load_digit(tmp_path / f"a{ink}.png")
        _check_digit(d)
        assert _top_heavy(d)


def test_la_and_pa_alpha(tmp_path):
    m = _shape()
    la = np.stack([np.zeros_like(m), 255 * m], -1).astype(np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    _check_digit(load_digit(tmp_path / "la.png"))


def test_16_bit_grey(tmp_path):
    m = _shape()
    arr = (60000 - 59000 * m).astype(np.uint16)  # dark ink on light, 16-bit
    Image.fromarray(arr).save(tmp_path / "a.png")
    assert Image.open(tmp_path / "a.png").mode in ("I;16", "I")
    d = load_digit(tmp_path / "a.png")
    _check_digit(d)
    assert _top_heavy(d)


def test_palette_image(tmp_path):
    m = _shape().astype(np.uint8)
    im = Image.fromarray(m, "P")
    im.putpalette([250, 250, 240, 20, 20, 120] + [0] * 762)  # 0: off-white, 1: dark blue
    im.save(tmp_path / "a.png")
    d = load_digit(tmp_path / "a.png")
    _check_digit(d)
    assert _top_heavy(d)


def test_palette_with_transparency(tmp_path):
    m = _shape().astype(np.uint8)
    im = Image.fromarray(m, "P")
    im.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)  # both black; index 0 transparent
    im.save(tmp_path / "a.png", transparency=0)
    _check_digit(load_digit(tmp_path / "a.png"))


def test_cmyk(tmp_path):
    m = _shape()
    cmyk = np.zeros(m.shape + (4,), np.uint8)
    cmyk[..., 3] = (255 * m).astype(np.uint8)  # black (K) ink on white paper
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "a.tif")
    d = load_digit(tmp_path / "a.tif")
    _check_digit(d)
    assert _top_heavy(d)


def test_animated_gif_uses_first_frame(tmp_path):
    m = _shape()
    first = Image.fromarray((255 * m).astype(np.uint8), "L")
    second = Image.fromarray((255 * m[::-1]).astype(np.uint8), "L")  # upside down
    first.save(tmp_path / "a.gif", save_all=True, append_images=[second], duration=100)
    d = load_digit(tmp_path / "a.gif")
    _check_digit(d)
    assert _top_heavy(d)


@pytest.mark.parametrize("orientation, heavy_side", [(1, "top"), (3, "bottom"), (6, "right"), (8, "left")])
def test_exif_orientation_applied(tmp_path, orientation, heavy_side):
    # Stored pixels: block at the top. Orientation 6 means "rotate 90 degrees clockwise to
    # view", which brings the top to the right; 8 brings it to the left; 3 turns it over.
    m = np.pad(_shape(), 20)
    im = Image.fromarray((255 - 255 * m).astype(np.uint8), "L").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(tmp_path / "a.jpg", quality=95, exif=exif)
    d = load_digit(tmp_path / "a.jpg")
    _check_digit(d)
    ink = (d + 1) / 2
    sides = {"top": ink[:14].sum(), "bottom": ink[14:].sum(),
             "left": ink[:, :14].sum(), "right": ink[:, 14:].sum()}
    opposite = {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}
    assert sides[heavy_side] > 1.3 * sides[opposite[heavy_side]]


def test_mnist_digit_round_trips(tmp_path):
    digits = load_bundled_mnist("test").images[::100]
    for i, img in enumerate(digits):
        save_png(img, tmp_path / f"{i}.png")
        back = to_uint8(load_digit(tmp_path / f"{i}.png")).astype(int)
        assert np.abs(back - img).mean() < 8, i
        assert np.corrcoef(back.ravel(), img.ravel())[0, 1] > 0.95


def test_centring_of_off_centre_shapes():
    rng = np.random.default_rng(1)
    for _ in range(20):
        canvas = np.zeros((200, 300))
        h, w = rng.integers(5, 150), rng.integers(5, 150)
        y, x = rng.integers(0, 200 - h), rng.integers(0, 300 - w)
        blob = rng.random((h, w)) > 0.6
        blob[0, 0] = blob[-1, -1] = True
        canvas[y:y + h, x:x + w] = blob
        _check_digit(preprocess_digit(canvas))


def test_preprocess_digit_input_ranges():
    m = _shape()
    ref = preprocess_digit(m)
    assert np.allclose(preprocess_digit((255 * m).astype(np.uint8)), ref, atol=1e-6)
    assert np.allclose(preprocess_digit(2 * m - 1), ref, atol=1e-6)
    assert np.allclose(preprocess_digit(np.stack([255 * m] * 3, -1)), ref, atol=1e-6)
    with pytest.raises(ImageLoadError, match="no digit found"):
        preprocess_digit(np.zeros((280, 280), np.float32))


# ----------------------------------------------------------------------------- failures


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)) + _chunk(b"IDAT", zlib.compress(b"\0"))
            + _chunk(b"IEND", b""))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bad_files(tmp_path: Path) -> dict[str, bytes]:
    buf = tmp_path / "good.png"
    Image.fromarray((255 * _shape()).astype(np.uint8)).save(buf)
    good = buf.read_bytes()
    return {
        "empty.png": b"",
        "truncated.png": good[: len(good) // 2],
        "text.png": b"hello, I am not a picture\n" * 10,
        "bomb.png": _png_header(100_000, 100_000),
        "headeronly.png": _png_header(50, 50),
        "garbage.jpg": b"\xff\xd8\xff\xe0" + os.urandom(200),
    }


def test_bad_files_raise_image_load_error_only(tmp_path):
    for name, blob in _bad_files(tmp_path).items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(ImageLoadError) as info:
            load_digit(tmp_path / name)
        message = str(info.value)
        assert name in message and "\n" not in message, message
    with pytest.raises(ImageLoadError, match="no such file"):
        load_digit(tmp_path / "missing.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_digit(tmp_path)


def test_our_pixel_limit_is_below_pillows(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_header(7000, 7000))  # 49 Mpx: Pillow is silent
    with pytest.raises(ImageLoadError, match="7000x7000 pixels is too large"):
        load_digit(tmp_path / "bomb.png")


@pytest.mark.parametrize("side", [10_000, 20_000])  # Pillow warns at 89 Mpx, raises at 179
def test_pillow_bomb_checks_become_image_load_error(tmp_path, monkeypatch, side):
    monkeypatch.setattr(imaging, "MAX_PIXELS", 10**12)  # let Pillow's own checks fire
    (tmp_path / "bomb.png").write_bytes(_png_header(side, side))
    with pytest.raises(ImageLoadError, match="too many pixels"):
        load_digit(tmp_path / "bomb.png")


@pytest.mark.slow
def test_huge_photo_is_shrunk_first(tmp_path):
    m = np.kron(_shape(), np.ones((60, 60)))  # 3600 x 2400 pixels
    Image.fromarray((255 - 255 * m).astype(np.uint8)).save(tmp_path / "big.png")
    d = load_digit(tmp_path / "big.png")
    _check_digit(d)
    assert _bbox(d) == (20, 10)


def test_file_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(imaging, "MAX_FILE_BYTES", 100)
    Image.fromarray((255 * _shape()).astype(np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(ImageLoadError, match="limit"):
        load_digit(tmp_path / "a.png")


def test_blank_images(tmp_path):
    Image.new("L", (50, 50), 255).save(tmp_path / "white.png")
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    for name in ("white.png", "clear.png"):
        with pytest.raises(ImageLoadError, match="no digit found"):
            load_digit(tmp_path / name)


# ----------------------------------------------------------------------------- arrays and writers


def test_make_grid_and_upscale():
    imgs = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28).astype(np.uint8)
    g = make_grid(imgs, nrow=3, pad=2, pad_value=7)
    assert g.shape == (2 * 30 + 2, 3 * 30 + 2) and g.dtype == np.uint8
    assert np.array_equal(g[2:30, 2:30], imgs[0])
    assert np.array_equal(g[32:60, 32:60], imgs[4])
    assert g[0, 0] == 7 and (g[32:60, 62:90] == 7).all()  # empty sixth cell is padding
    assert make_grid(imgs[:2], nrow=8, pad=0).shape == (28, 56)
    up = upscale(imgs[0], 3)
    assert up.shape == (84, 84) and (up[:3, :3] == imgs[0, 0, 0]).all()
    with pytest.raises(ValueError):
        make_grid(np.zeros((0, 28, 28), np.uint8), 4)


def test_save_png_and_strip(tmp_path):
    img = load_bundled_mnist("test").images[0]
    save_png(img, tmp_path / "a.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), img)
    save_strip([img, 255 - img, img], tmp_path / "s.png", pad=1)
    assert np.asarray(Image.open(tmp_path / "s.png")).shape == (30, 3 * 29 + 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "s.png"]  # no temp files


def _read_gif(path):
    frames, durations = [], []
    with Image.open(path) as im:
        loop = im.info.get("loop")
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info.get("duration"))
            frames.append(np.asarray(im.convert("RGB")))
    return frames, durations, loop


def test_save_gif_grey_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (30, 40), dtype=np.uint8) for _ in range(6)]
    save_gif(frames, tmp_path / "a.gif", fps=25, loop=0)
    back, durations, loop = _read_gif(tmp_path / "a.gif")
    assert len(back) == 6 and durations == [40] * 6 and loop == 0
    for f, b in zip(frames, back):
        assert np.array_equal(b[..., 0], f)  # grey frames are lossless


def test_save_gif_colour_and_float(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    frames = [np.stack([np.roll(base, i, 0), base // 2, 255 - base], -1) for i in range(4)]
    save_gif(frames, tmp_path / "c.gif", fps=10)
    back, durations, _ = _read_gif(tmp_path / "c.gif")
    assert len(back) == 4 and durations == [100] * 4
    for f, b in zip(frames, back):
        assert np.abs(b.astype(int) - f).mean() < 12
    save_gif([np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32)], tmp_path / "f.gif", fps=200)
    back, durations, _ = _read_gif(tmp_path / "f.gif")
    assert durations == [20, 20] and back[1].min() == 255  # fps capped at 50


def test_save_gif_atomic_and_errors(tmp_path, monkeypatch):
    target = tmp_path / "a.gif"
    save_gif([np.zeros((4, 4), np.uint8)], target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(RuntimeError):
        save_gif([np.full((4, 4), 9, np.uint8)], target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]
    with pytest.raises(OSError, match="does not exist"):
        save_gif([np.zeros((4, 4), np.uint8)], tmp_path / "no" / "a.gif")
    with pytest.raises(OSError, match="cannot write"):
        save_gif([np.zeros((4, 4), np.uint8)], tmp_path)  # the target is a folder
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]
    with pytest.raises(ValueError, match="frame 1"):
        save_gif([np.zeros((4, 4), np.uint8), np.zeros((5, 4), np.uint8)], target)
    with pytest.raises(ValueError):
        save_gif([], target)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_save_gif_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OSError, match="cannot write"):
            save_gif([np.zeros((4, 4), np.uint8)], folder / "a.gif")
    finally:
        folder.chmod(0o700)


def test_mnist_stroke_width_constant_is_the_bundled_datas():
    from ddpm_desktop.core import data
    from ddpm_desktop.core.imaging import MNIST_STROKE_WIDTH, stroke_width

    ds = data.load_bundled_mnist("test")
    widths = [stroke_width(img.astype(np.float32) / 255.0) for img in ds.images[:1500]]
    assert np.median(widths) == pytest.approx(MNIST_STROKE_WIDTH, rel=0.05)


@pytest.mark.parametrize("pen", [1, 2, 6])
def test_a_thin_pen_digit_gets_mnist_strokes_and_is_read(tmp_path, pen):
    """A 640x400 '0' drawn with a thin pen became a one-pixel ring the network did not read
    as a 0 (issue: thin strokes)."""
    import torch
    from PIL import ImageDraw

    from ddpm_desktop.core import classifier
    from ddpm_desktop.core.imaging import MNIST_STROKE_WIDTH, load_digit, stroke_width

    im = Image.new("L", (640, 400), 0)
    ImageDraw.Draw(im).ellipse((220, 50, 420, 350), outline=255, width=pen)
    path = tmp_path / "ring.png"
    im.save(path)
    x = load_digit(path)
    w = stroke_width((x + 1) / 2)
    assert 0.8 * MNIST_STROKE_WIDTH <= w <= 1.3 * MNIST_STROKE_WIDTH
    model, _ = classifier.load_classifier()
    labels, _ = classifier.predict(model, torch.from_numpy(x[None, None]))
    assert labels[0] == 0


def test_thick_strokes_are_left_alone():
    from ddpm_desktop.core.imaging import thicken

    crop = np.zeros((40, 40), np.float32)
    crop[5:35, 10:20] = 1.0  # 10 px wide at a scale where MNIST's is 1.94 / 0.5 = 3.9 px
    np.testing.assert_array_equal(thicken(crop, 0.5), crop)
