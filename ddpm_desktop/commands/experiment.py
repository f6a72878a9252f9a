"""`ddpm-desktop experiment NAME --out DIR`: one of the poster's experiments or the papers'
presets, headless (core.experiments): the figures go into DIR, the numbers to stdout with the
poster's value beside ours. `--list` names them."""
from __future__ import annotations

import argparse
import json
import textwrap
import math

# = core.experiments.NAMES (kept here so building the parser imports no torch)
NAMES = ("poster-noise", "poster-digit-kl", "poster-exponential", "ddpm-linear",
         "improved-cosine", "ddim-eta", "guidance", "forget-xT")


HELP = "run one of the poster's experiments or the papers' presets"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import seed_arg

    p = sub.add_parser(
        "experiment", help=HELP,
        description="Run an experiment headless: write its figures (PNG/GIF) into --out and print "
                    "its numbers, the poster's beside ours. --list names them.")
    p.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="the experiment (" + ", ".join(NAMES) + ")")
    p.add_argument("--list", action="store_true", help="name every experiment and stop")
    p.add_argument("--out", default=None, help="folder for the figures (created if missing)")
    p.add_argument("--json", action="store_true", help="print the numbers, tables and files as JSON")
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    p.add_argument("--quick", action="store_true", help="fewer steps and samples (a quick look)")
    p.add_argument("--checkpoint", default=None, help="a .safetensors checkpoint (default: the bundled model)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads")
    p.set_defaults(run=run)


def _fmt(v) -> str:
    """4 significant digits for a measured value; a quoted one (the poster's 1.8643, at most 6
    significant digits) as written."""
    if isinstance(v, float):
        if not math.isfinite(v):
            return "inf"
        return f"{v:g}" if float(f"{v:.6g}") == v else f"{v:.4g}"
    return str(v)


def _cell(column: str, v, level: float) -> str:
    """A table cell: a KL column reads as core.readout does in the app's results card (an
    estimate below its resolution "≈ 0 (below …)", the bound at t = 0 "∞ (point mass)");
    anything else as `_fmt`."""
    if not isinstance(v, float) or not column.startswith(("exact", "our estimate", "upper bound",
                                                           "histogram")):
        return _fmt(v)
    from ddpm_desktop.core.readout import POINT_MASS, format_kl

    how = {"resolution": level} if column.startswith("our estimate") else \
        {"infinite": POINT_MASS} if column.startswith("upper bound") else {}
    return format_kl(v, fmt=lambda x, digits: f"{x:.{digits}g}", digits=4, **how).text


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ._common import apply_threads, check_threads, load_model_arg

    check_threads(args.threads)
    from ddpm_desktop.core import experiments

    if args.list:
        if args.json:
            print(json.dumps([{"name": e.name, "title": e.title, "source": e.source,
                               "description": e.description} for e in experiments.EXPERIMENTS]))
        else:
            for e in experiments.EXPERIMENTS:
                print(f"{e.name:<20} {e.title}")
        return 0
    if args.name is None:
        raise ValueError("name an experiment (or --list): " + ", ".join(experiments.NAMES))
    exp = experiments.get(args.name)  # ValueError naming the choices
    if args.out is None:
        raise ValueError("--out DIR is required")
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out '{out}' is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)  # an OSError here is one line too
    apply_threads(args.threads)
    model = None
    if exp.needs_model and args.checkpoint is not None:
        model, _ = load_model_arg(args.checkpoint, "cpu")
    result = experiments.run_experiment(exp.name, model=model, seed=args.seed, quick=args.quick)
    paths = experiments.save_figures(result, out)
    if args.json:
        report = result.to_json()
        report["files"] = [str(p) for p in paths]
        print(json.dumps(report))
        return 0
    print(f"{exp.title}  ({exp.source}; {result.seconds:.1f} s)")
    print(exp.description)
    print()
    width = max((len(n.label) for n in result.numbers), default=10)
    print(f"{'quantity':<{width}}  {'ours':>10}  {'poster':>10}")
    for n in result.numbers:
        poster = "" if n.poster is None else _fmt(float(n.poster))
        print(f"{n.label:<{width}}  {_fmt(float(n.ours)):>10}  {poster:>10}")
    from ddpm_desktop.core.kl import indistinguishable_level

    # the estimates are of one 784-pixel frame: its resolution, as the results card reads them
    level = float(indistinguishable_level(784))
    for t in result.tables:
        print()
        print(t.title)
        cells = [list(t.columns)] + [[_cell(c, v, level) for c, v in zip(t.columns, row)]
                                     for row in t.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(t.columns))]
        for r in cells:
            print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    for note in result.notes:  # what the numbers mean, as the app's results card says it
        print()
        print(textwrap.fill(note, width=100))
    print()
    for f, p in zip(result.figures, paths):
        print(f"wrote {p}: {f.caption}")
    return 0
