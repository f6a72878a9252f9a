"""What the app remembers between runs, in QSettings: every state's settings, read back with
their type and range, so a stale or hand-edited value falls back to its default (with a note
on stderr) and the app always opens.

`restore(session, qsettings)` before the views are built; `save(session, qsettings)` at close
writes the lasting part of the session's snapshot (core/snapshot.py, whose field bounds the
reads use). Keys: "schedule/*", "input/seed", "input/start", "input/start_params/*",
"input/forward_from", "sampler/*", "training/*", "export/*", "device". `open_settings()` gives
the QSettings to use, after checking that its files are regular files.
"""
from __future__ import annotations

import math
import re
import sys
import stat
import tempfile
import uuid
from dataclasses import fields, replace
from pathlib import Path

from PySide6.QtCore import QSettings

from ddpm_desktop.core.forward import START_PARAMS
from ddpm_desktop.core.snapshot import (
    EXPORT_FIELDS,
    SAMPLER_FIELDS,
    START_PARAM_RANGES,
    TRAINING_FIELDS,
)
from ddpm_desktop.ui.export_state import ExportSettings
from ddpm_desktop.ui.state import SamplerSettings
from ddpm_desktop.ui.training_state import TrainingSettings

_INT_RANGE = (-(2**31), 2**31 - 1)


def _note(key: str, value, why: str) -> None:
    print(f"ddpm-desktop: ignoring the saved setting {key} = {value!r} ({why}); "
          "using the default", file=sys.stderr)


_INT_TEXT = re.compile(r"[+-]?\d{1,24}")
_MAX_TEXT = 4096


def strict_value(raw, kind):
    """`raw` (a QSettings value: the type itself, or its text in an INI file) as `kind`;
    ValueError unless it is exactly that: a bool is true/false only (never "yes", "1" or a
    number), an int has no fraction or exponent, a float is finite, text is short."""
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ValueError("not true or false")
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError(f"not a single {kind.__name__}")
    if kind is int:
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and _INT_TEXT.fullmatch(raw.strip()):
            return int(raw.strip())
        raise ValueError("not an integer")
    if kind is float:
        if isinstance(raw, str) and len(raw) > 64:
            raise ValueError("not a number")
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError("not finite")
        return value
    text = str(raw)
    if len(text) > _MAX_TEXT:
        raise ValueError("too long")
    return text


def read(s: QSettings, key: str, default, lo=None, hi=None):
    """The value under `key` as the type of `default` (within [lo, hi] for numbers), or
    `default` when absent or unusable (with a note on stderr)."""
    if not s.contains(key):
        return default
    raw = s.value(key)
    kind = type(default)
    try:
        value = strict_value(raw, kind)
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


_OPTIONAL_INTS = ("label", "steps")


def _ranges(schema_fields) -> dict:
    """The snapshot's bounds for each numeric field (-1 standing for None in optional ints)."""
    return {f.name: (-1 if f.kind == "optional_int" else f.lo, f.hi)
            for f in schema_fields if f.lo is not None}


_SAMPLER_RANGES = _ranges(SAMPLER_FIELDS)
_TRAINING_RANGES = _ranges(TRAINING_FIELDS)
_EXPORT_RANGES = _ranges(EXPORT_FIELDS)


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
    params = {}
    for key in START_PARAMS.get(start, {}):
        if key in START_PARAM_RANGES:
            value = read(s, f"input/start_params/{key}", math.nan, *START_PARAM_RANGES[key])
            if math.isfinite(value):
                params[key] = value
    try:
        inp.set_start(start, **params)
    except ValueError as exc:
        _note("input/start", start, str(exc))
    forward_from = read(s, "input/forward_from", "digit")
    if forward_from in inp.FORWARD_FROM:
        inp.set_forward_from(forward_from)
    else:
        _note("input/forward_from", forward_from, "not 'digit' or 'noise'")
    session.sampler.set_settings(_read_dataclass(s, "sampler", SamplerSettings(), _SAMPLER_RANGES))
    session.training.set_settings(
        _read_dataclass(s, "training", TrainingSettings(), _TRAINING_RANGES))
    export = _read_dataclass(s, "export", ExportSettings(), _EXPORT_RANGES)
    # A remembered file is only a suggestion (Export asks before writing there); the folder of
    # the last export stays the place new files go, under their default names.
    session.export.set_settings(export, from_file=bool(export.path))
    device = read(s, "device", session.device_state.device)
    if device in session.device_state.available:
        session.device_state.set_device(device)


