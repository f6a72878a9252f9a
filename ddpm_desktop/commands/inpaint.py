"""`ddpm-desktop inpaint`: complete a partly hidden digit N times (core.inpaint) and save them.

The mask is a preset naming the hidden side (top, bottom, left, right: that half, or --rows
rows of it) or an image of exactly 28x28 pixels, white where pixels are known. The known
pixels of every completion equal the (preprocessed) input exactly. Each completion is read by
the bundled classifier (its label and softmax probability go into --json and the .npz).
"""
from __future__ import annotations

import argparse
import json
import time

MAX_N = 1000
MAX_RESAMPLE = 100
# Network calls per completion (RePaint's jumps multiply them): a T = 1000 DDPM chain is 1,000,
# the RePaint paper's 250 steps with j = r = 10 about 2,400.
MAX_NFE = 10_000


HELP = "fill the hidden part of a digit (N completions)"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ddpm_desktop.core.inpaint import DEFAULT_JUMP_LENGTH, DEFAULT_RESAMPLE, MASK_PRESETS, METHODS

    from ._common import SAMPLER_CHOICES, add_digit_args, add_model_args, add_schedule_args, seed_arg

    p = sub.add_parser("inpaint", help=HELP,
                       description="Keep the known pixels of a digit and let the model fill the rest, "
                                   "N times: paste, RePaint or x̂_0 replacement.")
    add_digit_args(p, "an image file (PNG, JPEG, BMP, GIF, TIFF, WebP or PNM), preprocessed to 28x28")
    p.add_argument("--mask", required=True,
                   help=f"{' | '.join(MASK_PRESETS)} (that side is hidden) or a 28x28 image, white = known")
    p.add_argument("--rows", type=int, default=14, help="rows (columns) a preset hides (default 14)")
    p.add_argument("--method", choices=METHODS, default="repaint",
                   help="paste (noised known pixels into x_t), repaint (with resampling jumps; DDPM), "
                        "x0 (known pixels into x̂_0); default repaint")
    p.add_argument("--sampler", choices=SAMPLER_CHOICES, default=None,
                   help="for paste and x0 (default dpmpp); repaint runs DDPM")
    p.add_argument("--steps", type=int, default=None,
                   help="reverse steps (default: 50 for repaint, 20 dpmpp, 50 ddim, 100 ddpm)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η (0: deterministic)")
    p.add_argument("--jump-length", type=int, default=DEFAULT_JUMP_LENGTH, help="RePaint's j: steps down between jumps back up")
    p.add_argument("--resample", type=int, default=DEFAULT_RESAMPLE,
                   help="RePaint's r (passes through each jump; 1 = no resampling)")
    p.add_argument("--n", type=int, default=8, help="number of completions (default 8)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="seed of the completions' noise (completion k: its own stream)")
    add_schedule_args(p)
    add_model_args(p)
    p.add_argument("--fps", type=float, default=20.0, help="frame rate of a .gif")
    p.add_argument("--out", required=True,
                   help=".npz (images uint8 [N, 28, 28], ...), .png (input | masked | completions) "
                        "or .gif (the reverse chain)")
    p.add_argument("--json", action="store_true", help="print the classifier's readings, NFE and timing as JSON")
    p.set_defaults(run=run)


def _mask_from_arg(text: str, rows: int):
    from ddpm_desktop.core.inpaint import MASK_PRESETS, load_mask, preset_mask

    if text in MASK_PRESETS:
        return preset_mask(text, rows)
    from pathlib import Path

    if not Path(text).exists():
        raise ValueError(f"--mask must be one of {', '.join(MASK_PRESETS)} or an image file; "
                         f"'{text}' is neither")
    return load_mask(text)


def run(args: argparse.Namespace) -> int:
    from ddpm_desktop.core.inpaint import DEFAULT_STEPS
    from ddpm_desktop.core.run import SamplerSettings, plan_run

    from ._common import (check_fps, check_int_range, check_memory, check_out, check_threads,
                          digit_from_args, gif_frames, model_on_device, schedule_from_args, unet_bytes)

    out = check_out(args.out, (".png", ".gif", ".npz"))
    check_int_range("--n", args.n, 1, MAX_N)
    if not 0.0 <= args.eta <= 1.0:
        raise ValueError(f"--eta must be in [0, 1], got {args.eta}")
    check_fps(args.fps)
    check_threads(args.threads)
    sampler = args.sampler or ("ddpm" if args.method == "repaint" else "dpmpp")
    if args.method == "repaint" and sampler != "ddpm":
        raise ValueError(f"--method repaint resamples with DDPM steps; drop --sampler {sampler} "
                         "or pick --method paste or x0")
    schedule = schedule_from_args(args)
    if args.steps is not None:
        check_int_range("--steps", args.steps, 1, schedule.T)
    # the run's plan (core.run): inpainting's own default step count, capped at T
    default = DEFAULT_STEPS["repaint" if args.method == "repaint" else sampler]
    steps = plan_run(SamplerSettings(sampler=sampler, steps=args.steps or default),
                     schedule.T).steps
    nfe = steps
    if args.method == "repaint":
        check_int_range("--jump-length", args.jump_length, 1, schedule.T)
        check_int_range("--resample", args.resample, 1, MAX_RESAMPLE)
        # RePaint: NFE = steps + (r - 1) j ⌈steps/j - 1⌉ (core.inpaint)
        nfe = steps + (args.resample - 1) * args.jump_length * max(0, -(-(steps - args.jump_length) // args.jump_length))
        if nfe > MAX_NFE:
            raise ValueError(f"--steps {steps}, --jump-length {args.jump_length} and --resample "
                             f"{args.resample} would take {nfe} network calls per completion "
                             f"(limit {MAX_NFE}); use fewer")
    if out.suffix.lower() == ".gif":  # every state of the chain is kept for the GIF
        check_memory(args.n * 28 * 28 * 4 * (2 * nfe + 1), "the GIF's chain")
    known = _mask_from_arg(args.mask, args.rows)

    import io

    import numpy as np
    import torch

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.checkpoint import atomic_write_bytes
    from ddpm_desktop.core.imaging import IMAGE_SHAPE
    from ddpm_desktop.core.decision import bundled_classifier, decision_curve
    from ddpm_desktop.core.inpaint import iter_inpaint
    from ddpm_desktop.core.sampling import make_eps_fn

    x0, label, source = digit_from_args(args)
    model, device = model_on_device(args)
    check_memory(unet_bytes(model.config, args.n), f"--n {args.n}")
    eps_fn = make_eps_fn(model, schedule)                # unconditional: the mask alone conditions
    gen = torch.Generator().manual_seed(args.seed)
    x_T = torch.randn((args.n, 1, *IMAGE_SHAPE), generator=gen).to(device)
    want_chain = out.suffix.lower() == ".gif"
    chain, last = [], None
    started = time.perf_counter()
    for step in iter_inpaint(args.method, eps_fn, schedule, torch.from_numpy(x0).to(device), known, x_T,
                             sampler=sampler, steps=steps, generator=gen, eta=args.eta,
                             jump_length=args.jump_length, resample=args.resample):
        last = step
        if want_chain:
            chain.append(step.x_t[:, 0].numpy())
    seconds = time.perf_counter() - started
    completions = last.x_t[:, 0].numpy()
    probs = decision_curve(bundled_classifier(), last.x_t)  # p(k | x_0) of each completion, [n, 10]
    readings = probs.argmax(1)
    masked = np.where(known, x0, 0.0).astype(np.float32)    # the hole shown mid-grey
    u8 = imaging.to_uint8(completions)
    suffix = out.suffix.lower()
    nrow = min(args.n + 2, 10)
    if suffix == ".npz":
        buf = io.BytesIO()
        np.savez_compressed(buf, images=u8, input=imaging.to_uint8(x0), mask=known,
                            readings=readings.astype(np.int64), probabilities=probs.astype(np.float32),
                            label=np.int64(label), nfe=np.int64(last.nfe))
        atomic_write_bytes(out, buf.getvalue())
    elif suffix == ".png":
        tiles = imaging.to_uint8(np.concatenate([np.stack([x0, masked]), completions]))
        imaging.save_png(imaging.upscale(imaging.make_grid(tiles, nrow=nrow), 3), out)
    else:
        frames = [imaging.upscale(imaging.make_grid(imaging.to_uint8(np.concatenate([masked[None], f])),
                                                    nrow=nrow), 3) for f in gif_frames(chain)]
        frames += [frames[-1]] * int(args.fps)  # hold the result for a second before looping
        imaging.save_gif(frames, out, fps=args.fps)
    known_unchanged = bool(np.array_equal(completions[:, known], np.broadcast_to(x0[known], (args.n, int(known.sum())))))
    report = {"source": source, "label": label, "method": args.method,
              "sampler": sampler, "nfe": last.nfe, "n": args.n, "known_pixels": int(known.sum()),
              "known_unchanged": known_unchanged,
              "readings": readings.tolist(),
              "probabilities": [round(float(p[r]), 4) for p, r in zip(probs, readings)],
              "seconds": round(seconds, 4), "out": str(out)}
    if label >= 0:
        report["accuracy"] = round(float((readings == label).mean()), 4)
    if args.json:
        print(json.dumps(report))
    else:
        from ._common import readings_text

        print(f"{args.n} completions of {source} ({args.method}, {last.nfe} network calls, {seconds:.1f} s); "
              f"{readings_text(readings)} -> {out}")
    return 0
