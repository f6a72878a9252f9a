"""Shared pieces of the benchmark suite: timing, the machine, the model, memory, the offscreen app.

Timing rules every section follows:
- the things compared are timed in the same process, interleaved (A B B A A B ...), after a
  warm-up, and summarised by their medians; a ratio is a ratio of two such medians;
- wall-clock `time.perf_counter()`; nothing here asserts on a time (tests never time).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- configuration


@dataclass
class BenchConfig:
    """What every section gets from the command line (bench/run.py)."""

    quick: bool = False
    model: str | None = None          # a .safetensors checkpoint; None: the bundled model
    threads: int | None = None        # torch CPU threads for sampling/diffusers; None: as the app
    with_time_to_quality: bool = False
    ttq_max_minutes: float = 5.0
    ttq_guidance: list = field(default_factory=lambda: [1.5])
    ttq_eval_every: int = 85
    ttq_recipe: str = "fast"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "BenchConfig":
        return cls(**d)


def app_thread_count() -> int:
    """The torch CPU thread count the desktop app runs with (ui/app.py: min(4, torch's default))."""
    import torch

    return max(1, min(4, torch.get_num_threads()))


# ----------------------------------------------------------------------------- timing


def median(xs) -> float:
    return float(statistics.median(xs)) if len(xs) else float("nan")


def percentile(xs, q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=np.float64), q)) if len(xs) else float("nan")


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of each callable over `repeats` rounds, alternating the order every round
    (A B, B A, A B ...) so a slow drift of the machine hits every contender alike."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            out[name].append(timed(fns[name]))
    return out


def summary_ms(xs_s) -> dict:
    """Median, p95, min and count of a list of seconds, in milliseconds."""
    ms = [x * 1e3 for x in xs_s]
    return {"median_ms": median(ms), "p95_ms": percentile(ms, 95), "min_ms": min(ms) if ms else float("nan"),
            "n": len(ms)}


# ----------------------------------------------------------------------------- the machine


def _cpuinfo() -> tuple[str, int | None]:
    model, cores = platform.processor() or "unknown", None
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, cores
    pairs = set()
    phys = core = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and model in ("unknown", "", platform.processor()):
            model = value
        elif key == "physical id":
            phys = value
        elif key == "core id":
            core = value
        elif not line.strip():
            if core is not None:
                pairs.add((phys, core))
            phys = core = None
    if core is not None:
        pairs.add((phys, core))
    return model, (len(pairs) or None)


def _meminfo_gib(key: str = "MemTotal") -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_busy_fraction(seconds: float = 1.0) -> float | None:
    """Share of all CPUs' time spent busy (not idle/iowait) over the next `seconds`, from
    /proc/stat: whether something else is running right now (the load average lags a minute)."""
    def read():
        with open("/proc/stat") as f:
            parts = [int(x) for x in f.readline().split()[1:]]
        idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
        return sum(parts), idle

    try:
        total0, idle0 = read()
        time.sleep(seconds)
        total1, idle1 = read()
    except (OSError, ValueError, IndexError):
        return None
    dt = total1 - total0
    return round(1.0 - (idle1 - idle0) / dt, 3) if dt > 0 else None


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - not installed
        return None


def _git() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD") or None,
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def machine_info() -> dict:
    """CPU, cores, RAM, torch and its threads, GPU, Python, OS: what the numbers depend on."""
    import torch

    model, physical = _cpuinfo()
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    gpu = None
    if torch.cuda.is_available():
        gpu = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return {
        "cpu": model,
        "logical_cores": os.cpu_count(),
        "physical_cores": physical,
        "usable_cores": affinity,
        "ram_gib": _meminfo_gib(),
        "ram_available_gib": _meminfo_gib("MemAvailable"),
        "torch": torch.__version__,
        "torch_default_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "gpu": gpu,
        "python": platform.python_version(),
        "os": platform.platform(),
        "pyside6": _version("PySide6-Essentials") or _version("PySide6"),
        "pyqtgraph": _version("pyqtgraph"),
        "numpy": np.__version__,
        "diffusers": _version("diffusers"),
        "load_average": load_average(),
        "cpu_busy_at_start": cpu_busy_fraction(2.0),
        "git": _git(),
    }


