"""The command line that reproduces an app run: `RunSpec` and the `ddpm-desktop ...` builders.

`RunSpec` is one reverse run as plain values; `reverse_command(spec)` and
`export_command(spec, ...)` build the `ddpm-desktop ...` line that reproduces it (the app's
File > Copy as command fills the spec from the session's states; the commands' flags that read
these seeds are commands/_reproduce.py's). `bundled_digit_index(digit)` finds a digit among the
bundled held-out digits the commands' --index reads. Pure functions; no Qt, no torch at import.
"""
from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field

from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE

PROG = "ddpm-desktop"


@dataclass(frozen=True)
class RunSpec:
    """One reverse run of the app, as plain values.

    schedule: kind, T, beta_start, beta_end; source "noise" (x_T drawn from `start` with
    `x_seed`) or "input" (the forward chain of the bundled held-out digit `digit_index`, noise
    seed `noise_seed`, at t_start); steps None = the sampler's default; checkpoint None = the
    bundled model.
    """

    schedule: dict = field(default_factory=lambda: dict(DEFAULT_SCHEDULE))
    sampler: str = "ddpm"
    steps: int | None = None
    eta: float = 0.0
    label: int | None = None
    guidance: float = 1.0
    seed: int = 0
    source: str = "noise"
    t_start: int = 500
    x_seed: int = 0
    start: str = "gaussian"
    start_params: dict = field(default_factory=dict)
    noise_seed: int = 0
    digit_index: int | None = None
    checkpoint: str | None = None
    device: str = "cpu"


def _g(v: float) -> str:
    """A float that reads back to the same double (repr), without a trailing .0 noise."""
    if not math.isfinite(v):
        raise ValueError(f"{v} cannot be written as a command-line number")
    return repr(float(v))


def _schedule_flags(spec: RunSpec) -> list[str]:
    sch = spec.schedule
    args = ["--schedule", str(sch["kind"]), "--T", str(int(sch["T"]))]
    if sch["kind"] != "cosine":
        args += ["--beta-start", _g(sch["beta_start"]), "--beta-end", _g(sch["beta_end"])]
    return args


def _sampler_flags(spec: RunSpec) -> list[str]:
    args = ["--sampler", spec.sampler]
    if spec.steps is not None:
        args += ["--steps", str(int(spec.steps))]
    if spec.sampler == "ddim":
        args += ["--eta", _g(spec.eta)]
    args += ["--label", "none" if spec.label is None else str(int(spec.label)),
             "--guidance", _g(spec.guidance), "--seed", str(int(spec.seed))]
    if spec.checkpoint is not None:
        args += ["--checkpoint", spec.checkpoint]
    return args + ["--device", spec.device]


def _source_flags(spec: RunSpec, reconstruct_t: bool) -> list[str]:
    if spec.source == "input":
        if spec.digit_index is None:
            raise ValueError("the digit is not one of the bundled held-out digits, so no command "
                             "can name it: pick one in the Input dock's MNIST browser")
        return ((["--t", str(int(spec.t_start))] if reconstruct_t else [])
                + ["--index", str(int(spec.digit_index)), "--noise-seed", str(int(spec.noise_seed))])
    flags = ["--x-seed", str(int(spec.x_seed))]
    if spec.start != "gaussian":
        flags += ["--start", spec.start]
        for key, value in sorted(spec.start_params.items()):
            flags += ["--start-param", f"{key}={_g(value)}"]
    return flags


def reverse_command(spec: RunSpec, out: str | None = None) -> str:
    """`ddpm-desktop sample ... --n 1` (from noise) or `ddpm-desktop reconstruct ...` (from the
    noised digit) that gives the pixels of the app's run; ValueError when no command can."""
    if spec.source == "input":
        words = [PROG, "reconstruct"] + _source_flags(spec, True) + _schedule_flags(spec) \
            + _sampler_flags(spec)
        words += ["--out", out or "ddpm_reconstruct.png"]
    else:
        words = [PROG, "sample", "--n", "1"] + _source_flags(spec, True) + _schedule_flags(spec) \
            + _sampler_flags(spec)
        words += ["--out", out or "ddpm_sample.png"]
    return shlex.join(words)


def export_command(spec: RunSpec, chain: str, out: str, fps: float = 20.0, scale: int = 12,
                   histogram: bool = False, kl: bool = False, frames: int | None = None,
                   theme: str = "dark", key_frames: int | None = None,
                   forward_seed: int | None = None) -> str:
    """`ddpm-desktop export ...` for an export of `chain` ("forward", "reverse", "both") of the
    app's chains: the forward chain of the digit (noise seed `forward_seed`, default the
    spec's), the reverse run `spec`. ValueError when no command can name the digit."""
    words = [PROG, "export", "--chain", chain]
    if chain in ("forward", "both") and spec.digit_index is None:
        raise ValueError("the digit is not one of the bundled held-out digits, so no command "
                         "can name it: pick one in the Input dock's MNIST browser")
    if spec.digit_index is not None:
        words += ["--index", str(int(spec.digit_index))]
    if chain == "forward":
        words += ["--noise-seed", str(int(spec.noise_seed if forward_seed is None else forward_seed))]
    else:
        if spec.source == "input":
            words += ["--t", str(int(spec.t_start)), "--noise-seed", str(int(spec.noise_seed))]
        else:
            words += _source_flags(spec, False)
            if chain == "both":
                words += ["--noise-seed", str(int(spec.noise_seed))]
    if histogram:
        words.append("--histogram")
    if kl:
        words.append("--kl")
    words += ["--scale", str(int(scale)), "--fps", _g(fps), "--theme", theme]
    n = frames if not out.lower().endswith(".png") else key_frames
    if n is not None:
        words += ["--frames", str(int(n))]
    words += _schedule_flags(spec)
    if chain != "forward":
        words += _sampler_flags(spec)
    words += ["--out", out]
    return shlex.join(words)


def bundled_digit_index(digit) -> int | None:
    """The index of `digit` (float32 [28, 28] in [-1, 1]) among the bundled held-out MNIST
    digits the commands' --index reads, or None (compared pixel for pixel)."""
    import numpy as np

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.data import load_bundled_mnist

    test = load_bundled_mnist("test")
    images = imaging.to_model_range(test.images).astype(np.float32).reshape(len(test.images), -1)
    target = np.asarray(digit, dtype=np.float32).reshape(1, -1)
    hits = np.flatnonzero(np.all(images == target, axis=1))
    return int(hits[0]) if hits.size else None
