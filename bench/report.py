"""The report: a summary table (measured, target, verdict) and one section per area, rendered
to markdown from the JSON the sections return (bench/run.py writes both)."""
from __future__ import annotations

import math
from pathlib import Path

PASS, FAIL, INFO = "pass", "**FAIL**", "—"


def _num(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}" if a < 100 else f"{v:.0f}"
    return str(v)


def _pct(v) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{100 * v:+.1f}%"


def _pct0(v) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def _verdict(ok) -> str:
    return INFO if ok is None else (PASS if ok else FAIL)


def _sec(report: dict, name: str) -> dict | None:
    s = report.get("sections", {}).get(name)
    return None if s is None or "error" in s else s


# ----------------------------------------------------------------------------- summary


def summary_rows(report: dict) -> list[dict]:
    """[{area, metric, value, target, ok}] - ok None where there is no target."""
    rows: list[dict] = []

    def add(area, metric, value, target, ok, unit=""):
        rows.append({"area": area, "metric": metric, "value": value, "unit": unit, "target": target,
                     "ok": ok})

    s = _sec(report, "interactive")
    if s:
        f = s["forward_frame"]
        add("interactive", "forward-chain frame until painted: image, histogram, KL (median)",
            f["value_ms"], "≤ 5 ms", f["value_ms"] <= 5.0, "ms")
        e = s["schedule_edit"]
        add("interactive", f"schedule edit at T = {e['T']} until painted: forward views, KL-vs-t, β plots (median)",
            e["value_ms"], "≤ 30 ms", e["value_ms"] <= 30.0, "ms")
        p = s["playback"]
        add("interactive", "playback, offscreen (frames painted per second)", p["fps"], "≥ 60 fps",
            p["fps"] >= 60.0, "fps")
        r = s["first_reverse_frame"]
        add("interactive", "first reverse frame after a request (x_T painted, median)", r["value_ms"],
            "≤ 100 ms", r["value_ms"] <= 100.0, "ms")
        add("interactive", "first denoised reverse frame (after 1 network call, median)", r["denoised_value_ms"],
            "≤ 100 ms", r["denoised_value_ms"] <= 100.0, "ms")
        ev = s["event_loop"]
        if "training" in ev:
            add("interactive", "event-loop lateness while training, p50", ev["training"]["p50_ms"], "", None, "ms")
            add("interactive", "event-loop lateness while training, p99", ev["training"]["p99_ms"], "< 50 ms",
                ev["training"]["p99_ms"] < 50.0, "ms")
    s = _sec(report, "sampling")
    if s:
        for r in s["rows"]:
            label = f"{r['sampler']} {r['steps']}, batch {r['batch']}"
            add("sampling", f"{label}: overhead over its {r['nfe']} network calls (in-run, median)", r["overhead"],
                "≤ 5%", r["overhead"] <= s["target_overhead"], "ratio")
    s = _sec(report, "suite")
    if s:
        for key, target in (("quick_tier", s["quick_target_s"]), ("full_suite", s["full_target_s"])):
            if key in s:
                add("test suite", f"{s[key]['command']}: wall ({s[key]['cpu_s']} s of CPU)",
                    s[key]["wall_s"], f"< {target:.0f} s", s[key]["wall_s"] < target, "s")
    s = _sec(report, "likelihood")
    if s:
        inv, bpd, unc = s["invert"], s["bpd"], s["uncertainty"]
        add("likelihood", f"DDIM inversion round trip, median MSE of {inv['digits']} held-out digits "
            f"({inv['steps']} steps + {inv['refine']} refinements)", inv["median_mse"], "≤ 2e-3",
            inv["median_mse"] <= 2e-3)
        # CPU time of the one thread: what an idle core takes, whatever else the machine runs
        add("likelihood", "bits/dim of one digit, one thread (probability-flow ODE, median CPU time)",
            bpd["median_cpu_s_per_digit"], "≤ 10 s", bpd["median_cpu_s_per_digit"] <= 10.0, "s")
        add("likelihood", "Hutchinson's relative spread over probe draws (max over digits)",
            s["spread"]["rel_std_max"], "≤ 1%", s["spread"]["rel_std_max"] <= 0.01, "ratio")
        add("likelihood", "posterior principal components, k = 4, one digit (median CPU time, one thread)",
            unc["median_cpu_seconds_k4"], "≤ 1 s", unc["median_cpu_seconds_k4"] <= 1.0, "s")
    s = _sec(report, "training")
    if s:
        add("training", f"images/s, bundled architecture, batch {s['batch_size']}, "
            f"{s['panel_threads']} thread(s) (the panel's choice)", s["images_per_s_at_panel_threads"], "", None, "img/s")
        add("training", f"images/s at the fastest thread count ({s['fastest_threads']})",
            s["images_per_s_fastest"], "", None, "img/s")
    s = report.get("sections", {}).get("time_to_quality")
    if s is not None and "error" not in s:
        pct = f"{100 * s['target_accuracy']:.0f}%"
        for key, hit in s["reached"].items():
            add("training", f"time for a fresh run ({s.get('recipe_name', 'bundled')} recipe) to ≥ {pct} "
                f"classifier accuracy (guidance {key[1:]})",
                None if hit is None else hit["train_seconds"] / 60, f"≤ {s['limit_minutes']:.0f} min",
                hit is not None and hit["train_seconds"] <= 60 * s["limit_minutes"], "min")
    else:
        add("training", "time for a fresh run to ≥ 95% classifier accuracy", None, "optional", None, "not run")
    s = _sec(report, "diffusers")
    if s:
        worst = max(s["agreement"], key=lambda r: r["diffusers_coefficients"]["max_abs"])
        add("diffusers", "same-seed outputs agree (max abs Δ over all samplers and step counts)",
            worst["diffusers_coefficients"]["max_abs"], f"≤ {s['agreement_atol']:g}", s["all_agree"], "abs")
        for o in s["overhead"]:
            if o["network"].startswith("none") and o["batch"] == 1:
                add("diffusers", f"{o['sampler']} {o['steps']}: scheduler µs/step, diffusers ÷ ours (batch 1)",
                    o["ratio_diffusers_over_ours"], "", None, "×")
    s = _sec(report, "copies")
    if s:
        c = s["check"]
        add("copies", f"copy check: {s['batch']} samples vs {s['training_digits']:,} training digits, "
            "one thread (median)", c["median_ms"], f"≤ {s['target_ms']:g} ms", c["median_ms"] <= s["target_ms"], "ms")
    s = _sec(report, "memory")
    if s:
        for name in ("idle", "training", "export"):
            m = s.get(name, {})
            if "error" not in m and m.get("peak_rss_mib") is not None:
                add("memory", f"peak RSS: {name}", m["peak_rss_mib"], "", None, "MiB")
    return rows


