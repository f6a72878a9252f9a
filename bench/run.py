"""Run the benchmark suite and write the report: `python -m bench.run [--quick] [--out docs/BENCHMARKS.md]`.

Each section runs in a fresh Python process (its own torch threads, Qt application and
memory), one after the other, and hands back JSON; a section that fails is reported as
failed and the others still run. The report is written twice: markdown (`--out`) and JSON
(the same name with .json, default docs/benchmarks.json).

Sections (see bench/README.md): interactive, sampling, training, diffusers, memory, copies,
and the optional time_to_quality (--with-time-to-quality, 10-20 minutes) and suite (the test
suite's quick tier and, without --quick, the whole suite).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

SECTIONS = ("interactive", "sampling", "training", "diffusers", "memory",
            "copies")
OPTIONAL = ("time_to_quality",
            "likelihood",  # bench/likelihood.py: --sections likelihood
            "suite")  # bench/suite.py: the test suite's tiers, --sections suite


def _section_module(name: str):
    import importlib

    module = {"time_to_quality": "training", "diffusers": "diffusers_compare"}.get(name, name)
    mod = importlib.import_module(f"bench.{module}")
    return mod.run_time_to_quality if name == "time_to_quality" else mod.run


def _run_child(args) -> int:
    """Internal: run one section in this process and write its JSON result."""
    cfg = common.BenchConfig.from_dict(json.loads(args.child_config))
    t0 = time.perf_counter()
    try:
        result = _section_module(args.child)(cfg)
    except Exception as exc:  # noqa: BLE001 - reported in the result, the suite goes on
        import traceback

        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    common.dump_json(result, args.child_result)
    return 0


def _run_section(name: str, cfg: common.BenchConfig, timeout_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="ddpm-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "bench.run", "--child", name, "--child-config",
               json.dumps(cfg.to_dict()), "--child-result", str(out)]
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(common.ROOT)
                   + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=common.ROOT, env=env, timeout=timeout_s)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        if out.is_file():
            result = json.loads(out.read_text())
        else:
            result = {"error": f"the section's process ended without a result (exit {code})"}
        result.setdefault("elapsed_s", round(time.perf_counter() - t0, 1))
        return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: a sanity check (< 2 min), not numbers")
    p.add_argument("--out", default="docs/BENCHMARKS.md", help="markdown report (JSON beside it, .json)")
    p.add_argument("--json", default=None, help="JSON report (default: docs/benchmarks.json, "
                                                "or the --out name with .json)")
    p.add_argument("--model", default=None, help="checkpoint to use (default: resources/model.safetensors)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads for sampling and the app (default: as the app, min(4, cores))")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma-separated subset of {', '.join(SECTIONS + OPTIONAL)}")
    p.add_argument("--with-time-to-quality", action="store_true",
                   help="also train a fresh model until the bundled classifier reads >= 95%% of its "
                        "class-conditional samples right (5-6 min)")
    p.add_argument("--ttq-max-minutes", type=float, default=5.0,
                   help="training-time limit of the time-to-quality run (default 5)")
    p.add_argument("--ttq-guidance", default="1.5",
                   help="guidance scales to evaluate, comma-separated (default 1.5, the default)")
    p.add_argument("--ttq-recipe", default="fast", choices=("fast", "bundled"),
                   help="core.training.RECIPES entry the time-to-quality run trains (default fast)")
    p.add_argument("--ttq-eval-every", type=int, default=85)
    p.add_argument("--merge", action="store_true",
                   help="keep the sections of the existing JSON report that this run does not redo")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--child-config", help=argparse.SUPPRESS)
    p.add_argument("--child-result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _run_child(args)

    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if args.with_time_to_quality and "time_to_quality" not in sections:
        sections.append("time_to_quality")
    unknown = sorted(set(sections) - set(SECTIONS + OPTIONAL))
    if unknown:
        p.error(f"unknown section(s): {', '.join(unknown)}")
    default_out = args.out == "docs/BENCHMARKS.md"
    out_md = common.ROOT / "docs" / "BENCHMARKS.md" if default_out else Path(args.out).resolve()
    out_json = Path(args.json).resolve() if args.json else (
        common.ROOT / "docs" / "benchmarks.json" if default_out else out_md.with_suffix(".json"))
    cfg = common.BenchConfig(quick=args.quick, model=args.model, threads=args.threads,
                             with_time_to_quality="time_to_quality" in sections,
                             ttq_max_minutes=args.ttq_max_minutes,
                             ttq_guidance=[float(w) for w in args.ttq_guidance.split(",")],
                             ttq_recipe=args.ttq_recipe, ttq_eval_every=args.ttq_eval_every)
    if cfg.model is None:
        from ddpm_desktop.core.checkpoint import bundled_model_path

        if bundled_model_path() is None:
            common.log("no bundled model (resources/model.safetensors): timings use random weights "
                       "of the same architecture; pass --model to use a checkpoint")

    report = {"sections": {}}
    if args.merge and out_json.is_file():
        report = json.loads(out_json.read_text())
        report.setdefault("sections", {})
    started = dt.datetime.now(dt.timezone.utc)
    meta = {
        "command": "python -m bench.run " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "started_utc": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": common.machine_info(),
    }
    busy = meta["machine"]["cpu_busy_at_start"]
    if busy is not None and busy > 0.25:
        common.log(f"warning: the machine is busy ({busy:.0%} of its CPU time in use before the start): "
                   "timings will be pessimistic")
    for name in sections:
        common.log(f"== {name}")
        limit = 3600 if name == "time_to_quality" else (600 if args.quick else 1800)
        result = _run_section(name, cfg, limit)
        result["run_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        result["quick"] = args.quick
        report["sections"][name] = result
        if "error" in result:
            common.log(f"{name} FAILED: {result['error']}")
        else:
            common.log(f"{name} done in {result['elapsed_s']} s")
    meta["finished_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    meta["load_average_end"] = common.load_average()
    meta["cpu_busy_at_end"] = common.cpu_busy_fraction(2.0)
    meta["sections_run"] = sections
    if args.merge and "meta" in report:
        meta["previous_runs"] = report["meta"].get("previous_runs", []) + [
            {k: report["meta"].get(k) for k in ("command", "started_utc", "sections_run")}]
    report["meta"] = meta

    from bench import report as report_mod

    report["summary"] = report_mod.summary_rows(report)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    common.dump_json(report, out_json)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(report_mod.render_markdown(report, out_json), encoding="utf-8")
    common.log(f"wrote {out_md} and {out_json}")
    failed = [name for name in sections if "error" in report["sections"].get(name, {})]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
