"""Long-run memory check of the app: animate the forward and reverse chains for M minutes.

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 nice -n 19 python tools/soak_app.py --minutes 30

Builds the real MainWindow offscreen (settings in a throw-away .ini), gives it a model (a
checkpoint, or the default architecture with random weights: memory does not care), then
loops: the forward chain view plays at full speed and restarts when it reaches T; a reverse
run (cycling DDPM / DDIM / DPM-Solver++, every other one in compare mode) starts whenever none
is running, and every 7th one is cancelled midway; the forward chain is recomputed every 10 s.
RSS is sampled every --sample-s seconds (default 60). Prints a table, the slope in MB per
minute after the first sample, and how often the GUI received sampling batches (the worker
throttles to 30 Hz). Exit code 1 when the fitted trend (slope x duration) after the first
sample exceeds --max-growth-mb.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--sample-s", type=float, default=60.0, help="RSS sample interval, seconds")
    p.add_argument("--checkpoint", default=None, help="a .safetensors model (default: random weights)")
    p.add_argument("--steps", type=int, default=50, help="reverse steps per run")
    p.add_argument("--max-growth-mb", type=float, default=10.0)
    p.add_argument("--tracemalloc", action="store_true",
                   help="also print the 10 Python allocation sites that grew most after the first sample")
    args = p.parse_args(argv)
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(8)
    snap = []
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch
    from PySide6.QtCore import QSettings, QTimer

    from ddpm_desktop.core.training import TrainConfig
    from ddpm_desktop.ui.app import create_app
    from ddpm_desktop.ui.main_window import MainWindow
    from ddpm_desktop.ui.state import SamplerSettings

    torch.set_num_threads(1)
    app = create_app(["soak_app"])
    ini = os.path.join(tempfile.mkdtemp(prefix="ddpm-soak-"), "settings.ini")
    win = MainWindow(settings=QSettings(ini, QSettings.Format.IniFormat), load_model=False)
    win.resize(1400, 900)
    win.show()
    if args.checkpoint:
        from ddpm_desktop.core.checkpoint import load_model

        model, meta = load_model(args.checkpoint)
        win.session.set_model(model, os.path.basename(args.checkpoint), meta)
    else:
        from ddpm_desktop.core.model import UNet

        torch.manual_seed(0)
        win.session.set_model(UNet(TrainConfig().model).eval(), "random weights (soak)")

    session, fwd = win.session, win.forward_view
    counts = {"runs": 0, "cancelled": 0, "batches": 0, "restarts": 0, "recomputes": 0, "errors": 0}
    sampling_s = [0.0, None]  # total seconds spent sampling, start of the current run

    commit = session.reverse.commit

    def counting_commit(*a, **k):  # runs in the GUI thread, once per throttled batch
        counts["batches"] += 1
        return commit(*a, **k)

    session.reverse.commit = counting_commit
    session.error.connect(lambda msg: counts.__setitem__("errors", counts["errors"] + 1))
    samplers = ("ddpm", "ddim", "dpmpp")

    def tick():
        if rows and rows[-1][0] >= args.minutes * 60:
            return  # finishing: start no new work
        if not fwd.playing:
            counts["restarts"] += 1
            fwd.go_start()
            fwd.play()
        if not session.is_sampling():
            if sampling_s[1] is not None:
                sampling_s[0] += time.perf_counter() - sampling_s[1]
            i = counts["runs"]
            ok = session.request_sampling(SamplerSettings(
                sampler=samplers[i % 3], steps=args.steps, seed=i, compare=bool(i % 2), eta=0.5))
            if ok:
                counts["runs"] += 1
                sampling_s[1] = time.perf_counter()
                if counts["runs"] % 7 == 0:
                    QTimer.singleShot(300, cancel)

    def cancel():
        if session.is_sampling():
            session.cancel_sampling()
            counts["cancelled"] += 1

    def recompute():
        session.recompute_forward()
        counts["recomputes"] += 1

    fwd.set_speed(10_000)
    timers = []
    for interval, fn in ((200, tick), (10_000, recompute)):
        t = QTimer()
        t.timeout.connect(fn)
        t.start(interval)
        timers.append(t)

    start = time.perf_counter()
    rows = []

    def sample_rss():
        rows.append((time.perf_counter() - start, rss_mb(), dict(counts)))
        if args.tracemalloc and len(rows) == 2:
            import tracemalloc

            snap.append(tracemalloc.take_snapshot())
        el, mb, c = rows[-1]
        print(f"{el / 60:>6.1f} {mb:>8.1f} {c['runs']:>5} {c['cancelled']:>5} {c['batches']:>8} "
              f"{c['restarts']:>8} {c['errors']:>6}", flush=True)
        if el >= args.minutes * 60:
            for t in timers:
                t.stop()
            app.quit()

    print(f"soak_app: {args.minutes} min, pid {os.getpid()}, RSS every {args.sample_s:.0f} s", flush=True)
    print(f"{'min':>6} {'RSS MB':>8} {'runs':>5} {'canc':>5} {'batches':>8} {'restarts':>8} {'errors':>6}",
          flush=True)
    sample_rss()
    rss_timer = QTimer()
    rss_timer.timeout.connect(sample_rss)
    rss_timer.start(int(args.sample_s * 1000))
    app.exec()
    for t in timers:
        t.stop()
    win.close()  # shutdown: cancels and joins the workers
    if sampling_s[1] is not None:
        sampling_s[0] += time.perf_counter() - sampling_s[1]

    t = np.array([r[0] / 60 for r in rows[1:]])
    mb = np.array([r[1] for r in rows[1:]])
    if len(t) >= 2:
        slope = np.polyfit(t, mb, 1)[0]
        growth = mb[-1] - mb[0]
        print(f"RSS from the first sample on: {mb[0]:.1f} -> {mb[-1]:.1f} MB (growth {growth:+.1f} MB, "
              f"peak {mb.max() - mb[0]:+.1f} MB), slope {slope:+.2f} MB/min")
    else:
        growth = float("nan")
        print("too short for a slope: run at least two sample intervals")
    if snap:
        import tracemalloc

        diff = tracemalloc.take_snapshot().compare_to(snap[0], "traceback")
        print("Python allocations that grew most since the first sample:")
        for stat in diff[:10]:
            print(f"  {stat.size_diff / 2**20:+.2f} MB in {stat.count_diff:+d} blocks")
            for line in stat.traceback.format()[-6:]:
                print("     ", line)
    rate = counts["batches"] / sampling_s[0] if sampling_s[0] else float("nan")
    print(f"{counts['runs']} reverse runs ({counts['cancelled']} cancelled), {counts['batches']} GUI "
          f"batches in {sampling_s[0]:.0f} s of sampling = {rate:.1f} per second (throttle 30 Hz), "
          f"{counts['restarts']} forward replays, {counts['errors']} errors")
    trend = slope * (t[-1] - t[0]) if len(t) >= 2 else float("nan")
    return 0 if not (trend > args.max_growth_mb) else 1


if __name__ == "__main__":
    sys.exit(main())