def _fmt_value(row) -> str:
    v, unit = row["value"], row["unit"]
    if unit == "ratio":
        return _pct(v)
    if unit == "not run":
        return "not run"
    if v is None:
        return "not reached"
    if unit == "abs":
        return f"{v:.1e}"
    return f"{_num(v)} {unit}".strip()


# ----------------------------------------------------------------------------- markdown


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return out + [""]


def _machine(meta: dict) -> list[str]:
    m = meta["machine"]
    cores = f"{m['logical_cores']} logical"
    if m.get("physical_cores"):
        cores += f", {m['physical_cores']} physical"
    if m.get("usable_cores") and m["usable_cores"] != m["logical_cores"]:
        cores += f", {m['usable_cores']} usable"
    rows = [
        ["CPU", m["cpu"]], ["cores", cores], ["RAM", f"{m['ram_gib']} GiB"],
        ["GPU", m["gpu"] or "none (CPU only)"],
        ["torch", f"{m['torch']}, default {m['torch_default_threads']} intra-op threads"
                  + (f" (OMP_NUM_THREADS={m['omp_num_threads_env']})" if m.get("omp_num_threads_env") else "")],
        ["Python / OS", f"{m['python']} / {m['os']}"],
        ["PySide6 / pyqtgraph / numpy", f"{m['pyside6']} / {m['pyqtgraph']} / {m['numpy']}"],
        ["diffusers", m["diffusers"] or "not installed"],
        ["CPU busy before start / after end (other processes)",
         f"{_pct0(m.get('cpu_busy_at_start'))} / {_pct0(meta.get('cpu_busy_at_end'))}"],
        ["load average at start / end", f"{m['load_average']} / {meta.get('load_average_end')}"],
        ["commit", f"{m['git']['commit']}{' (with uncommitted changes)' if m['git']['dirty'] else ''}"],
    ]
    return _table(["", ""], rows)


