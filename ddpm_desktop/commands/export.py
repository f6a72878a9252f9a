"""`ddpm-desktop export`: the app's chain animation (or strip) headless.

`--chain forward` (a digit x_0 → x_T), `reverse` (x_T → x_0 with the model) or `both` side by
side, built from one digit: the forward chain x_0 → x_t and the reverse chain that reconstructs
that x_t back to x_0 (`--t`, default 3T/10, where a digit still comes back as itself).
A reverse chain alone starts from pure noise unless `--t` is given. `--out` .gif, .webp, .apng
(animations: by default 30 to 120 frames picked along the chain, `--frames N` exactly N; the
last held 1 s) or .png (a strip of key frames). The frames are composed by the renderer the
app's export uses (render.compose: Qt's painter on an offscreen surface, no display needed); Qt
is imported only inside `run`, so the rest of the CLI stays Qt-free.
"""
from __future__ import annotations

import argparse
import json

MAX_FRAMES = 2000


HELP = "the chain animation or strip the app exports, headless"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import add_model_args, add_sampler_args

    p = sub.add_parser(
        "export", help=HELP,
        description="Compose the forward, reverse or both chains as the app's Export does and "
                    "write an animated GIF, WebP or APNG (by default 30 to 120 frames picked along "
                    "the chain, with --frames exactly that many; the last held 1 s) or a PNG strip "
                    "of key frames.")
    p.add_argument("--chain", choices=("forward", "reverse", "both"), default="both",
                   help="forward (x_0 → x_T), reverse (x_T → x_0) or both from one digit "
                        "(default both)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--image", help="the digit x_0: an image file (PNG, JPEG, BMP, GIF, TIFF, WebP or PNM)")
    src.add_argument("--index", type=int, default=None,
                     help="the digit x_0: index into the bundled held-out MNIST digits "
                          "(default: the first 7)")
    p.add_argument("--t", type=int, default=None,
                   help="the reverse chain reconstructs the forward chain's x_t from this t "
                        "(default 3T/10 for both; a reverse chain alone starts from noise)")
    p.add_argument("--histogram", action="store_true", help="draw each frame's pixel histogram vs N(0,1)")
    p.add_argument("--kl", action="store_true", help="draw the estimated KL to N(0,1) along the chain")
    p.add_argument("--scale", type=int, default=None,
                   help="pixels per digit pixel (1-16; default 12: each chain ≥ 400 px wide)")
    p.add_argument("--frames", type=int, default=None,
                   help="how many frames: an animation gets exactly this many, picked along the "
                        "chain (default: up to 120 and at least 30); a png strip this many key "
                        "frames (default 8)")
    p.add_argument("--fps", type=float, default=20.0, help="frames per second (default 20)")
    p.add_argument("--theme", choices=("dark", "light"), default="dark", help="colours (default dark)")
    add_model_args(p)
    add_sampler_args(p, "reverse steps (default: every step for ddpm/ddim, 20 for dpmpp)")
    p.add_argument("--out", required=True, help="F.gif, F.webp, F.apng or F.png")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    from ._reproduce import add_reproduce_args  # the app's seeds (Copy as command)
    add_reproduce_args(p, forward=True, start=True)
    p.set_defaults(run=run)


def _digit(args):
    import numpy as np

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.data import load_bundled_mnist

    if args.image is not None:
        return imaging.load_digit(args.image), args.image
    test = load_bundled_mnist("test")
    if args.index is None:
        index = int(np.flatnonzero(test.labels == 7)[0])
    else:
        index = args.index
        if not 0 <= index < len(test.images):
            raise ValueError(f"--index must be in 0..{len(test.images) - 1}, got {index}")
    return imaging.to_model_range(test.images[index]).astype(np.float32), \
        f"bundled held-out digit {index} (label {int(test.labels[index])})"


