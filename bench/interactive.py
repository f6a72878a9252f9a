"""1. The interactive path, on the real MainWindow offscreen (QT_QPA_PLATFORM=offscreen).

Everything goes through the window's public objects (its states, views and panels), the way
a user's input does, and every measurement includes the painting it causes: the clock runs
until paint events have reached every plot/image concerned (counted by an event filter on
their viewports; `app.processEvents()` delivers pyqtgraph's queued scene updates and the
paints). A forced variant also calls `repaint()` on the views and on every plot viewport in
them (QWidget.repaint() of a parent does not repaint a QGraphicsView's viewport) - a
synchronous full repaint, the upper bound.

- forward frame: `session.forward.set_frame(t)` (image, histogram, KL numbers, cursor) until
  the image, the histogram and the KL plot are painted;
- schedule edit: one tick of the β_T slider at T = 1000 (forward chain recomputed, filmstrip,
  KL-versus-t curves, β/ᾱ/log-SNR plots) until all of them are painted;
- playback: the forward view playing on its own QTimer for a few seconds, paint events on
  its image counted;
- first reverse frame: `session.request_sampling()` to the first frame painted in the
  reverse view (x_T) and to the first denoised one (after one network call);
- event-loop latency: a QTimer probe (precise, 20 ms) records how late each tick fires,
  first idle, then while the session trains (its worker thread, the panel's defaults).
"""
from __future__ import annotations

import time
from dataclasses import replace

from bench import common

TARGETS = {
    "forward_frame_ms": 5.0,
    "schedule_edit_ms": 30.0,
    "playback_fps": 60.0,
    "first_reverse_frame_ms": 100.0,
    "event_loop_p99_ms": 50.0,
}


class LatencyProbe:
    """A single-shot precise QTimer re-armed on every tick; lateness = fire time - due time."""

    def __init__(self, interval_ms: int = 20):
        from PySide6.QtCore import Qt, QTimer

        self.interval_ms = interval_ms
        self.late_s: list[float] = []
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._fire)
        self._due = 0.0
        self._running = False

    def start(self) -> None:
        self.late_s = []
        self._running = True
        self._arm()

    def stop(self) -> list[float]:
        self._running = False
        self._timer.stop()
        return self.late_s

    def _arm(self) -> None:
        self._due = time.perf_counter() + self.interval_ms / 1e3
        self._timer.start(self.interval_ms)

    def _fire(self) -> None:
        self.late_s.append(max(0.0, time.perf_counter() - self._due))
        if self._running:
            self._arm()


def _latency_summary(late_s: list[float]) -> dict:
    ms = [x * 1e3 for x in late_s]
    return {"p50_ms": common.percentile(ms, 50), "p99_ms": common.percentile(ms, 99),
            "max_ms": max(ms) if ms else float("nan"), "n": len(ms)}


def _viewports(*widgets):
    """The viewports of every pyqtgraph/QGraphicsView inside `widgets` (where the plots and
    images are drawn; QWidget.repaint() of a parent does not repaint them)."""
    from PySide6.QtWidgets import QGraphicsView

    out = []
    for w in widgets:
        views = ([w] if isinstance(w, QGraphicsView) else []) + w.findChildren(QGraphicsView)
        out += [v.viewport() for v in views if v.isVisible()]
    return out


def _paint_until(app, counters, max_passes: int = 8) -> tuple[bool, int]:
    """processEvents() until every counter saw a new paint (pyqtgraph's scene update is itself
    queued, so a change can take two passes to reach the screen)."""
    before = [c.count for c in counters]
    for passes in range(1, max_passes + 1):
        app.processEvents()
        if all(c.count > b for c, b in zip(counters, before)):
            return True, passes
    return False, max_passes