# ----------------------------------------------------------------------------- the model


def model_path(cfg: BenchConfig) -> Path | None:
    if cfg.model:
        return Path(cfg.model)
    from ddpm_desktop.core.checkpoint import bundled_model_path

    return bundled_model_path()


def load_bench_model(cfg: BenchConfig):
    """(model in eval mode, description). Without a checkpoint: the bundled architecture with
    random weights - the same cost per call, so timings hold, but no quality numbers."""
    import torch

    from ddpm_desktop.core.checkpoint import load_model

    path = model_path(cfg)
    if path is not None and path.is_file():
        model, meta = load_model(path)
        return model, {"source": str(path), "step": meta.get("step"),
                       "parameters": sum(p.numel() for p in model.parameters())}
    from ddpm_desktop.core.model import UNet
    from ddpm_desktop.core.training import TrainConfig

    torch.manual_seed(0)
    model = UNet(TrainConfig().model).eval().requires_grad_(False)
    return model, {"source": "random weights, bundled architecture (no checkpoint found)", "step": None,
                   "parameters": sum(p.numel() for p in model.parameters())}


# ----------------------------------------------------------------------------- memory


def proc_status_kib(key: str) -> int | None:
    """A field of /proc/self/status in KiB (VmHWM = peak resident set, VmRSS = now)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mib() -> dict:
    hwm, rss = proc_status_kib("VmHWM"), proc_status_kib("VmRSS")
    return {"peak_rss_mib": None if hwm is None else round(hwm / 1024, 1),
            "rss_mib": None if rss is None else round(rss / 1024, 1)}


# ----------------------------------------------------------------------------- the offscreen app


def make_app():
    """The real QApplication (ui/app.create_app) offscreen, with QSettings in a throw-away folder."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    folder = tempfile.mkdtemp(prefix="ddpm-bench-settings-")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
    from ddpm_desktop.ui.app import create_app

    app = create_app(["ddpm-bench"])
    return app, folder


def wait_until(app, predicate: Callable[[], bool], timeout_s: float, poll_ms: int = 5) -> bool:
    """Run the event loop until predicate() holds or timeout_s passes; → predicate()."""
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return True
    loop = QEventLoop()
    deadline = time.perf_counter() + timeout_s
    timer = QTimer()
    timer.setInterval(poll_ms)

    def check():
        if predicate() or time.perf_counter() > deadline:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    return bool(predicate())


def run_event_loop(app, seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def make_window(app, folder: str, model=None, meta: dict | None = None):
    """The real MainWindow, shown offscreen at its default size, with `model` handed to it as
    the bundled one would be; waits until the automatic first sampling run has finished."""
    from PySide6.QtCore import QSettings

    from ddpm_desktop.ui.main_window import MainWindow

    ini = os.path.join(folder, "bench-window.ini")
    window = MainWindow(settings=QSettings(ini, QSettings.Format.IniFormat), load_model=False)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    if model is not None:
        window.session.set_model(model, "bench model", meta or {})
        # the window samples once on the first model (QTimer.singleShot(0)); let it finish
        wait_until(app, lambda: window.session.is_sampling(), 2.0)
        wait_until(app, lambda: not window.session.is_sampling(), 120.0)
    app.processEvents()
    return window


def close_window(app, window) -> None:
    window.close()
    app.processEvents()


class PaintCounter:
    """Counts QEvent.Paint on a widget (proof that a 'frame' was really drawn)."""

    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def __init__(self):
                super().__init__()
                self.count = 0

            def eventFilter(self, obj, event):  # noqa: N802 - Qt override
                if event.type() == QEvent.Type.Paint:
                    self.count += 1
                return False

        self._filter = _Filter()
        self.widget = widget
        widget.installEventFilter(self._filter)

    @property
    def count(self) -> int:
        return self._filter.count

    def remove(self) -> None:
        self.widget.removeEventFilter(self._filter)


# ----------------------------------------------------------------------------- JSON


def dump_json(obj, path: str | os.PathLike) -> None:
    def default(o):
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    text = json.dumps(obj, indent=2, default=default, allow_nan=True)
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)


def log(*args) -> None:
    print("[bench]", *args, file=sys.stderr, flush=True)
