"""Reading the digits a command scores: an .npz with `images` uint8 [N, 28, 28], or one image file.

Shared by `invert` and `likelihood`. Every problem is a one-line ValueError (the CLI prints it
and exits 2).
"""
from __future__ import annotations

from pathlib import Path

MAX_IMAGES = 10_000


def add_digits_args(p) -> None:
    """The digits file (read by `read_digits`), then the model's and the schedule's options."""
    from ._common import add_model_args, add_schedule_args

    p.add_argument("file", help="FILE.npz with 'images' uint8 [N, 28, 28], or one image file")
    add_model_args(p)
    add_schedule_args(p)


def read_digits(path: str):
    """(uint8 [N, 28, 28], description) from FILE.npz (its `images` array, read by the copies
    command's reader) or a picture in a raster format core.imaging.open_image allows
    (preprocessed as the app's Import does: core.imaging.load_digit)."""
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.files import unreadable_reason

    from .copies import read_images_npz

    why = unreadable_reason(path)
    if why:
        raise ValueError(f"cannot read {path}: {why}")
    if Path(path).suffix.lower() != ".npz":
        return imaging.to_uint8(imaging.load_digit(path))[None], str(path)
    images = read_images_npz(path)
    if len(images) > MAX_IMAGES:
        raise ValueError(f"{path}: at most {MAX_IMAGES} images, got {len(images)}")
    return images, str(path)
