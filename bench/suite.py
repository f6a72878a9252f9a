"""The test suite's two tiers, timed: `python -m bench.suite [--full] [--json PATH]`, or the
optional section `suite` of bench/run.py (`--sections suite`: the quick tier, and in a full run
the whole suite too).

Each tier runs as the README says (TIERS: two pytest-xdist workers of one torch thread each)
in a fresh process. Measured: the wall time, and the CPU time (user + system) of that process and
all it started (the workers and their subprocesses), which is what the run costs whatever else
the machine does; on a shared machine the wall time is inflated, the CPU time much less so.
Nothing here is a test: the tests never time anything.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The README's commands, past `python -m pytest`: both tiers in two pytest-xdist workers on
# two cores, each worker keeping torch to one thread (tests/conftest.py), as two threads per
# worker on two loaded cores ran 7-9 times slower than one.
TIERS = {"quick": ["-n", "2", "-m", "not slow"], "full": ["-n", "2"]}
QUICK_TARGET_S = 60.0
FULL_TARGET_S = 240.0


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_tier(name: str, extra: list[str] | None = None) -> dict:
    """Run tier `name` once: wall and CPU seconds, pytest's summary line, the exit code."""
    args = TIERS[name] + list(extra or [])
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["OMP_NUM_THREADS"] = "1"
    load_before = os.getloadavg()[0]
    cpu0, t0 = _children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    summary = next((line.strip("= ") for line in reversed(done.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed|error)", line)), done.stdout[-300:])
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|skipped|deselected|error)",
                                                summary)}
    return {"command": "python -m pytest " + " ".join(f'"{a}"' if " " in a else a for a in args),
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "summary": summary,
            "counts": counts, "exit_code": done.returncode,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2)}


def run(cfg) -> dict:
    """bench/run.py's section: the quick tier; the full suite too unless --quick."""
    out = {"quick_tier": time_tier("quick"), "quick_target_s": QUICK_TARGET_S,
           "full_target_s": FULL_TARGET_S, "cpu_count": os.cpu_count()}
    if not getattr(cfg, "quick", False):
        out["full_suite"] = time_tier("full")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="time the whole suite too (4 minutes)")
    p.add_argument("--json", help="also write the numbers here")
    args = p.parse_args(argv)
    result = {"quick_tier": time_tier("quick")}
    if args.full:
        result["full_suite"] = time_tier("full")
    for name, r in result.items():
        print(f"{name:10s} wall {r['wall_s']:6.1f} s  cpu {r['cpu_s']:6.1f} s  "
              f"(load {r['load_average_before']} -> {r['load_average_after']})  {r['summary']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0 if all(r["exit_code"] == 0 for r in result.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