def run(args: argparse.Namespace) -> int:
    from ._common import (apply_threads, check_fps, check_int_range, check_out, check_sampler_args,
                          check_threads, guidance_from_args, labels_from_arg, load_model_arg,
                          schedule_from_args)

    from ddpm_desktop.render.frames import KIND_OF_SUFFIX  # numpy only: Qt comes after the checks

    out = check_out(args.out, tuple(KIND_OF_SUFFIX))
    check_fps(args.fps)
    check_threads(args.threads)
    if args.scale is not None:
        check_int_range("--scale", args.scale, 1, 16)
    if args.frames is not None:
        check_int_range("--frames", args.frames, 2, MAX_FRAMES if out.suffix.lower() != ".png" else 32)
    schedule = schedule_from_args(args)
    check_sampler_args(args, schedule.T)
    labels_from_arg(args.label, 1)
    from ._reproduce import XTDraw, forward_noise, start_params
    start_params(args)
    T = schedule.T
    if args.t is not None and not 1 <= args.t <= T:
        raise ValueError(f"--t must be in 1..{T}, got {args.t}")
    needs_reverse = args.chain in ("reverse", "both")
    t = args.t if args.t is not None else (max(1, round(0.3 * T)) if args.chain == "both" else None)

    import numpy as np
    import torch

    from ddpm_desktop.core.forward import forward_chain
    from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn
    from ddpm_desktop.core.training import resolve_device

    digit, source = _digit(args)
    gen = torch.Generator().manual_seed(args.seed)
    chains = {}
    fwd = forward_chain(schedule, torch.from_numpy(np.asarray(digit, np.float32)),
                        **forward_noise(args, gen)).x.numpy()
    last_t = t if (args.chain == "both" and t is not None) else T
    chains["forward"] = (fwd[:last_t + 1], [f"t = {k}" for k in range(last_t + 1)])
    nfe = 0
    if needs_reverse:
        device = resolve_device(args.device)
        apply_threads(args.threads)
        model, _ = load_model_arg(args.checkpoint, device)
        labels = labels_from_arg(args.label, 1, model.config.num_classes)
        eps_fn = make_eps_fn(model, schedule, None if labels is None else labels.to(device),
                             guidance_from_args(args))
        if t is None:
            x_T = XTDraw(args, gen)(1)
        else:
            x_T = torch.from_numpy(np.ascontiguousarray(fwd[t]))[None, None]
        frames, caps = [], []
        for step in iter_sampler(args.sampler, eps_fn, schedule, x_T.to(device), steps=args.steps,
                                 t_start=t, generator=gen, eta=args.eta):
            frames.append(step.x_t[0, 0].numpy().copy())
            caps.append(f"t = {step.t}")
            nfe = step.nfe
        chains["reverse"] = (np.stack(frames), caps)

    from ddpm_desktop.render.gui import start_gui

    start_gui()
    from ddpm_desktop.render import compose
    from ddpm_desktop.render.compose import ChainView, forward_title, reverse_title
    from ddpm_desktop.render.export_job import ExportJob, run_export
    from ddpm_desktop.render.palette import dark_palette, light_palette, plot_colors

    titles = {"forward": forward_title(last_t, T), "reverse": reverse_title(t)}
    keys = ("forward", "reverse") if args.chain == "both" else (args.chain,)
    views = tuple(ChainView(chains[k][0], titles[k], None, tuple(chains[k][1])) for k in keys)
    kind = KIND_OF_SUFFIX[out.suffix.lower()]
    colors = plot_colors(dark_palette() if args.theme == "dark" else light_palette())
    animated = kind != "png"
    job = ExportJob(path=str(out), chains=views, kind=kind, fps=float(args.fps),
                    scale=args.scale or 12, stride=0,
                    n_frames=args.frames if animated else None,
                    with_histogram=animated and args.histogram, with_kl=animated and args.kl,
                    key_frames=args.frames or 8, colors=colors)
    path = run_export(job)
    n_out = job.frame_count()
    layout = compose.frame_layout(len(views), job.scale, job.with_histogram, job.with_kl)
    report = {"out": str(path), "chain": args.chain, "format": kind, "frames": n_out,
              "fps": args.fps, "hold_last_s": job.hold_s if animated else None,
              "width": layout.width if animated else None,
              "height": layout.height if animated else None,
              "source": source, "t": t, "sampler": args.sampler if needs_reverse else None,
              "nfe": nfe if needs_reverse else None,
              "chain_lengths": {k: len(chains[k][0]) for k in keys}}
    if args.json:
        print(json.dumps(report))
    else:
        what = " + ".join(f"{k} ({len(chains[k][0])} states)" for k in keys)
        shape = f"{n_out} frames at {args.fps:g} fps, last held {job.hold_s:g} s, " \
                f"{layout.width}×{layout.height} px" if animated else f"{job.key_frames} key frames"
        print(f"wrote {path}: {what} of {source}; {shape}")
    return 0
