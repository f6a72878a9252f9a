"""Pieces the headless commands share: model loading, schedule flags, output checks.

Flag names are the same in every command: `--T` is the schedule length (the number of
diffusion steps; `--schedule-steps`, and `--steps` in `schedule` and `kl`, are kept as
aliases), `--steps` is the number of reverse steps a sampler takes (in `train`: optimizer
steps). Defaults come from core (`DEFAULT_SCHEDULE`, `DEFAULT_GUIDANCE`) and every help line
shows them as values; core.schedule imports only numpy, and a parser that needs a torch
module's default is built only when its command runs (cli.build_parser).
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE, SCHEDULE_KINDS

SAMPLER_CHOICES = ("ddpm", "ddim", "dpmpp")


def seed_arg(text: str) -> int:
    """argparse type for --seed: an integer torch.Generator accepts (0 .. 2^63 − 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be in 0..2^63-1, got {text}")
    return value


def add_schedule_args(p: argparse.ArgumentParser, t_aliases: tuple[str, ...] = ("--schedule-steps",)) -> None:
    """--schedule, --T (with `t_aliases`), --beta-start, --beta-end: the one schedule builder."""
    d = DEFAULT_SCHEDULE
    p.add_argument("--schedule", choices=SCHEDULE_KINDS, default=d["kind"],
                   help=f"β schedule (default {d['kind']})")
    p.add_argument("--T", *t_aliases, dest="T", type=int, default=d["T"], metavar="T",
                   help=f"schedule length: the number of diffusion steps T (default {d['T']})")
    p.add_argument("--beta-start", type=float, default=d["beta_start"],
                   help=f"β_1 (default {d['beta_start']:g}; cosine ignores it)")
    p.add_argument("--beta-end", type=float, default=d["beta_end"],
                   help=f"β_T (default {d['beta_end']:g}; cosine ignores it)")


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default=None, help="a .safetensors checkpoint (default: the bundled model)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda (default %(default)s)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: 1 on a machine of 2 cores or fewer, else half the cores)")


def add_digit_args(p: argparse.ArgumentParser,
                   image_help: str = "an image file (PNG, JPEG, BMP, GIF, TIFF, WebP or PNM)") -> None:
    """--image FILE | --index K, one of them required: the digit `digit_from_args` reads."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help=image_help)
    src.add_argument("--index", type=int, help="index into the bundled held-out MNIST digits (0-999)")


def add_label_guidance_args(p: argparse.ArgumentParser) -> None:
    """--label and --guidance for a command whose model can be conditioned on a class."""
    p.add_argument("--label", default=None, help="class 0-9 to condition on, or 'none' (default none)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale w with a label (default the app's)")


def check_guidance(w: float | None, flag: str = "--guidance") -> None:
    if w is not None and not (-1e3 < w < 1e3):
        raise ValueError(f"{flag} must be a finite number, got {w}")


def check_threads(threads: int | None, flag: str = "--threads") -> None:
    """At least 1 and at most this machine's cores: more only slows torch down."""
    cores = os.cpu_count() or 1
    if threads is not None and not 1 <= threads <= cores:
        raise ValueError(f"{flag} must be in 1..{cores} (this machine's cores), got {threads}")


def check_threads_or_auto(value: str, flag: str = "--threads") -> None:
    """`--threads` of the training commands: "auto" (measure and pick) or a number checked as
    `check_threads` checks it."""
    if value == "auto":
        return
    try:
        threads = int(value)
    except ValueError:
        raise ValueError(f"{flag} must be a number or auto, got {value!r}") from None
    check_threads(threads, flag)


def apply_threads(threads: int | None) -> None:
    import torch

    from ddpm_desktop.core.training import default_cpu_threads

    check_threads(threads)
    torch.set_num_threads(threads or default_cpu_threads())


MIN_FPS, MAX_FPS = 0.1, 100.0  # a GIF stores delays in 1/100 s; browsers show at most 50 fps


def check_fps(fps: float) -> None:
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ValueError(f"--fps must be a number in {MIN_FPS:g}..{MAX_FPS:g}, got {fps}")


def check_int_range(flag: str, value: int, lo: int, hi: int) -> None:
    if not lo <= value <= hi:
        raise ValueError(f"{flag} must be in {lo}..{hi}, got {value}")


def available_memory() -> int | None:
    """Bytes of RAM available to a new allocation (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def unet_bytes(config, batch: int, training: bool = False) -> int:
    """A rough upper estimate of the memory a U-Net pass over `batch` images takes.

    Activations: each level keeps about (4 per residual block + 4) feature maps of its width
    and resolution alive (skips for the up path, norms and SiLUs); attention adds its 49×49
    scores. Training keeps all of them for backward (×4) plus weights, gradients and Adam's
    two moments. float32 throughout.
    """
    side, per_image = config.image_size, 0
    for level, mult in enumerate(config.channel_mults):
        hw = (side // 2 ** level) ** 2
        per_image += (4 * config.num_res_blocks + 4) * config.base_channels * mult * hw
    if config.attention:
        per_image += 3 * ((side // 2 ** (len(config.channel_mults) - 1)) ** 2) ** 2
    c = config.base_channels * max(config.channel_mults)
    params = 40 * c * c * (len(config.channel_mults) * (2 * config.num_res_blocks + 1) + 2)
    # × 4 bytes × 2: the count above, checked against the peak RSS of real passes (inference and
    # training, widths 16 and 64), came out at about half of it.
    act = 8 * per_image * batch
    need = (4 * act + 4 * 4 * params) if training else (act + 4 * params)
    # + 25%: the peak RSS of the same pass varies from run to run (allocator reuse, lazily loaded
    # kernels); a width-16, batch-512 pass once measured 668 MiB against 667 estimated.
    return int(need * 1.25)


def check_memory(need: int, what: str) -> None:
    """Refuse `what` up front when it would need more than ~80% of the available memory."""
    have = available_memory()
    if have is not None and need > 0.8 * have:
        raise ValueError(f"{what} would need about {need / 2**30:.1f} GiB of memory; "
                         f"{have / 2**30:.1f} GiB is available (use smaller values)")


def readings_text(readings) -> str:
    """The classifier's readings of N completions in words: 'all 8 read 0', '5 read 0, 3 read 6'."""
    import numpy as np

    counts = np.bincount(np.asarray(readings, np.int64), minlength=10)
    if np.count_nonzero(counts) == 1:
        return f"all {len(readings)} read {int(np.argmax(counts))}"
    return ", ".join(f"{c} read {d}" for d, c in sorted(enumerate(counts), key=lambda dc: -dc[1]) if c)


