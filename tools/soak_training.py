"""Long-run memory check of training: N steps of the real model config, RSS sampled as it goes.

    OMP_NUM_THREADS=1 nice -n 19 python tools/soak_training.py --steps 10000 --every 250

Prints a table (step, RSS, loss, img/s) and the least-squares slope of RSS against steps after
the warm-up, in MB per 1,000 steps. Flat memory means a slope of about 0 (Trainer.loss_history
alone grows by ~100 bytes a step: ~1 MB per 10,000 steps). Exit code 1 when the fitted trend
over the run (slope x steps) exceeds --max-growth-mb.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--every", type=int, default=250, help="sample RSS every N steps")
    p.add_argument("--warmup", type=int, default=200, help="steps excluded from the slope")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default="mnist")
    p.add_argument("--max-growth-mb", type=float, default=10.0)
    args = p.parse_args(argv)

    import torch

    from ddpm_desktop.core.data import load_dataset
    from ddpm_desktop.core.training import TrainConfig, Trainer

    torch.set_num_threads(args.threads)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size)  # the real model config
    trainer = Trainer(config, load_dataset(args.data), device="cpu")
    n_params = sum(p.numel() for p in trainer.model.parameters())
    print(f"soak_training: {args.steps} steps, batch {args.batch_size}, {n_params:,} parameters, "
          f"{args.threads} thread(s), pid {os.getpid()}", flush=True)
    print(f"{'step':>7} {'RSS MB':>8} {'loss':>8} {'img/s':>7} {'elapsed s':>9}", flush=True)
    rows = [(0, rss_mb(), float("nan"), 0.0, 0.0)]
    print(f"{0:>7} {rows[0][1]:>8.1f}", flush=True)
    t0 = time.perf_counter()
    for prog in trainer.iter_training():
        if prog.step % args.every == 0 or prog.done:
            row = (prog.step, rss_mb(), prog.loss_smooth, prog.images_per_second, time.perf_counter() - t0)
            rows.append(row)
            print(f"{row[0]:>7} {row[1]:>8.1f} {row[2]:>8.4f} {row[3]:>7.0f} {row[4]:>9.0f}", flush=True)
    steps = np.array([r[0] for r in rows], float)
    rss = np.array([r[1] for r in rows])
    keep = steps >= args.warmup
    if keep.sum() >= 2:
        slope = np.polyfit(steps[keep], rss[keep], 1)[0] * 1000
        growth = rss[keep][-1] - rss[keep][0]
        peak = rss[keep].max() - rss[keep][0]
    else:
        slope = growth = peak = float("nan")
    print(f"RSS after warm-up: {rss[keep][0]:.1f} -> {rss[keep][-1]:.1f} MB (growth {growth:+.1f} MB, "
          f"peak {peak:+.1f} MB), slope {slope:+.3f} MB per 1,000 steps", flush=True)
    # The trend, not the endpoints, decides: the allocator's caches swing RSS by tens of MB
    # from one sample to the next (batch 128: ~60 MB) without any leak.
    trend = slope * (args.steps - args.warmup) / 1000
    print(f"trend over the run: {trend:+.1f} MB (limit {args.max_growth_mb:g} MB)", flush=True)
    return 0 if not (trend > args.max_growth_mb) else 1


if __name__ == "__main__":
    sys.exit(main())