def _notes(report: dict) -> list[str]:
    """Causes the data itself shows (more analysis belongs in the text around the report)."""
    notes = []
    s = _sec(report, "interactive")
    if s:
        p = s["playback"]
        if p["fps"] < 60 and p["timer_cap_fps"] < 60:
            notes.append(f"Playback is capped by its timer, not by drawing: the forward view advances on a "
                         f"{p['timer_interval_ms']} ms QTimer (ui/widgets/chain_view.py `_TICK_MS`), at most "
                         f"{p['timer_cap_fps']:.0f} frames per second, while one frame costs "
                         f"{_num(s['forward_frame']['value_ms'])} ms to draw.")
        f = s["forward_frame"]
        if f["value_ms"] > 5.0:
            notes.append(f"Of a forward frame's {_num(f['value_ms'])} ms, the state change and the views' slots "
                         f"(image, histogram, KL numbers) take {_num(f['state_and_slots']['median_ms'])} ms; "
                         f"the rest is painting (Qt + pyqtgraph); a forced full repaint of both views costs "
                         f"{_num(f['forced_repaint']['median_ms'])} ms.")
        e = s["schedule_edit"]
        if e["value_ms"] > 30.0:
            notes.append(f"Of a schedule edit's {_num(e['value_ms'])} ms, recomputing the forward chain and its "
                         f"KL curves (Session.recompute_forward) takes {_num(e['forward_recompute_median_ms'])} ms; "
                         f"the rest is the views' slots and painting.")
    s = _sec(report, "sampling")
    if s:
        bad = [r for r in s["rows"] if r["overhead"] > s["target_overhead"]]
        if bad:
            worst = max(bad, key=lambda r: r["overhead"])
            notes.append(f"Sampler overhead above 5%: {', '.join(r['sampler'] + ' ' + str(r['steps']) + ' b' + str(r['batch']) for r in bad)} "
                         f"(worst {_pct(worst['overhead'])}, {worst.get('inrun_overhead_per_step_us', worst['overhead_per_step_us']):.0f} µs per step over a "
                         f"{worst['bare_ms_per_call']:.2f} ms network call).")
            d = _sec(report, "diffusers")
            if d:
                own = [o for o in d["overhead"] if o["network"].startswith("none")]
                notes.append("For comparison, the sampler loops alone (no network, section 4) cost "
                             + ", ".join(f"{o['sampler']} {_num(o['ours_us_per_step'])} µs/step at batch {o['batch']}"
                                         for o in own) + ".")
    return notes


def render_markdown(report: dict, json_path: Path | None = None) -> str:
    meta = report["meta"]
    L = ["# Benchmarks", ""]
    name = Path(json_path).name if json_path else None
    L.append("Generated by `bench/run.py` (see [bench/README.md](../bench/README.md)); the raw numbers, "
             "every repeat included, are in " + (f"[`{name}`]({name})" if name else "the JSON report")
             + ". Regenerate with:")
    L += ["", "```", meta["command"], "```", ""]
    L.append(f"Run {meta['started_utc']} → {meta.get('finished_utc', '?')} (UTC).")
    kept = [name for name in report.get("sections", {}) if name not in meta.get("sections_run", [])]
    if kept:
        L.append("Kept from earlier runs (`--merge`): " + ", ".join(
            f"{name} (run {report['sections'][name].get('run_utc', '?')})" for name in kept)
            + "; earlier commands: " + "; ".join(f"`{p.get('command')}`" for p in meta.get("previous_runs", []))
            + ".")
    if meta.get("quick"):
        L += ["", "> **Quick mode**: sizes cut to a sanity check; these numbers are not results."]
    busy = meta["machine"].get("cpu_busy_at_start")
    if busy is not None and busy > 0.25:
        L += ["", f"> **The machine was busy** when this run started ({busy:.0%} of its CPU time in use by "
                  "other processes): the timings are pessimistic."]
    L += ["", "## Machine", ""] + _machine(meta)

    L += ["## Results against targets", ""]
    rows = [[r["area"], r["metric"], _fmt_value(r), r["target"] or "", _verdict(r["ok"])]
            for r in report.get("summary", [])]
    L += _table(["area", "measured", "value", "target", ""], rows)
    failed = [name for name, s in report.get("sections", {}).items() if "error" in s]
    for name in failed:
        L.append(f"- Section **{name}** failed: `{report['sections'][name]['error']}`")
    if failed:
        L.append("")
    notes = _notes(report)
    if notes:
        L += ["What the numbers themselves say about the misses:", ""] + [f"- {n}" for n in notes] + [""]

    L += _interactive(report) + _sampling(report) + _training(report) + _diffusers(report) + _memory(report)
    L += _suite(report)
    return "\n".join(L).rstrip() + "\n"


