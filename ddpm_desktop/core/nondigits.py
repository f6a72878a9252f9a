"""Pictures that are not digits, made in code: the other side of "is this a digit at all".

The classifier's out-of-distribution threshold (core/classifier.py) is set on held-out digits
alone; these families are what it is checked against (tools/calibrate_ood.py,
bench/classify.py, the tests). Each family is a function (rng, n) → uint8 [n, 28, 28] in the
bundled data's convention (0 = background, 255 = ink), drawn from a numpy Generator so a seed
gives the same set everywhere. Nothing is downloaded: letters come from Pillow's built-in
bitmap font.

- blobs        one to three soft Gaussian blobs, small to filling the frame
- noise        Gaussian, uniform and salt-and-pepper pixel noise
- white_fills  what the reverse chain of an exponential start ends in: a bright field with a
               soft, irregular edge and a dark border or corner
- solid_fills  one grey level everywhere (black and white included)
- stripes      horizontal, vertical or diagonal bars of random period and phase
- checkerboards  square cells of 2 to 7 pixels
- strokes      one to four random straight strokes of digit-like width (some look like a 1 or
               a 7: reported apart, not part of the targets)
- letters      the capital letters A-Z in Pillow's own default font (its built-in TrueType
               face where Pillow has FreeType, else its bitmap font), fitted and centred as a
               drawing is (preprocess_digit)

`font_digits` draws 0-9 the same way: the control that says a flagged letter was flagged for
its shape, not for the font's strokes.
"""
from __future__ import annotations

import string

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIDE = 28


def _grid() -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def blobs(rng: np.random.Generator, n: int) -> np.ndarray:
    yy, xx = _grid()
    out = np.zeros((n, SIDE, SIDE))
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(4, 24, 2)
            sy, sx = rng.uniform(2.0, 9.0, 2)
            out[i] += np.exp(-0.5 * (((yy - cy) / sy) ** 2 + ((xx - cx) / sx) ** 2))
        out[i] /= out[i].max()
    return _to_uint8(out)


def noise(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.integers(0, 3, n)
    gauss = rng.uniform(0.2, 0.6, (n, 1, 1)) + rng.uniform(0.1, 0.4, (n, 1, 1)) * rng.standard_normal((n, SIDE, SIDE))
    uniform = rng.uniform(0.0, 1.0, (n, SIDE, SIDE))
    salt = (rng.uniform(0.0, 1.0, (n, SIDE, SIDE)) < rng.uniform(0.05, 0.5, (n, 1, 1))).astype(np.float64)
    return _to_uint8(np.choose(kind[:, None, None], [gauss, uniform, salt]))


def white_fills(rng: np.random.Generator, n: int) -> np.ndarray:
    yy, xx = _grid()
    out = np.empty((n, SIDE, SIDE))
    for i in range(n):
        # a bright field whose edge is a soft, wavy line at a random angle and offset
        angle = rng.uniform(0, 2 * np.pi)
        d = (yy - 14) * np.cos(angle) + (xx - 14) * np.sin(angle)
        d = d + rng.uniform(0.5, 3.0) * np.sin(rng.uniform(0.2, 0.8) * (xx + yy) + rng.uniform(0, 6))
        edge = rng.uniform(6, 16)
        out[i] = rng.uniform(0.7, 1.0) / (1 + np.exp((d - edge) / rng.uniform(0.5, 2.5)))
        out[i] += rng.uniform(0.0, 0.08) * rng.standard_normal((SIDE, SIDE))
    return _to_uint8(out)


def solid_fills(rng: np.random.Generator, n: int) -> np.ndarray:
    levels = rng.uniform(0.0, 1.0, n)
    levels[:2] = (0.0, 1.0)[:n]  # pure black and pure white always among them
    return _to_uint8(np.broadcast_to(levels[:, None, None], (n, SIDE, SIDE)).copy())


def stripes(rng: np.random.Generator, n: int) -> np.ndarray:
    yy, xx = _grid()
    out = np.empty((n, SIDE, SIDE))
    for i in range(n):
        angle = rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4, rng.uniform(0, np.pi)])
        period = rng.uniform(3.0, 10.0)
        u = yy * np.cos(angle) + xx * np.sin(angle)
        out[i] = (np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi)) > 0).astype(np.float64)
    return _to_uint8(out)


def checkerboards(rng: np.random.Generator, n: int) -> np.ndarray:
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    out = np.empty((n, SIDE, SIDE))
    for i in range(n):
        cell = int(rng.integers(2, 8))
        oy, ox = rng.integers(0, cell, 2)
        out[i] = (((yy + oy) // cell + (xx + ox) // cell) % 2).astype(np.float64)
    return _to_uint8(out)


def strokes(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.empty((n, SIDE, SIDE), np.uint8)
    for i in range(n):
        im = Image.new("L", (SIDE, SIDE), 0)
        draw = ImageDraw.Draw(im)
        for _ in range(rng.integers(1, 5)):
            (x0, y0), (x1, y1) = rng.uniform(3, 25, (2, 2))
            draw.line([(x0, y0), (x1, y1)], fill=255, width=int(rng.integers(2, 4)))
        out[i] = np.asarray(im)
    return out


def _glyphs(chars: str) -> np.ndarray:
    from .imaging import preprocess_digit

    try:
        font, side = ImageFont.load_default(size=40), 64  # Pillow's bundled face: no download
    except (ImportError, TypeError, OSError):  # Pillow without FreeType: the bitmap font
        font, side = ImageFont.load_default_imagefont(), 16
    out = []
    for ch in chars:
        im = Image.new("L", (side, side), 0)
        ImageDraw.Draw(im).text((side // 5, side // 10), ch, fill=255, font=font)
        if side < 64:
            im = im.resize((64, 64), Image.Resampling.NEAREST)  # crisp strokes before the fit
        out.append(np.rint((preprocess_digit(np.asarray(im)) + 1.0) * 127.5))
    return np.clip(np.stack(out), 0, 255).astype(np.uint8)


def letters(rng: np.random.Generator | None = None, n: int | None = None) -> np.ndarray:
    """The 26 capital letters (rng and n ignored: there are 26), uint8 [26, 28, 28]."""
    return _glyphs(string.ascii_uppercase)


def font_digits() -> np.ndarray:
    """0-9 drawn as `letters` draws A-Z, uint8 [10, 28, 28]."""
    return _glyphs(string.digits)


FAMILIES = {
    "blobs": blobs,
    "noise": noise,
    "white_fills": white_fills,
    "solid_fills": solid_fills,
    "stripes": stripes,
    "checkerboards": checkerboards,
    "strokes": strokes,
    "letters": letters,
}
# The families the "≥ 95% flagged" target is about (letters: "most"; strokes: reported only).
TARGET_FAMILIES = ("blobs", "noise", "white_fills", "solid_fills", "stripes", "checkerboards")


def non_digit_set(seed: int = 0, per_family: int = 200) -> dict[str, np.ndarray]:
    """family → uint8 [n, 28, 28]; each family from its own stream of `seed`."""
    return {name: make(np.random.default_rng([seed, i]), per_family)
            for i, (name, make) in enumerate(FAMILIES.items())}
