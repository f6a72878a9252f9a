"""The launcher: a freedesktop menu entry and icon for the installed `ddpm-desktop` command.

`ddpm-desktop --install-desktop-entry` writes two files under $XDG_DATA_HOME (default
~/.local/share, as the XDG Base Directory spec says; a relative value is ignored):

    applications/ddpm-desktop.desktop              the entry (Desktop Entry Specification 1.4)
    icons/hicolor/scalable/apps/ddpm-desktop.svg   the icon, resources/ddpm-desktop.svg

and `--uninstall-desktop-entry` removes exactly those two, and only when each is a regular
file (not a link) and, for the entry, one this module wrote (its `X-DDPM-Desktop-Version`
key). Writes go through core.files' one atomic writer: a link to a regular file is kept and
that file replaced whole, and a link to a folder, a device or nothing is refused.

StartupWMClass is WM_CLASS: Qt's xcb platform takes the class from the application name
(ui.app sets it to APP_ID) and Wayland's app_id from the desktop file name (also APP_ID), so
a desktop groups the window under this entry. No Qt here: the CLI imports this module.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from ddpm_desktop import __version__, resources_path
from ddpm_desktop.core import files

APP_ID = "ddpm-desktop"          # the .desktop file's name, the icon's name, the WM class
WM_CLASS = APP_ID
ICON_FILE = f"{APP_ID}.svg"      # in resources/; tools/make_icon.py draws it
MARKER_KEY = "X-DDPM-Desktop-Version"
INSTALL, UNINSTALL = "--install-desktop-entry", "--uninstall-desktop-entry"
OPTIONS = (INSTALL, UNINSTALL)

NAME = "DDPM Desktop"
COMMENT = "Watch a denoising diffusion model turn digits into noise and back"
KEYWORDS = ("diffusion", "DDPM", "denoising", "generative", "MNIST", "machine learning")


@dataclass(frozen=True)
class EntryPaths:
    """Where the entry and its icon go under one data folder."""

    desktop_file: Path
    icon_file: Path

    @classmethod
    def under(cls, data_home: Path) -> EntryPaths:
        return cls(data_home / "applications" / f"{APP_ID}.desktop",
                   data_home / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE)


def data_home(environ=None) -> Path:
    """$XDG_DATA_HOME when it is an absolute path, else ~/.local/share."""
    environ = os.environ if environ is None else environ
    value = environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(os.path.expanduser("~")) / ".local" / "share"


def installed_command() -> list[str]:
    """The command line that starts the app as installed: the running `ddpm-desktop` script
    when that is what runs, else the one on PATH, else this Python with `-m ddpm_desktop`."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == APP_ID and os.access(argv0, os.X_OK):
        return [os.path.abspath(argv0)]  # as invoked: a link (pipx's, say) keeps working
    found = shutil.which(APP_ID)
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "ddpm_desktop"]


# Desktop Entry Specification, "The Exec key": an argument holding any of these is quoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _exec_arg(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if any(c in _RESERVED for c in arg):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    # Exec is a "string" value: a backslash is itself escaped once more in the file.
    return arg.replace("\\", "\\\\")


def _string_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def desktop_entry_text(command: list[str]) -> str:
    """The .desktop file for `command` (argv of the installed app)."""
    exe = command[0]
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        f"Name={NAME}",
        "GenericName=Diffusion model explorer",
        f"Comment={_string_value(COMMENT)}",
        f"Exec={' '.join(_exec_arg(a) for a in command)}",
        f"TryExec={_string_value(exe)}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Education;Science;",
        f"Keywords={';'.join(KEYWORDS)};",
        f"StartupWMClass={WM_CLASS}",
        "StartupNotify=true",
        f"{MARKER_KEY}={__version__}",
        "",
    ]
    return "\n".join(lines)


def install(data_dir: Path | None = None, command: list[str] | None = None) -> EntryPaths:
    """Write the entry and its icon (atomically); returns where they went."""
    paths = EntryPaths.under(data_home() if data_dir is None else Path(data_dir))
    command = installed_command() if command is None else list(command)
    icon = resources_path(ICON_FILE).read_bytes()
    for target, data in ((paths.icon_file, icon),
                         (paths.desktop_file, desktop_entry_text(command).encode("utf-8"))):
        target.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write_bytes(target, data)
        os.chmod(target, 0o644)  # a desktop file readable by the menu, not executable
    return paths


def _ours(path: Path, is_entry: bool) -> bool:
    """A regular file (never a link) and, for the entry, one this module wrote."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"not removing '{path}': it is not a regular file")
    if is_entry:
        text = path.read_text(encoding="utf-8", errors="replace")
        if not any(line.startswith(f"{MARKER_KEY}=") for line in text.splitlines()):
            raise OSError(f"not removing '{path}': ddpm-desktop did not write it")
    return True


def uninstall(data_dir: Path | None = None) -> list[Path]:
    """Remove what `install` wrote; returns the files removed (none when nothing was there)."""
    paths = EntryPaths.under(data_home() if data_dir is None else Path(data_dir))
    removed = []
    for path, is_entry in ((paths.desktop_file, True), (paths.icon_file, False)):
        if _ours(path, is_entry):
            path.unlink()
            removed.append(path)
    return removed


def main(argv: list[str]) -> int:
    """`ddpm-desktop --install-desktop-entry | --uninstall-desktop-entry`."""
    if len(argv) != 1 or argv[0] not in OPTIONS:
        print(f"ddpm-desktop: error: use {INSTALL} or {UNINSTALL} alone", file=sys.stderr)
        return 2
    try:
        if argv[0] == INSTALL:
            paths = install()
            print(f"wrote {paths.desktop_file}\nwrote {paths.icon_file}")
        else:
            removed = uninstall()
            print("\n".join(f"removed {p}" for p in removed) or "nothing to remove")
    except OSError as exc:
        print(f"ddpm-desktop: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0