def _interactive(report) -> list[str]:
    s = _sec(report, "interactive")
    if not s:
        return []
    L = ["## 1. Interactive path", "",
         f"The real `MainWindow`, {s['window_size'][0]}×{s['window_size'][1]}, offscreen "
         f"(`QT_QPA_PLATFORM=offscreen`), model: {s['model']['source']}; torch threads {s['torch_threads']}. "
         "A frame is timed from the state change until paint events have reached every plot it changes "
         "(`processEvents()` passes, paints counted on the viewports); the forced rows add a synchronous "
         "`repaint()` of every plot viewport (an upper bound).", ""]
    f, e, p = s["forward_frame"], s["schedule_edit"], s["playback"]
    r, ev = s["first_reverse_frame"], s["event_loop"]
    rows = [
        [f"forward frame until image, histogram and KL plot are painted ({f['frames_fully_painted']} of "
         f"{f['frames']} frames reached all three)", _num(f["natural_paint"]["median_ms"]),
         _num(f["natural_paint"]["p95_ms"]), f["frames"]],
        [f"forward frame, forced synchronous repaint of both views ({f['viewports_forced']} plot/image viewports)",
         _num(f["forced_repaint"]["median_ms"]), _num(f["forced_repaint"]["p95_ms"]), f["frames"]],
        ["forward frame, state + slots only (no paint)", _num(f["state_and_slots"]["median_ms"]),
         _num(f["state_and_slots"]["p95_ms"]), f["frames"]],
        [f"schedule edit (β_T slider tick, T = {e['T']}) until the {e['plots_waited_for']} affected plots are "
         f"painted ({e['edits_fully_painted']} of {e['edits']} reached all)", _num(e["natural_paint"]["median_ms"]),
         _num(e["natural_paint"]["p95_ms"]), e["edits"]],
        [f"schedule edit, forced synchronous repaint of centre + schedule panel ({e['viewports_forced']} viewports)",
         _num(e["forced_repaint"]["median_ms"]), _num(e["forced_repaint"]["p95_ms"]), e["edits"]],
        ["… of which Session.recompute_forward", _num(e["forward_recompute_median_ms"]), "", e["edits"]],
        ["first reverse frame (x_T painted)", _num(r["first_frame"]["median_ms"]), _num(r["first_frame"]["p95_ms"]),
         r["requests"]],
        [f"first denoised reverse frame ({r['sampler']} {r['steps']} steps)",
         _num(r["first_denoised_frame"]["median_ms"]), _num(r["first_denoised_frame"]["p95_ms"]), r["requests"]],
    ]
    L += _table(["measurement", "median ms", "p95 ms", "n"], rows)
    L.append(f"Playback: {_num(p['fps'])} frames painted per second over {_num(p['seconds'])} s at "
             f"{p['speed_steps_per_s']} steps/s ({p['frames_shown']} frames shown; timer {p['timer_interval_ms']} ms, "
             f"cap {_num(p['timer_cap_fps'])} fps).")
    L.append("")
    if "training" in ev:
        t = ev["training"]
        L += ["Event-loop lateness (a precise 20 ms QTimer re-armed on every tick; lateness = fire time − due time):", ""]
        L += _table(["", "p50 ms", "p99 ms", "max ms", "ticks"],
                    [["idle", _num(ev["idle"]["p50_ms"]), _num(ev["idle"]["p99_ms"]), _num(ev["idle"]["max_ms"]),
                      ev["idle"]["n"]],
                     [f"training in the Training panel ({t['train_steps']} steps of batch {t['batch_size']}, "
                      f"{_num(t['train_images_per_s'])} img/s, torch threads {t['panel_threads']}, sample grid "
                      f"refreshed: {_num(t['sample_grid_refreshed'])})",
                      _num(t["p50_ms"]), _num(t["p99_ms"]), _num(t["max_ms"]), t["n"]]])
    return L