def bench_forward_frame(app, window, n: int) -> dict:
    """One frame of the forward chain, to the screen.

    Headline (natural): set_frame(t), then processEvents() until the image, the histogram
    and the KL plot have all been painted - what a user waits for. Forced (upper bound):
    set_frame(t), then repaint() of the two views and of every plot/image viewport in them
    (synchronous full paints), then processEvents() to drain what is still queued.
    """
    fwd = window.session.forward
    hv = window.histogram_view
    targets = (window.forward_view.pane.viewport(), hv.hist_plot.viewport(), hv.kl_plot.viewport())
    counters = [common.PaintCounter(v) for v in targets]
    views = (window.forward_view, hv)
    ports = _viewports(*views)
    T = fwd.T
    ts = [(7 * k) % T + 1 for k in range(n + 10)]
    update_s, natural_s, forced_s, passes = [], [], [], []
    complete = 0
    for i, t in enumerate(ts):
        t0 = time.perf_counter()
        fwd.set_frame(t)
        t1 = time.perf_counter()
        ok, k = _paint_until(app, counters)
        t2 = time.perf_counter()
        if i >= 10:  # warm-up frames
            update_s.append(t1 - t0)
            natural_s.append(t2 - t0)
            complete += ok
            passes.append(k)
    for i, t in enumerate(ts):
        t0 = time.perf_counter()
        fwd.set_frame(T + 1 - t)
        for v in views:
            v.repaint()
        for vp in ports:
            vp.repaint()
        app.processEvents()
        t2 = time.perf_counter()
        if i >= 10:
            forced_s.append(t2 - t0)
    for c in counters:
        c.remove()
    return {"T": T, "frames": len(natural_s), "natural_paint": common.summary_ms(natural_s),
            "frames_fully_painted": complete, "event_passes_median": common.median(passes),
            "forced_repaint": common.summary_ms(forced_s), "viewports_forced": len(ports),
            "state_and_slots": common.summary_ms(update_s),
            "value_ms": common.median([x * 1e3 for x in natural_s])}


def bench_schedule_edit(app, window, n: int) -> dict:
    """One tick of the β_T slider at T = 1000, to the screen: processEvents() until the
    forward image, its filmstrip, the KL-versus-t plot and the schedule panel's plots have all
    been painted (headline); forced: the same plus a synchronous repaint of every viewport of
    the centre and the schedule panel."""
    session, panel = window.session, window.schedule_panel
    if session.schedule.T != 1000:
        session.schedule_state.set_params(T=1000)
    slider = panel.beta_end_slider
    v0 = slider.value()
    values = (v0 - 1, v0)  # one 0.01-decade tick of β_T, back and forth
    fv, hv = window.forward_view, window.histogram_view
    targets = [fv.pane.viewport(), fv.filmstrip.viewport(), hv.kl_plot.viewport()] + _viewports(panel)
    counters = [common.PaintCounter(v) for v in targets]
    ports = _viewports(window.centralWidget(), panel)
    natural_s, forced_s, recompute_ms = [], [], []
    complete = 0
    for i in range(2 * (n + 4)):
        forced = i >= n + 4
        t0 = time.perf_counter()
        slider.setValue(values[i % 2])
        if forced:
            for vp in ports:
                vp.repaint()
            app.processEvents()
            ok = True
        else:
            ok, _ = _paint_until(app, counters)
        dt = time.perf_counter() - t0
        if i % (n + 4) >= 4:
            (forced_s if forced else natural_s).append(dt)
            if not forced:
                recompute_ms.append(session.last_forward_ms)
                complete += ok
    for c in counters:
        c.remove()
    session.cancel_sampling()  # the edit arms a debounced re-run of the reverse chain
    return {"T": session.schedule.T, "edits": len(natural_s), "natural_paint": common.summary_ms(natural_s),
            "edits_fully_painted": complete, "plots_waited_for": len(targets),
            "forced_repaint": common.summary_ms(forced_s), "viewports_forced": len(ports),
            "forward_recompute_median_ms": common.median(recompute_ms),
            "value_ms": common.median([x * 1e3 for x in natural_s])}


def bench_playback(app, window, seconds: float) -> dict:
    from ddpm_desktop.ui.widgets import chain_view

    fv = window.forward_view
    state = window.session.forward
    counter = common.PaintCounter(fv.pane.viewport())
    frames = {"n": 0}

    def on_frame(_t):
        frames["n"] += 1

    def on_playing(playing):
        if not playing and running["on"]:
            fv.go_start()
            fv.play()

    running = {"on": True}
    state.frame_changed.connect(on_frame)
    fv.playing_changed.connect(on_playing)
    fv.set_speed(1000)
    fv.go_start()
    app.processEvents()
    start_paints = counter.count
    frames["n"] = 0
    t0 = time.perf_counter()
    fv.play()
    common.run_event_loop(app, seconds)
    elapsed = time.perf_counter() - t0
    running["on"] = False
    fv.pause()
    state.frame_changed.disconnect(on_frame)
    fv.playing_changed.disconnect(on_playing)
    paints = counter.count - start_paints
    counter.remove()
    return {"seconds": elapsed, "frames_shown": frames["n"], "paints_of_image": paints,
            "fps": paints / elapsed, "timer_interval_ms": chain_view._TICK_MS,
            "timer_cap_fps": 1000.0 / chain_view._TICK_MS, "speed_steps_per_s": fv.speed,
            "value": paints / elapsed}


