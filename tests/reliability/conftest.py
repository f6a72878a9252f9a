"""Fixtures for the reliability tests (helpers live in reliability_helpers.py)."""
import subprocess
import uuid
from pathlib import Path

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


_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    """Every reliability test is in the slow tier: fuzzing, fault injection and the CLI's bounds
    run hundreds of subprocesses and cases (measured one file at a time, 4 of the suite's 76
    files took a quarter of its time); the quick tier (-m "not slow") keeps the unit tests of
    the same modules."""
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.slow)
