"""Reconstruct as you draw: how fast one update is, how many a second the app shows while a
stroke is being drawn, and how many network calls keep the digit.

1. steps: bundled held-out digits (N/10 of each class) noised to t with one fixed ε and
   brought back by DPM-Solver++(2M) with 1, 2, 3, 4, 6 and 10 network calls: the share the
   bundled classifier reads as the true label, and the median time of one update at batch 1
   on one torch thread (core.live.LiveReconstructor.reconstruct, the app's unit of work).
2. app: the real MainWindow offscreen with the bundled model, "Reconstruct as you draw" on,
   a stroke drawn on the canvas by mouse-move events every 5 ms for a few seconds: the
   reconstructions that reach the view per second (median over 1 s windows), the canvas
   emits per second, and the median update time the view reports.

    python bench/live.py [--digits 100] [--t 300] [--seconds 4] [--json F]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ddpm_desktop.core import checkpoint, imaging  # noqa: E402
from ddpm_desktop.core.classifier import load_classifier  # noqa: E402
from ddpm_desktop.core.data import load_bundled_mnist  # noqa: E402
from ddpm_desktop.core.live import LIVE_STEPS, LiveReconstructor  # noqa: E402
from ddpm_desktop.core.schedule import NoiseSchedule  # noqa: E402

TARGET_UPDATES_PER_S = 30.0
STEPS = (1, 2, 3, 4, 6, 10)


def bench_steps(model, classifier, digits: int, t: int) -> list[dict]:
    test = load_bundled_mnist("test")
    idx = (np.arange(digits) % 10) * 100 + np.arange(digits) // 10
    x0 = imaging.to_model_range(test.images[idx])
    labels = test.labels[idx]
    schedule = NoiseSchedule.default()
    rows = []
    for steps in STEPS:
        recon = LiveReconstructor(model, schedule, t=t, steps=steps, classifier=classifier)
        recon.reconstruct(x0[0])  # warm-up
        results = [recon.reconstruct(x) for x in x0]
        rows.append({"steps": steps, "nfe": results[0].nfe,
                     "label_kept": float(np.mean([r.reading == y for r, y in zip(results, labels)])),
                     "median_ms": float(np.median([r.ms for r in results])),
                     "p90_ms": float(np.percentile([r.ms for r in results], 90))})
    return rows


def bench_app(seconds: float, t: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from bench import common

    app = QApplication.instance() or QApplication([])
    model, meta = checkpoint.load_model(checkpoint.bundled_model_path())
    with tempfile.TemporaryDirectory() as folder:
        window = common.make_window(app, folder, model.eval(), meta)
        s = window.session
        window.input_panel.tabs.setCurrentWidget(window.input_panel.canvas_panel)
        canvas = window.input_panel.canvas_panel.canvas
        app.processEvents()
        s.set_live_t(t)
        s.set_live_enabled(True)
        shown, emits = [], []
        s.live.changed.connect(lambda what: shown.append(time.monotonic()) if what == "result" else None)
        canvas.digit_changed.connect(lambda _x: emits.append(time.monotonic()))
        common.run_event_loop(app, 0.5)
        side = min(canvas.width(), canvas.height())
        c = QPoint(canvas.width() // 2, canvas.height() // 2)
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=c)
        shown.clear(), emits.clear()
        start = time.monotonic()
        k = 0
        while time.monotonic() - start < seconds:
            a = 2 * np.pi * k / 200
            r = 0.3 * side * (0.6 + 0.4 * np.sin(3 * a))
            QTest.mouseMove(canvas, QPoint(int(c.x() + r * np.cos(a)), int(c.y() + r * np.sin(a))))
            common.run_event_loop(app, 0.005)
            k += 1
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=c)
        end = time.monotonic()
        ms = s.live.result.ms if s.live.result is not None else None
        s.set_live_enabled(False)
        common.close_window(app, window)
    windows = [sum(1 for x in shown if lo <= x < lo + 1.0) for lo in np.arange(start, end - 1.0 + 1e-9, 1.0)]
    return {"seconds": round(end - start, 2), "moves": k, "canvas_emits_per_s": len(emits) / (end - start),
            "updates_per_s_median": float(np.median(windows)) if windows else 0.0,
            "updates_per_s_windows": windows, "last_update_ms": ms,
            "threads": torch.get_num_threads(), "target": TARGET_UPDATES_PER_S}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", type=int, default=100)
    p.add_argument("--t", type=int, default=300)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model, _ = checkpoint.load_model(checkpoint.bundled_model_path())
    classifier, _ = load_classifier()
    rows = bench_steps(model.eval(), classifier, args.digits, args.t)
    print(f"{args.digits} held-out digits noised to t = {args.t}, DPM-Solver++(2M), batch 1, one thread")
    print("| network calls | label kept | one update, median | p90 |\n|---|---|---|---|")
    for r in rows:
        mark = " (the app's)" if r["steps"] == LIVE_STEPS else ""
        print(f"| {r['nfe']}{mark} | {r['label_kept']:.1%} | {r['median_ms']:.1f} ms | {r['p90_ms']:.1f} ms |")
    app = bench_app(args.seconds, args.t)
    verdict = "pass" if app["updates_per_s_median"] >= TARGET_UPDATES_PER_S else "FAIL"
    print(f"app, while drawing: {app['updates_per_s_median']:.0f} reconstructions shown per second "
          f"(median of 1 s windows {app['updates_per_s_windows']}; target >= {TARGET_UPDATES_PER_S:.0f}: "
          f"{verdict}); canvas emits {app['canvas_emits_per_s']:.0f}/s; {app['moves']} mouse moves")
    if args.json:
        Path(args.json).write_text(json.dumps({"steps": rows, "app": app, "t": args.t}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
