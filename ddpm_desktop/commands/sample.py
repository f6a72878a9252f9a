"""`ddpm-desktop sample`: draw digits with a sampler and save a grid, the chain or arrays."""
from __future__ import annotations

import argparse
import json
import time


HELP = "sample digits from noise (the reverse chain)"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import add_model_args, add_sampler_args

    p = sub.add_parser("sample", help=HELP,
                       description="Sample digits: x_T ~ N(0, I), then the reverse chain to x_0.")
    add_model_args(p)
    from ._models import add_model_choice_args
    add_model_choice_args(p)
    add_sampler_args(p, "reverse steps = network calls (default: T for ddpm/ddim, 20 for dpmpp)")
    p.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    p.add_argument("--batch-size", type=int, default=256, help="images per network call")
    p.add_argument("--fps", type=float, default=20.0, help="frame rate of a .gif")
    p.add_argument("--out", required=True, help=".png (a grid), .gif (the reverse chain) or .npz (arrays)")
    p.add_argument("--json", action="store_true", help="print timings and NFE as JSON")
    from ._reproduce import add_reproduce_args  # the app's seeds (Copy as command)
    add_reproduce_args(p, forward=False, start=True)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ._common import (apply_threads, check_fps, check_int_range, check_memory, check_out,
                          check_sampler_args, check_threads, gif_frames, guidance_from_args,
                          labels_from_arg, schedule_from_args, warn_if_not_noise)

    out = check_out(args.out, (".png", ".gif", ".npz"))
    check_int_range("--n", args.n, 1, 100_000)
    check_int_range("--batch-size", args.batch_size, 1, 65_536)
    check_fps(args.fps)
    check_threads(args.threads)
    schedule = schedule_from_args(args)
    check_sampler_args(args, schedule.T)
    # the distilled sampler: steps 1..4 and the student in place of the teacher
    from ._distilled import check_distilled_steps
    check_distilled_steps(args)
    from ._models import check_model_choice, model_bytes, model_from_args, num_classes
    check_model_choice(args)
    labels_from_arg(args.label, 1)  # a bad --label is refused before the model loads
    from ._reproduce import XTDraw, start_params
    start_params(args)  # a bad --start-param too

    import numpy as np
    import torch

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.run import SamplerSettings, plan_run
    from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn
    from ddpm_desktop.core.training import resolve_device

    device = resolve_device(args.device)
    apply_threads(args.threads)
    model, _meta, baked = model_from_args(args, device)
    labels = labels_from_arg(args.label, args.n, num_classes(model))
    guidance = guidance_from_args(args) if baked is None else baked
    batch = min(args.batch_size, args.n)
    want_chain = out.suffix.lower() == ".gif"
    # the run's plan (core.run): its steps and whether guidance doubles the network calls (a
    # label and w not 0 or 1; which label does not matter, so the first stands for them all)
    plan = plan_run(SamplerSettings(sampler=args.sampler, steps=args.steps, guidance=guidance,
                                    label=None if labels is None else int(labels[0])),
                    schedule.T)
    check_memory(model_bytes(model, batch * (2 if plan.guided else 1))
                 + 8 * 784 * args.n
                 + (4 * 784 * batch * (plan.n_steps + 1) * 2 if want_chain else 0),
                 f"sampling {args.n} images in batches of {batch}")
    warn_if_not_noise(schedule)
    gen = torch.Generator().manual_seed(args.seed)
    draw_x_T = XTDraw(args, gen)
    images, chain, nfe = [], [], 0
    started = time.perf_counter()
    for lo in range(0, args.n, args.batch_size):
        hi = min(args.n, lo + args.batch_size)
        x_T = draw_x_T(hi - lo).to(device)
        eps_fn = make_eps_fn(model, schedule, None if labels is None else labels[lo:hi].to(device), guidance)
        last = None
        for step in iter_sampler(args.sampler, eps_fn, schedule, x_T, steps=plan.steps,
                                 generator=gen, eta=args.eta):
            last = step
            if want_chain and lo == 0:
                chain.append(step.x_t[:, 0].numpy())
        images.append(last.x_t[:, 0].numpy())
        nfe = last.nfe
    seconds = time.perf_counter() - started
    x0 = np.concatenate(images)
    u8 = imaging.to_uint8(x0)
    nrow = int(np.ceil(np.sqrt(len(u8))))
    if out.suffix.lower() == ".png":
        imaging.save_png(imaging.upscale(imaging.make_grid(u8, nrow=nrow), 2), out)
    elif want_chain:
        frames = [imaging.upscale(imaging.make_grid(imaging.to_uint8(f), nrow=nrow), 2)
                  for f in gif_frames(chain)]
        frames += [frames[-1]] * int(args.fps)  # hold the result for a second before looping
        imaging.save_gif(frames, out, fps=args.fps)
    else:
        from ddpm_desktop.core.files import atomic_write_bytes
        import io

        buf = io.BytesIO()
        lab = labels.numpy() if labels is not None else np.full(len(u8), -1)
        np.savez_compressed(buf, images=u8, labels=lab.astype(np.int64))
        atomic_write_bytes(out, buf.getvalue())
    report = {"sampler": args.sampler, "steps": plan.n_steps,
              # NFE = network calls per chain; with guidance each call is one batch of 2B
              # (conditional and null label together).
              "nfe": nfe, "guided": plan.guided,
              "n": args.n, "guidance": guidance if baked is None else model.guidance,
              "seconds": round(seconds, 4), "seconds_per_image": round(seconds / args.n, 5),
              "device": str(device), "out": str(out), "model": args.model}
    if args.model == "exact":
        report["bandwidth"] = _meta["bandwidth"]
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.n} samples, {args.sampler} with {nfe} steps, {seconds:.2f} s -> {out}")
    return 0
