"""`ddpm-desktop likelihood`: bits per dimension of digits by the probability-flow ODE.

The 8-bit pixels are dequantized uniformly within their bins, the ODE runs from λ_max down to
the schedule's λ_T with the trace of the network's Jacobian (Hutchinson's estimator, or exact
with --trace exact: 784 VJPs an evaluation, ~100x slower), and the N(0, I) prior closes it
(core.likelihood). At the default settings with the bundled model, --json also places each
image among held-out digits (resources/likelihood_reference.json). `--vlb` adds the DDPM variational bound (Ho et al. 2020, eq. 5), each of
its L_{t-1} at `--vlb-steps` evenly spaced steps. Lower is more likely.
"""
from __future__ import annotations

import argparse
import json
import time

HELP = "bits per dimension of digits (probability-flow ODE)"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ddpm_desktop.core.likelihood import DEFAULT_LOG_SNR_MAX, DEFAULT_ODE_STEPS, DEFAULT_PROBES, TRACES

    from ._common import seed_arg
    from ._inputs import add_digits_args

    p = sub.add_parser("likelihood", help=HELP,
                       description="Bits per dimension of 8-bit digits by the probability-flow ODE with "
                                   "uniform dequantization; lower is more likely.")
    add_digits_args(p)
    p.add_argument("--steps", type=int, default=DEFAULT_ODE_STEPS,
                   help=f"RK4 steps in log-SNR, 4 network calls each (default {DEFAULT_ODE_STEPS})")
    p.add_argument("--log-snr-max", type=float, default=DEFAULT_LOG_SNR_MAX,
                   help=f"log-SNR where the ODE starts at the data (default {DEFAULT_LOG_SNR_MAX:g})")
    p.add_argument("--trace", choices=TRACES, default="hutchinson",
                   help="Jacobian trace: hutchinson (default) or exact (784 VJPs a call)")
    p.add_argument("--probes", type=int, default=DEFAULT_PROBES,
                   help=f"Hutchinson probe vectors per image, 1..64 (default {DEFAULT_PROBES})")
    p.add_argument("--label", default=None,
                   help="class 0-9: the class-conditional likelihood log p(x | y) (default unconditional)")
    p.add_argument("--vlb", action="store_true", help="also the DDPM variational bound in bits/dim")
    p.add_argument("--vlb-steps", type=int, default=100,
                   help="steps t whose L_{t-1} the bound evaluates, evenly spaced (default 100; T for all)")
    p.add_argument("--batch", type=int, default=16, help="digits per solve (default 16)")
    p.add_argument("--seed", type=seed_arg, default=0, help="dequantization, probes and the bound's noise")
    p.add_argument("--json", action="store_true",
                   help='print {"bits_per_dim": [...], "more_likely_than_held_out", ...}; with --vlb also '
                        '"vlb_bits_per_dim", "vlb_prior", "vlb_decoder", "vlb_t" and "vlb_terms" [len(vlb_t)][N]')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import math

    from ._common import (check_int_range, check_memory, check_threads, labels_from_arg, model_on_device,
                          schedule_from_args, unet_bytes)
    from ._inputs import read_digits

    check_threads(args.threads)
    schedule = schedule_from_args(args)
    check_int_range("--steps", args.steps, 1, 10_000)
    check_int_range("--probes", args.probes, 1, 64)
    check_int_range("--batch", args.batch, 1, 1024)
    check_int_range("--vlb-steps", args.vlb_steps, 1, max(1, schedule.T - 1))
    lam_T = float(schedule.log_snr[-1])
    if not (math.isfinite(args.log_snr_max) and lam_T < args.log_snr_max <= 20.0):
        raise ValueError(f"--log-snr-max must be in ({lam_T:.3g}, 20] (above the schedule's λ_T, within "
                         f"the network's range), got {args.log_snr_max}")
    labels_from_arg(args.label, 1)
    images, source = read_digits(args.file)

    import numpy as np

    from ddpm_desktop.core.likelihood import EXACT_CHUNK, image_bits_per_dim, load_reference, vlb_terms
    from ddpm_desktop.core.sampling import generator_for, make_eps_fn, make_log_snr_eps_fn

    model, device = model_on_device(args)
    # one call holds batch × (probes, or EXACT_CHUNK basis vectors) images with their graph for the VJP
    per_call = min(args.batch, len(images)) * (EXACT_CHUNK if args.trace == "exact" else args.probes)
    check_memory(unet_bytes(model.config, per_call, training=True), "this --batch with this --trace/--probes")
    generator = generator_for(args.seed)
    started = time.perf_counter()
    bpd, vlb = [], []
    # one class for every row as an int: the trace's calls batch each image several times over
    label = labels_from_arg(args.label, 1, model.config.num_classes)
    label = None if label is None else int(label[0])
    for lo in range(0, len(images), args.batch):
        chunk = images[lo:lo + args.batch]
        bpd.append(image_bits_per_dim(make_log_snr_eps_fn(model, label), chunk, schedule, args.log_snr_max,
                                      args.steps, args.trace, args.probes, generator, device))
        if args.vlb:
            ts = np.unique(np.round(np.linspace(2, schedule.T, args.vlb_steps)).astype(np.int64))
            vlb.append(vlb_terms(make_eps_fn(model, schedule, label), schedule, chunk, ts, generator, device))
    seconds = time.perf_counter() - started
    bpd = np.concatenate(bpd)
    report = {"source": source, "n": int(len(bpd)), "steps": args.steps, "trace": args.trace,
              "probes": args.probes, "log_snr_max": args.log_snr_max,
              "bits_per_dim": [round(float(b), 5) for b in bpd], "seconds": round(seconds, 3)}
    reference = load_reference()
    # the held-out digits were scored by the bundled model, unconditionally, at the default settings
    if (reference is not None and args.checkpoint is None and label is None
            and reference.matches(args.steps, args.log_snr_max, schedule)):
        report["more_likely_than_held_out"] = [round(float(p), 4) for p in reference.more_likely_than(bpd)]
        report["held_out_median_bits_per_dim"] = round(float(np.median(reference.bits_per_dim)), 4)
    if args.vlb:
        # the bound and its terms (Ho et al. 2020, eq. 5), bits/dim: per image, and L_{t-1} per step t
        report["vlb_bits_per_dim"] = [round(float(b), 5) for b in np.concatenate([v.total for v in vlb])]
        report["vlb_prior"] = [round(float(b), 7) for b in np.concatenate([v.prior for v in vlb])]
        report["vlb_decoder"] = [round(float(b), 5) for b in np.concatenate([v.decoder for v in vlb])]
        report["vlb_t"] = vlb[0].ts.tolist()
        report["vlb_terms"] = np.round(np.concatenate([v.terms for v in vlb], axis=1), 6).tolist()
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{len(bpd)} digit(s) from {source}: bits/dim " + ", ".join(f"{b:.3f}" for b in bpd[:20])
              + (" ..." if len(bpd) > 20 else "") + f" ({args.trace} trace, {args.steps} RK4 steps, {seconds:.1f} s)")
        if "more_likely_than_held_out" in report:
            print("more likely than this share of held-out digits: "
                  + ", ".join(f"{p:.0%}" for p in report["more_likely_than_held_out"][:20]))
        if args.vlb:
            print("variational bound, bits/dim: " + ", ".join(f"{b:.3f}" for b in report["vlb_bits_per_dim"][:20]))
    return 0