def save(session, s: QSettings) -> None:
    """Write the part of the session's snapshot that outlives a run: the schedule, the seed and
    the x_T distribution, where the forward chain starts, the sampler, training and export
    settings, the device (x_0, the frame on screen and the model belong to session files)."""
    snap = session.files.take_snapshot().to_dict()
    for group in ("schedule", "sampler", "training", "export"):
        for key, value in snap[group].items():
            s.setValue(f"{group}/{key}", -1 if value is None else value)
    inp = snap["input"]
    for key in ("seed", "start", "forward_from"):
        s.setValue(f"input/{key}", inp[key])
    s.remove("input/start_params")
    for key, value in inp["start_params"].items():
        s.setValue(f"input/start_params/{key}", value)
    s.setValue("device", snap["device"])


# A settings file larger than this is not one the app wrote: it is set aside, not read.
MAX_SETTINGS_BYTES = 4_000_000


def settings_files(fmt=None) -> list[Path]:
    """The files QSettings() would read for this application (user and system scope, the
    application's file and the organisation-wide fallback), found without opening any of them:
    a QSettings for a made-up organisation names the folders and the suffix."""
    from PySide6.QtCore import QCoreApplication

    fmt = QSettings.defaultFormat() if fmt is None else fmt
    org = QCoreApplication.organizationName() or "Unknown Organization"
    app = QCoreApplication.applicationName()
    probe_org, probe_app = f"probe-{uuid.uuid4().hex}", "probe"
    paths = []
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        probe = Path(QSettings(fmt, scope, probe_org, probe_app).fileName())
        if probe.parent.name != probe_org:
            continue  # not a file-based store (the registry, a plist service)
        folder, suffix = probe.parent.parent, probe.suffix
        if app:
            paths.append(folder / org / f"{app}{suffix}")
        paths.append(folder / f"{org}{suffix}")
    return paths


def unusable_settings_file(paths=None) -> str | None:
    """Why the settings cannot be opened safely (a file that is a FIFO, a device or a folder,
    a link to one, or one too large to be ours), or None. QSettings reads its files when it is
    built, so a FIFO would hang the app before its window opened."""
    for path in settings_files() if paths is None else paths:
        try:
            st = path.stat()  # follows links: what would be read
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"'{path}' cannot be read ({exc.strerror or exc})"
        if not stat.S_ISREG(st.st_mode):
            return f"'{path}' is not a regular file"
        if st.st_size > MAX_SETTINGS_BYTES:
            return f"'{path}' is too large to be a settings file ({st.st_size} bytes)"
    return None


def open_settings() -> QSettings:
    """QSettings() when its files are safe to read; otherwise (with a note on stderr) settings
    kept in a fresh temporary file for this run only, so the app opens with its defaults and
    writes nothing into what the settings path points at."""
    global _fallback
    why = unusable_settings_file()
    if why is None:
        return QSettings()
    if _fallback is None:
        _fallback = Path(tempfile.mkdtemp(prefix="ddpm-desktop-settings-")) / "settings.ini"
        print(f"ddpm-desktop: not using the saved settings: {why}; using the defaults "
              "(settings are not remembered this run)", file=sys.stderr)
    return QSettings(str(_fallback), QSettings.Format.IniFormat)


_fallback: Path | None = None  # this run's stand-in settings file, once one was needed
