"""Reconstruct as you draw: how fast one update is, which fast sampler keeps the digit, and how
many updates a second the real window shows while a stroke is being drawn.

1. samplers: bundled held-out digits (N/10 of each class) noised to t with one fixed ε and
   brought back by DPM-Solver++(2M) with 1, 2, 3, 4, 6 and 10 network calls and by the distilled
   student with 1-4 (its unconditional output: a drawing has no class): the share the bundled
   classifier reads as the true label, as the 2-call DPM-Solver++ reads it, and as it reads the
   reference reconstruction (DPM-Solver++(2M) at 20 calls from the same x_t); the median time of
   one update at batch 1 on one torch thread (core.live.LiveReconstructor.reconstruct, the app's
   unit of work: q_sample, the sampler, the classifier).
2. app: the real MainWindow offscreen (bench.common.make_window) with the bundled model and
   student, "Reconstruct as you draw" on, a stroke drawn on the canvas by one mouse move every
   1/60 s (a precise QTimer; a late tick sends one move to where the pen is by then, as a
   window system coalesces moves) for a few seconds. Counted: the moves delivered, the canvas's
   digit_changed emits, the reconstructions that reach LiveState, and the updates *shown*: a
   paint of the live view's x̂₀ pane after a new reconstruction arrived. Rates are medians over
   1 s windows; the per-update compute is the median of every reconstruction's own time.
   `--profile`: cProfile of the GUI thread while drawing (the top functions by own time).

    python bench/live.py [--digits 100] [--t 300] [--seconds 5] [--profile] [--json F]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
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
from ddpm_desktop.core.distill import bundled_student_path, load_student  # noqa: E402
from ddpm_desktop.core.live import LIVE_SAMPLER, LIVE_STEPS, LiveReconstructor  # noqa: E402
from ddpm_desktop.core.schedule import NoiseSchedule  # noqa: E402
from ddpm_desktop.ui.session_live import BUNDLED_SOURCE  # noqa: E402

TARGET_UPDATES_PER_S = 30.0
MOVES_PER_S = 60.0
LANES = [("dpmpp", s) for s in (1, 2, 3, 4, 6, 10)] + [("distilled", s) for s in (1, 2, 4)]
REFERENCE = ("dpmpp", 20)


def bench_samplers(model, student, classifier, digits: int, t: int) -> list[dict]:
    test = load_bundled_mnist("test")
    idx = (np.arange(digits) % 10) * 100 + np.arange(digits) // 10
    x0 = imaging.to_model_range(test.images[idx])
    labels = test.labels[idx]
    schedule = NoiseSchedule.default()

    def run(name: str, steps: int):
        net = student if name == "distilled" else model
        recon = LiveReconstructor(net, schedule, t=t, sampler=name, steps=steps,
                                  classifier=classifier)
        recon.reconstruct(x0[0])  # warm-up
        return [recon.reconstruct(x) for x in x0]

    ref_results = run(*REFERENCE)
    ref = np.array([r.reading for r in ref_results])
    ref_images = np.stack([r.image for r in ref_results])
    two = None
    rows = []
    lanes = [lane for lane in LANES if lane[0] != "distilled" or student is not None]
    for name, steps in lanes:
        results = run(name, steps)
        reading = np.array([r.reading for r in results])
        if (name, steps) == ("dpmpp", 2):
            two = reading
        rows.append({"sampler": name, "steps": steps, "nfe": results[0].nfe,
                     "label_kept": float(np.mean(reading == labels)),
                     "agrees_with_reference": float(np.mean(reading == ref)),
                     "mean_abs_to_reference": float(np.mean(np.abs(
                         np.stack([r.image for r in results]) - ref_images))),
                     "reading": reading,
                     "median_ms": float(np.median([r.ms for r in results])),
                     "p90_ms": float(np.percentile([r.ms for r in results], 90))})
    for row in rows:
        row["agrees_with_dpmpp2"] = float(np.mean(row.pop("reading") == two))
    return rows


def bench_candidates(model, student, classifier, t: int, rounds: int = 60) -> dict:
    """The two live plans' time per update, interleaved (A B, B A, ...) on one digit so a drift
    of the machine's load hits both alike: medians in ms and their ratio."""
    from bench import common

    schedule = NoiseSchedule.default()
    x0 = imaging.to_model_range(load_bundled_mnist("test").images[0])
    plans = {"dpmpp_2": LiveReconstructor(model, schedule, t=t, sampler="dpmpp", steps=2,
                                          classifier=classifier)}
    if student is not None:
        plans["distilled_1"] = LiveReconstructor(student, schedule, t=t, sampler="distilled",
                                                 steps=1, classifier=classifier)
    times = common.interleaved({k: (lambda r=r: r.reconstruct(x0)) for k, r in plans.items()},
                               rounds, warmup=3)
    out = {k: common.median(v) * 1e3 for k, v in times.items()}
    if "distilled_1" in out:
        out["ratio_dpmpp2_over_distilled1"] = out["dpmpp_2"] / out["distilled_1"]
    return out


