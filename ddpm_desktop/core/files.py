"""The user's files: one atomic writer, one orphan cleaner, "can I write / read this" checks.

Every file this project writes (checkpoints, training states, PNG, GIF, .npz, exports) goes
through `atomic_write`: the content goes to a temporary file in the target's own folder
(same file system, so the rename is atomic), is fsynced, then `os.replace`d over the target,
and the folder is fsynced so the rename survives a power cut. A reader therefore sees the old
file or the new one, never half of one, and a full disk or a kill leaves the old file intact.

The temporary file is `.NAME.<pid>-<random>.tmp` beside NAME (`TEMP_PATTERN`); the pid lets a
later write of NAME tell a killed writer's leftover from one still running, so
`clean_orphaned_temps` removes only the former. Every error names the user's file and the
reason in one line, never the temporary file.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Callable

# .NAME.<pid>-<random>.tmp; the cleaner also knows the names earlier versions used
# (.NAME.<pid>.tmp for checkpoints, .NAME.<pid>.<hex>.export for the app's GIF export).
TEMP_PATTERN = r"\.{name}\.(\d+)(?:-\w+\.tmp|\.tmp|\.[0-9a-f]+\.export)$"

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "it is a folder",
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EFBIG: "the file is too large for this file system",
    errno.EIO: "an input/output error on the device",
}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def reason(exc: BaseException) -> str:
    """A short human reason for an OSError (from its errno), without any file name in it."""
    if isinstance(exc, OSError) and exc.errno in _REASONS:
        return _REASONS[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__


def write_error(path: str | os.PathLike, exc: BaseException) -> OSError:
    """OSError "cannot write 'PATH': reason", keeping the errno, for `raise ... from None`."""
    err = OSError(f"cannot write '{path}': {reason(exc)}")
    err.errno = getattr(exc, "errno", None)
    return err


def check_writable(path: str | os.PathLike) -> Path:
    """Raise a one-line error naming `path` if it clearly cannot be written; else the Path.

    ValueError: no file name given. OSError: the path is a folder or a special file (a FIFO,
    a device), its folder is missing or not a folder, the folder is not writable (permission,
    read-only file system), or the file itself is read-only. Checks only what can be known
    before writing; a full disk shows up in `atomic_write`.
    """
    p = Path(os.path.expanduser(os.fspath(path)))
    if not os.fspath(path) or not p.name or p.name in (".", ".."):
        raise ValueError("no file name given")
    try:
        st = p.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise write_error(p, exc) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OSError(f"cannot write '{p}': it is a folder")
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"cannot write '{p}': it is a special file (a pipe or a device), not a regular file")
    folder = p.parent
    if not folder.exists():
        raise OSError(f"cannot write '{p}': the folder '{folder}' does not exist")
    if not folder.is_dir():
        raise OSError(f"cannot write '{p}': '{folder}' is not a folder")
    if _read_only_fs(folder):
        raise OSError(f"cannot write '{p}': the folder '{folder}' is on a read-only file system")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(f"cannot write '{p}': permission denied for the folder '{folder}'")
    if st is not None and not os.access(p, os.W_OK):
        raise OSError(f"cannot write '{p}': the file is read-only")
    return p


def unreadable_reason(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a file, in a few words, or None when it can be opened.

    In this order: "no such file", "permission denied", "it is a folder", "it is a special
    file ..." (a FIFO, a device, a link to /dev/zero: reading one could block or never end),
    "the file is empty". Whether its content is damaged is for the reader of its format.
    """
    try:
        st = os.stat(path)  # follows links: a link to /dev/zero is a device
    except FileNotFoundError:
        return "no such file"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return reason(exc)
    if stat.S_ISDIR(st.st_mode):
        return "it is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "it is a special file (a pipe or a device), not a regular file"
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return reason(exc)
    if st.st_size == 0:
        return "the file is empty"
    return None


class FileTooLarge(OSError):
    """`read_regular` met a file larger than its limit."""


