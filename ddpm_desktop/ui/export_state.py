"""The export state the Export dialog is built from (the session owns it and runs the export).

`ExportSettings`: what to export (forward, reverse, both), as what (looping GIF or PNG strip),
frame rate, scale, frame stride (0 = automatic: render.frames.DEFAULT_FRAMES picked along the
chain, never fewer than render.frames.MIN_FRAMES; the last frame held render.compose.HOLD_LAST_S),
key frames of a strip, the histogram and KL overlays, the file, and where "both" comes from:
`both_from` "digit" (the default: the reverse chain reconstructs the forward chain's x_t, t =
`both_t` or 3T/10 as `ddpm-desktop export --chain both`, so both halves show one digit) or
"screen" (the two chains on screen as they are, unrelated unless the reverse run started from
the input). `ExportState` holds them
and the running export's progress.

Signals: `settings_changed()`, `progress_changed()` (running, done/total),
`finished(str)` (the path written, "" when cancelled or failed).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ddpm_desktop.ui.state import SettingsState

WHAT = (("forward", "Forward chain"), ("reverse", "Reverse chain"), ("both", "Both side by side"))
FORMATS = (("gif", "Animated GIF (looping)"), ("webp", "Animated WebP (looping, lossless)"),
           ("apng", "Animated PNG (APNG, looping)"), ("png", "PNG strip of key frames"))
ANIMATED = ("gif", "webp", "apng")
SUFFIXES = {"gif": ".gif", "webp": ".webp", "apng": ".apng", "png": ".png"}
BOTH_FROM = (("digit", "One digit: the reverse chain reconstructs the forward chain's x_t"),
             ("screen", "The two chains on screen as they are"))
DEFAULT_NAMES = {"forward": "ddpm_forward", "reverse": "ddpm_reverse", "both": "ddpm_chains"}


@dataclass(frozen=True)
class ExportSettings:
    what: str = "forward"
    format: str = "gif"
    fps: int = 20
    scale: int = 12
    stride: int = 0  # 0: automatic (frames picked along the chain)
    key_frames: int = 8
    histogram: bool = True
    kl: bool = True
    folder: str = ""  # "" = the home folder
    path: str = ""  # "" = DEFAULT_NAMES[what] in `folder`
    both_from: str = "digit"  # BOTH_FROM
    both_t: int = 0  # the forward frame "both" reconstructs; 0 = automatic (3T/10)

    def validated(self) -> "ExportSettings":
        if self.what not in dict(WHAT):
            raise ValueError(f"export 'forward', 'reverse' or 'both', not {self.what!r}")
        if self.format not in dict(FORMATS):
            raise ValueError(f"export as {', '.join(k for k, _ in FORMATS)}, not {self.format!r}")
        if not (isinstance(self.fps, int) and 1 <= self.fps <= 50):
            raise ValueError(f"frame rate {self.fps!r} must lie in 1..50 fps")
        if not (isinstance(self.scale, int) and 1 <= self.scale <= 12):
            raise ValueError(f"scale {self.scale!r} must lie in 1..12")
        if not (isinstance(self.stride, int) and 0 <= self.stride <= 10_000):
            raise ValueError(f"frame stride {self.stride!r} must lie in 0..10000")
        if not (isinstance(self.key_frames, int) and 2 <= self.key_frames <= 32):
            raise ValueError(f"key frames {self.key_frames!r} must lie in 2..32")
        if self.both_from not in dict(BOTH_FROM):
            raise ValueError(f"'both' comes from 'digit' or 'screen', not {self.both_from!r}")
        if not (isinstance(self.both_t, int) and 0 <= self.both_t <= 100_000):
            raise ValueError(f"the reconstructed step t = {self.both_t!r} must lie in 0..100000")
        return self

    def reconstruct_t(self, T: int) -> int:
        """The forward frame a one-digit "both" export reconstructs under a schedule of T
        steps: `both_t` (capped at T), or 3T/10 (the CLI's default) when it is 0."""
        return max(1, min(self.both_t, T)) if self.both_t else max(1, round(0.3 * T))

    def target(self) -> Path:
        """The file the next export writes: always with the extension of what it writes
        (another export extension is replaced; any other name gets it appended, so a path
        naming ``~/.bashrc`` becomes ``~/.bashrc.gif``)."""
        if self.path:
            p = Path(self.path).expanduser()
            suffix = SUFFIXES[self.format]
            if p.suffix.lower() == suffix:
                return p
            known = {v for v in SUFFIXES.values()}
            return p.with_suffix(suffix) if p.suffix.lower() in known else p.with_name(p.name + suffix)
        folder = Path(self.folder) if self.folder and Path(self.folder).is_dir() else Path.home()
        return folder / f"{DEFAULT_NAMES[self.what]}{SUFFIXES[self.format]}"

    def stride_for(self, n_frames: int) -> int:
        """The stride render.frames.output_indices gets: the user's, or 0 (frames picked along the
        chain: render.frames.DEFAULT_FRAMES, at least render.frames.MIN_FRAMES)."""
        return self.stride


class ExportState(SettingsState):
    progress_changed = Signal()
    finished = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = ExportSettings()
        # The destination (path or folder) came from a session or settings file and the user
        # has not chosen or confirmed it in this run: Export asks before writing there.
        self.destination_from_file = False
        self.running = False
        self.done = 0
        self.total = 0
        self.message = ""
        # Existing files an export may replace without asking: those it wrote in this run and
        # those the user confirmed (a path from a session or settings file is a suggestion).
        self.replaceable: set[str] = set()

    def needs_confirmation(self) -> Path | None:
        """The target, when it exists and was neither written nor confirmed in this run."""
        target = self.settings.target()
        key = os.path.abspath(target)
        return target if os.path.lexists(target) and key not in self.replaceable else None

    def allow_replacing(self, path) -> None:
        """The user chose to replace `path` (or the app just wrote it)."""
        self.replaceable.add(os.path.abspath(Path(path).expanduser()))

    def set_settings(self, settings, from_file: bool = False) -> None:
        """Adopt `settings`; `from_file`: they come from a session or settings file, so their
        path and folder are only a suggestion until the user confirms them. A change of path
        or folder made in the app counts as the user's choice."""
        old = self.settings
        super().set_settings(settings)
        if from_file:
            self.destination_from_file = bool(self.settings.path or self.settings.folder)
        elif (self.settings.path, self.settings.folder) != (old.path, old.folder):
            self.destination_from_file = False

    def confirm_destination(self) -> None:
        """The user chose or confirmed the destination shown (Browse…, or Export's question)."""
        self.destination_from_file = False

    def set_progress(self, running: bool, done: int = 0, total: int = 0,
                     message: str = "") -> None:
        self.running, self.done, self.total, self.message = running, done, total, message
        self.progress_changed.emit()
