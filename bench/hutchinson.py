"""Hutchinson's trace estimator against the exact trace, on the same probability-flow path.

`python -m bench.hutchinson [--digits N] [--steps S] [--draws P] [--json PATH]`

For each of N held-out digits (evenly spaced over the test split, so every class), one
dequantized x_0 is carried by the probability-flow ODE (core.likelihood, classical RK4 at S
equal steps in λ: 4·S evaluations) twice:

- with the exact trace of ∂ε̂/∂x at every evaluation (784 vector-Jacobian products, 98 per
  batched call): the exact bits/dim on that path;
- with Hutchinson's estimate as the app runs it (one Rademacher probe per evaluation, drawn
  afresh each time), P times at once: x_0 repeated P times in one batch, each row with its own
  probes. The trace never feeds back into x, so all P rows and the exact run follow one path and
  differ only in the trace: each row's bits/dim minus the exact value is the estimator's error.

A coarse S is what makes the exact trace affordable (about 5 CPU-seconds an evaluation here, so
S = 32, the default, costs ~10 CPU-minutes a digit); it is also the harder case for the
estimator: its error is a sum over the evaluations of independent zero-mean terms, each weighted
by its RK4 step, so its spread shrinks roughly as 1/√(4S) as the steps grow. Each digit's
bits/dim at the default settings (32 steps, `--default-draws` Hutchinson runs) is measured too:
their mean is the scale a 1% error is read against (a few RK4 steps do not give a likelihood; the
error's size in bits/dim is what the comparison is about), and their standard deviation is the
estimator's error at the default settings (the estimator is unbiased, so its spread over draws
is its spread about the exact value; the exact-trace runs check the unbiasedness).

Prints one line per digit and a summary: medians and maxima over digits of each digit's median
and largest |error|, the share of all P × N estimates within 1% of the exact value, and the mean
error against its standard error (the estimator is unbiased: the mean should sit within a few).
One torch thread; CPU seconds are reported beside the wall-clock ones.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

TOLERANCE = 0.01   # the target: Hutchinson within 1% of the exact trace's bits/dim


@dataclass(frozen=True)
class Comparison:
    """One digit: exact bits/dim on the path; hutchinson [P] on the same path; errors [P] =
    hutchinson - exact (bits/dim); cpu_exact_s, cpu_hutchinson_s: CPU seconds of each run."""

    exact: float
    hutchinson: np.ndarray
    errors: np.ndarray
    cpu_exact_s: float
    cpu_hutchinson_s: float


def compare_traces(eps_at, x: torch.Tensor, log_snr_min: float, log_snr_max: float, steps: int,
                   draws: int, generator: torch.Generator) -> Comparison:
    """Bits/dim of one image x [1, ...] (already dequantized) by the exact trace and by `draws`
    Hutchinson runs with fresh probes from `generator`, all on the ODE path of x (RK4, `steps`)."""
    from ddpm_desktop.core.likelihood import bits_per_dim, log_likelihood

    dims = x[0].numel()
    c0 = time.process_time()
    exact = float(bits_per_dim(log_likelihood(eps_at, x, log_snr_min, log_snr_max, steps, trace="exact"), dims)[0])
    c1 = time.process_time()
    rows = x.expand(draws, *x.shape[1:]).contiguous()
    hutch = bits_per_dim(log_likelihood(eps_at, rows, log_snr_min, log_snr_max, steps, trace="hutchinson",
                                        generator=generator), dims)
    c2 = time.process_time()
    return Comparison(exact, hutch, hutch - exact, c1 - c0, c2 - c1)


@dataclass(frozen=True)
class Summary:
    """Over digits: the median and max of each digit's median |error| and of its largest |error|
    (bits/dim); the same relative to each digit's default-settings bits/dim; the share of all
    estimates within `TOLERANCE` of that scale and of the same path's exact value; the largest
    |mean error| / standard error over digits; the median and max over digits of the errors'
    standard deviation relative to the scale."""

    digits: int
    draws: int
    median_abs_error: float
    max_median_abs_error: float
    median_max_abs_error: float
    max_abs_error: float
    median_relative: float
    max_relative: float
    share_within_tolerance: float
    share_within_tolerance_of_path_value: float
    max_bias_z: float
    median_relative_std: float
    max_relative_std: float


def summarise(comparisons: list[Comparison], scales) -> Summary:
    """`scales` [N]: the bits/dim each digit's error is read against (its default-settings value)."""
    abs_err = [np.abs(c.errors) for c in comparisons]
    rel = [a / abs(s) for a, s in zip(abs_err, scales)]
    rel_path = [a / abs(c.exact) for a, c in zip(abs_err, comparisons)]
    z = [abs(c.errors.mean()) / (c.errors.std(ddof=1) / math.sqrt(len(c.errors)))
         if len(c.errors) > 1 and c.errors.std() > 0 else 0.0 for c in comparisons]
    rel_std = [float(c.errors.std(ddof=1)) / abs(sc) if len(c.errors) > 1 else 0.0
               for c, sc in zip(comparisons, scales)]
    med = [float(np.median(a)) for a in abs_err]
    mx = [float(a.max()) for a in abs_err]
    return Summary(len(comparisons), len(comparisons[0].errors), float(np.median(med)), float(max(med)),
                   float(np.median(mx)), float(max(mx)), float(np.median(np.concatenate(rel))),
                   float(max(r.max() for r in rel)),
                   float(np.mean(np.concatenate(rel) <= TOLERANCE)),
                   float(np.mean(np.concatenate(rel_path) <= TOLERANCE)), float(max(z)),
                   float(np.median(rel_std)), float(max(rel_std)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--digits", type=int, default=20, help="held-out digits, evenly spaced")
    p.add_argument("--steps", type=int, default=2, help="RK4 steps of the shared path (4 evaluations each)")
    p.add_argument("--draws", type=int, default=32, help="Hutchinson runs per digit on that path")
    p.add_argument("--default-draws", type=int, default=4,
                   help="Hutchinson runs at the default settings per digit (the scale of 1%%)")
    p.add_argument("--json", help="write every number here")
    args = p.parse_args(argv)

    torch.set_num_threads(1)
    from ddpm_desktop.core import checkpoint
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.likelihood import (DEFAULT_LOG_SNR_MAX, DEFAULT_ODE_STEPS, bits_per_dim, dequantize,
                                              log_likelihood)
    from ddpm_desktop.core.sampling import generator_for, make_log_snr_eps_fn
    from ddpm_desktop.core.schedule import NoiseSchedule

    model, _ = checkpoint.load_model(checkpoint.bundled_model_path(), device="cpu")
    schedule = NoiseSchedule.default()
    test = load_bundled_mnist("test")
    eps_at = make_log_snr_eps_fn(model)
    lam_min = float(schedule.log_snr[-1])
    indices = np.linspace(0, len(test.images) - 1, args.digits).round().astype(int)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    comparisons, scales, rows = [], [], []
    for n, i in enumerate(indices.tolist()):
        x = dequantize(test.images[[i]], generator_for(i))[:, None]
        c = compare_traces(eps_at, x, lam_min, DEFAULT_LOG_SNR_MAX, args.steps, args.draws, generator_for(10_000 + i))
        c0 = time.process_time()
        default = bits_per_dim(log_likelihood(eps_at, x.expand(args.default_draws, *x.shape[1:]).contiguous(),
                                              lam_min, DEFAULT_LOG_SNR_MAX, DEFAULT_ODE_STEPS,
                                              generator=generator_for(20_000 + i)), 784)
        cpu_default = time.process_time() - c0
        scale = float(default.mean())
        comparisons.append(c)
        scales.append(scale)
        a = np.abs(c.errors)
        default_sd = float(default.std(ddof=1)) if len(default) > 1 else float("nan")
        rows.append({"index": i, "label": int(test.labels[i]), "exact": c.exact, "default_bits_per_dim": scale,
                     "default_draws": default.tolist(), "default_std": default_sd,
                     "errors": c.errors.tolist(), "median_abs_error": float(np.median(a)),
                     "max_abs_error": float(a.max()), "std_error": float(c.errors.std(ddof=1)),
                     "cpu_exact_s": c.cpu_exact_s, "cpu_hutchinson_s": c.cpu_hutchinson_s,
                     "cpu_default_s": cpu_default})
        print(f"digit {i} ({test.labels[i]}): exact {c.exact:.4f} bits/dim on the {args.steps}-step path, "
              f"Hutchinson - exact over {args.draws} draws: median |.| {np.median(a):.4f}, max {a.max():.4f}, "
              f"mean {c.errors.mean():+.4f} ± {c.errors.std(ddof=1) / math.sqrt(len(a)):.4f}; "
              f"default {scale:.3f} bits/dim, s.d. over its draws {default_sd:.4f} (max |error| here "
              f"{100 * a.max() / scale:.2f}% of it; s.d. ratio {c.errors.std(ddof=1) / default_sd:.2f}); "
              f"CPU {c.cpu_exact_s:.0f} s exact, {c.cpu_hutchinson_s:.1f} s for the draws "
              f"[{n + 1}/{len(indices)}, {time.perf_counter() - wall0:.0f} s wall]", flush=True)
        if args.json:   # after every digit, so a run stopped early keeps what it measured
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"settings": vars(args), "summary": asdict(summarise(comparisons, scales)),
                           "digits": rows}, f, indent=1)
    s = summarise(comparisons, scales)
    default_rel_sd = [r["default_std"] / r["default_bits_per_dim"] for r in rows]
    ratios = [r["std_error"] / r["default_std"] for r in rows]
    print(f"default settings ({DEFAULT_ODE_STEPS} RK4 steps, {4 * DEFAULT_ODE_STEPS} evaluations), "
          f"{args.default_draws} draws a digit: Hutchinson's s.d. relative to the digit's bits/dim median "
          f"{100 * np.median(default_rel_sd):.2f}%, max {100 * max(default_rel_sd):.2f}%; s.d. on the "
          f"{args.steps}-step path / s.d. at the default: median {np.median(ratios):.2f} (1/√h predicts "
          f"{math.sqrt(DEFAULT_ODE_STEPS / args.steps):.2f})", flush=True)
    print(f"summary over {s.digits} digits, {s.draws} Hutchinson draws each, {args.steps} RK4 steps "
          f"({4 * args.steps} evaluations): |Hutchinson - exact| per digit median {s.median_abs_error:.4f} bits/dim "
          f"(worst digit {s.max_median_abs_error:.4f}), per digit max {s.median_max_abs_error:.4f} (worst "
          f"{s.max_abs_error:.4f}); relative to the digit's default bits/dim: median {100 * s.median_relative:.2f}%, "
          f"max {100 * s.max_relative:.2f}%; within 1%: {100 * s.share_within_tolerance:.1f}% of estimates "
          f"({100 * s.share_within_tolerance_of_path_value:.1f}% against the path's own exact value); "
          f"largest |mean error|/s.e. {s.max_bias_z:.2f}; error's s.d. relative to the default bits/dim: "
          f"median {100 * s.median_relative_std:.2f}%, max {100 * s.max_relative_std:.2f}%; "
          f"{time.process_time() - cpu0:.0f} s CPU, {time.perf_counter() - wall0:.0f} s wall", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
