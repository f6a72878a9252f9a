"""Reading the digits a command scores: an .npz with `images` uint8 [N, 28, 28], or one image file.

Shared by `invert` and `likelihood`. Every problem is a one-line ValueError (the CLI prints it
and exits 2).
"""
from __future__ import annotations

from pathlib import Path

MAX_IMAGES = 10_000
SIDE = 28


def read_digits(path: str):
    """(uint8 [N, 28, 28], description) from FILE.npz (its `images` array, [N, 28, 28] or one
    [28, 28]) or any image Pillow reads (preprocessed as the app does: core.imaging.load_digit)."""
    import numpy as np

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.files import unreadable_reason

    p = Path(path)
    why = unreadable_reason(p)
    if why:
        raise ValueError(f"cannot read {path}: {why}")
    if p.suffix.lower() != ".npz":
        return imaging.to_uint8(imaging.load_digit(p))[None], str(path)
    try:
        with np.load(p, allow_pickle=False) as npz:
            names = list(npz.files)
            images = npz["images"] if "images" in names else None
    except Exception as exc:  # noqa: BLE001 - a damaged or non-zip file: numpy raises many kinds
        raise ValueError(f"cannot read {path} as .npz ({type(exc).__name__})") from None
    if images is None:
        raise ValueError(f"{path} has no 'images' array (it has: {', '.join(names) or 'none'})")
    if images.dtype != np.uint8:
        raise ValueError(f"{path}: 'images' must be uint8 pixels 0..255, got {images.dtype}")
    if images.shape == (SIDE, SIDE):
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or not 1 <= len(images) <= MAX_IMAGES:
        raise ValueError(f"{path}: 'images' must be [N, {SIDE}, {SIDE}] with 1 <= N <= {MAX_IMAGES}, "
                         f"got {list(images.shape)}")
    return np.ascontiguousarray(images), str(path)