def add_sampler_args(p: argparse.ArgumentParser, default_steps_help: str) -> None:
    # distilled: the bundled 1-4 step student (commands/_distilled.py)
    p.add_argument("--sampler", choices=SAMPLER_CHOICES + ("distilled",), default="dpmpp",
                   help="ddpm (Ho et al. 2020, every step), ddim (Song et al. 2021), dpmpp "
                        "(DPM-Solver++(2M), Lu et al. 2022) or distilled (the bundled 1-4 step student)")
    p.add_argument("--steps", type=int, default=None, help=default_steps_help)
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η (0: deterministic)")
    p.add_argument("--label", default=None,
                   help="class 0-9, 'all' to cycle through them, or 'none' (default none)")
    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE  # torch: built only when this command runs

    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale w (ε_u + w(ε_c − ε_u)) with a label "
                        f"(default {DEFAULT_GUIDANCE:g}, as the app)")
    add_schedule_args(p)
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the random draws (x_T and the sampler's noise): the same seed "
                        "gives the same pixels on CPU and CUDA")


def load_model_arg(path: str | None, device):
    """The model named by --checkpoint, or the bundled one; ValueError when there is none."""
    from ddpm_desktop.core import checkpoint

    if path is None:
        bundled = checkpoint.bundled_model_path()
        if bundled is None:
            raise ValueError("no --checkpoint given and this build has no bundled model; "
                             "train one with `ddpm-desktop train`")
        path = bundled
    return checkpoint.load_model(path, device=device)


def model_on_device(args):
    """(model, device): --threads applied, the --checkpoint model (or the bundled one) on --device."""
    from ddpm_desktop.core.training import resolve_device

    device = resolve_device(args.device)
    apply_threads(args.threads)
    model, _meta = load_model_arg(args.checkpoint, device)
    return model, device


def schedule_from_args(args):
    from ddpm_desktop.core.schedule import NoiseSchedule

    return NoiseSchedule.named(args.schedule, args.T, args.beta_start, args.beta_end)


def guidance_from_args(args) -> float:
    """--guidance, or the one default the app uses too."""
    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE

    return DEFAULT_GUIDANCE if args.guidance is None else args.guidance


def check_out(path: str, suffixes: tuple[str, ...], flag: str = "--out") -> Path:
    """An output path with one of `suffixes` that can be written (core.files.check_writable)."""
    from ddpm_desktop.core.files import check_writable

    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"{flag} must end in {', '.join(suffixes)}, got '{out.name}'")
    return check_writable(out)


def labels_from_arg(label: str | None, n: int, num_classes: int = 10):
    """--label → a long tensor [n] or None; 'all' cycles 0..num_classes-1."""
    import torch

    if label is None or str(label).lower() == "none":
        return None
    if str(label).lower() == "all":
        return torch.arange(n) % num_classes
    try:
        value = int(label)
    except ValueError:
        raise ValueError(f"--label must be a class 0-{num_classes - 1}, 'all' or 'none', got {label!r}") from None
    if not 0 <= value < num_classes:
        raise ValueError(f"--label must be a class 0-{num_classes - 1}, got {value}")
    return torch.full((n,), value, dtype=torch.long)


def check_sampler_args(args, t_max: int) -> None:
    if args.steps is not None and not 1 <= args.steps <= t_max:
        raise ValueError(f"--steps must be in 1..{t_max} (T), got {args.steps}")
    check_guidance(args.guidance)
    if not (0.0 <= args.eta <= 1.0):
        raise ValueError(f"--eta must be in [0, 1], got {args.eta}")


def warn_if_not_noise(schedule) -> None:
    """Sampling starts from x_T ~ N(0, I): say so when the schedule leaves signal in x_T."""
    import sys

    from ddpm_desktop.core.schedule import prior_warning

    warning = prior_warning(schedule)
    if warning:
        print(f"ddpm-desktop: warning: {warning}", file=sys.stderr)


def gif_frames(chain: list, limit: int = 200) -> list:
    """At most about `limit` evenly spaced states of a chain for a GIF, always keeping the last."""
    stride = max(1, len(chain) // limit)
    return chain[::stride] + ([chain[-1]] if (len(chain) - 1) % stride else [])


def digit_from_args(args):
    """(x_0 float32 [28, 28] in [-1, 1], its label or -1, a description) from `--image FILE`
    or `--index K` (a bundled held-out digit)."""
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.data import load_bundled_mnist

    if args.image is not None:
        return imaging.load_digit(args.image), -1, args.image
    test = load_bundled_mnist("test")
    if not 0 <= args.index < len(test.images):
        raise ValueError(f"--index must be in 0..{len(test.images) - 1}, got {args.index}")
    return (imaging.to_model_range(test.images[args.index]), int(test.labels[args.index]),
            f"bundled held-out digit {args.index}")