def _sampling(report) -> list[str]:
    s = _sec(report, "sampling")
    if not s:
        return []
    L = ["## 2. Sampling", "",
         f"Model: {s['model']['source']} (step {s['model']['step']}); torch threads {s['torch_threads']}; "
         f"class labels {s['labels']}, guidance {s['guidance']:g} (one network call per step). "
         "**In-run overhead** (the target's measure) = (sampler run − time inside its network calls) ÷ "
         "time inside its network calls, per run, median over runs: both parts of one run, so the machine's "
         "run-to-run jitter cancels. **A/B** = median(sampler runs) ÷ median(the same number of bare "
         "network calls on the same inputs, interleaved) − 1: two runs subtracted, so it carries that "
         "jitter (±10% here at batch 1).", ""]
    rows = []
    for r in s["rows"]:
        rows.append([f"{r['sampler']} {r['steps']}", r["batch"], _num(r["seconds_per_image"]),
                     _num(r["seconds_per_batch"]), _num(r["ms_per_step"]), _num(r["bare_ms_per_call"]),
                     _pct(r["overhead"]), f"{r.get('inrun_overhead_per_step_us', float('nan')):.0f}",
                     _pct(r.get("overhead_ab", r["overhead"])),
                     f"{r['repeats']}" + (f", {r['timed_steps']} of {r['nfe']} steps timed" if r["extrapolated"] else "")])
    L += _table(["sampler", "batch", "s / image", "s / batch", "ms / step", "bare ms / call",
                 "in-run overhead", "µs / step outside the network", "A/B overhead", "repeats"], rows)
    return L


def _training(report) -> list[str]:
    s = _sec(report, "training")
    L = []
    if s:
        L = ["## 3. Training", "",
             f"Bundled architecture, batch {s['batch_size']}. `measure_thread_counts` times forward + backward; "
             "`Trainer.train_step` is a whole optimiser step (data draw, forward, backward, clipping, AdamW, EMA), "
             "blocks interleaved across thread counts.", ""]
        rows = []
        for n in s["candidates"]:
            fb = s["forward_backward_images_per_s"].get(str(n))
            ts = s["trainer_steps"].get(str(n), {})
            rows.append([n, _num(fb), _num(ts.get("images_per_s")), _num(ts.get("median_s_per_step"))])
        L += _table(["threads", "fwd+bwd img/s", "train_step img/s", "s / step"], rows)
        L.append(f"The training panel uses {s['panel_threads']} ({s['panel_rule']}); `ddpm-desktop train "
                 f"--threads auto` would pick {s['cli_auto_threads']}; fastest whole step: {s['fastest_threads']}.")
        L.append("")
    q = report.get("sections", {}).get("time_to_quality")
    if q is None:
        L += ["Time to quality: **not run** (`--with-time-to-quality`, 5–6 minutes).", ""]
    elif "error" in q:
        L += [f"Time to quality failed: `{q['error']}`", ""]
    else:
        pct = f"{100 * q['target_accuracy']:.0f}%"
        L += [f"### Time for a fresh run to reach ≥ {pct} classifier accuracy", "",
              f"Recipe \"{q.get('recipe_name', 'bundled')}\" {q['recipe']}, {q['train_threads']} training thread(s); every {q['eval_every_steps']} steps "
              f"{q['eval_samples']} class-conditional samples ({q['eval_sampler']}) read by the bundled classifier "
              f"(held-out accuracy {q['classifier'].get('held_out_accuracy')}). Limit {q['limit_minutes']:.0f} min; "
              f"{q['steps_done']} steps done in {_num(q['train_seconds_done'])} s of training "
              f"({_num(q['wall_seconds'])} s wall with the evaluations).", ""]
        rows = []
        for key, hit in q["reached"].items():
            rows.append([key[1:], "not reached" if hit is None else
                         f"{_num(hit['train_seconds'] / 60)} min ({hit['steps']} steps, {hit['images_seen']:,} images)",
                         "" if hit is None else _num(hit["accuracy"])])
        L += _table(["guidance", f"training time to ≥ {pct}", "accuracy then"], rows)
        curve = q["curve"]
        keys = [k for k in curve[0] if k.startswith("accuracy")] if curve else []
        L += _table(["step", "training s"] + [k.replace("accuracy_w", "accuracy, w = ") for k in keys],
                    [[c["step"], _num(c["train_s"])] + [_num(c[k]) for k in keys] for c in curve])
    return L


