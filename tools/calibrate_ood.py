"""Calibrate the classifier's "is this a digit?" score: python tools/calibrate_ood.py [--out PATH].

Fits each layer's class means and shared covariance on the bundled training split (9,000
digits), then sets the threshold so that at least `OOD_KEEP` of calibration half A of the
held-out split (the even positions of the 1,000 held-out digits) reads as digits, both as the
digits are and as they would arrive from the drawing canvas (`as_drawn`: the app's drawing
preprocessing thickens, refits and renormalises strokes, which moves their statistics). Half
B (the odd positions) is left for bench/classify.py to measure on. Writes resources/classifier_ood.json
(core/classifier.py explains the score). About half a minute on one CPU thread.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from ddpm_desktop.core.checkpoint import atomic_write_bytes  # noqa: E402
from ddpm_desktop.core.classifier import OOD_FILE, fit_ood, load_classifier  # noqa: E402
from ddpm_desktop.core.data import load_bundled_mnist  # noqa: E402
from ddpm_desktop.core.imaging import preprocess_digit  # noqa: E402

# The held-out split's halves: A calibrates the threshold, B measures it (bench/classify.py).
CALIBRATION_HALF = slice(0, None, 2)
MEASUREMENT_HALF = slice(1, None, 2)


def as_drawn(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] → float32 [N, 1, 28, 28] in [-1, 1] as the drawing canvas hands them
    over: drawn ten times larger (bilinear), then `preprocess_digit`."""
    big = (np.asarray(Image.fromarray(a).resize((280, 280), Image.Resampling.BILINEAR)) for a in images)
    return torch.from_numpy(np.stack([preprocess_digit(b) for b in big]))[:, None]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "resources" / OOD_FILE),
                   help="where to write the calibration (default: %(default)s)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    import json

    classifier, _ = load_classifier()
    train_x, train_y = load_bundled_mnist("train").as_tensor()
    test = load_bundled_mnist("test")
    test_x, _ = test.as_tensor()
    calibration = {"held_out_A": test_x[CALIBRATION_HALF],
                   "held_out_A_as_drawn": as_drawn(np.asarray(test.images)[CALIBRATION_HALF])}
    ood = fit_ood(classifier, train_x, train_y.numpy(), calibration,
                  info={"train": "bundled MNIST train split (9,000)",
                        "calibration": "bundled MNIST test split, even positions (500), "
                                       "as they are and as drawn"})
    atomic_write_bytes(args.out, (json.dumps(ood.to_json(), separators=(",", ":")) + "\n").encode())
    print(f"threshold {ood.threshold:.4f} (keeps >= {ood.info['keep']:.1%} of each calibration set: "
          f"{', '.join(f'{k} {v:.4f}' for k, v in ood.info['quantiles'].items())}); "
          f"norms {', '.join(f'{g.norm:.1f}' for g in ood.layers)}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
