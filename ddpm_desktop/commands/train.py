"""`ddpm-desktop train`: train ε_θ headless (Algorithm 1), with checkpoints and a loss log.

Under `torchrun --nproc_per_node N -m ddpm_desktop train ...` the same loop trains
data-parallel (gloo on CPU, nccl on CUDA); rank 0 writes the checkpoint and the log.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def add_parser(sub) -> None:
    from ._common import seed_arg

    p = sub.add_parser("train", help="train the denoising network (headless)",
                       description="Train the denoising network ε_θ on a dataset (DDPM Algorithm 1).")
    p.add_argument("--data", default="mnist",
                   help="mnist (bundled train split), fashion, a folder of IDX files or of images")
    p.add_argument("--steps", type=int, default=10_000, help="total optimizer steps (default 10000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    cond = p.add_mutually_exclusive_group()
    cond.add_argument("--conditional", dest="conditional", action="store_true", default=True,
                      help="learn class-conditional ε with a null label (default)")
    cond.add_argument("--unconditional", dest="conditional", action="store_false")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    p.add_argument("--threads", default="auto",
                   help="CPU threads: a number, or auto to measure and pick the fastest")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--base-channels", type=int, default=None, help="U-Net width (default 16)")
    p.add_argument("--out", default="model.safetensors", help="checkpoint to write (.safetensors)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--save-every", type=int, default=1000, help="save every N steps (0: only at the end)")
    p.add_argument("--log", default=None, help="CSV file for the loss by step")
    p.add_argument("--log-every", type=int, default=50)
    p.set_defaults(run=run)


def _setup_distributed(device: str):
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    backend = "nccl" if torch.cuda.is_available() and device != "cpu" else "gloo"
    torch.distributed.init_process_group(backend=backend)
    rank = torch.distributed.get_rank()
    if backend == "nccl":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    else:
        device = "cpu"
    return rank, world, device


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    if args.save_every < 0 or args.log_every < 1:
        raise ValueError("--save-every must be >= 0 and --log-every >= 1")
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors, got '{out.name}'")
    if out.parent and not out.parent.exists():
        raise ValueError(f"the folder of --out '{out.parent}' does not exist")
    if not 1 <= args.batch_size <= 65536:
        raise ValueError(f"--batch-size must be in 1..65536, got {args.batch_size}")
    if not 0 < args.lr < 1:
        raise ValueError(f"--lr must be in (0, 1), got {args.lr}")
    if args.threads != "auto":
        try:
            threads = int(args.threads)
        except ValueError:
            raise ValueError(f"--threads must be a number or auto, got {args.threads!r}") from None
        if threads < 1:
            raise ValueError("--threads must be at least 1")

    import torch

    from ddpm_desktop.core import checkpoint, data
    from ddpm_desktop.core.model import ModelConfig
    from ddpm_desktop.core.training import (TrainConfig, Trainer, TrainingDivergedError,
                                            choose_num_threads, resolve_device)

    rank, world, device = _setup_distributed(args.device)
    say = (lambda *a: print(*a, file=sys.stderr)) if rank == 0 else (lambda *a: None)
    dev = resolve_device(device)
    dataset = data.load_dataset(args.data)
    if dev.type == "cpu":
        if args.threads == "auto":
            best, rates = choose_num_threads()
            torch.set_num_threads(best)
            say("threads: " + ", ".join(f"{n}: {r:.0f} img/s" for n, r in rates.items()) + f" -> {best}")
        else:
            torch.set_num_threads(int(args.threads))

    if args.resume:
        overrides = {"lr": args.lr, "batch_size": args.batch_size}
        trainer = checkpoint.load_trainer(args.resume, dataset, device=dev, steps=args.steps, **overrides)
        say(f"resumed '{args.resume}' at step {trainer.step}")
    else:
        model_cfg = TrainConfig().model
        if args.base_channels is not None:
            model_cfg = ModelConfig(**{**model_cfg.to_dict(), "base_channels": args.base_channels,
                                       "channel_mults": model_cfg.channel_mults,
                                       "log_snr_range": model_cfg.log_snr_range})
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                             conditional=args.conditional, seed=args.seed, model=model_cfg)
        trainer = Trainer(config, dataset, device=dev)
    extra = {"dataset": dataset.name, "class_names": list(dataset.class_names), "world_size": world}
    say(f"training on {dataset.name} ({len(dataset.images)} images) on {dev}"
        + (f" x{world} processes" if world > 1 else "")
        + f", {sum(p.numel() for p in trainer.model.parameters()):,} parameters")

    log = None
    if args.log and rank == 0:
        new = not Path(args.log).exists() or not args.resume
        log = open(args.log, "w" if new else "a", encoding="utf-8")
        if new:
            log.write("step,loss,loss_smooth,images_per_second,elapsed_s\n")

    from tqdm import tqdm

    bar = tqdm(total=args.steps, initial=trainer.step, disable=None if rank == 0 else True,
               unit="step", dynamic_ncols=True, file=sys.stderr)
    saved_at = None

    def save():
        nonlocal saved_at
        if rank == 0 and trainer.step != saved_at:
            checkpoint.save_checkpoint(out, trainer, extra)
            saved_at = trainer.step

    started = time.perf_counter()
    try:
        for p in trainer.iter_training():
            bar.update(1)
            if p.step % 10 == 0:
                bar.set_postfix(loss=f"{p.loss_smooth:.4f}", img_s=f"{p.images_per_second:.0f}")
            if log and (p.step % args.log_every == 0 or p.done):
                log.write(f"{p.step},{p.loss:.6f},{p.loss_smooth:.6f},{p.images_per_second:.1f},"
                          f"{time.perf_counter() - started:.1f}\n")
                log.flush()
            if args.save_every and p.step % args.save_every == 0:
                save()
    except TrainingDivergedError as exc:
        save()
        raise ValueError(f"{exc}; saved it to '{out}'") from None
    except KeyboardInterrupt:
        save()
        say(f"\ninterrupted at step {trainer.step}; saved '{out}' (resume with --resume {out})")
        return 130
    finally:
        bar.close()
        if log:
            log.close()
    save()
    say(f"saved '{out}' at step {trainer.step} ({time.perf_counter() - started:.0f} s)")
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0
