"""`ddpm-desktop twins`: two models trained on disjoint training digits, run from the same x_T.

For each pair: d(a, b), the distance between the two samples, and each sample's distance d1 to
its nearest training digit (pixels in [0, 1], L2; core.twins, core.copies). `--pair twin`
compares twin-a and twin-b (the two halves, 4,500 digits each): generalising models draw nearly
the same digit from the same noise, far from any training digit (d(a, b) < d1). `--pair few`
compares few-a and few-b (64 digits each): copying models each return a digit of their own set,
so d(a, b) is large and d1 small (Kadkhodaie et al. 2024).
"""
from __future__ import annotations

import argparse
import json

HELP = "run two models trained on disjoint digits from the same noise; compare their samples"


def add_parser(sub) -> None:
    from ._common import seed_arg

    p = sub.add_parser("twins", help=HELP, description=__doc__.splitlines()[0],
                       epilog="`nearest_a`/`nearest_b` in --json are rows of the `images` array "
                              "in resources/mnist.npz; `own_a`/`own_b` say whether that digit is in "
                              "the model's own training set.")
    p.add_argument("--pair", choices=("twin", "few"), default="twin",
                   help="twin: twin-a and twin-b (4,500 digits each); few: few-a and few-b (64 each)")
    p.add_argument("--n", type=int, default=8, help="pairs to draw, 1..256")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the shared x_T (and of a stochastic sampler's noise)")
    p.add_argument("--label", default="all",
                   help="class 0-9 for every pair, 'all' to cycle through them, or 'none'")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale w with a label (default: the app's)")
    p.add_argument("--steps", type=int, default=20, help="DPM-Solver++(2M) steps, 1..1000")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the app's rule)")
    p.add_argument("--json", action="store_true",
                   help='print {"pair", "models", "n", "seed", "median": {...}, "pairs": [{"d_ab", '
                        '"nearest_a", "d1_a", "copy_a", "own_a", ...}]}')
    p.set_defaults(run=run)


def _labels(text: str):
    t = str(text).lower()
    if t == "none":
        return None
    if t == "all":
        return "all"
    try:
        value = int(t)
    except ValueError:
        raise ValueError(f"--label must be a class 0-9, 'all' or 'none', got {text!r}") from None
    if not 0 <= value <= 9:
        raise ValueError(f"--label must be a class 0-9, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from ._common import (apply_threads, check_guidance, check_int_range, check_threads,
                          guidance_from_args)

    check_int_range("--n", args.n, 1, 256)
    check_int_range("--steps", args.steps, 1, 1000)
    check_guidance(args.guidance)
    check_threads(args.threads)
    labels = _labels(args.label)

    from ddpm_desktop.core import twins
    from ddpm_desktop.core.data import bundled_mnist_rows

    name_a, name_b = twins.pair_models(args.pair)
    model_a, meta_a = twins.load_subset_model(name_a)
    model_b, meta_b = twins.load_subset_model(name_b)
    apply_threads(args.threads)
    pairs = twins.twin_pair(model_a, model_b, n=args.n, seed=args.seed, labels=labels,
                            guidance=guidance_from_args(args), steps=args.steps,
                            rows_a=twins.training_rows(meta_a), rows_b=twins.training_rows(meta_b))
    s = pairs.summary()
    if args.json:
        print(json.dumps({"pair": args.pair, "models": [name_a, name_b], "n": args.n,
                          "seed": args.seed, "median": s,
                          "pairs": pairs.rows(bundled_mnist_rows("train"))}))
        return 0
    print(f"{name_a} and {name_b} from the same x_T (seed {args.seed}); distances in pixels "
          "[0, 1], L2; d1: to the nearest training digit")
    print(f"{'pair':>4} {'label':>5} {'d(a,b)':>8} {'d1(a)':>8} {'d1(b)':>8}")
    for i, r in enumerate(pairs.rows()):
        label = "-" if r["label"] < 0 else str(r["label"])
        marks = "".join(f" {side} copies" for side in "ab" if r[f"copy_{side}"])
        print(f"{i:>4} {label:>5} {r['d_ab']:8.2f} {r['d1_a']:8.2f} {r['d1_b']:8.2f}{marks}")
    print(f"median {'':>5} {s['median_d_ab']:6.2f} {s['median_d1_a']:8.2f} {s['median_d1_b']:8.2f}"
          f"   ({s['copies_a']} and {s['copies_b']} of {s['n']} copy)")
    return 0
