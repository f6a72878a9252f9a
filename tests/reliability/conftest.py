"""Fixtures for the reliability tests (helpers live in reliability_helpers.py)."""
import subprocess
import uuid

import pytest


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KiB tmpfs mounted at a fresh folder (root only); skips where mounting is refused."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
