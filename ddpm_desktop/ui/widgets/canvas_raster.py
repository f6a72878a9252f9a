"""The canvas's pixel work, without widgets: stamping a stroke into the ink buffer, the 28×28
digit shown at the canvas's size, and a grey QImage of a uint8 array (also used by the
inpainting and completions views)."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from ddpm_desktop.core.imaging import IMAGE_SIDE


def stamp_segment(buf: np.ndarray, p0: tuple[float, float], p1: tuple[float, float],
                  radius: float, erase: bool = False,
                  hardness: float = 0.45) -> tuple[int, int, int, int] | None:
    """Paint a soft round brush along the segment p0 -> p1 (x, y in buffer pixels) in place.

    The brush is 1 inside ``hardness * radius`` and falls off with a smoothstep to 0 at
    ``radius``, which after the 10x downscale gives MNIST's anti-aliased stroke edges.
    Painting takes the maximum with the existing ink (so overlapping stamps of one stroke
    do not darken), erasing the minimum with ``1 - brush``. Returns the rows and columns
    touched, ``(ya, yb, xa, xb)`` (None when the brush missed the buffer).
    """
    h, w = buf.shape
    r = max(float(radius), 0.5)
    x0, y0 = p0
    x1, y1 = p1
    xa = max(int(np.floor(min(x0, x1) - r)), 0)
    xb = min(int(np.ceil(max(x0, x1) + r)) + 1, w)
    ya = max(int(np.floor(min(y0, y1) - r)), 0)
    yb = min(int(np.ceil(max(y0, y1) + r)) + 1, h)
    if xa >= xb or ya >= yb:
        return None
    ys = np.arange(ya, yb, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(xa, xb, dtype=np.float32)[None, :] + 0.5
    dx, dy = x1 - x0, y1 - y0
    seg2 = dx * dx + dy * dy
    if seg2 > 1e-9:
        u = np.clip(((xs - x0) * dx + (ys - y0) * dy) / seg2, 0.0, 1.0)
    else:
        u = np.zeros((1, 1), np.float32)
    dist = np.hypot(xs - (x0 + u * dx), ys - (y0 + u * dy))
    inner = hardness * r
    s = np.clip((r - dist) / max(r - inner, 1e-6), 0.0, 1.0)
    a = (s * s * (3.0 - 2.0 * s)).astype(np.float32)
    view = buf[ya:yb, xa:xb]
    if erase:
        np.minimum(view, 1.0 - a, out=view)
    else:
        np.maximum(view, a, out=view)
    return ya, yb, xa, xb


def upsample_digit(x28: np.ndarray, size: int) -> np.ndarray:
    """float32 [28, 28] in [-1, 1] -> ink float32 [size, size] in [0, 1] (bilinear)."""
    from PIL import Image

    x = np.asarray(x28, dtype=np.float32)
    if x.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"expected a 28x28 digit, got shape {x.shape}")
    ink = np.clip((x + 1.0) * 0.5, 0.0, 1.0)
    img = Image.fromarray(ink, mode="F").resize((size, size), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


def ink_u8(ink: np.ndarray) -> np.ndarray:
    """float ink in [0, 1] -> uint8 0..255 (rounded), the canvas's displayed pixels."""
    return np.rint(ink * 255.0).astype(np.uint8)


def gray_qimage(u8: np.ndarray) -> QImage:
    """uint8 [H, W] -> an owning QImage (Grayscale8)."""
    a = np.ascontiguousarray(u8, dtype=np.uint8)
    h, w = a.shape
    return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
