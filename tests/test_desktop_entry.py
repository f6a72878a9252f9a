"""The menu entry: `ddpm-desktop --install-desktop-entry` / `--uninstall-desktop-entry` under a
temporary $XDG_DATA_HOME, checked by freedesktop's own validator and by reading the files."""
from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ddpm_desktop import desktop_entry, resources_path
from ddpm_desktop.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


def read_entry(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


def exec_argv(value: str) -> list[str]:
    """The spec's Exec rules: undo the string escape, then read the quoting as a POSIX shell
    does (the spec's double quotes and backslashes are the shell's); sh itself is the oracle."""
    words = value.replace("\\\\", "\\")
    out = subprocess.run(["sh", "-c", f"printf '%s\\0' {words}"], capture_output=True, check=True)
    return out.stdout.decode().split("\0")[:-1]


def all_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if not p.is_dir()}


def test_install_writes_the_entry_and_the_icon_and_uninstall_removes_exactly_them(data_home, capsys):
    keep = data_home / "applications" / "someone-else.desktop"
    keep.parent.mkdir(parents=True)
    keep.write_text("[Desktop Entry]\n")
    assert main(["--install-desktop-entry"]) == 0
    paths = desktop_entry.EntryPaths.under(data_home)
    assert paths.desktop_file == data_home / "applications" / "ddpm-desktop.desktop"
    assert paths.icon_file == data_home / "icons/hicolor/scalable/apps/ddpm-desktop.svg"
    assert all_files(data_home) == {keep, paths.desktop_file, paths.icon_file}
    assert str(paths.desktop_file) in capsys.readouterr().out

    entry = read_entry(paths.desktop_file)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "DDPM Desktop" and entry["Comment"]
    assert entry["Categories"] == "Education;Science;"
    assert entry["StartupWMClass"] == desktop_entry.WM_CLASS
    assert entry["Icon"] == paths.icon_file.stem  # found by name in the hicolor theme
    argv = exec_argv(entry["Exec"])
    assert os.access(argv[0], os.X_OK) and entry["TryExec"] == argv[0]
    assert paths.icon_file.read_bytes() == resources_path("ddpm-desktop.svg").read_bytes()
    assert paths.desktop_file.stat().st_mode & 0o777 == 0o644

    assert main(["--install-desktop-entry"]) == 0  # again: replaced, nothing added
    assert all_files(data_home) == {keep, paths.desktop_file, paths.icon_file}

    assert main(["--uninstall-desktop-entry"]) == 0
    assert all_files(data_home) == {keep}
    assert main(["--uninstall-desktop-entry"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate not installed (Debian: desktop-file-utils)")
@pytest.mark.parametrize("command", [None, ["/opt/my apps/$HOME/ddpm-desktop"]])
def test_the_entry_is_valid_for_freedesktop(tmp_path, command):
    paths = desktop_entry.install(tmp_path, command=command)
    result = subprocess.run(["desktop-file-validate", str(paths.desktop_file)],
                            capture_output=True, text=True)
    # Hints are advice (two main categories is what the entry asks for); errors and warnings fail.
    problems = [line for line in result.stdout.splitlines() if ": hint:" not in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_exec_quotes_a_path_with_reserved_characters():
    command = ["/opt/my apps/$HOME/100%/ddpm\\desktop", "-m", "ddpm_desktop"]
    entry = desktop_entry.desktop_entry_text(command)
    value = next(line for line in entry.splitlines() if line.startswith("Exec="))[5:]
    assert exec_argv(value.replace("%%", "%")) == command


def test_a_link_to_a_regular_file_is_kept_and_its_file_replaced_whole(tmp_path):
    """core.files' rule for every save: a link to a regular file stays a link, and the file
    it names is replaced atomically (never truncated and rewritten in place)."""
    outside = tmp_path / "outside.desktop"
    outside.write_text("someone's file\n")
    before = outside.stat().st_ino
    paths = desktop_entry.EntryPaths.under(tmp_path / "data")
    paths.desktop_file.parent.mkdir(parents=True)
    paths.desktop_file.symlink_to(outside)
    desktop_entry.install(tmp_path / "data", command=["/usr/bin/ddpm-desktop"])
    assert paths.desktop_file.is_symlink()
    assert read_entry(outside)["Name"] == "DDPM Desktop"
    assert outside.stat().st_ino != before  # a new file renamed over the old one


def test_a_link_to_a_device_is_refused(data_home, capsys):
    paths = desktop_entry.EntryPaths.under(data_home)
    paths.desktop_file.parent.mkdir(parents=True)
    paths.desktop_file.symlink_to(os.devnull)
    assert main(["--install-desktop-entry"]) == 2
    err = capsys.readouterr().err
    assert "ddpm-desktop: error:" in err and "regular file" in err and len(err.splitlines()) == 1
    assert paths.desktop_file.is_symlink()


def test_uninstall_leaves_a_link_and_a_file_it_did_not_write(data_home, tmp_path):
    paths = desktop_entry.EntryPaths.under(data_home)
    paths.desktop_file.parent.mkdir(parents=True)
    paths.desktop_file.write_text("[Desktop Entry]\nName=Mine\n")
    assert main(["--uninstall-desktop-entry"]) == 2
    assert paths.desktop_file.read_text() == "[Desktop Entry]\nName=Mine\n"

    desktop_entry.install(data_home, command=["/usr/bin/ddpm-desktop"])
    target = tmp_path / "elsewhere.svg"
    target.write_text("<svg/>")
    paths.icon_file.unlink()
    paths.icon_file.symlink_to(target)
    assert main(["--uninstall-desktop-entry"]) == 2
    assert paths.icon_file.is_symlink() and target.read_text() == "<svg/>"


def test_xdg_data_home_defaults_to_local_share_and_ignores_a_relative_value(tmp_path):
    home = str(tmp_path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", home)
        for value in (None, "", "relative/path"):
            env = {"HOME": home} if value is None else {"HOME": home, "XDG_DATA_HOME": value}
            assert desktop_entry.data_home(env) == tmp_path / ".local" / "share"
    assert desktop_entry.data_home({"XDG_DATA_HOME": "/x/y"}) == Path("/x/y")


def test_the_icon_is_a_square_svg_that_tools_make_icon_reproduces():
    svg = resources_path("ddpm-desktop.svg").read_bytes()
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, w, h = (float(v) for v in root.get("viewBox").split())
    assert w == h
    spec = importlib.util.spec_from_file_location("make_icon", ROOT / "tools" / "make_icon.py")
    make_icon = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_icon)
    assert make_icon.svg(make_icon.noised_digit()).encode("utf-8") == svg
