"""Honest readings: how well the classifier says "not a digit", and how fast the CLI starts.

Standalone (`python -m bench.classify [ood|startup|all] [--json FILE]`), one torch thread.

- `ood`: the bundled classifier with its bundled calibration (resources/classifier_ood.json,
  written by tools/calibrate_ood.py from the training split and half A of the held-out split)
  on half B of the held-out digits (500 it never saw, as they are and as the drawing canvas
  would hand them over: the share kept as digits, the accuracy on those kept, the expected
  calibration error of p), on 0-9 drawn in the letters' font (a control: they should be
  kept) and on the non-digit families of
  core/nondigits.py (the share flagged "not a digit", per family, 200 each from seed 1 so
  they differ from any set the tests draw). Targets: ≥ 97% of digits kept, ≥ 98% accuracy on
  them, ≥ 95% of every family in nondigits.TARGET_FAMILIES flagged, most letters flagged.
  Per set also the unsure readings (a digit read with p < core.classifier.UNSURE_P): the share
  of the right readings shown as unsure, the wrong readings caught, the accuracy either side.
- `startup`: wall time of `python -m ddpm_desktop --help`, of `python -c "import torch"`, of
  `python -m ddpm_desktop schedule` and of `python -m ddpm_desktop kl` (its default run: a
  Gaussian start, T = 1000), interleaved in fresh processes, medians; the targets are `--help`
  in under half the time of `import torch`, and `kl`, which reads no network, starting without
  torch (its whole run under the time of `import torch` alone).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"digits_kept": 0.97, "accuracy_kept": 0.98, "families_flagged": 0.95, "letters_flagged": 0.5}


def run_ood(per_family: int = 200, seed: int = 1) -> dict:
    import numpy as np
    import torch

    from ddpm_desktop.core import nondigits
    from ddpm_desktop.core.classifier import UNSURE_P, bundled_reader, expected_calibration_error
    from ddpm_desktop.core.data import load_bundled_mnist
    from tools.calibrate_ood import CALIBRATION_HALF, MEASUREMENT_HALF, as_drawn

    torch.set_num_threads(1)
    reader = bundled_reader()
    test = load_bundled_mnist("test")
    x, y = test.as_tensor()
    out = {"threshold": reader.ood.threshold}
    sets = {"half_B": (x[MEASUREMENT_HALF], MEASUREMENT_HALF),
            "half_B_as_drawn": (as_drawn(np.asarray(test.images)[MEASUREMENT_HALF]), MEASUREMENT_HALF),
            "half_A_calibration": (x[CALIBRATION_HALF], CALIBRATION_HALF)}
    for name, (images, half) in sets.items():
        probs, scores = reader.probs_and_scores(images)
        labels = y[half].numpy()
        kept = scores <= reader.ood.threshold
        pred = probs.argmax(1)
        p = probs.max(1)
        out[name] = {"digits": int(len(labels)), "kept": float(kept.mean()),
                     "accuracy_kept": float((pred[kept] == labels[kept]).mean()),
                     "accuracy_all": float((pred == labels).mean()),
                     "ece_p": expected_calibration_error(p, pred == labels),
                     "mean_p": float(p.mean()),
                     # the unsure readings (a digit with p < UNSURE_P): how many right readings
                     # they cost, how many wrong ones they catch, how right the others are
                     "unsure_p": UNSURE_P,
                     "correct_read_unsure": float((p[kept & (pred == labels)] < UNSURE_P).mean()),
                     "wrong_read_unsure": [int(((pred != labels) & kept & (p < UNSURE_P)).sum()),
                                           int(((pred != labels) & kept).sum())],
                     "accuracy_unsure": float((pred == labels)[kept & (p < UNSURE_P)].mean()),
                     "accuracy_sure": float((pred == labels)[kept & (p >= UNSURE_P)].mean())}
    flagged = {}
    for family, images in nondigits.non_digit_set(seed, per_family).items():
        _, scores = reader.probs_and_scores(torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0))
        flagged[family] = float((scores > reader.ood.threshold).mean())
    out["flagged"] = flagged
    # the control: digits in the letters' font should read as digits
    font = reader.read(torch.from_numpy(nondigits.font_digits().astype(np.float32) / 127.5 - 1.0))
    out["font_digits"] = {"kept": float(np.mean([r.digit for r in font])),
                          "readings": {str(k): r.text for k, r in enumerate(font)}}
    letters = reader.read(torch.from_numpy(nondigits.letters().astype(np.float32) / 127.5 - 1.0))
    out["letters_read_as_digits"] = {ch: r.text for ch, r in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", letters)
                                     if r.digit}
    b = out["half_B"]
    out["meets"] = {
        "digits_kept": b["kept"] >= TARGETS["digits_kept"],
        "accuracy_kept": b["accuracy_kept"] >= TARGETS["accuracy_kept"],
        "families_flagged": all(flagged[f] >= TARGETS["families_flagged"] for f in nondigits.TARGET_FAMILIES),
        "letters_flagged": flagged["letters"] > TARGETS["letters_flagged"],
    }
    return out


def _time(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def run_startup(repeats: int = 5) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmds = {"help": [sys.executable, "-m", "ddpm_desktop", "--help"],
            "import_torch": [sys.executable, "-c", "import torch"],
            "schedule": [sys.executable, "-m", "ddpm_desktop", "schedule", "--T", "10"],
            "kl": [sys.executable, "-m", "ddpm_desktop", "kl"]}
    for cmd in cmds.values():  # warm-up: the file cache, not the timing
        _time(cmd, env)
    times = {k: [] for k in cmds}
    for r in range(repeats):
        for k in (list(cmds) if r % 2 == 0 else list(cmds)[::-1]):
            times[k].append(_time(cmds[k], env))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"median_s": med, "repeats": times, "help_over_torch": med["help"] / med["import_torch"],
            "kl_over_torch": med["kl"] / med["import_torch"],
            "meets": {"help_under_half_of_torch": med["help"] < 0.5 * med["import_torch"],
                      "kl_under_torch": med["kl"] < med["import_torch"]}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.classify", description=__doc__.splitlines()[0])
    p.add_argument("what", nargs="?", choices=("ood", "startup", "all"), default="all",
                   help="which measurement (default: %(default)s)")
    p.add_argument("--per-family", type=int, default=200,
                   help="non-digit pictures per family (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="startup timings per command (default: %(default)s)")
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    result = {}
    if args.what in ("ood", "all"):
        result["ood"] = run_ood(args.per_family)
    if args.what in ("startup", "all"):
        result["startup"] = run_startup(args.repeats)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
