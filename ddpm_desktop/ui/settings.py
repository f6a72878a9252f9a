"""What the app remembers between runs, in QSettings: every state's settings, read back with
their type and range, so a stale or hand-edited value falls back to its default (with a note
on stderr) and the app always opens.

`restore(session, qsettings)` before the views are built; `save(session, qsettings)` at close.
Keys: "schedule/*", "input/*", "sampler/*", "training/*", "export/*", "device".
"""
from __future__ import annotations

import math
import sys
from dataclasses import fields, replace

from PySide6.QtCore import QSettings

from ddpm_desktop.ui.export_state import ExportSettings
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.training_state import TrainingSettings

_INT_RANGE = (-(2**31), 2**31 - 1)


def _note(key: str, value, why: str) -> None:
    print(f"ddpm-desktop: ignoring the saved setting {key} = {value!r} ({why}); "
          "using the default", file=sys.stderr)


def read(s: QSettings, key: str, default, lo=None, hi=None):
    """The value under `key` as the type of `default` (within [lo, hi] for numbers), or
    `default` when absent or unusable."""
    if not s.contains(key):
        return default
    raw = s.value(key)
    kind = type(default)
    try:
        if kind is bool:
            value = raw if isinstance(raw, bool) else str(raw).strip().lower() in ("true", "1")
        elif kind is int:
            value = int(float(raw)) if not isinstance(raw, int) else raw
        elif kind is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError("not finite")
        else:
            value = str(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        _note(key, raw, str(exc) or "unreadable")
        return default
    if kind in (int, float):
        lo_, hi_ = (lo, hi) if lo is not None else ((_INT_RANGE) if kind is int else (None, None))
        if (lo_ is not None and value < lo_) or (hi_ is not None and value > hi_):
            _note(key, raw, f"outside {lo_}..{hi_}")
            return default
    return value


def _read_dataclass(s: QSettings, prefix: str, default, ranges: dict):
    values = {}
    for f in fields(default):
        current = getattr(default, f.name)
        if f.name in _OPTIONAL_INTS:  # -1 stands for None ("every step", "no label")
            value = read(s, f"{prefix}/{f.name}", -1 if current is None else current,
                         *ranges.get(f.name, (-1, 2**31 - 1)))
            values[f.name] = None if value < 0 else value
        else:
            values[f.name] = read(s, f"{prefix}/{f.name}", current, *ranges.get(f.name, (None, None)))
    try:
        return replace(default, **values).validated()
    except ValueError as exc:
        _note(prefix, values, str(exc))
        return default


def _write_dataclass(s: QSettings, prefix: str, value) -> None:
    for f in fields(value):
        v = getattr(value, f.name)
        s.setValue(f"{prefix}/{f.name}", -1 if v is None else v)


_OPTIONAL_INTS = ("label", "steps")
_SAMPLER_RANGES = {"steps": (-1, 100_000), "seed": (0, 2**31 - 1), "label": (-1, 9),
                   "guidance": (0.0, 20.0), "t_start": (1, 100_000), "eta": (0.0, 1.0)}
_TRAINING_RANGES = {"batch_size": (1, 4096), "steps": (1, 10_000_000), "lr": (1e-6, 0.5),
                    "sample_every_s": (1, 3600)}
_EXPORT_RANGES = {"fps": (1, 50), "scale": (1, 12), "stride": (0, 10_000),
                  "key_frames": (2, 32)}


def restore(session, s: QSettings) -> None:
    st = session.schedule_state
    params = {k: read(s, f"schedule/{k}", v) for k, v in st.params.items()}
    try:
        st.set_params(**params)
    except ValueError as exc:
        _note("schedule", params, " ".join(str(exc).split()))
    inp = session.input_state
    inp.set_seed(read(s, "input/seed", 0, 0, 2**31 - 1))
    start = read(s, "input/start", "gaussian")
    try:
        inp.set_start(start)
    except ValueError as exc:
        _note("input/start", start, str(exc))
    session.sampler.set_settings(_read_dataclass(s, "sampler", SamplerSettings(), _SAMPLER_RANGES))
    session.training.set_settings(
        _read_dataclass(s, "training", TrainingSettings(), _TRAINING_RANGES))
    session.export.set_settings(_read_dataclass(s, "export", ExportSettings(), _EXPORT_RANGES))
    device = read(s, "device", session.device_state.device)
    if device in session.device_state.available:
        session.device_state.set_device(device)


def save(session, s: QSettings) -> None:
    for key, value in session.schedule_state.params.items():
        s.setValue(f"schedule/{key}", value)
    s.setValue("input/seed", session.input_state.seed)
    s.setValue("input/start", session.input_state.start_name)
    _write_dataclass(s, "sampler", session.sampler.settings)
    _write_dataclass(s, "training", session.training.settings)
    _write_dataclass(s, "export", session.export.settings)
    s.setValue("device", session.device_state.device)
