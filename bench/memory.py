"""5. Memory: peak resident set (VmHWM of /proc/self/status) of the app in three situations,
each in a fresh process so the peaks are separate:

- idle: the real MainWindow offscreen with the model loaded, after its automatic first
  sampling run, then idle for a moment;
- training: the same, then the Training panel trains (its defaults, its worker thread) until
  it has refreshed its sample grid once (or a time limit);
- export: the same, then File > Export... (MainWindow.open_export -> ExportDialog) writes the
  forward chain (T = 1000: 1001 frames, stride 1) as a GIF with the histogram and the KL
  curve, on the dialog's worker thread, as a user's click would.

Each process also reports its resident set just before the activity ("baseline"), so the
cost of the activity itself is peak - baseline.

`python -m bench.memory SCENARIO CONFIG_JSON RESULT_JSON` runs one scenario (internal).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common

SCENARIOS = ("idle", "training", "export")


def _scenario(name: str, cfg: common.BenchConfig) -> dict:
    import torch

    torch.set_num_threads(cfg.threads or common.app_thread_count())
    app, folder = common.make_app()
    model, info = common.load_bench_model(cfg)
    window = common.make_window(app, folder, model, info)
    common.run_event_loop(app, 1.0)
    out = {"scenario": name, "model": info, "baseline": common.rss_mib()}
    try:
        if name == "idle":
            common.run_event_loop(app, 2.0)
        elif name == "training":
            tp = window.training_panel
            tp.sample_spin.setValue(5 if cfg.quick else 10)
            if not tp.start():
                raise RuntimeError("the training panel did not start")
            limit = 30.0 if cfg.quick else 90.0
            ok = common.wait_until(app, lambda: tp.last_snapshot is not None, limit, poll_ms=50)
            out["train_steps"] = tp.last_progress.step if tp.last_progress is not None else 0
            out["sample_grid_refreshed"] = ok
            out["batch_size"] = tp.batch_spin.value()
            tp.stop()
            common.wait_until(app, lambda: not tp.is_running(), 60.0, poll_ms=20)
        elif name == "export":
            window.open_export()
            dialog = window.export_dialog
            path = os.path.join(tempfile.mkdtemp(prefix="ddpm-bench-export-"), "forward.gif")
            done: dict[str, str] = {}
            dialog.exported.connect(lambda p: done.__setitem__("path", p))
            dialog.error.connect(lambda m: done.__setitem__("error", m))
            dialog.what_combo.setCurrentIndex(dialog.what_combo.findData("forward"))
            dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("gif"))
            dialog.stride_spin.setValue(1)
            dialog.hist_check.setChecked(True)
            dialog.kl_check.setChecked(True)
            dialog.path_edit.setText(path)
            scale, fps = dialog.scale_spin.value(), dialog.fps_spin.value()
            t0 = time.perf_counter()
            dialog.start_export()
            common.wait_until(app, lambda: bool(done), 600.0, poll_ms=50)
            if "error" in done or not os.path.isfile(path):
                raise RuntimeError(f"export failed: {done.get('error', 'no file written')}")
            from PIL import Image

            with Image.open(path) as im:
                frames = getattr(im, "n_frames", 1)
            out.update({"export_seconds": time.perf_counter() - t0, "gif_frames": frames,
                        "gif_mib": round(os.path.getsize(path) / 2**20, 2),
                        "forward_T": window.session.forward.T, "scale": scale, "fps": fps})
            os.unlink(path)
        else:
            raise ValueError(name)
        out.update(common.rss_mib())
    finally:
        common.close_window(app, window)
    return out


def run(cfg: common.BenchConfig) -> dict:
    out = {}
    for name in SCENARIOS:
        common.log(f"memory: {name} (fresh process)")
        with tempfile.TemporaryDirectory(prefix="ddpm-bench-mem-") as tmp:
            result = Path(tmp) / "r.json"
            env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
            proc = subprocess.run([sys.executable, "-m", "bench.memory", name, json.dumps(cfg.to_dict()),
                                   str(result)], cwd=common.ROOT, env=env, timeout=900)
            if result.is_file():
                out[name] = json.loads(result.read_text())
            else:
                out[name] = {"error": f"process ended without a result (exit {proc.returncode})"}
    return out


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name, cfg_json, result = argv
    cfg = common.BenchConfig.from_dict(json.loads(cfg_json))
    try:
        out = _scenario(name, cfg)
    except Exception as exc:  # noqa: BLE001 - reported
        import traceback

        traceback.print_exc()
        out = {"scenario": name, "error": f"{type(exc).__name__}: {exc}", **common.rss_mib()}
    common.dump_json(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
