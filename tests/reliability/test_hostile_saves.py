"""Saving replaces only a regular file (or creates one), whatever a link points at; Export asks
before replacing a file it did not write and always keeps the extension of what it writes."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from ddpm_desktop.core import files
from ddpm_desktop.core.imaging import save_png

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")


def _is_fifo(p) -> bool:
    return stat.S_ISFIFO(os.lstat(p).st_mode)


def test_link_to_a_fifo_is_refused_and_the_fifo_kept(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "settings.ini"
    link.symlink_to(fifo)
    with pytest.raises(OSError, match="special file") as info:
        files.atomic_write_bytes(link, b"x")
    assert "\n" not in str(info.value) and "settings.ini" in str(info.value)
    assert _is_fifo(fifo) and link.is_symlink()
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".*.tmp"))


def test_link_to_dev_zero_is_refused(tmp_path):
    link = tmp_path / "settings.ini"
    link.symlink_to("/dev/zero")
    with pytest.raises(OSError, match="link to a special file"):
        files.check_writable_target(link)
    assert stat.S_ISCHR(os.stat("/dev/zero").st_mode)


def test_dangling_link_and_link_to_folder_are_refused(tmp_path):
    dangling = tmp_path / "a.png"
    dangling.symlink_to(tmp_path / "elsewhere" / "missing.png")
    with pytest.raises(OSError, match="missing file"):
        save_png(np.zeros((4, 4), np.uint8), dangling)
    folder_link = tmp_path / "b.png"
    folder_link.symlink_to(tmp_path)
    with pytest.raises(OSError, match="folder"):
        save_png(np.zeros((4, 4), np.uint8), folder_link)
    assert dangling.is_symlink() and folder_link.is_symlink()


def test_link_to_a_regular_file_writes_the_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    files.atomic_write_bytes(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_target_swapped_for_a_fifo_while_writing_is_not_replaced(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(b"new")
        target.unlink()
        os.mkfifo(target)  # another program swaps a FIFO in while we write

    with pytest.raises(OSError, match="no longer a regular file"):
        files.atomic_write(target, write)
    assert _is_fifo(target)
    assert not list(tmp_path.glob(".*.tmp"))


# ----------------------------------------------------------------------------- Export

def test_export_keeps_the_extension_it_writes(tmp_path):
    from ddpm_desktop.ui.export_state import ExportSettings

    bashrc = tmp_path / ".bashrc"
    assert ExportSettings(format="gif", path=str(bashrc)).target() == tmp_path / ".bashrc.gif"
    assert ExportSettings(format="webp", path=str(tmp_path / "notes.txt")).target() == tmp_path / "notes.txt.webp"
    assert ExportSettings(format="gif", path=str(tmp_path / "a.png")).target() == tmp_path / "a.gif"
    assert ExportSettings(format="png", path=str(tmp_path / "a.png")).target() == tmp_path / "a.png"


@pytest.fixture
def session(qtbot):
    from ddpm_desktop.ui.controller import WorkerController
    from ddpm_desktop.ui.session import Session

    s = Session(WorkerController())
    s.schedule_state.set_params(T=9)
    yield s
    s.shutdown()


def test_export_never_replaces_a_file_it_did_not_write_without_asking(qtbot, session, tmp_path):
    existing = tmp_path / "chain.gif"
    existing.write_bytes(b"the user's own file")
    session.export.update(path=str(existing), scale=1)  # as a session or settings file would
    errors = []
    session.error.connect(lambda message, details: errors.append(message))
    assert session.exporter.start() is False
    assert existing.read_bytes() == b"the user's own file"
    assert errors and "already exists" in errors[-1] and "\n" not in errors[-1]
    # Confirmed: replaced; and a file written in this run is replaced again without asking.
    session.export.allow_replacing(existing)
    with qtbot.waitSignal(session.exported, timeout=20_000):
        assert session.exporter.start()
    assert existing.read_bytes()[:3] == b"GIF"
    fresh = tmp_path / "new.gif"
    session.export.update(path=str(fresh))
    for _ in range(2):  # created, then replaced: both without asking
        with qtbot.waitSignal(session.exported, timeout=20_000):
            assert session.exporter.start()
    assert fresh.read_bytes()[:3] == b"GIF"


def test_export_dialog_asks_and_a_no_writes_nothing(qtbot, session, tmp_path, monkeypatch):
    from ddpm_desktop.ui.widgets.export_dialog import ExportDialog

    d = ExportDialog(session.export, session.exporter.chains_lengths)
    d.export_requested.connect(session.exporter.start)
    qtbot.addWidget(d)
    existing = tmp_path / "chain.gif"
    existing.write_bytes(b"keep me")
    session.export.update(path=str(existing), scale=1)
    d.refresh()
    asked = []
    monkeypatch.setattr(d, "confirm_replace", lambda path: asked.append(path) or False)
    d.export_button.click()
    assert asked == [existing] and not session.exporter.is_running()
    assert existing.read_bytes() == b"keep me"
    monkeypatch.setattr(d, "confirm_replace", lambda path: asked.append(path) or True)
    with qtbot.waitSignal(session.exported, timeout=20_000):
        d.export_button.click()
    assert len(asked) == 2 and existing.read_bytes()[:3] == b"GIF"
