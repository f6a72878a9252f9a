"""Pieces the headless commands share: model loading, schedule flags, output checks.

Flag names are the same in every command: `--T` is the schedule length (the number of
diffusion steps; `--schedule-steps`, and `--steps` in `schedule` and `kl`, are kept as
aliases), `--steps` is the number of reverse steps a sampler takes (in `train`: optimizer
steps). Defaults come from core (`DEFAULT_SCHEDULE`, `DEFAULT_GUIDANCE`); core.schedule imports
only numpy, so building the parser stays fast.
"""
from __future__ import annotations

import argparse
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
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: 1 on a machine of 2 cores or fewer, else half the cores)")


def apply_threads(threads: int | None) -> None:
    import torch

    from ddpm_desktop.core.training import default_cpu_threads

    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be at least 1, got {threads}")
    torch.set_num_threads(threads or default_cpu_threads())


def add_sampler_args(p: argparse.ArgumentParser, default_steps_help: str) -> None:
    p.add_argument("--sampler", choices=SAMPLER_CHOICES, default="dpmpp")
    p.add_argument("--steps", type=int, default=None, help=default_steps_help)
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η (0: deterministic)")
    p.add_argument("--label", default=None,
                   help="class 0-9, 'all' to cycle through them, or 'none' (default none)")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance scale w (ε_u + w(ε_c − ε_u)) with a label; "
                        "default core.sampling.DEFAULT_GUIDANCE, the app's default")
    add_schedule_args(p)
    p.add_argument("--seed", type=seed_arg, default=0)


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


def schedule_from_args(args):
    from ddpm_desktop.core.schedule import NoiseSchedule

    return NoiseSchedule.named(args.schedule, args.T, args.beta_start, args.beta_end)


def guidance_from_args(args) -> float:
    """--guidance, or the one default the app uses too."""
    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE

    return DEFAULT_GUIDANCE if args.guidance is None else args.guidance


def check_out(path: str, suffixes: tuple[str, ...]) -> Path:
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"--out must end in {', '.join(suffixes)}, got '{out.name}'")
    if not out.parent.exists():
        raise ValueError(f"the folder of --out '{out.parent}' does not exist")
    if out.is_dir():
        raise ValueError(f"--out '{out}' is a folder")
    return out


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
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    if args.guidance is not None and not (-1e3 < args.guidance < 1e3):
        raise ValueError(f"--guidance must be a finite number, got {args.guidance}")
    if not (0.0 <= args.eta <= 1.0):
        raise ValueError(f"--eta must be in [0, 1], got {args.eta}")


def gif_frames(chain: list, limit: int = 200) -> list:
    """At most about `limit` evenly spaced states of a chain for a GIF, always keeping the last."""
    stride = max(1, len(chain) // limit)
    return chain[::stride] + ([chain[-1]] if (len(chain) - 1) % stride else [])
