"""A whole session as one readable, versioned JSON file: every setting and seed, and x_0.

`session_to_dict(session)` / `save_session(session, path)` write it (atomically, through
core.files); `read_session(path)` reads and validates it completely, and `apply_session(session,
data)` applies a validated one. A bad file, or one written by a newer version, raises a
one-line ValueError before anything in the session changes.

Format (FORMAT, VERSION 1):
  {"format": "ddpm-desktop-session", "version": 1,
   "schedule": {"kind", "T", "beta_start", "beta_end"},
   "input": {"seed", "start", "start_params", "forward_from", "digit_source", "digit_label",
             "digit": 28 rows of 28 numbers in [-1, 1]},
   "sampler": SamplerSettings fields, "training": TrainingSettings fields,
   "export": ExportSettings fields, "device": "cpu" | "cuda"}
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from ddpm_desktop.core import files
from ddpm_desktop.core.forward import sample_start
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.ui.export_state import ExportSettings
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.training_state import TrainingSettings

FORMAT = "ddpm-desktop-session"
VERSION = 1
MAX_BYTES = 2_000_000


def session_to_dict(session) -> dict:
    inp = session.input_state
    return {
        "format": FORMAT, "version": VERSION,
        "schedule": dict(session.schedule_state.params),
        "input": {"seed": inp.seed, "start": inp.start_name, "start_params": dict(inp.start_params),
                  "forward_from": inp.forward_from, "digit_source": inp.digit_source,
                  "digit_label": inp.digit_label,
                  "digit": np.round(inp.digit.astype(np.float64), 6).tolist()},
        "sampler": asdict(session.sampler.settings),
        "training": asdict(session.training.settings),
        "export": asdict(session.export.settings),
        "device": session.device_state.device,
    }


def save_session(session, path) -> Path:
    text = json.dumps(session_to_dict(session), indent=1, ensure_ascii=False)
    return files.atomic_write_bytes(Path(path), text.encode("utf-8"))


def _settings(cls, value, what: str):
    if not isinstance(value, dict):
        raise ValueError(f"'{what}' must be an object")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"unknown {what} setting(s): {', '.join(unknown)}")
    try:
        return cls(**{**asdict(cls()), **value}).validated()
    except TypeError as exc:
        raise ValueError(f"bad {what} settings: {exc}") from None


def read_session(path) -> dict:
    """The file's contents, fully validated (values converted); ValueError/OSError, one line."""
    path = Path(path)
    reason = files.unreadable_reason(path)
    if reason:
        raise OSError(f"cannot open '{path}': {reason}")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"'{path.name}' is too large to be a session file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"'{path.name}' is not a session file (not JSON: {exc})") from None
    try:
        return _validate(data)
    except ValueError as exc:
        raise ValueError(f"'{path.name}': {exc}") from None


def _validate(data) -> dict:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a ddpm-desktop session file")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError("the session file has no version number")
    if version > VERSION:
        raise ValueError(f"written by a newer version of ddpm-desktop (format {version}; this "
                         f"one reads up to {VERSION})")
    sched = data.get("schedule")
    if not isinstance(sched, dict) or set(sched) != {"kind", "T", "beta_start", "beta_end"}:
        raise ValueError("'schedule' needs kind, T, beta_start and beta_end")
    if not isinstance(sched["T"], int) or isinstance(sched["T"], bool):
        raise ValueError("schedule T must be an integer")
    NoiseSchedule.named(str(sched["kind"]), sched["T"], float(sched["beta_start"]),
                        float(sched["beta_end"]))  # raises a ValueError naming the problem
    inp = data.get("input")
    if not isinstance(inp, dict):
        raise ValueError("'input' must be an object")
    seed = inp.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise ValueError("input seed must be an integer in 0..2^31-1")
    params = inp.get("start_params", {})
    if not isinstance(params, dict):
        raise ValueError("input start_params must be an object")
    sample_start(str(inp.get("start")), (1,), None, **params)  # validates name and parameters
    if inp.get("forward_from") not in ("digit", "noise"):
        raise ValueError("input forward_from must be 'digit' or 'noise'")
    try:
        digit = np.asarray(inp.get("digit"), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("input digit must be 28 rows of 28 numbers") from None
    if digit.shape != (28, 28) or not np.all(np.isfinite(digit)) or np.abs(digit).max() > 1.0:
        raise ValueError("input digit must be 28 rows of 28 numbers in [-1, 1]")
    label = inp.get("digit_label", -1)
    if not isinstance(label, int) or not -1 <= label <= 9:
        raise ValueError("input digit_label must be -1..9")
    sampler = data.get("sampler", {})
    if isinstance(sampler, dict):
        for key in ("guidance", "eta"):
            if key in sampler and not (isinstance(sampler[key], (int, float))
                                       and math.isfinite(sampler[key])):
                raise ValueError(f"sampler {key} must be a finite number")
            if key in sampler:
                sampler = {**sampler, key: float(sampler[key])}
    training = data.get("training", {})
    if isinstance(training, dict) and "lr" in training and isinstance(training["lr"], int):
        training = {**training, "lr": float(training["lr"])}
    device = data.get("device", "cpu")
    if device not in ("cpu", "cuda"):
        raise ValueError("device must be 'cpu' or 'cuda'")
    return {
        "schedule": {"kind": str(sched["kind"]), "T": sched["T"],
                     "beta_start": float(sched["beta_start"]), "beta_end": float(sched["beta_end"])},
        "seed": seed, "start": str(inp["start"]), "start_params": params,
        "forward_from": inp["forward_from"], "digit": digit.astype(np.float32),
        "digit_source": str(inp.get("digit_source", "session file")), "digit_label": label,
        "sampler": _settings(SamplerSettings, sampler, "sampler"),
        "training": _settings(TrainingSettings, training, "training"),
        "export": _settings(ExportSettings, data.get("export", {}), "export"),
        "device": device,
    }


def apply_session(session, valid: dict) -> None:
    """Apply what `read_session` returned (nothing in it can fail any more, except a device
    this machine lacks, which keeps the current one)."""
    session.cancel_sampling()
    session.schedule_state.set_params(**valid["schedule"])
    inp = session.input_state
    inp.set_digit(valid["digit"], valid["digit_source"], valid["digit_label"])
    inp.set_start(valid["start"], **valid["start_params"])
    inp.set_seed(valid["seed"])
    inp.set_forward_from(valid["forward_from"])
    session.sampler.set_settings(valid["sampler"])
    session.training.set_settings(valid["training"])
    session.export.set_settings(valid["export"])
    if valid["device"] in session.device_state.available:
        session.device_state.set_device(valid["device"])


class SessionFiles:
    """Mixin of `Session`: File > Save / Open session (needs `self.error`, `self.status`)."""

    def save_session_file(self, path) -> bool:
        """Write every setting, seed and x_0 as JSON (session_file.py); False with `error`."""
        try:
            written = save_session(self, path)
        except (OSError, ValueError) as exc:
            self.error.emit(f"Could not save the session: {' '.join(str(exc).split())}", "")
            return False
        self.status.emit(f"Session saved: {written}")
        return True

    def open_session_file(self, path) -> bool:
        """Apply a session file; a bad or newer one changes nothing (False, with `error`)."""
        try:
            valid = read_session(path)
        except (OSError, ValueError) as exc:
            self.error.emit(f"Could not open the session: {' '.join(str(exc).split())}", "")
            return False
        apply_session(self, valid)
        self.status.emit(f"Session opened: {Path(path).name}")
        return True
