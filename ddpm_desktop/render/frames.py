"""Which frames of the chains an animation shows: picked along the chains by index (at least
MIN_FRAMES, DEFAULT_FRAMES for a long chain) or every stride-th, chains of different lengths
spread over the same output frames; the kinds of file an export writes (`KINDS`, animated
`ANIMATED_KINDS`, `KIND_OF_SUFFIX`). Plain numpy: the GIF/WebP/APNG composition
(render.compose), the export dialog's info line and the headless `export` command share it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

MIN_FRAMES = 30  # an animation has at least this many frames, whatever the chain's length
DEFAULT_FRAMES = 120  # frames picked along a longer chain by default (output_indices)
ANIMATED_KINDS = ("gif", "webp", "apng")
KINDS = ANIMATED_KINDS + ("png",)  # png: a still (a strip of key frames, or the last frame)
KIND_OF_SUFFIX = {f".{kind}": kind for kind in KINDS}


def output_positions(n_max: int, stride: int = 0, n_frames: int | None = None,
                     min_frames: int = MIN_FRAMES) -> np.ndarray:
    """The frame index of the longest chain (0..n_max-1) shown by each output frame.

    ``n_frames``: that many frames picked evenly along the chain by index (first and last
    included; a chain shorter than that repeats frames, so it plays as long). Otherwise
    ``stride`` > 0: every stride-th frame and the last; stride 0 (automatic): ``DEFAULT_FRAMES``
    picked along the chain, or every frame of a shorter one. Either way at least
    ``min_frames`` frames (picked along the chain) unless ``n_frames`` says otherwise.
    """
    n_max = max(1, int(n_max))
    if n_frames is None:
        stride = max(0, int(stride))
        if stride == 0:
            n_frames = min(n_max, DEFAULT_FRAMES)
        else:
            steps = list(range(0, n_max, stride))
            if steps[-1] != n_max - 1:
                steps.append(n_max - 1)
            if len(steps) >= min_frames:
                return np.asarray(steps, dtype=np.int64)
        n_frames = max(n_frames or 0, int(min_frames))
    n_frames = max(1, int(n_frames))
    if n_frames == 1:
        return np.asarray([n_max - 1], np.int64)
    return np.rint(np.linspace(0, n_max - 1, n_frames)).astype(np.int64)


def output_indices(lengths: Sequence[int], stride: int = 0, n_frames: int | None = None,
                   min_frames: int = MIN_FRAMES) -> list[np.ndarray]:
    """For each output frame, the frame index of every chain: list over chains of int [N]
    (``output_positions`` along the longest chain; a shorter chain is spread over the same
    frames, so all start and end together)."""
    n_max = max(lengths)
    steps = output_positions(n_max, stride, n_frames, min_frames).astype(np.float64)
    out = []
    for n in lengths:
        if n_max == 1:
            out.append(np.zeros(len(steps), np.int64))
        else:
            out.append(np.rint(steps * (n - 1) / (n_max - 1)).astype(np.int64))
    return out


def count_frames(lengths: Sequence[int], stride: int = 0, n_frames: int | None = None,
                 min_frames: int = MIN_FRAMES) -> int:
    return len(output_indices(lengths, stride, n_frames, min_frames)[0])
