"""`ddpm-desktop reconstruct`: noise a digit to step t, then run the reverse chain back (SDEdit).

"Reconstruct an image from an image", as on the poster: x_t ~ q(x_t | x_0), then t → 0.
MSE is measured in the model's pixel range [-1, 1] against the preprocessed input.
"""
from __future__ import annotations

import argparse
import json
import time


def add_parser(sub) -> None:
    from ._common import add_model_args, add_sampler_args

    p = sub.add_parser("reconstruct", help="noise a digit to step t and reconstruct it",
                       description="Noise a digit to step t with q(x_t|x_0), then reverse the chain to x_0.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="an image file (any format Pillow reads)")
    src.add_argument("--index", type=int, help="index into the bundled held-out MNIST digits (0-999)")
    p.add_argument("--t", type=int, required=True, help="noise the digit to this step (1..T)")
    add_model_args(p)
    add_sampler_args(p, "reverse steps from t (default: every step for ddpm/ddim, 20 for dpmpp)")
    p.add_argument("--fps", type=float, default=20.0)
    p.add_argument("--out", required=True, help=".png (input | noised | reconstruction), .gif (the chain) or .npz")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ._common import (apply_threads, check_fps, check_out, check_sampler_args, check_threads,
                          digit_from_args, gif_frames, guidance_from_args, labels_from_arg,
                          schedule_from_args)

    out = check_out(args.out, (".png", ".gif", ".npz"))
    check_fps(args.fps)
    check_threads(args.threads)
    schedule = schedule_from_args(args)
    check_sampler_args(args, schedule.T)
    from ._distilled import check_distilled_steps, model_for  # distilled sampler (helper E)
    check_distilled_steps(args)
    labels_from_arg(args.label, 1)  # a bad --label is refused before any work
    if not 1 <= args.t <= schedule.T:
        raise ValueError(f"--t must be in 1..{schedule.T}, got {args.t}")

    import io

    import numpy as np
    import torch

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.files import atomic_write_bytes
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn
    from ddpm_desktop.core.training import resolve_device

    x0, original_label, source = digit_from_args(args)
    device = resolve_device(args.device)
    apply_threads(args.threads)
    model, _meta, baked = model_for(args, device)  # the student for distilled (helper E)
    labels = labels_from_arg(args.label, 1, model.config.num_classes)
    guidance = guidance_from_args(args) if baked is None else baked
    gen = torch.Generator().manual_seed(args.seed)
    x0_t = torch.as_tensor(np.asarray(x0, dtype=np.float32))[None, None]
    x_t = q_sample(schedule, x0_t, args.t, generator=gen)
    eps_fn = make_eps_fn(model, schedule, None if labels is None else labels.to(device), guidance)
    started = time.perf_counter()
    chain, last = [], None
    for step in iter_sampler(args.sampler, eps_fn, schedule, x_t.to(device), steps=args.steps,
                             t_start=args.t, generator=gen, eta=args.eta):
        last = step
        chain.append(step.x_t[0, 0].numpy())
    seconds = time.perf_counter() - started
    recon = last.x_t[0, 0].numpy()
    mse = float(np.mean((recon - np.asarray(x0, dtype=np.float32)) ** 2))
    u8 = imaging.to_uint8(np.stack([np.asarray(x0), x_t[0, 0].numpy(), recon]))
    suffix = out.suffix.lower()
    if suffix == ".png":
        imaging.save_png(imaging.upscale(imaging.make_grid(u8, nrow=3), 4), out)
    elif suffix == ".gif":
        frames = [imaging.upscale(imaging.make_grid(
            imaging.to_uint8(np.stack([np.asarray(x0), f])), nrow=2), 4) for f in gif_frames(chain)]
        frames += [frames[-1]] * int(args.fps)
        imaging.save_gif(frames, out, fps=args.fps)
    else:
        buf = io.BytesIO()
        np.savez_compressed(buf, input=u8[0], noised=u8[1], reconstruction=u8[2],
                            input_float=np.asarray(x0, dtype=np.float32),
                            reconstruction_float=recon.astype(np.float32),
                            t=np.int64(args.t), label=np.int64(original_label))
        atomic_write_bytes(out, buf.getvalue())
    report = {"source": source, "t": args.t, "sampler": args.sampler, "nfe": last.nfe,
              "mse": round(mse, 6), "label": original_label, "seconds": round(seconds, 4),
              "out": str(out)}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"reconstructed {source} from t = {args.t}: MSE {mse:.4f} ({last.nfe} steps) -> {out}")
    return 0
