"""Benchmark of the 2-D toy's numbers, standalone: `python -m bench.toy2d [--quick]`.

Prints medians; asserts nothing.
1. Training the MLP on one CPU thread: runs of 1000, 2000, 4000, 8000 steps, their seconds and
   the sliced-Wasserstein distance SW(DDIM 100-step samples, data), against SW between two data
   samples of the same size (the target: within 2x after <= 20 s, moons).
2. The exact mixture denoiser: DDIM from N(0, I) with 2,000 particles, seconds per run and SW.
3. The window (offscreen): time to redraw one frame (2,000 particles, p_t heat map, both ε
   fields, arrows on the particle plot) and paint it, median over a scrub through t.
4. The digits' latent map: the bundled classifier's reading of class samples of the bundled
   latent model (DDIM 100 steps, 200 per class) at guidance w = 1 and w = LATENT_GUIDANCE.

`--only training,exact,frames,latent` runs some of them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

from ddpm_desktop.core import toy2d
from ddpm_desktop.core.sampling import generator_for, make_eps_fn, sample
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.toy2d_model import iter_toy_training

N_EVAL = 2000


def _sw_to_data(model_eps, name, schedule, steps=100):
    x_T = torch.randn(N_EVAL, 2, generator=generator_for(1))
    out = sample("ddim", model_eps, schedule, x_T, steps=steps, clip_x0=False).numpy()
    ref = toy2d.sample_data(name, 2 * N_EVAL, generator_for(99))
    return (toy2d.sliced_wasserstein(out, ref[:N_EVAL]),
            toy2d.sliced_wasserstein(ref[:N_EVAL], ref[N_EVAL:]))


def bench_training(name: str, step_counts=(1000, 2000, 4000, 8000), max_s: float = 25.0,
                   schedule=None) -> None:
    """Whole runs of each length (each with its own learning-rate decay, as the app's Train
    runs), until one takes longer than max_s."""
    schedule = schedule or NoiseSchedule.default()
    points = toy2d.sample_data(name, 20_000, generator_for(0))
    for steps in step_counts:
        t0 = time.perf_counter()
        last = None
        for last in iter_toy_training(points, schedule, steps=steps, snapshot_every=steps):
            pass
        seconds = time.perf_counter() - t0
        sw, dd = _sw_to_data(make_eps_fn(last.model, schedule), name, schedule)
        print(f"  {name}: {steps} steps in {seconds:5.1f} s ({1e3 * seconds / steps:.2f} ms/step), "
              f"final loss {last.loss:.3f}: SW = {sw:.4f}, data vs data {dd:.4f}, "
              f"ratio {sw / dd:.2f}")
        if seconds > max_s:
            break


def bench_exact(schedule=None) -> None:
    schedule = schedule or NoiseSchedule.default()
    eps = toy2d.exact_eps_fn(toy2d.RING8, schedule)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        sw, dd = _sw_to_data(eps, "ring8", schedule, steps=100)
        times.append(time.perf_counter() - t0)
    print(f"  exact denoiser, ring8, DDIM 100 steps, {N_EVAL} particles: "
          f"{statistics.median(times):.2f} s; SW {sw:.4f} vs data {dd:.4f}")


def bench_frames(n_frames: int = 100) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from ddpm_desktop.ui.session import Session
    from ddpm_desktop.ui.toy2d_window import build_toy2d_window

    import pyqtgraph as pg

    app = QApplication.instance() or QApplication(sys.argv[:1])
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)   # as ui/app.py sets it
    session = Session()
    w = build_toy2d_window(session)
    w.show()
    app.processEvents()
    session.toy.start_training(300)
    while session.toy.is_training():
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    w.arrows_check.setChecked(True)
    for label, mode in (("forward", 0), ("both", 2)):
        if mode == 2:
            session.toy.request_sampling()
            while session.toy.is_sampling():
                app.processEvents()
                time.sleep(0.01)
            app.processEvents()
        w.show_combo.setCurrentIndex(mode)
        redraw, total = [], []
        T = session.toy2d.T
        for t in np.linspace(1, T, n_frames).astype(int):
            t0 = time.perf_counter()
            session.toy.set_frame(int(t))
            app.processEvents()     # paints what the redraw updated (each plot once)
            total.append(time.perf_counter() - t0)
            redraw.append(w.last_frame_ms / 1e3)
        print(f"  frame ({label}, 2000 particles, heat map, both fields, arrows): "
              f"redraw {1e3 * statistics.median(redraw):.1f} ms, with paint "
              f"{1e3 * statistics.median(total):.1f} ms median -> "
              f"{1 / statistics.median(total):.0f} frames/s")
    session.shutdown()
    w.close()


def bench_latent(per_class: int = 200, steps: int = 100) -> None:
    from ddpm_desktop.core.classifier import load_classifier, predict
    from ddpm_desktop.core.latent import LATENT_GUIDANCE, NUM_CLASSES, bundled_latent

    models, schedule = bundled_latent(), NoiseSchedule.default()
    clf, _ = load_classifier()
    for w in sorted({1.0, LATENT_GUIDANCE}):
        acc, times = [], []
        for k in range(NUM_CLASSES):
            x_T = torch.randn((per_class, 2), generator=generator_for(1000 + k))
            t0 = time.perf_counter()
            z = sample("ddim", models.eps_fn(schedule, k, w), schedule, x_T, steps=steps,
                       clip_x0=False).numpy()
            times.append(time.perf_counter() - t0)
            pred, _ = predict(clf, torch.from_numpy(models.decode_float(z)))
            acc.append(float((pred == k).mean()))
        print(f"  latent class samples, w = {w:g}: read as the asked class {100 * np.mean(acc):.1f}% "
              f"(per class {', '.join(f'{a:.2f}' for a in acc)}); "
              f"{1e3 * statistics.median(times):.0f} ms per class of {per_class} (DDIM {steps})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="runs of 300 and 600 steps, 20 frames")
    ap.add_argument("--only", default="training,exact,frames,latent",
                    help="comma-separated parts to run")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    torch.set_num_threads(1)
    print(f"torch threads: {torch.get_num_threads()}, load average {os.getloadavg()}")
    counts = (300, 600) if args.quick else (1000, 2000, 4000, 8000)
    if "training" in only:
        print("1. MLP training on one thread")
        for name in ("moons", "ring8"):
            bench_training(name, counts)
    if "exact" in only:
        print("2. exact denoiser")
        bench_exact()
    if "frames" in only:
        print("3. window frames")
        bench_frames(20 if args.quick else 100)
    if "latent" in only:
        print("4. the digits' latent map")
        bench_latent()
    return 0


if __name__ == "__main__":
    sys.exit(main())
