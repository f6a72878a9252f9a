"""Inpainting quality: the bundled held-out digits with the bottom 12 rows hidden, completed by
each method of core.inpaint, read by the bundled classifier (core/classifier.py).

For each configuration it prints the share of completions the classifier reads as the digit's
true label, the NFE (network calls per completion), that the known pixels are unchanged (bit
for bit) and the time; as baselines, the classifier on the whole digits and on the masked
digits alone (hole = background). One completion per digit, all digits in one batch, one
torch thread.

    python bench/inpaint.py [--digits 100] [--seed 0] [--only TEXT] [--grid docs/inpainting.png] [--json F]

`--only default` runs just the configurations whose name contains the text (here the app's
default RePaint), so extra seeds of one row cost a fraction of the whole table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ddpm_desktop.core import checkpoint, imaging  # noqa: E402
from ddpm_desktop.core.classifier import load_classifier  # noqa: E402
from ddpm_desktop.core.data import load_bundled_mnist  # noqa: E402
from ddpm_desktop.core.inpaint import inpaint, preset_mask  # noqa: E402
from ddpm_desktop.core.sampling import make_eps_fn  # noqa: E402
from ddpm_desktop.core.schedule import NoiseSchedule  # noqa: E402

HIDDEN_ROWS = 12
# (name, method, sampler, steps, RePaint's j, r)
CONFIGS = [
    ("paste, DPM-Solver++(2M) 20", "paste", "dpmpp", 20, 1, 1),
    ("paste, DDIM 50", "paste", "ddim", 50, 1, 1),
    ("x0, DPM-Solver++(2M) 20", "x0", "dpmpp", 20, 1, 1),
    ("x0, DDPM 50", "x0", "ddpm", 50, 1, 1),
    ("repaint 50, no jumps (r = 1)", "repaint", "ddpm", 50, 10, 1),
    ("repaint 50, j = 10, r = 3", "repaint", "ddpm", 50, 10, 3),
    ("repaint 50, j = 10, r = 5 (default)", "repaint", "ddpm", 50, 10, 5),
]


def select_configs(only: list[str] | None) -> list[tuple]:
    """The CONFIGS rows whose name contains any of `only` (all of them for None), in table order."""
    if only is None:
        return list(CONFIGS)
    return [c for c in CONFIGS if any(text in c[0] for text in only)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", type=int, default=100,
                   help="N bundled held-out digits, N/10 of each class (at most 1000)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of x_T and of the sampler's noise (the same for every configuration)")
    p.add_argument("--only", action="append", default=None, metavar="TEXT",
                   help="run only the configurations whose name contains TEXT (repeatable); default: all")
    p.add_argument("--grid", default=None, help="save a PNG: digit, masked, one completion per method")
    p.add_argument("--json", default=None, help="also write the numbers as JSON here")
    args = p.parse_args(argv)
    configs = select_configs(args.only)
    if not configs:
        p.error(f"--only {args.only} matches none of: {', '.join(c[0] for c in CONFIGS)}")
    torch.set_num_threads(1)

    test = load_bundled_mnist("test")
    # the held-out set is sorted by class (100 of each): take the first of each class in turn
    idx = (np.arange(args.digits) % 10) * 100 + np.arange(args.digits) // 10
    x0 = torch.from_numpy(imaging.to_model_range(test.images[idx]))[:, None]
    labels = test.labels[idx].astype(np.int64)
    known = preset_mask("bottom", HIDDEN_ROWS)
    known_t = torch.from_numpy(known).expand_as(x0)
    model, _ = checkpoint.load_model(checkpoint.bundled_model_path())
    schedule = NoiseSchedule.default()
    eps_fn = make_eps_fn(model, schedule)
    classifier, _ = load_classifier()

    def read(x: torch.Tensor) -> tuple[float, float]:
        with torch.inference_mode():
            probs = classifier(x.float()).softmax(1).numpy()
        correct = probs.argmax(1) == labels
        return float(correct.mean()), float(probs[np.arange(len(labels)), labels].mean())

    print(f"{args.digits} bundled held-out digits (classes {np.bincount(labels, minlength=10).tolist()}), "
          f"bottom {HIDDEN_ROWS} rows hidden, one completion each, seed {args.seed}")
    rows = []
    whole, _ = read(x0)
    masked_x = torch.where(known_t, x0, torch.full_like(x0, -1.0))
    masked, _ = read(masked_x)
    rows.append({"config": "whole digits (no mask)", "accuracy": whole, "nfe": 0})
    rows.append({"config": "masked digits alone (hole = background)", "accuracy": masked, "nfe": 0})
    tiles = [x0[:10], torch.where(known_t, x0, torch.zeros_like(x0))[:10]]
    for name, method, sampler, steps, j, r in configs:
        gen = torch.Generator().manual_seed(args.seed)
        x_T = torch.randn(x0.shape, generator=gen)
        started = time.perf_counter()
        last = inpaint(method, eps_fn, schedule, x0, known, x_T, sampler=sampler, steps=steps, generator=gen,
                       jump_length=j, resample=r)
        seconds = time.perf_counter() - started
        acc, p_true = read(last.x_t)
        unchanged = bool(torch.equal(last.x_t[known_t], x0[known_t]))
        rows.append({"config": name, "method": method, "sampler": sampler, "steps": steps, "jump_length": j,
                     "resample": r, "accuracy": acc, "p_true": p_true, "nfe": last.nfe,
                     "known_unchanged": unchanged, "seconds": round(seconds, 1)})
        tiles.append(last.x_t[:10])
        print(f"  {name:34s} accuracy {acc:6.1%}  mean p(true) {p_true:.3f}  NFE {last.nfe:4d}  "
              f"known unchanged {unchanged}  {seconds:6.1f} s", flush=True)

    print("\n| completion | reads the true label | mean p(true label) | NFE | known pixels unchanged |\n"
          "|---|---|---|---|---|")
    for row in rows:
        p_true = f"{row['p_true']:.3f}" if "p_true" in row else "–"
        same = {True: "yes", False: "NO"}.get(row.get("known_unchanged"), "–")
        print(f"| {row['config']} | {row['accuracy']:.1%} | {p_true} | {row['nfe'] or '–'} | {same} |")
    if args.grid:
        # one row per digit: the digit, the masked digit (hole grey), one completion per config
        grid = torch.stack(tiles, 1).reshape(-1, 28, 28)
        imaging.save_png(imaging.upscale(imaging.make_grid(imaging.to_uint8(grid), nrow=len(tiles)), 3), args.grid)
        print(f"grid -> {args.grid}")
    if args.json:
        Path(args.json).write_text(json.dumps({"digits": args.digits, "hidden_rows": HIDDEN_ROWS,
                                               "seed": args.seed, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
