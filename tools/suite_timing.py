"""How long the test suite takes: the quick tier and the full suite, or per test.

    python tools/suite_timing.py tiers [--json out.json]     # wall time of both tiers
    python tools/suite_timing.py durations tests/ui/test_x.py ... [--min 1.0] [--json out.json]

`tiers` runs the quick tier the README names, then everything, as CI does (bench/suite.py's
TIERS: the quick tier in two xdist workers, the full suite in one process), each in a fresh process, and prints the wall and CPU time and
the counts pytest reported. `durations` runs the given files one at a time (so a
machine shared with other work is never loaded by more than one pytest) and lists every test
that took at least --min seconds (setup + call + teardown, from pytest's JUnit XML), slowest
first: the list to read when deciding what to mark `slow`.

Run on an otherwise idle machine for numbers worth quoting; torch is kept to one thread
(tests/conftest.py does that too).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_pytest(args: list[str], junit: Path | None = None) -> tuple[float, str, int]:
    """(wall seconds, pytest's last summary line, exit code)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    if junit is not None:
        cmd.append(f"--junitxml={junit}")
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    summary = next((line.strip("= ") for line in reversed(done.stdout.splitlines())
                    if re.search(r"\d+ (passed|failed|error)", line)), done.stdout[-200:])
    return wall, summary, done.returncode


def tiers() -> dict:
    """Both tiers as the README runs them (bench/suite.py, which bench/run.py runs as its
    section `suite`, defines and times them)."""
    sys.path.insert(0, str(ROOT))
    from bench.suite import time_tier

    out = {}
    for name in ("quick", "full"):
        out[name] = r = time_tier(name)
        print(f"{name:5s} wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:7.1f} s  {r['summary']}",
              flush=True)
    return out


def durations(paths: list[str], minimum: float) -> dict:
    tests: list[dict] = []
    per_file = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            junit = Path(tmp) / "junit.xml"
            wall, summary, _ = run_pytest([path], junit)
            per_file[path] = {"seconds": round(wall, 1), "summary": summary}
            print(f"{wall:7.1f} s  {path}  ({summary})", flush=True)
            if not junit.exists():
                continue
            for case in ET.parse(junit).getroot().iter("testcase"):
                seconds = float(case.get("time", 0))
                if seconds >= minimum:
                    tests.append({"test": f"{case.get('classname')}::{case.get('name')}",
                                  "seconds": round(seconds, 2)})
    tests.sort(key=lambda t: -t["seconds"])
    for t in tests:
        print(f"{t['seconds']:7.2f} s  {t['test']}")
    return {"files": per_file, "tests": tests}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("tiers", help="wall time of the quick tier and of the full suite")
    t.add_argument("--json", help="also write the numbers here")
    d = sub.add_parser("durations", help="per-test times of the given files, one file at a time")
    d.add_argument("paths", nargs="+")
    d.add_argument("--min", type=float, default=1.0, help="list tests at least this slow (s)")
    d.add_argument("--json", help="also write the numbers here")
    args = p.parse_args(argv)
    result = tiers() if args.what == "tiers" else durations(args.paths, args.min)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
