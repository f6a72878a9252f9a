"""Seed spread of the README's quality figures: the same measurement as the benchmark that made
the figure, repeated with other seeds, so each figure can be given with its spread.

- `reconstruction`: `core.evaluation.reconstruction_curve` (what `ddpm-desktop evaluate
  --reconstruction` runs: 200 held-out digits noised to t with seed + t, DPM-Solver++ 20 steps
  back, no label) for each seed.
- `live`: the live-draw comparison of bench/live.py's sampler section (100 held-out digits, N/10
  per class, noised to t = 300 with one fixed ε, `core.live.LiveReconstructor`): how many the
  distilled student at 1 call reads as DPM-Solver++(2M) at 2 calls, for each ε seed.
- `pool`: the per-seed and pooled share of bench/inpaint.py JSON files (one seed each), with
  the binomial standard error of the pooled share.

    python bench/seed_spread.py reconstruction [--ts 300,400,500] [--seeds 1,2,3] [--n 200]
    python bench/seed_spread.py live [--seeds 0,1,2,3,4] [--digits 100] [--t 300]
    python bench/seed_spread.py pool FILE.json... [--config default]

Each prints one JSON line per seed (pool: one JSON object); one torch thread.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pooled_share(successes: list[int], trials: list[int]) -> dict:
    """Pooled share of independent trials and its binomial standard error √(p(1 − p)/n)."""
    k, n = sum(successes), sum(trials)
    p = k / n
    return {"successes": k, "trials": n, "share": p, "se": math.sqrt(p * (1 - p) / n)}


def _int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def run_reconstruction(ts: list[int], seeds: list[int], n: int) -> None:
    import torch

    from ddpm_desktop.core import checkpoint
    from ddpm_desktop.core.classifier import load_classifier
    from ddpm_desktop.core.evaluation import reconstruction_curve
    from ddpm_desktop.core.schedule import NoiseSchedule

    torch.set_num_threads(1)
    model, _ = checkpoint.load_model(checkpoint.bundled_model_path())
    classifier, _ = load_classifier()
    for seed in seeds:
        for p in reconstruction_curve(model, classifier, NoiseSchedule.default(), ts, n=n, seed=seed):
            print(json.dumps({"seed": seed, **p.to_dict()}), flush=True)


def run_live(seeds: list[int], digits: int, t: int) -> None:
    import numpy as np
    import torch

    from ddpm_desktop.core import checkpoint, imaging
    from ddpm_desktop.core.classifier import load_classifier
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.distill import bundled_student_path, load_student
    from ddpm_desktop.core.live import LiveReconstructor
    from ddpm_desktop.core.schedule import NoiseSchedule

    torch.set_num_threads(1)
    model, _ = checkpoint.load_model(checkpoint.bundled_model_path())
    student = load_student(bundled_student_path())[0]
    classifier, _ = load_classifier()
    test = load_bundled_mnist("test")
    idx = (np.arange(digits) % 10) * 100 + np.arange(digits) // 10  # as bench/live.py
    x0 = imaging.to_model_range(test.images[idx])
    labels = test.labels[idx]
    schedule = NoiseSchedule.default()
    for seed in seeds:
        read = {}
        for name, net, steps in (("distilled", student, 1), ("dpmpp", model.eval(), 2)):
            r = LiveReconstructor(net, schedule, t=t, sampler=name, steps=steps, classifier=classifier,
                                  seed=seed)
            read[name] = np.array([r.reconstruct(x).reading for x in x0])
        print(json.dumps({"seed": seed, "digits": digits, "t": t,
                          "student1_agrees_with_dpmpp2": int((read["distilled"] == read["dpmpp"]).sum()),
                          "student1_label_kept": int((read["distilled"] == labels).sum()),
                          "dpmpp2_label_kept": int((read["dpmpp"] == labels).sum())}), flush=True)


def pool_inpainting(files: list[str], config: str) -> dict:
    """Per-seed shares of the bench/inpaint.py row whose name contains `config`, and the pool."""
    per_seed, k, n = [], [], []
    for f in files:
        r = json.loads(Path(f).read_text())
        (row,) = [row for row in r["rows"] if config in row["config"]]
        hits = round(row["accuracy"] * r["digits"])
        per_seed.append({"seed": r["seed"], "digits": r["digits"], "share": row["accuracy"]})
        k.append(hits)
        n.append(r["digits"])
    return {"config": config, "per_seed": per_seed, "pooled": pooled_share(k, n)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("reconstruction")
    r.add_argument("--ts", type=_int_list, default=[300, 400, 500])
    r.add_argument("--seeds", type=_int_list, default=[1, 2, 3])
    r.add_argument("--n", type=int, default=200)
    lv = sub.add_parser("live")
    lv.add_argument("--seeds", type=_int_list, default=[0, 1, 2, 3, 4])
    lv.add_argument("--digits", type=int, default=100)
    lv.add_argument("--t", type=int, default=300)
    pl = sub.add_parser("pool")
    pl.add_argument("files", nargs="+", help="bench/inpaint.py --json outputs, one seed each")
    pl.add_argument("--config", default="default", help="the row whose name contains this text")
    args = p.parse_args(argv)
    if args.what == "reconstruction":
        run_reconstruction(args.ts, args.seeds, args.n)
    elif args.what == "live":
        run_live(args.seeds, args.digits, args.t)
    else:
        print(json.dumps(pool_inpainting(args.files, args.config), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
