"""Helpers for the reliability tests: a tiny U-Net, a few digits, CLI runners."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ddpm_desktop.core.model import ModelConfig

# ~10k parameters, one resolution, no attention: a forward+backward step takes milliseconds.
TINY = ModelConfig(base_channels=8, channel_mults=(1,), attention=False, emb_dim=16, groups=4)
REPO = Path(__file__).resolve().parents[2]


def tiny_model(seed: int = 0):
    import torch

    from ddpm_desktop.core.model import UNet

    torch.manual_seed(seed)
    return UNet(TINY)


def few_digits(n: int = 16):
    from ddpm_desktop.core.data import load_bundled_mnist

    return load_bundled_mnist("test").subset(np.arange(n))


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """ddpm_desktop.cli.main in-process -> (exit code, stdout, stderr). SystemExit is an exit code."""
    from ddpm_desktop.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def run_cli_subprocess(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "ddpm_desktop", *argv],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


def assert_one_line_error(rc, out: str, err: str) -> None:
    assert rc == 2, f"exit code {rc}, stderr: {err!r}"
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one stderr line, got {lines!r}"
