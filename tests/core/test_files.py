"""core.files: the one atomic writer, its orphan cleaner and the "can I write here" check."""
from __future__ import annotations

import errno
import os
import stat
import subprocess

import numpy as np
import pytest

from ddpm_desktop.core import files, imaging


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    files.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_new_file_gets_the_umask_mode_not_mkstemps_0600(tmp_path):
    target = files.atomic_write_bytes(tmp_path / "n.bin", b"x")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")  # what open() gives
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_failing_write_keeps_the_old_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    class Cancelled(Exception):
        pass

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise Cancelled

    with pytest.raises(Cancelled):
        files.atomic_write(target, write)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


@pytest.mark.parametrize("code, why", [(errno.ENOSPC, "no space left"), (errno.EROFS, "read-only"),
                                       (errno.EACCES, "permission denied")])
def test_write_errors_name_the_users_file_and_the_reason_never_the_temp(tmp_path, code, why):
    target = tmp_path / "digits.png"
    target.write_bytes(b"old")

    def write(tmp):
        raise OSError(code, os.strerror(code), tmp)

    with pytest.raises(OSError) as info:
        files.atomic_write(target, write)
    message = str(info.value)
    assert f"'{target}'" in message and why in message and ".tmp" not in message
    assert info.value.errno == code
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["digits.png"]


def test_image_writers_go_through_the_one_writer(tmp_path, monkeypatch):
    seen = []
    real = files.atomic_write
    monkeypatch.setattr(files, "atomic_write", lambda path, write: seen.append(path) or real(path, write))
    imaging.save_png(np.zeros((4, 4), np.uint8), tmp_path / "a.png")
    imaging.save_gif([np.zeros((4, 4), np.uint8)] * 2, tmp_path / "a.gif")
    assert [p.name for p in map(type(tmp_path), seen)] == ["a.png", "a.gif"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "a.png"]


def test_cleaner_removes_dead_writers_temps_of_every_known_name_only(tmp_path):
    dead = _dead_pid()
    target = tmp_path / "m.gif"
    orphans = [tmp_path / f".m.gif.{dead}-abc123.tmp",     # today's name
               tmp_path / f".m.gif.{dead}.tmp",            # older checkpoint writer
               tmp_path / f".m.gif.{dead}.0badc0de.export"]  # older GIF export
    keep = [tmp_path / f".m.gif.{os.getppid()}-abc.tmp",   # a live writer's
            tmp_path / f".other.gif.{dead}-abc.tmp",       # another file's
            tmp_path / f"m.gif.{dead}-abc.tmp"]            # not hidden: the user's own file
    for p in orphans + keep:
        p.write_bytes(b"x")
    removed = files.clean_orphaned_temps(target)
    assert sorted(removed) == sorted(orphans)
    assert all(p.exists() for p in keep)


def test_writer_uses_a_name_its_cleaner_knows(tmp_path, monkeypatch):
    seen = []

    def write(tmp):
        seen.append(os.path.basename(tmp))
        open(tmp, "wb").close()

    files.atomic_write(tmp_path / "x.npz", write)
    import re

    m = re.match(files.TEMP_PATTERN.format(name=re.escape("x.npz")), seen[0])
    assert m and int(m.group(1)) == os.getpid()


def test_check_writable_reasons(tmp_path):
    assert files.check_writable(tmp_path / "ok.png") == tmp_path / "ok.png"
    with pytest.raises(OSError, match="does not exist") as info:
        files.check_writable(tmp_path / "missing" / "a.png")
    assert "a.png" in str(info.value)
    with pytest.raises(OSError, match="is a folder"):
        files.check_writable(tmp_path)
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError, match="not a folder"):
        files.check_writable(tmp_path / "f" / "a.png")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="special file"):
        files.check_writable(fifo)
    with pytest.raises(ValueError, match="no file name"):
        files.check_writable("")


def test_check_writable_permission_and_read_only(tmp_path, monkeypatch):
    existing = tmp_path / "r.png"
    existing.write_bytes(b"x")
    # Tests may run as root, for whom os.access always says yes: ask it to say no.
    monkeypatch.setattr(files.os, "access", lambda p, mode: os.fspath(p) != os.fspath(existing))
    with pytest.raises(OSError, match="the file is read-only"):
        files.check_writable(existing)
    monkeypatch.setattr(files.os, "access", lambda p, mode: False)
    with pytest.raises(OSError, match="permission denied for the folder"):
        files.check_writable(tmp_path / "new.png")
    monkeypatch.setattr(files, "_read_only_fs", lambda folder: True)
    with pytest.raises(OSError, match="read-only file system"):
        files.check_writable(tmp_path / "new.png")


def _special_files(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    return fifo, zero


@pytest.mark.parametrize("loader", ["image", "checkpoint"])
def test_read_errors_give_the_right_reason(tmp_path, monkeypatch, loader):
    from ddpm_desktop.core.checkpoint import load_model

    load = imaging.load_digit if loader == "image" else load_model
    fifo, zero = _special_files(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    cases = {fifo: "special file", zero: "special file", tmp_path / "empty.png": "empty",
             tmp_path / "folder.png": "folder", tmp_path / "missing.png": "no such file|does not exist"}
    for path, why in cases.items():
        with pytest.raises(ValueError, match=why) as info:
            load(path)  # a FIFO would block here if it were opened
        assert path.name in str(info.value) and "\n" not in str(info.value)

    locked = tmp_path / "locked.png"
    locked.write_bytes(b"\x89PNG not really")
    real_open = open

    def no_permission(p, *a, **k):  # tests may run as root, whom chmod does not stop
        if os.fspath(p) == os.fspath(locked):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(p))
        return real_open(p, *a, **k)

    monkeypatch.setattr(files, "open", no_permission, raising=False)
    with pytest.raises(ValueError, match="permission denied"):
        load(locked)