def _diffusers(report) -> list[str]:
    s = _sec(report, "diffusers")
    if not s:
        return []
    L = ["## 4. Side by side with diffusers", "",
         f"diffusers {s['diffusers']}, torch threads {s['torch_threads']}, the same network (our t = diffusers' k + 1). "
         "Configuration and its reasons: bench/diffusers_compare.py. Agreement: the largest absolute difference between the final images "
         "from the same x_T (and, for DDPM, the same injected noise), with diffusers' own float32 coefficients and "
         "with our ᾱ handed to it.", ""]
    rows = []
    for r in s["agreement"]:
        rows.append([f"{r['sampler']} {r['steps']}", _num(r["clip_x0"]), r["batch"], r["noise"],
                     f"{r['diffusers_coefficients']['max_abs']:.1e}", f"{r['shared_alphas_cumprod']['max_abs']:.1e}",
                     _verdict(r["pass"])])
    L += _table(["sampler", "clip x̂₀", "batch", "noise", "max abs Δ (diffusers' ᾱ)", "max abs Δ (our ᾱ)",
                 f"≤ {s['agreement_atol']:g}"], rows)
    L += ["Per-step cost of the sampling loop (interleaved repeats, medians):", ""]
    rows = []
    for o in s["overhead"]:
        rows.append([f"{o['sampler']} {o['steps']}", o["batch"], o["network"], _num(o["ours_us_per_step"]),
                     _num(o["diffusers_us_per_step"]), _num(o["ratio_diffusers_over_ours"]), o["repeats"]])
    L += _table(["sampler", "batch", "network", "ours µs/step", "diffusers µs/step", "diffusers ÷ ours", "repeats"], rows)
    return L


def _memory(report) -> list[str]:
    s = _sec(report, "memory")
    if not s:
        return []
    L = ["## 5. Memory", "",
         "Peak resident set (VmHWM) of a fresh process per situation: the real window offscreen with the model "
         "loaded and its first sampling run done (baseline), then the activity.", ""]
    rows = []
    for name in ("idle", "training", "export"):
        m = s.get(name, {})
        if "error" in m:
            rows.append([name, "failed: " + m["error"], "", "", ""])
            continue
        base = m.get("baseline", {}).get("rss_mib")
        what = {"idle": "idle 2 s",
                "training": f"Training panel: {m.get('train_steps')} steps of batch {m.get('batch_size')}, "
                            f"sample grid refreshed: {_num(m.get('sample_grid_refreshed'))}",
                "export": f"GIF of {m.get('gif_frames')} frames ×{m.get('scale')} with histogram and KL, "
                          f"{_num(m.get('gif_mib'))} MiB, {_num(m.get('export_seconds'))} s"}[name]
        rows.append([name, what, _num(base), _num(m.get("peak_rss_mib")),
                     _num(None if base is None else m["peak_rss_mib"] - base)])
    L += _table(["situation", "activity", "baseline RSS MiB", "peak RSS MiB", "peak − baseline MiB"], rows)
    return L


def _suite(report) -> list[str]:
    s = _sec(report, "suite")
    if not s:
        return []
    L = ["## The test suite", "",
         "`bench/suite.py`: each tier as the README runs it, in a fresh process; CPU is user + system "
         "of pytest, its workers and their subprocesses.", ""]
    rows = []
    for key, target in (("quick_tier", s.get("quick_target_s")), ("full_suite", s.get("full_target_s"))):
        r = s.get(key)
        if r:
            rows.append([f"`{r['command']}`", r["summary"], _num(r["wall_s"]), _num(r["cpu_s"]),
                         f"{r['load_average_before']} → {r['load_average_after']}",
                         f"< {target:.0f} s wall" if target else ""])
    L += _table(["command", "tests", "wall s", "CPU s", "load average", "target"], rows)
    return L
