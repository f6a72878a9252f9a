"""`ddpm-desktop lab`: the generalisation lab. Train on N training digits and watch, every few
hundred steps, whether the samples copy them and whether they read as the digit asked for.

`lab --size N` trains the U-Net (the fast recipe) on N of the 9,000 training digits and prints one
line per evaluation as it goes: the share of guided samples that copy a training digit (f_mem,
with its bootstrap 95% interval), the classifier's accuracy on them and their median distance to
the nearest training digit. `lab --shipped` prints the curves measured for the bundled sizes
(resources/generalisation.json) without training.
"""
from __future__ import annotations

import argparse
import json
import sys

HELP = "train on N digits and watch the samples start to copy them (the generalisation lab)"


def add_parser(sub) -> None:
    from ddpm_desktop.core.generalisation import LAB_EVAL_EVERY, LAB_N_EVAL, LAB_STEPS

    from ._common import seed_arg

    p = sub.add_parser(
        "lab", help=HELP,
        description="The generalisation lab: train on N training digits and watch, every few hundred "
                    "steps, whether the samples copy them and whether they read as the digit asked for.",
        epilog="A sample copies when its nearest training digit is more than 3x closer than the "
               "second nearest (ddpm-desktop copies --help). Each evaluation draws the same "
               "guided samples (labels 0-9 in turn, the same x_T) from the EMA weights. Trained on "
               "64 digits, more than half of the samples copy one of them after 500 steps; the "
               "bundled model, trained on all 9,000 for longer, copies none of 400.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--size", type=int, metavar="N",
                      help="train on N of the 9,000 training digits (9000: all of them)")
    what.add_argument("--shipped", action="store_true",
                      help="print the curves measured for the bundled sizes, without training")
    p.add_argument("--curves", metavar="FILE", default=None,
                   help="with --shipped: read these curves (a file `lab --out` wrote) instead of the "
                        "bundled ones")
    # The training flags default to None (their values are said in the help) so that one given
    # with --shipped can be refused.
    p.add_argument("--steps", type=int, default=None,
                   help=f"optimizer steps of the fast recipe (default {LAB_STEPS})")
    p.add_argument("--eval-every", type=int, default=None, metavar="K",
                   help=f"evaluate every K steps and at the last one (default {LAB_EVAL_EVERY})")
    p.add_argument("--n-eval", type=int, default=None, metavar="M",
                   help=f"guided samples per evaluation (default {LAB_N_EVAL})")
    p.add_argument("--offset", type=int, default=None, metavar="O",
                   help="where in the subset's permutation the N digits start (default 0); offsets "
                        "0 and N give two disjoint sets")
    p.add_argument("--subset-seed", type=seed_arg, default=None, metavar="S",
                   help="seed of the subset's permutation (default 0)")
    p.add_argument("--seed", type=seed_arg, default=None,
                   help="seed of the weights, batches and noise (default 0)")
    p.add_argument("--threads", default=None,
                   help="CPU threads: a number, or auto to measure and pick the fastest "
                        "(default auto)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write the curve so far after each evaluation (.json, the format of the "
                        "shipped curves, readable with --shipped --curves FILE)")
    p.add_argument("--json", action="store_true",
                   help="print JSON: one object per evaluation (step, loss_smooth, f_mem, ci, "
                        "median_d1, accuracy, n, elapsed_s); with --shipped, the whole curves file")
    p.set_defaults(run=run)


_TRAINING_FLAGS = ("steps", "eval_every", "n_eval", "offset", "subset_seed", "seed", "threads", "out")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_args(args: argparse.Namespace) -> None:
    """Every flag bounded, and --out writable, before any work (one-line ValueError)."""
    from ddpm_desktop.core.generalisation import LAB_EVAL_EVERY, LAB_N_EVAL, LAB_STEPS

    from ._common import check_int_range, check_out, check_threads_or_auto

    if args.shipped:
        given = [_flag(k) for k in _TRAINING_FLAGS if getattr(args, k) is not None]
        if given:
            raise ValueError(f"{', '.join(given)} applies to a training run (--size N), not --shipped")
        return
    if args.curves is not None:
        raise ValueError("--curves applies to --shipped")
    from ddpm_desktop.core.data import load_bundled_mnist

    total = len(load_bundled_mnist("train"))
    check_int_range("--size", args.size, 1, total)
    args.steps = LAB_STEPS if args.steps is None else args.steps
    args.eval_every = LAB_EVAL_EVERY if args.eval_every is None else args.eval_every
    args.n_eval = LAB_N_EVAL if args.n_eval is None else args.n_eval
    args.offset = 0 if args.offset is None else args.offset
    args.subset_seed = 0 if args.subset_seed is None else args.subset_seed
    args.seed = 0 if args.seed is None else args.seed
    args.threads = "auto" if args.threads is None else args.threads
    check_int_range("--steps", args.steps, 1, 10**7)
    check_int_range("--eval-every", args.eval_every, 1, 10**7)
    check_int_range("--n-eval", args.n_eval, 1, 10_000)
    if args.size == total and args.offset:
        raise ValueError(f"--offset needs a subset: --size {total} trains on every digit")
    check_int_range("--offset", args.offset, 0, total - args.size)
    check_threads_or_auto(args.threads)
    if args.out is not None:
        args.out = check_out(args.out, (".json",))


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.shipped:
        return _print_shipped(args)
    return _train(args)


