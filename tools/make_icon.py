"""Draw the app's icon, resources/ddpm-desktop.svg: a bundled "3" dissolving into noise.

    python tools/make_icon.py [--out resources/ddpm-desktop.svg]

The picture is the forward process itself: one held-out digit of the bundled MNIST, shifted
left, noised column by column with x_t = √ᾱ x_0 + √(1-ᾱ) ε (core.forward.q_sample_at), where
ᾱ is 1 over the digit's left part and falls to near 0 at the right edge (log-SNR from +3 to
-5, linear in the column). Each of the 28x28 pixels is a square whose opacity is its value
(-1 transparent, +1 opaque), filled by one gradient from the reverse chain's orange (the
clean digit) to the forward chain's blue (the noise). Seeded, so the file is reproducible:
running this again writes the same bytes.
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import torch

from ddpm_desktop import resources_path
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.forward import q_sample_at

ICON_FILE = "ddpm-desktop.svg"
SIDE = 28
CANVAS = 256
CELL = 8           # 28 cells of 8 px fill 224 px, centred on the 256 px canvas
GAP = 1            # a dark line between cells: they read as pixels
LEVELS = 8         # opacity steps; one path per step keeps the file small
DIGIT_INDEX = 301  # held-out digit: a bold, clear "3" (the second of the 100 held-out threes)
SHIFT = 3          # columns the digit moves left, to leave room for the noise
CLEAN_COLUMNS = 11  # ᾱ = 1 left of this column
LOG_SNR = (3.0, -5.0)  # from the first noised column to the last
BLUE_FROM = 21  # the gradient reaches the noise colour here
SEED = 3
BACKGROUND = "#1e2127"  # the dark theme's plot background
CLEAN, NOISE = "#E69F00", "#56B4E9"  # the reverse chain's and the forward chain's colours


def noised_digit() -> np.ndarray:
    """float [28, 28] in about [-3, 3]: the digit, clean on the left, noised to the right."""
    data = load_bundled_mnist("test")
    if int(data.labels[DIGIT_INDEX]) != 3:
        raise SystemExit(f"held-out digit {DIGIT_INDEX} is a {data.labels[DIGIT_INDEX]}, not a 3")
    x0 = data.images[DIGIT_INDEX].astype(np.float64) / 127.5 - 1.0
    x0 = np.concatenate([x0[:, SHIFT:], np.full((SIDE, SHIFT), -1.0)], axis=1)
    lam = np.full(SIDE, np.inf)
    noised = np.arange(CLEAN_COLUMNS, SIDE)
    lam[noised] = np.interp(noised, [CLEAN_COLUMNS, SIDE - 1], LOG_SNR)
    alpha_bar = 1.0 / (1.0 + np.exp(-lam))  # sigmoid(λ); 1 where λ = +∞
    noise = torch.randn(SIDE, SIDE, generator=torch.Generator().manual_seed(SEED),
                        dtype=torch.float64)
    # One item per column: q_sample_at broadcasts a level [B] over each item's pixels.
    xt = q_sample_at(torch.from_numpy(x0.T.copy()), torch.from_numpy(alpha_bar), noise)
    return xt.numpy().T


def svg(x: np.ndarray) -> str:
    level = np.clip(np.round((x + 1.0) / 2.0 * LEVELS), 0, LEVELS).astype(int)
    origin = (CANVAS - SIDE * CELL) // 2
    size = CELL - GAP
    paths = []
    for k in range(1, LEVELS + 1):
        rows, cols = np.nonzero(level == k)
        if len(rows) == 0:
            continue
        d = "".join(f"M{origin + c * CELL} {origin + r * CELL}h{size}v{size}h-{size}z"
                    for r, c in zip(rows.tolist(), cols.tolist()))
        paths.append(f'<path fill="url(#fade)" fill-opacity="{k / LEVELS:.3g}" d="{d}"/>')
    left, right = origin, origin + SIDE * CELL
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CANVAS}" height="{CANVAS}" '
        f'viewBox="0 0 {CANVAS} {CANVAS}">',
        "<title>DDPM Desktop: a digit dissolving into noise</title>",
        "<defs>",
        f'<linearGradient id="fade" gradientUnits="userSpaceOnUse" x1="{left}" y1="0" '
        f'x2="{right}" y2="0">',
        f'<stop offset="0" stop-color="{CLEAN}"/>',
        f'<stop offset="{CLEAN_COLUMNS / SIDE:.3f}" stop-color="{CLEAN}"/>',
        f'<stop offset="{BLUE_FROM / SIDE:.3f}" stop-color="{NOISE}"/>',
        f'<stop offset="1" stop-color="{NOISE}"/>',
        "</linearGradient>",
        "</defs>",
        f'<rect width="{CANVAS}" height="{CANVAS}" rx="{math.floor(CANVAS * 0.17)}" '
        f'fill="{BACKGROUND}"/>',
        *paths,
        "</svg>",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(resources_path(ICON_FILE)))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    text = svg(noised_digit())
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"{args.out}: {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
