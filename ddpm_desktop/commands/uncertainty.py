"""`ddpm-desktop uncertainty`: what the model is unsure of in a noised digit.

The top-k principal directions and variances of p(x_0 | x_t) from the denoiser's Jacobian
(core.uncertainty; Manor & Michaeli, ICLR 2024), at the x_t that
`reconstruct --index N --t T --seed S` completes: x_t = q_sample(x_0, t) with noise drawn
from seed S. Directions are unit vectors over the 784 pixels (row-major), variances are in
the model's pixel units ([-1, 1])²; x̂_0 ± 2σ_i d_i shows the i-th way the digit could go.
"""
from __future__ import annotations

import argparse
import json
import time

HELP = "principal directions and variances of p(x_0 | x_t) for a noised digit"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ddpm_desktop.core.uncertainty import DEFAULT_ITERATIONS, DEFAULT_JVP, DEFAULT_OVERSAMPLE, JVPS

    from ._common import add_digit_args, add_label_guidance_args, add_model_args, add_schedule_args, seed_arg

    p = sub.add_parser("uncertainty", help=HELP,
                       description="Top-k principal directions and variances of p(x_0 | x_t) by subspace "
                                   "iteration on the denoiser's Jacobian, at reconstruct's x_t.")
    add_digit_args(p)
    p.add_argument("--t", type=int, required=True, help="noise the digit to this step (1..T)")
    p.add_argument("--k", type=int, default=4, help="directions, 1..64 (default 4)")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="x_t's noise, as reconstruct --seed (the start directions use seed + 1)")
    p.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                   help=f"subspace iterations, 0..200 (default {DEFAULT_ITERATIONS})")
    p.add_argument("--oversample", type=int, default=DEFAULT_OVERSAMPLE,
                   help=f"extra directions iterated and dropped, 0..64 (default {DEFAULT_OVERSAMPLE})")
    p.add_argument("--jvp", choices=JVPS, default=DEFAULT_JVP,
                   help=f"Jacobian-vector products (default {DEFAULT_JVP}; autograd: double backward)")
    add_label_guidance_args(p)
    p.add_argument("--out", default=None,
                   help=".png: one row per direction i, x̂_0 - 2σ_i d_i | x̂_0 | x̂_0 + 2σ_i d_i (σ_i = √variance_i)")
    add_model_args(p)
    add_schedule_args(p)
    p.add_argument("--json", action="store_true",
                   help='print {"directions": [[784 floats] x K], "variances": [K], "x0_mean": [784], ...}')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ._common import (check_guidance, check_int_range, check_out, check_threads, digit_from_args,
                          guidance_from_args, labels_from_arg, model_on_device, schedule_from_args)

    check_threads(args.threads)
    schedule = schedule_from_args(args)
    check_int_range("--t", args.t, 1, schedule.T)
    check_int_range("--k", args.k, 1, 64)
    check_int_range("--iterations", args.iterations, 0, 200)
    check_int_range("--oversample", args.oversample, 0, 64)
    labels_from_arg(args.label, 1)
    check_guidance(args.guidance)
    out = None if args.out is None else check_out(args.out, (".png",))
    if args.seed >= 2**63 - 1:
        raise ValueError(f"--seed must be below 2^63 - 1, got {args.seed}")

    import numpy as np
    import torch

    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import ddim_step, generator_for, make_eps_fn
    from ddpm_desktop.core.uncertainty import posterior_principal_components

    x0, original_label, source = digit_from_args(args)
    model, device = model_on_device(args)
    # one class as an int: the subspace iteration batches the image k + oversample times
    label = labels_from_arg(args.label, 1, model.config.num_classes)
    eps_fn = make_eps_fn(model, schedule, None if label is None else int(label[0]), guidance_from_args(args))
    # the x_t of `reconstruct --index N --t T --seed S` (its default path, no --noise-seed)
    x_t = q_sample(schedule, torch.as_tensor(np.asarray(x0, dtype=np.float32))[None, None], args.t,
                   generator=generator_for(args.seed)).to(device)
    started = time.perf_counter()
    pcs = posterior_principal_components(eps_fn, schedule, x_t, args.t, args.k, args.iterations, args.jvp,
                                         generator_for(args.seed + 1), args.oversample)
    seconds = time.perf_counter() - started
    # x̂_0 = E[x_0 | x_t], the centre the directions move around (the DDIM step's, unclipped)
    with torch.no_grad():
        _, x0_mean = ddim_step(eps_fn, schedule, x_t, args.t, 0, clip_x0=False)
    x0_mean = x0_mean.reshape(-1).cpu().numpy()
    if out is not None:
        from ddpm_desktop.core import imaging

        sigma = np.sqrt(np.maximum(pcs.variances, 0.0))[:, None]
        rows = np.stack([x0_mean - 2 * sigma * pcs.directions, np.broadcast_to(x0_mean, pcs.directions.shape),
                         x0_mean + 2 * sigma * pcs.directions], axis=1).reshape(-1, *x0.shape)
        imaging.save_png(imaging.upscale(imaging.make_grid(imaging.to_uint8(rows), nrow=3), 4), out)
    report = {"source": source, "t": args.t, "k": args.k, "seed": args.seed, "label": original_label,
              "iterations": args.iterations, "jvp": args.jvp,
              "variances": [float(v) for v in pcs.variances],
              "directions": [[round(float(v), 7) for v in d] for d in pcs.directions],
              "x0_mean": [round(float(v), 6) for v in x0_mean], "seconds": round(seconds, 4)}
    if out is not None:
        report["out"] = str(out)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{source} at t = {args.t} (seed {args.seed}): the {args.k} largest posterior variances "
              + ", ".join(f"{v:.3g}" for v in pcs.variances) + f" (std {np.sqrt(max(pcs.variances[0], 0)):.3g} "
              f"along the first direction; {seconds:.2f} s)")
    return 0