def read_regular(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The whole content of a regular file of at most `max_bytes` bytes, read in one go.

    The file is opened without blocking and checked on the open descriptor, so a FIFO or a
    device swapped in after `unreadable_reason` looked is still refused, and nothing past
    `max_bytes + 1` bytes is ever read. OSError (one line naming `path`) otherwise;
    `FileTooLarge` when the file is over the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise OSError(f"cannot read '{path}': {reason(exc)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"cannot read '{path}': it is a special file (a pipe or a device), "
                          "not a regular file")
        if st.st_size > max_bytes:
            raise FileTooLarge(f"cannot read '{path}': it is {st.st_size / 2**20:.0f} MB "
                               f"(limit {max_bytes / 2**20:.0f} MB)")
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:  # it grew while being read
            raise FileTooLarge(f"cannot read '{path}': it is over {max_bytes / 2**20:.0f} MB")
        return b"".join(chunks)
    except FileTooLarge:
        raise
    except OSError as exc:
        if str(exc).startswith("cannot read"):
            raise
        raise OSError(f"cannot read '{path}': {reason(exc)}") from None
    finally:
        os.close(fd)


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def clean_orphaned_temps(target: str | os.PathLike) -> list[Path]:
    """Remove temporary files of `target` left beside it by writers that no longer run."""
    target = Path(target)
    pattern = re.compile(TEMP_PATTERN.format(name=re.escape(target.name)))
    removed: list[Path] = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        # Our own pid: maybe another thread of ours, writing now.
        if not m or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
            continue
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or a number we cannot check: leave it alone
    return True


def check_writable_target(path: str | os.PathLike) -> Path:
    """The file a write of `path` must replace: `path` itself, or the regular file a link at
    `path` points to. Raise a one-line OSError naming `path` otherwise.

    Only a regular file, or a name that does not exist yet, is ever replaced: a link to a
    device, a FIFO, a folder or a missing file is refused, never replaced by a regular file
    (run as root, replacing a link's target `/dev/zero` replaces the device node itself). Also
    every check of `check_writable` on the final file. For writers that do not go through
    `atomic_write` (Qt's QSettings) to call before they write.
    """
    p = Path(os.path.expanduser(os.fspath(path)))
    if not os.fspath(path) or not p.name or p.name in (".", ".."):
        raise ValueError("no file name given")
    try:
        is_link = stat.S_ISLNK(os.lstat(p).st_mode)
    except FileNotFoundError:
        is_link = False
    except OSError as exc:
        raise write_error(p, exc) from None
    if is_link:
        try:
            target = p.resolve(strict=True)
        except (OSError, RuntimeError):
            raise OSError(f"cannot write '{p}': it is a link to a missing file") from None
        try:
            st = os.stat(target)
        except OSError as exc:
            raise write_error(p, exc) from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a special file (a pipe or a device)"
            raise OSError(f"cannot write '{p}': it is a link to {kind}, not to a regular file")
        p = target
    check_writable(p)
    return p


def _still_replaceable(path: Path) -> bool:
    """True when `path` is (still) a regular file or does not exist, without following links."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call `write(tmp_path)` on a temporary file beside `path`, fsync it, then replace `path`.

    `path` may be a link to a regular file: then that file is replaced and the link kept
    (`check_writable_target`); anything that is not a regular file is refused, also when it
    is swapped in while the content is being written. On any failure (including an
    exception raised by `write`, e.g. a cancel) the temporary file is removed and `path` is
    left as it was. OSErrors come out as one line naming `path` and the reason; other
    exceptions pass through unchanged. Returns `path`.
    """
    path = Path(path)
    target = check_writable_target(path)
    clean_orphaned_temps(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        try:
            mode = stat.S_IMODE(os.lstat(target).st_mode)  # keep an existing file's permissions
        except OSError:
            mode = 0o666 & ~_UMASK  # what open() would have given a new file
        os.chmod(tmp, mode)
        if not _still_replaceable(target):
            raise OSError(f"cannot write '{path}': it is no longer a regular file")
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and str(exc).startswith("cannot write"):
            raise
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    _fsync_folder(target.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (see `atomic_write`)."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable; some file systems refuse to fsync a folder, which is harmless."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