def bench_first_reverse_frame(app, window, n: int) -> dict:
    from ddpm_desktop.ui.state import SamplerSettings

    session = window.session
    rv = window.reverse_view
    base = replace(SamplerSettings(), source="noise")
    first_s, denoised_s = [], []
    for i in range(n + 1):
        session.cancel_sampling()
        common.wait_until(app, lambda: not session.is_sampling(), 10.0)
        marks: dict[str, float] = {}

        def on_frame(_index):
            lanes = session.reverse.lanes
            if "first" not in marks:
                rv.repaint()
                marks["first"] = time.perf_counter()
            if "denoised" not in marks and lanes and lanes[0].nfe and lanes[0].nfe[-1] >= 1:
                rv.repaint()
                marks["denoised"] = time.perf_counter()

        session.reverse.frame_changed.connect(on_frame)
        t0 = time.perf_counter()
        ok = session.request_sampling(replace(base, seed=100 + i))
        common.wait_until(app, lambda: "denoised" in marks, 30.0, poll_ms=1)
        session.reverse.frame_changed.disconnect(on_frame)
        if not ok or "denoised" not in marks:
            raise RuntimeError("the reverse chain produced no frame")
        if i >= 1:  # the first request warms up
            first_s.append(marks["first"] - t0)
            denoised_s.append(marks["denoised"] - t0)
    session.cancel_sampling()
    common.wait_until(app, lambda: not session.is_sampling(), 10.0)
    return {"sampler": base.sampler, "steps": base.steps, "requests": len(first_s),
            "first_frame": common.summary_ms(first_s), "first_denoised_frame": common.summary_ms(denoised_s),
            "value_ms": common.median([x * 1e3 for x in first_s]),
            "denoised_value_ms": common.median([x * 1e3 for x in denoised_s])}


def bench_event_loop(app, window, idle_s: float, training_s: float) -> dict:
    session = window.session
    st = session.training
    probe = LatencyProbe(20)
    probe.start()
    common.run_event_loop(app, idle_s)
    idle = _latency_summary(probe.stop())

    if not session.trainer.start():
        return {"idle": idle, "error": "training did not start"}
    # wait until the worker really trains (the Trainer and data are built in the worker)
    common.wait_until(app, lambda: len(st.steps_seen) > 0, 120.0, poll_ms=20)
    step0 = st.step
    # torch's intra-op thread count is per OpenMP thread, so the GUI thread cannot read the
    # worker's; the run's status line says it ("Training on cpu (1 thread), ...").
    import re

    m = re.search(r"\((\d+) threads?\)", st.message)
    threads = int(m.group(1)) if m else None
    t0 = time.perf_counter()
    probe.start()
    common.run_event_loop(app, training_s)
    late = probe.stop()
    elapsed = time.perf_counter() - t0
    steps = st.step - step0
    batch = st.settings.batch_size
    snapshots = 1 if st.snapshot is not None else 0
    session.trainer.stop()
    common.wait_until(app, lambda: not session.trainer.is_running(), 60.0, poll_ms=20)
    training = _latency_summary(late)
    training.update({"seconds": elapsed, "train_steps": steps, "batch_size": batch,
                     "train_images_per_s": steps * batch / elapsed if elapsed else float("nan"),
                     "sample_grid_refreshed": bool(snapshots), "panel_threads": threads})
    return {"idle": idle, "training": training, "value_p50_ms": training["p50_ms"],
            "value_p99_ms": training["p99_ms"]}


def run(cfg: common.BenchConfig) -> dict:
    import torch

    threads = cfg.threads or common.app_thread_count()
    torch.set_num_threads(threads)
    app, folder = common.make_app()
    model, model_info = common.load_bench_model(cfg)
    window = common.make_window(app, folder, model, model_info)
    q = cfg.quick
    try:
        out = {"model": model_info, "torch_threads": threads, "targets": TARGETS,
               "window_size": [window.width(), window.height()]}
        common.log("interactive: forward frame")
        out["forward_frame"] = bench_forward_frame(app, window, 40 if q else 300)
        common.log("interactive: schedule edit")
        out["schedule_edit"] = bench_schedule_edit(app, window, 8 if q else 60)
        common.log("interactive: playback")
        out["playback"] = bench_playback(app, window, 1.0 if q else 4.0)
        common.log("interactive: first reverse frame")
        out["first_reverse_frame"] = bench_first_reverse_frame(app, window, 3 if q else 15)
        common.log("interactive: event loop while training")
        out["event_loop"] = bench_event_loop(app, window, 1.0 if q else 4.0, 4.0 if q else 20.0)
    finally:
        common.close_window(app, window)
    return out