class _PaintAfterResult:
    """Counts the paints of a widget that show a new LiveState result (an event filter)."""

    def __init__(self, widget, state):
        from PySide6.QtCore import QEvent, QObject

        self.times: list[float] = []
        self.pending = False
        outer = self

        class _Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 - Qt override
                if event.type() == QEvent.Type.Paint and outer.pending:
                    outer.pending = False
                    outer.times.append(time.monotonic())
                return False

        def on_changed(what: str) -> None:
            if what == "result":
                outer.pending = True

        self._filter = _Filter()
        widget.installEventFilter(self._filter)
        state.changed.connect(on_changed)


def _per_window(times: list[float], start: float, end: float) -> list[int]:
    return [sum(1 for x in times if lo <= x < lo + 1.0)
            for lo in np.arange(start, end - 1.0 + 1e-9, 1.0)]


def bench_app(seconds: float, t: int, profile: bool = False, student: bool = True) -> dict:
    """The drawing run in the real window; `student`: the bundled model under its own name
    with its student loaded (the app's plan), else under another name (DPM-Solver++, 2 calls)."""
    from PySide6.QtCore import QPoint, Qt, QTimer
    from PySide6.QtTest import QTest

    from bench import common

    busy = common.cpu_busy_fraction(1.0)  # the others' load just before this run (0..1)
    app, folder = common.make_app()
    model, meta = checkpoint.load_model(checkpoint.bundled_model_path())
    window = common.make_window(app, folder, model.eval(), meta)
    s = window.session
    # As the app starts: the bundled model under its own name, its student beside it (the
    # window's background load of the student is not waited for here).
    s.model_state.set_model(s.model_state.model, BUNDLED_SOURCE if student else "bench model", meta)
    if student and s.model_state.student is None and bundled_student_path() is not None:
        student, smeta = load_student(bundled_student_path())
        s.model_state.set_student(student, smeta)
    window.input_panel.tabs.setCurrentWidget(window.input_panel.canvas_panel)
    canvas = window.input_panel.canvas_panel.canvas
    app.processEvents()
    s.live_drawing.set_t(t)
    s.live_drawing.set_enabled(True)
    common.run_event_loop(app, 0.5)
    results, emits, moves, forwards = [], [], [], []
    s.live.changed.connect(lambda what: results.append((time.monotonic(), s.live.result))
                           if what == "result" else None)
    canvas.digit_changed.connect(lambda _x: emits.append(time.monotonic()))
    s.forward.chain_changed.connect(lambda: forwards.append(time.monotonic()))
    shown = _PaintAfterResult(window.live_view.result, s.live)
    side = min(canvas.width(), canvas.height())
    c = QPoint(canvas.width() // 2, canvas.height() // 2)

    def pen_at(elapsed: float) -> QPoint:
        a = 2 * np.pi * elapsed / 3.0  # one loop of the curve every 3 s
        r = 0.3 * side * (0.6 + 0.4 * np.sin(3 * a))
        return QPoint(int(c.x() + r * np.cos(a)), int(c.y() + r * np.sin(a)))

    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pen_at(0.0))
    start = time.monotonic()

    def tick() -> None:
        now = time.monotonic()
        QTest.mouseMove(canvas, pen_at(now - start))
        moves.append(now)

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(round(1000 / MOVES_PER_S))
    timer.timeout.connect(tick)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    timer.start()
    common.run_event_loop(app, seconds)
    timer.stop()
    if profiler:
        profiler.disable()
    end = time.monotonic()
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=pen_at(end - start))
    released = time.monotonic()
    common.run_event_loop(app, 1.0)
    after_release = [x for x in forwards if x >= released]
    during = [x for x in forwards if start <= x < end]
    drawn = [r for x, r in results if start <= x < end]
    shown_windows = _per_window(shown.times, start, end)
    out = {
        "seconds": round(end - start, 2),
        "moves_per_s_median": float(np.median(_per_window(moves, start, end))),
        "canvas_emits_per_s_median": float(np.median(_per_window(emits, start, end))),
        "results_per_s_median": float(np.median(_per_window([x for x, _ in results], start, end))),
        "shown_per_s_median": float(np.median(shown_windows)) if shown_windows else 0.0,
        "shown_per_s_windows": shown_windows,
        "update_ms_median": float(np.median([r.ms for r in drawn])) if drawn else None,
        "forward_recomputes_while_drawing": len(during),
        "forward_recomputes_after_release": len(after_release),
        "live_sampler": s.live.sampler,
        "live_steps": s.live.steps,
        "threads": torch.get_num_threads(),
        "cpu_busy_at_start": busy,
        "load_average": common.load_average(),
        "target": TARGET_UPDATES_PER_S,
    }
    # The newest drawing's reconstruction is the one on screen once the pen is up.
    out["last_result_is_newest_drawing"] = bool(
        s.live.result is not None and s.input_state.digit is not None
        and np.array_equal(s.live.result.x0, s.input_state.digit))
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        out["profile_top_tottime"] = text.getvalue()
    s.live_drawing.set_enabled(False)
    common.close_window(app, window)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", type=int, default=100)
    p.add_argument("--t", type=int, default=300)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--profile", action="store_true", help="cProfile the GUI thread while drawing")
    p.add_argument("--skip-samplers", action="store_true", help="only the app section")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    torch.set_num_threads(1)
    from bench import common

    report: dict = {"t": args.t, "live": f"{LIVE_SAMPLER}, {LIVE_STEPS} steps",
                    "note": "times depend on other processes' load: see the app sections' "
                            "cpu_busy_at_start and load_average_at_start",
                    "load_average_at_start": common.load_average()}
    if not args.skip_samplers:
        model, _ = checkpoint.load_model(checkpoint.bundled_model_path())
        path = bundled_student_path()
        student = load_student(path)[0] if path is not None else None
        classifier, _ = load_classifier()
        rows = bench_samplers(model.eval(), student, classifier, args.digits, args.t)
        report["samplers"] = rows
        cands = bench_candidates(model.eval(), student, classifier, args.t)
        report["candidates_ms"] = cands
        print("one update, interleaved medians: " + ", ".join(
            f"{k} {v:.1f} ms" if k.endswith(("_1", "_2")) else f"{k} {v:.2f}"
            for k, v in cands.items()))
        print(f"{args.digits} held-out digits noised to t = {args.t}, batch 1, one thread; "
              f"reference: {REFERENCE[0]} at {REFERENCE[1]} calls")
        print("| sampler | network calls | label kept | agrees with DPM++ 2 "
              "| agrees with reference | mean abs. to reference | one update, median | p90 |\n"
              "|---|---|---|---|---|---|---|---|")
        for r in rows:
            app_plan = (r["sampler"], r["steps"]) == (LIVE_SAMPLER, LIVE_STEPS)
            mark = " (the app's)" if app_plan else ""
            print(f"| {r['sampler']}{mark} | {r['nfe']} | {r['label_kept']:.0%} | "
                  f"{r['agrees_with_dpmpp2']:.0%} | {r['agrees_with_reference']:.0%} | "
                  f"{r['mean_abs_to_reference']:.3f} | "
                  f"{r['median_ms']:.1f} ms | {r['p90_ms']:.1f} ms |")
    for key, student in (("app", True), ("app_teacher", False)):
        app = bench_app(args.seconds, args.t, args.profile and student, student)
        report[key] = app
        _print_app(app)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _print_app(app: dict) -> None:
    profile = app.pop("profile_top_tottime", None)
    verdict = "pass" if app["shown_per_s_median"] >= TARGET_UPDATES_PER_S else "FAIL"
    print(f"app, drawing at {MOVES_PER_S:.0f} moves/s ({app['live_sampler']}, {app['live_steps']} "
          f"calls): "
          f"{app['shown_per_s_median']:.0f} updates shown per second (1 s windows "
          f"{app['shown_per_s_windows']}; target >= {TARGET_UPDATES_PER_S:.0f}: {verdict}); "
          f"{app['results_per_s_median']:.0f} reconstructions/s arrive, canvas emits "
          f"{app['canvas_emits_per_s_median']:.0f}/s, moves delivered "
          f"{app['moves_per_s_median']:.0f}/s; "
          f"one update {app['update_ms_median']:.1f} ms; forward recomputes while drawing "
          f"{app['forward_recomputes_while_drawing']}, after release "
          f"{app['forward_recomputes_after_release']}; "
          f"CPU busy at start {app['cpu_busy_at_start']}")
    if profile:
        print(profile)


if __name__ == "__main__":
    raise SystemExit(main())
