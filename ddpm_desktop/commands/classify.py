"""`ddpm-desktop classify`: the bundled classifier's reading of pictures, "not a digit" included.

Each picture gets its most probable class, that class's softmax probability p, and whether it
is a digit at all (core/classifier.py: a feature-space distance to the training digits,
calibrated on held-out digits by tools/calibrate_ood.py). An .npz is read as is (`images`
uint8 [N, 28, 28], 0 = background, 255 = ink, as the bundled data); any other file is a
picture, preprocessed as the app's Import does (core.imaging.load_digit); a blank picture is
read as the blank field it is.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

MAX_IMAGES = 100_000


HELP = "read pictures as digits, or say they are not digits"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    p = sub.add_parser("classify", help=HELP,
                       description="Read each picture with the bundled classifier: its class and "
                                   "probability p, or 'not a digit' when it lies far from every "
                                   "digit the classifier was trained on.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="an .npz with images uint8 [N, 28, 28], or picture files (PNG, JPEG, BMP, GIF, TIFF, WebP or PNM)")
    p.add_argument("--json", action="store_true",
                   help='print one JSON object a line, {"label": int or null, "p": float, "digit": bool}, '
                        "one per picture in the order given (default: %(default)s, one readable line each)")
    p.set_defaults(run=run)


def _load_npz(path: Path):
    import numpy as np

    from ddpm_desktop.core import files

    why = files.unreadable_reason(path)
    if why is not None:
        raise ValueError(f"cannot read '{path}': {why}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            images = npz["images"] if "images" in names else None
    except Exception as exc:  # noqa: BLE001 - a damaged archive raises zipfile/OSError/EOFError/ValueError
        raise ValueError(f"cannot read '{path}': not an .npz archive ({type(exc).__name__})") from None
    if images is None:
        raise ValueError(f"'{path}' has no 'images' array (it has: {', '.join(names) or 'nothing'})")
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"'{path}': images must be uint8 [N >= 1, 28, 28], got {images.dtype} {list(images.shape)}")
    if len(images) > MAX_IMAGES:
        raise ValueError(f"'{path}': at most {MAX_IMAGES} images, got {len(images)}")
    return images.astype(np.float32) / 127.5 - 1.0


def _load_picture(path: Path):
    import numpy as np

    from ddpm_desktop.core.imaging import BlankImageError, load_digit

    try:
        return load_digit(path)[None]
    except BlankImageError:
        return np.full((1, 28, 28), -1.0, np.float32)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    sources, batches = [], []
    for name in args.files:
        path = Path(name)
        images = _load_npz(path) if path.suffix.lower() == ".npz" else _load_picture(path)
        batches.append(images)
        sources += [f"{name}[{i}]" for i in range(len(images))] if path.suffix.lower() == ".npz" else [name]
        if len(sources) > MAX_IMAGES:
            raise ValueError(f"at most {MAX_IMAGES} pictures in one call, got more")

    from ddpm_desktop.core.classifier import bundled_reader

    readings = bundled_reader().read(np.concatenate(batches))  # CheckpointError is a ValueError
    for source, r in zip(sources, readings):
        if args.json:
            print(json.dumps(r.as_dict()))
        else:
            print(f"{source}: {r.text}" if r.digit else
                  f"{source}: not a digit (nearest class {r.top}, p = {r.p:.2f})")
    return 0
