"""A crash report: the error, its traceback, the versions, the machine and the session.

No Qt here (ui/crash_dialog.py shows it), so a report can be written and tested without an
event loop. `format_report` builds the text; `write_report(path, text, save_session)` saves the
session first (the user's work matters more than the report) as `<report>-session.json`
beside the report, then the report, both atomically (core.files). `autosave` does that in the
crash folder the moment a crash is shown, so a closed dialog or a dying process loses nothing.

The session is serialised as the session file is (the caller passes the writer in as
`save_session(path)`: the snapshot's JSON), so the saved file opens with File > Open session.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Callable

from ddpm_desktop import __version__
from ddpm_desktop.core import files

# The distributions whose versions a report lists (the app's dependencies and Qt's binding).
DISTRIBUTIONS = ("torch", "PySide6-Essentials", "shiboken6", "pyqtgraph", "numpy", "scipy",
                 "pillow", "safetensors")
KEEP_CRASHES = 20  # reports (and their sessions) autosave keeps in the crash folder
SESSION_SUFFIX = "-session.json"


@dataclass(frozen=True)
class SavedReport:
    """Where a report went; `session` is None when the session could not be saved, and
    `session_error` then says why in one line."""

    report: Path
    session: Path | None
    session_error: str = ""


def versions() -> dict[str, str]:
    """{"ddpm-desktop": ..., "python": ..., distribution: version or "not installed"}."""
    out = {"ddpm-desktop": __version__,
           "python": f"{platform.python_version()} ({platform.python_implementation()}, "
                     f"{sys.executable})"}
    for name in DISTRIBUTIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def os_description() -> str:
    """The OS and kernel in one line, with the distribution's name where it says one."""
    text = platform.platform()
    try:
        pretty = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except (OSError, AttributeError):
        pretty = ""
    return f"{pretty} ({text})" if pretty else text


def device_description(device: str | None) -> str:
    """The device the session runs on, and what torch sees of CUDA."""
    try:
        import torch

        if torch.cuda.is_available():
            cuda = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
            cuda = f"CUDA {torch.version.cuda}: {cuda}"
        else:
            cuda = "no CUDA device"
        threads = f"{torch.get_num_threads()} torch thread(s)"
    except Exception as exc:  # a report must come out even when torch is what broke
        cuda, threads = f"torch unavailable ({type(exc).__name__}: {exc})", ""
    parts = [f"session device: {device or 'unknown'}", cuda, threads, f"{os.cpu_count()} CPU cores"]
    return "; ".join(p for p in parts if p)


def format_report(message: str, details: str, snapshot: dict | None = None,
                  device: str | None = None, snapshot_error: str = "",
                  extra: dict[str, str] | None = None, when: datetime | None = None) -> str:
    """The report as plain text: the one-line message, the traceback (`details`), versions,
    OS, device, `extra` lines (e.g. Qt's platform) and the session snapshot as JSON."""
    when = when or datetime.now(timezone.utc)
    lines = ["DDPM Desktop crash report", f"time: {when.isoformat(timespec='seconds')}", "",
             f"error: {message}", "", details.rstrip() or "(no traceback)", "", "versions:"]
    lines += [f"  {name} {version}" for name, version in versions().items()]
    lines += ["", f"os: {os_description()}", f"device: {device_description(device)}"]
    lines += [f"{key}: {value}" for key, value in (extra or {}).items()]
    lines += ["", "session:"]
    if snapshot is not None:
        lines.append(json.dumps(snapshot, ensure_ascii=False, separators=(",", ":")))
    else:
        lines.append(f"(not available{': ' + snapshot_error if snapshot_error else ''})")
    return "\n".join(lines) + "\n"


def session_path_for(report: Path) -> Path:
    """`crash-X.txt` -> `crash-X-session.json`, beside it."""
    return report.with_name(report.stem + SESSION_SUFFIX)


def write_report(path, text: str, save_session: Callable[[Path], object] | None) -> SavedReport:
    """Save the session beside `path` (when there is one to save), then the report.

    A session that cannot be saved does not stop the report: the report says why at its end.
    An OSError writing the report itself comes out as core.files' one-line error.
    """
    path = Path(path)
    session, error = None, ""
    if save_session is not None:
        target = session_path_for(path)
        try:
            save_session(target)
            session = target
        except Exception as exc:  # the session may be half-built: that is why we are here
            error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    if session is not None:
        text += f"\nsession file: {session.name} (File > Open session)\n"
    elif save_session is not None:
        text += f"\nsession file: not saved ({error})\n"
    files.atomic_write_bytes(path, text.encode("utf-8"))
    return SavedReport(path, session, error)


def crash_folder(environ=None) -> Path:
    """$XDG_STATE_HOME/ddpm-desktop/crashes (default ~/.local/state/ddpm-desktop/crashes)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME", "")
    if not (base and os.path.isabs(base)):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "ddpm-desktop" / "crashes"


def autosave(text: str, save_session: Callable[[Path], object] | None,
             folder: Path | None = None) -> SavedReport:
    """Write the report (and the session beside it) in the crash folder under a new name,
    keeping the newest KEEP_CRASHES reports."""
    folder = crash_folder() if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"crash-{stamp}.txt"
    n = 1
    while path.exists() or session_path_for(path).exists():
        n += 1
        path = folder / f"crash-{stamp}-{n}.txt"
    saved = write_report(path, text, save_session)
    _prune(folder)
    return saved


def _prune(folder: Path) -> None:
    reports = sorted(folder.glob("crash-*.txt"), key=lambda p: p.stat().st_mtime_ns)
    for old in reports[:-KEEP_CRASHES]:
        for p in (old, session_path_for(old)):
            try:
                p.unlink()
            except OSError:
                pass
