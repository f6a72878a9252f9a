"""`ddpm-desktop copies`: does a batch of samples copy the training digits?

For each image of an .npz (`images` uint8 [N, 28, 28], as `sample --out X.npz` writes): its
nearest and second-nearest training digits in pixel L2 (pixels in [0, 1]), d1, d2 and d1/d2; it
copies when d1/d2 < 1/3. For the batch: the copying fraction f_mem with a bootstrap 95%
interval, beside the same statistic for the 1,000 bundled held-out digits (the reference: real
digits no model saw). `nearest` is a row of the `images` array in resources/mnist.npz (always
one of its training split, `split == 0`).
"""
from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    from ._common import seed_arg

    p = sub.add_parser("copies", help="check whether samples copy training digits (nearest neighbours)",
                       description=__doc__.splitlines()[0],
                       epilog="`nearest` in the output is the row of the `images` array in "
                              "resources/mnist.npz (a row of its training split, split == 0).")
    p.add_argument("file", help=".npz holding `images` uint8 [N, 28, 28] (e.g. from `sample --out X.npz`)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the bootstrap interval (default 0)")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="skip the held-out digits' reference (saves about a second)")
    p.add_argument("--json", action="store_true",
                   help='print {"f_mem", "ci", "samples": [{"nearest", "d1", "d2", "ratio", "copy"}], ...}')
    p.set_defaults(run=run)


def read_images_npz(path: str):
    """The `images` array of an .npz: uint8 [N, 28, 28] with N >= 1; one-line ValueError otherwise."""
    import zipfile
    from pathlib import Path

    import numpy as np

    from ddpm_desktop.core.imaging import IMAGE_SHAPE

    if not Path(path).is_file():
        raise ValueError(f"'{path}' is not a file")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"'{path}' is not an .npz file (a zip of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            images = npz["images"] if "images" in names else None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        # not a zip of .npy arrays (np.load then tries a pickle and refuses it), or a broken one
        raise ValueError(f"cannot read '{path}' as .npz: {exc or type(exc).__name__}") from None
    if images is None:
        raise ValueError(f"'{path}' holds no `images` array (it has: {', '.join(names) or 'nothing'})")
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or not len(images):
        raise ValueError(f"'{path}': `images` must be uint8 [N, 28, 28] with N >= 1, "
                         f"got {images.dtype} {list(images.shape)}")
    return images


def run(args: argparse.Namespace) -> int:
    images = read_images_npz(args.file)

    from ddpm_desktop.core.copies import COPY_RATIO, bundled_index, check_copies, held_out_reference
    from ddpm_desktop.core.data import bundled_mnist_rows

    index = bundled_index()
    check = check_copies(images, index, seed=args.seed)
    reference = held_out_reference(index, seed=args.seed) if args.reference else None
    if args.json:
        report = check.to_dict(bundled_mnist_rows("train"))
        report["reference"] = None if reference is None else {"what": "bundled held-out digits",
                                                              **reference.summary()}
        print(json.dumps(report))
        return 0
    s = check.summary()
    print(f"{s['copies']} of {s['n']} images copy a training digit (d1/d2 < {COPY_RATIO:.3g}): "
          f"f_mem = {s['f_mem']:.3f}, 95% CI [{s['ci'][0]:.3f}, {s['ci'][1]:.3f}]; "
          f"median nearest distance {s['median_d1']:.2f}")
    if reference is not None:
        r = reference.summary()
        print(f"reference, {r['n']} held-out digits: f_mem = {r['f_mem']:.3f}, 95% CI "
              f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]; median nearest distance {r['median_d1']:.2f}")
    return 0