def _print_shipped(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ddpm_desktop import resources_path
    from ddpm_desktop.core.generalisation import CURVES_FILE, load_curves

    path = Path(args.curves) if args.curves is not None else Path(resources_path(CURVES_FILE))
    if args.curves is None and not path.is_file():
        raise ValueError(f"this build has no shipped lab curves ('{path}' is missing); "
                         "measure one with: ddpm-desktop lab --size N")
    curves = load_curves(path)
    if args.json:
        print(json.dumps(curves))
        return 0
    print(f"lab curves from {path.name}: {curves.get('recipe') or 'fast'} recipe, "
          f"{curves.get('n_eval') or '?'} guided samples per evaluation")
    for r in curves["runs"]:
        print()
        print(f"{r['name']}: {r['size']:,} training digits (subset seed {r['subset_seed']}, "
              f"offset {r['offset']})")
        print(f"{'step':>6}  {'f_mem':>5}  {'95% CI':<14}  {'accuracy':>8}  {'median d1':>9}")
        for q in r["points"]:
            print(f"{q['step']:>6}  {q['f_mem']:5.3f}  [{q['ci'][0]:.3f}, {q['ci'][1]:.3f}]  "
                  f"{q['accuracy']:8.3f}  {q['median_d1']:9.2f}")
    return 0


def _point_line(p) -> str:
    return (f"step {p.step:>6}  copies f_mem {p.f_mem:.3f} (95% CI {p.ci[0]:.3f}-{p.ci[1]:.3f})  "
            f"accuracy {p.accuracy:.3f}  median d1 {p.median_d1:.2f}  loss {p.loss_smooth:.4f}  "
            f"{p.elapsed_s:.0f} s")


def _train(args: argparse.Namespace) -> int:
    import torch

    from ddpm_desktop.core import generalisation
    from ddpm_desktop.core.data import load_bundled_mnist

    if args.threads == "auto":
        from ddpm_desktop.core.training import choose_num_threads

        best, _rates = choose_num_threads()
        torch.set_num_threads(best)
    else:
        torch.set_num_threads(int(args.threads))
    total = len(load_bundled_mnist("train"))
    subset = args.size < total
    name = f"n{args.size}" + (f"-offset{args.offset}" if args.offset else "")
    meta = {"recipe": "fast", "steps": args.steps, "eval_every": args.eval_every,
            "n_eval": args.n_eval, "sample_steps": generalisation.LAB_SAMPLE_STEPS,
            "guidance": generalisation.LAB_GUIDANCE}
    if not args.json:
        which = (f"{args.size:,} of the {total:,} training digits (subset seed {args.subset_seed}, "
                 f"offset {args.offset})" if subset else f"all {total:,} training digits")
        print(f"training on {which}: fast recipe, {args.steps} steps, {torch.get_num_threads()} "
              f"thread(s); {args.n_eval} guided samples every {args.eval_every} steps", flush=True)
    points = []
    for point in generalisation.iter_lab(args.size, steps=args.steps, eval_every=args.eval_every,
                                         n_eval=args.n_eval, subset_seed=args.subset_seed,
                                         offset=args.offset, seed=args.seed):
        points.append(point.to_dict())
        if args.out is not None:
            from ddpm_desktop.core.files import atomic_write_bytes

            run_record = {"name": name, "size": args.size, "subset_seed": args.subset_seed,
                          "offset": args.offset, "points": points}
            atomic_write_bytes(args.out, json.dumps({**meta, "runs": [run_record]}, indent=1)
                               .encode("utf-8"))
        print(json.dumps(point.to_dict()) if args.json else _point_line(point), flush=True)
    if args.out is not None and not args.json:
        print(f"curve -> {args.out}", file=sys.stderr)
    return 0
