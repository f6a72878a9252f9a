"""`ddpm-desktop train`: train ε_θ headless (Algorithm 1), with checkpoints and a loss log.

Under `torchrun --nproc_per_node N -m ddpm_desktop train ...` the same loop trains
data-parallel (gloo on CPU, nccl on CUDA); rank 0 writes the checkpoint and the log.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path


HELP = "train the denoising network (headless)"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import seed_arg

    p = sub.add_parser("train", help=HELP,
                       description="Train the denoising network ε_θ on a dataset (DDPM Algorithm 1).")
    p.add_argument("--data", default="mnist",
                   help="mnist (bundled train split), fashion, a folder of IDX files or of images")
    p.add_argument("--recipe", default="fast", choices=("fast", "bundled", "plain"),
                   help="fast (default): 850 steps, min-SNR-5 loss weighting, class embedding "
                        "started at 0.5, >= 95%% classifier accuracy after 680 steps (3.3 min of training on 2 idle CPU cores); "
                        "bundled: the same for 6000 steps with the label dropped on 20%% of them (how "
                        "resources/model.safetensors was trained); plain: 6000 steps of plain ε-MSE "
                        "(the first bundled model)")
    p.add_argument("--p-uncond", type=float, default=None,
                   help="share of steps whose label is dropped to the null label, for classifier-free "
                        "guidance (default: the recipe's, 0.1; bundled: 0.2)")
    p.add_argument("--steps", type=int, default=None, help="total optimizer steps (default: the recipe's)")
    p.add_argument("--batch-size", type=int, default=None, help="images per step (default: the recipe's, 128)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's, 2e-3)")
    cond = p.add_mutually_exclusive_group()
    cond.add_argument("--conditional", dest="conditional", action="store_true", default=True,
                      help="learn class-conditional ε with a null label (default)")
    cond.add_argument("--unconditional", dest="conditional", action="store_false",
                      help="learn ε without labels (no classifier-free guidance)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    p.add_argument("--threads", default="auto",
                   help="CPU threads: a number, or auto to measure and pick the fastest "
                        "(the choice and why are printed)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the weights, batches and noise")
    p.add_argument("--subset", type=int, default=None, metavar="N",
                   help="train on N images of --data only: rows OFFSET..OFFSET+N-1 of a permutation "
                        "drawn from --subset-seed (reproducible; docs/COPIES.md has the twin recipes)")
    p.add_argument("--subset-seed", type=seed_arg, default=0, metavar="S",
                   help="seed of the subset's permutation (default 0)")
    p.add_argument("--subset-offset", type=int, default=0, metavar="K",
                   help="where in the permutation the subset starts (default 0); the same seed at "
                        "offsets 0 and N gives two disjoint sets")
    p.add_argument("--base-channels", type=int, default=None, help="U-Net width (default 16)")
    p.add_argument("--out", default="model.safetensors", help="checkpoint to write (.safetensors)")
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--save-every", type=int, default=1000, help="save every N steps (0: only at the end)")
    p.add_argument("--log", default=None, help="CSV file for the loss by step")
    p.add_argument("--log-every", type=int, default=50, help="steps between progress lines and log rows")
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


def _check_args(args: argparse.Namespace) -> Path:
    """Every flag bounded, and the output and log paths writable, before any work: a refusal
    after an hour of training would lose the hour."""
    from ddpm_desktop.core.files import check_writable

    from ._common import check_int_range, check_threads_or_auto

    if args.steps is not None:
        check_int_range("--steps", args.steps, 1, 10**9)
    if args.batch_size is not None:
        check_int_range("--batch-size", args.batch_size, 1, 65_536)
    check_int_range("--save-every", args.save_every, 0, 10**9)
    check_int_range("--log-every", args.log_every, 1, 10**9)
    if args.p_uncond is not None and not (math.isfinite(args.p_uncond) and 0 <= args.p_uncond <= 1):
        raise ValueError(f"--p-uncond must be in [0, 1], got {args.p_uncond}")
    if args.lr is not None and not (math.isfinite(args.lr) and 0 < args.lr < 1):
        raise ValueError(f"--lr must be in (0, 1), got {args.lr}")
    if not str(args.data).strip():
        raise ValueError("--data is empty: name mnist, fashion, or a folder")
    check_threads_or_auto(args.threads)
    if args.base_channels is not None:
        check_int_range("--base-channels", args.base_channels, 1, 512)
    if args.subset is not None:
        check_int_range("--subset", args.subset, 1, 10**9)
    elif args.subset_offset:
        raise ValueError("--subset-offset needs --subset N")
    check_int_range("--subset-offset", args.subset_offset, 0, 10**9)
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors, got '{out.name}'")
    check_writable(out)
    from ddpm_desktop.core.checkpoint import state_path_for

    check_writable(state_path_for(out))
    if args.log:
        check_writable(args.log)
    if args.resume and not Path(args.resume).is_file():
        raise ValueError(f"--resume '{args.resume}' is not a file")
    return out


def _fallback_path(out: Path, step: int) -> Path | None:
    """Somewhere else to keep a run whose --out could not be written: home, then temp."""
    import tempfile

    from ddpm_desktop.core.files import check_writable

    for folder in (Path.home(), Path(tempfile.gettempdir())):
        candidate = folder / f"{out.stem}-rescued-step{step}{out.suffix}"
        try:
            return check_writable(candidate)
        except (OSError, ValueError):
            continue
    return None


def run(args: argparse.Namespace) -> int:
    out = _check_args(args)

    import torch

    from ddpm_desktop.core import checkpoint, data
    from ddpm_desktop.core.model import ModelConfig
    from ddpm_desktop.core.training import (TrainConfig, Trainer, TrainingDivergedError,
                                            choose_num_threads, recipe, resolve_device)

    rank, world, device = _setup_distributed(args.device)
    say = (lambda *a: print(*a, file=sys.stderr)) if rank == 0 else (lambda *a: None)
    dev = resolve_device(device)
    dataset = data.load_dataset(args.data)
    if dataset.skipped:  # an image folder with files that are not pictures, or damaged ones
        say(f"warning: {data.skipped_summary(dataset)}")
    subset = None
    if args.subset is not None:
        dataset = data.random_subset(dataset, args.subset, args.subset_seed, args.subset_offset)
        subset = {"n": args.subset, "seed": args.subset_seed, "offset": args.subset_offset,
                  "data": args.data}
    threads_note = None  # said once the run is set up, so a refusal stays one line
    if dev.type == "cpu":
        if args.threads == "auto":
            best, rates = choose_num_threads()
            torch.set_num_threads(best)
            threads_note = (f"threads: {best}, the fastest of a short measurement just now ("
                + ", ".join(f"{n}: {r:.0f} img/s" for n, r in rates.items())
                + "); on a busy machine it can pick fewer than an idle one would: --threads N fixes it")
        else:
            torch.set_num_threads(int(args.threads))
            threads_note = f"threads: {int(args.threads)} (--threads)"

    if args.resume:
        overrides = {k: v for k, v in (("lr", args.lr), ("batch_size", args.batch_size)) if v is not None}
        trainer = checkpoint.load_trainer(args.resume, dataset, device=dev, steps=args.steps, **overrides)
        say(f"resumed '{args.resume}' at step {trainer.step}")
    else:
        model_cfg = TrainConfig().model
        if args.base_channels is not None:
            model_cfg = ModelConfig(**{**model_cfg.to_dict(), "base_channels": args.base_channels,
                                       "channel_mults": model_cfg.channel_mults,
                                       "log_snr_range": model_cfg.log_snr_range})
        given = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size),
                                   ("lr", args.lr), ("p_uncond", args.p_uncond)) if v is not None}
        config = recipe(args.recipe, **given, conditional=args.conditional, seed=args.seed,
                        model=model_cfg)
        trainer = Trainer(config, dataset, device=dev)
    from ._common import check_memory, unet_bytes

    if dev.type == "cpu":
        check_memory(unet_bytes(trainer.config.model, trainer.config.batch_size, training=True)
                     + dataset.images.nbytes, f"training with --batch-size {trainer.config.batch_size}")
    extra = {"dataset": dataset.name, "class_names": list(dataset.class_names), "world_size": world}
    if subset is not None:
        extra["subset"] = subset
    if threads_note is not None:
        say(threads_note)
    say(f"training on {dataset.name} ({len(dataset.images)} images) on {dev}"
        + (f" x{world} processes" if world > 1 else "")
        + f", {sum(p.numel() for p in trainer.model.parameters()):,} parameters")

    log = None
    if args.log and rank == 0:
        new = not Path(args.log).exists() or not args.resume
        try:
            log = open(args.log, "w" if new else "a", encoding="utf-8")
            if new:
                log.write("step,loss,loss_smooth,images_per_second,elapsed_s\n")
        except OSError as exc:
            from ddpm_desktop.core.files import write_error

            raise write_error(args.log, exc) from None

    from tqdm import tqdm

    bar = tqdm(total=trainer.config.steps, initial=trainer.step, disable=None if rank == 0 else True,
               unit="step", dynamic_ncols=True, file=sys.stderr)
    saved_at = None

    def save(final: bool = True):
        """Save to --out. A periodic save that fails warns and training goes on; a final one
        that fails saves to a fallback location instead and says where (no run is lost)."""
        nonlocal saved_at
        if rank != 0 or trainer.step == saved_at:
            return
        try:
            checkpoint.save_checkpoint(out, trainer, extra)
            saved_at = trainer.step
            return
        except OSError as exc:
            if not final:
                bar.write(f"warning: {' '.join(str(exc).split())}; training goes on, "
                          "the next save tries again", file=sys.stderr)
                return
            failure = " ".join(str(exc).split())
        rescue = _fallback_path(out, trainer.step)
        if rescue is not None:
            try:
                checkpoint.save_checkpoint(rescue, trainer, extra)
                saved_at = trainer.step
            except OSError:
                rescue = None
        if rescue is None:
            raise OSError(f"{failure}, and no fallback location could be written: the run is lost")
        raise OSError(f"{failure}; the run is saved to '{rescue}' instead "
                      f"(resume with --resume {rescue})")

    started = time.perf_counter()
    total, first = trainer.config.steps, trainer.step
    try:
        for p in trainer.iter_training():
            bar.update(1)
            if p.step % 10 == 0:
                bar.set_postfix(loss=f"{p.loss_smooth:.4f}", img_s=f"{p.images_per_second:.0f}")
            if bar.disable and (p.step % args.log_every == 0 or p.done):
                # no progress bar (stderr is not a terminal: a log file, a pipe, CI): plain lines
                elapsed = time.perf_counter() - started
                left = elapsed / max(1, p.step - first) * (total - p.step)
                say(f"step {p.step}/{total}, loss {p.loss_smooth:.4f}, {p.images_per_second:.0f} img/s, "
                    f"{elapsed:.0f} s elapsed, about {left:.0f} s left")
            if log and (p.step % args.log_every == 0 or p.done):
                try:
                    log.write(f"{p.step},{p.loss:.6f},{p.loss_smooth:.6f},{p.images_per_second:.1f},"
                              f"{time.perf_counter() - started:.1f}\n")
                    log.flush()
                except OSError as exc:  # a full disk: the log stops, the training does not
                    from ddpm_desktop.core.files import write_error

                    bar.write(f"warning: {write_error(args.log, exc)}; the loss log stops here",
                              file=sys.stderr)
                    log = None
            if args.save_every and p.step % args.save_every == 0 and not p.done:
                save(final=False)
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
            try:
                log.close()
            except OSError:
                pass
    save()
    say(f"saved '{out}' at step {trainer.step} ({time.perf_counter() - started:.0f} s)")
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0
