"""Speed of the copy check (core.copies): 64 samples against the 9,000 bundled training digits on
one thread, target <= 50 ms (median).

`python -m bench.copies [--quick] [--json]` measures in a child process whose BLAS is pinned to
one thread (OMP/OPENBLAS/MKL_NUM_THREADS=1, set before numpy loads); bench/run.py runs it as its
`copies` section. `python -m bench.copies --verify A.npz B.npz ...` instead recounts the copies
of each file independently - every distance by scipy's cdist in float64, no expansion, no
screening - and prints both counts. The samples are 64 held-out digits (the check's cost does not depend on what
the images show); the training index is built once, as the app and the CLI build it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python bench/copies.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TARGET_MS = 50.0
BATCH = 64


def measure(repeats: int) -> dict:
    """Time `check_copies` of BATCH held-out digits, in this process (threads as it was started)."""
    import time

    from bench import common
    from ddpm_desktop.core import copies
    from ddpm_desktop.core.data import load_bundled_mnist

    t0 = time.perf_counter()
    index = copies.NearestIndex(load_bundled_mnist("train").images)
    build_s = time.perf_counter() - t0
    samples = load_bundled_mnist("test").images[::1000 // BATCH][:BATCH]
    times = common.interleaved({"check": lambda: copies.check_copies(samples, index)}, repeats, warmup=2)
    return {"batch": len(samples), "training_digits": len(index), "target_ms": TARGET_MS,
            "index_build_ms": round(build_s * 1e3, 1), "check": common.summary_ms(times["check"]),
            "threads_env": {k: os.environ.get(k) for k in ONE_THREAD}}


def verify(path: str) -> dict:
    """The copy count of an .npz's `images` by brute force (scipy cdist, float64) beside core.copies'."""
    import numpy as np
    from scipy.spatial.distance import cdist

    from ddpm_desktop.commands.copies import read_images_npz
    from ddpm_desktop.core import copies
    from ddpm_desktop.core.data import load_bundled_mnist

    images = read_images_npz(path)
    train = load_bundled_mnist("train").images.reshape(-1, 784).astype(np.float64) / 255.0
    d = cdist(images.reshape(len(images), -1).astype(np.float64) / 255.0, train)
    two = np.sort(d, axis=1)[:, :2]
    brute = int((two[:, 0] < two[:, 1] / 3.0).sum())
    ours = copies.check_copies(images)
    same_nearest = int((np.argmin(d, axis=1) == ours.nearest.nearest).sum())
    return {"file": path, "n": len(images), "copies_brute_force": brute, "copies_core": ours.n_copies,
            "same_nearest": same_nearest, "max_abs_d1_difference": float(np.abs(two[:, 0] - ours.nearest.d1).max())}


def run(cfg) -> dict:
    """bench/run.py's entry: the measurement in a one-thread child process."""
    from bench import common

    cmd = [sys.executable, "-m", "bench.copies", "--json"] + (["--quick"] if cfg.quick else [])
    env = dict(os.environ, **ONE_THREAD, PYTHONPATH=str(common.ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(cmd, cwd=common.ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.copies", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="11 repeats instead of 51")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verify", nargs="+", metavar="NPZ", help="recount these files' copies by brute force")
    args = p.parse_args(argv)
    if args.verify:
        for path in args.verify:
            print(json.dumps(verify(path)))
        return 0
    if any(os.environ.get(k) != v for k, v in ONE_THREAD.items()):
        # numpy reads the thread counts when it loads: start again with them set
        env = dict(os.environ, **ONE_THREAD)
        return subprocess.call([sys.executable, "-m", "bench.copies", *(argv or sys.argv[1:])], env=env)
    r = measure(11 if args.quick else 51)
    if args.json:
        print(json.dumps(r))
    else:
        c = r["check"]
        print(f"copy check, {r['batch']} samples vs {r['training_digits']} training digits, one thread: "
              f"median {c['median_ms']:.1f} ms (p95 {c['p95_ms']:.1f}, min {c['min_ms']:.1f}, n {c['n']}); "
              f"target <= {TARGET_MS:g} ms; index built once in {r['index_build_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
