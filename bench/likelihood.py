"""The numbers of docs/LIKELIHOOD.md: DDIM inversion, bits/dim, posterior principal components.

`python -m bench.likelihood [--quick] [--only invert,bpd,exact,spread,patterns,uncertainty] [--json PATH]`
prints one line per measurement and, with --json, writes them. One torch thread throughout.
Also a bench/run.py section (`python -m bench.run --sections likelihood`), at the sizes below.

- invert: median round-trip MSE (model units [-1, 1]) of --invert-digits held-out digits at the
  default steps and refinements, and a few other settings on a subset.
- bpd: seconds per digit (batch 1) at the default ODE settings.
- exact: Hutchinson against the exact trace (784 VJPs an evaluation) on the same ODE solution,
  --exact-digits digits at --exact-steps RK4 steps (the exact trace costs ~8 batched calls of 98
  images an evaluation: ~100x Hutchinson's; 20 digits at the default 32 steps is ~10 CPU-hours).
  bench/hutchinson.py runs the comparison with many probe draws per digit.
- spread: Hutchinson's spread over probe draws at the default settings (its mean is the exact
  value: the estimator is unbiased and the ODE's x does not depend on it).
- patterns: held-out digits against noise, stripes, checkers, blank, white, grey, a blob, a ramp.
- uncertainty: seconds for k = 4 on one digit, and the first direction against the first
  principal component of reconstruct's completions of the same x_t (DDPM, --completions of them).
- reference: bits/dim of --reference-digits held-out digits at the default settings, written to
  --reference-out (resources/likelihood_reference.json: the distribution a digit is placed in).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import torch

PARTS = ("invert", "bpd", "exact", "spread", "patterns", "uncertainty", "reference")


def _setup(model_path=None):
    torch.set_num_threads(1)
    from ddpm_desktop.core import checkpoint
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.schedule import NoiseSchedule

    model, _ = checkpoint.load_model(model_path or checkpoint.bundled_model_path(), device="cpu")
    return model, NoiseSchedule.default(), load_bundled_mnist("test")


def _log(msg):
    print(msg, flush=True)


def bench_invert(model, schedule, test, n: int, sweep_n: int) -> dict:
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.inversion import DEFAULT_INVERSION_STEPS, DEFAULT_REFINE, round_trip
    from ddpm_desktop.core.sampling import make_eps_fn

    eps_fn = make_eps_fn(model, schedule)
    idx = np.linspace(0, len(test.images) - 1, n).astype(int)       # every class
    x0 = torch.as_tensor(imaging.to_model_range(test.images[idx]))[:, None]
    t0 = time.perf_counter()
    r = round_trip(eps_fn, schedule, x0)
    out = {"digits": int(n), "steps": DEFAULT_INVERSION_STEPS, "refine": DEFAULT_REFINE, "nfe": r.nfe,
           "median_mse": float(np.median(r.mse)), "p90_mse": float(np.quantile(r.mse, 0.9)),
           "max_mse": float(r.mse.max()), "x_T_std": float(r.x_T.std()),
           "seconds_per_digit": (time.perf_counter() - t0) / n}
    _log(f"invert: {n} digits, {DEFAULT_INVERSION_STEPS} steps + {DEFAULT_REFINE} refinements ({r.nfe} NFE): "
         f"median MSE {out['median_mse']:.2e}, p90 {out['p90_mse']:.2e}, max {out['max_mse']:.2e}; "
         f"x_T std {out['x_T_std']:.2f}")
    out["sweep"] = []
    for steps, refine in ((10, 0), (20, 0), (50, 0), (100, 0), (10, 2), (20, 1), (50, 1)):
        if not sweep_n:
            break
        rs = round_trip(eps_fn, schedule, x0[:sweep_n], steps, refine)
        row = {"steps": steps, "refine": refine, "nfe": rs.nfe, "digits": int(sweep_n),
               "median_mse": float(np.median(rs.mse)), "max_mse": float(rs.mse.max())}
        out["sweep"].append(row)
        _log(f"  {steps} steps, {refine} refinements ({rs.nfe} NFE): median {row['median_mse']:.2e}, "
             f"max {row['max_mse']:.2e} ({sweep_n} digits)")
    return out


def bench_bpd_time(model, schedule, test, n: int) -> dict:
    from ddpm_desktop.core.likelihood import DEFAULT_ODE_STEPS, image_bits_per_dim
    from ddpm_desktop.core.sampling import generator_for, make_log_snr_eps_fn

    eps_at = make_log_snr_eps_fn(model)
    times, cpu, values = [], [], []
    for i in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        values.append(float(image_bits_per_dim(eps_at, test.images[[100 * i]], schedule,
                                               generator=generator_for(i))[0]))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    out = {"digits": n, "steps": DEFAULT_ODE_STEPS, "median_s_per_digit": statistics.median(times),
           "median_cpu_s_per_digit": statistics.median(cpu), "times_s": times, "bits_per_dim": values}
    _log(f"bpd: {statistics.median(times):.2f} s wall, {statistics.median(cpu):.2f} s CPU a digit (batch 1, one "
         f"thread, {DEFAULT_ODE_STEPS} RK4 steps, {4 * DEFAULT_ODE_STEPS} calls with VJP), values "
         f"{np.round(values, 3).tolist()}")
    return out


def bench_exact(model, schedule, test, n: int, steps: int) -> dict:
    from ddpm_desktop.core.likelihood import bits_per_dim, dequantize, log_likelihood
    from ddpm_desktop.core.sampling import generator_for, make_log_snr_eps_fn

    eps_at = make_log_snr_eps_fn(model)
    lam_min = float(schedule.log_snr[-1])
    rows = []
    for i in range(n):
        x = dequantize(test.images[[50 * i + 7]], generator_for(i))[:, None]
        t0 = time.perf_counter()
        exact = bits_per_dim(log_likelihood(eps_at, x, lam_min, steps=steps, trace="exact"), 784)[0]
        t_exact = time.perf_counter() - t0
        t0 = time.perf_counter()
        hutch = bits_per_dim(log_likelihood(eps_at, x, lam_min, steps=steps, generator=generator_for(100 + i)), 784)[0]
        t_h = time.perf_counter() - t0
        # a few RK4 steps do not give a likelihood (the value can even go below 0); the two traces
        # are compared on the same solution, so the difference in bits/dim is what to read
        rows.append({"exact": float(exact), "hutchinson": float(hutch), "abs_diff": float(abs(hutch - exact)),
                     "seconds_exact": t_exact, "seconds_hutchinson": t_h})
        _log(f"exact: digit {50 * i + 7}, {steps} RK4 steps: exact {exact:.4f}, Hutchinson {hutch:.4f} bits/dim "
             f"(|difference| {rows[-1]['abs_diff']:.4f}); {t_exact:.0f} s against {t_h:.1f} s")
    diffs = [r["abs_diff"] for r in rows]
    return {"digits": n, "steps": steps, "rows": rows, "max_abs_diff": max(diffs) if diffs else None,
            "median_abs_diff": statistics.median(diffs) if diffs else None}


def bench_spread(model, schedule, test, n: int, seeds: int) -> dict:
    from ddpm_desktop.core.likelihood import bits_per_dim, dequantize, log_likelihood
    from ddpm_desktop.core.sampling import generator_for, make_log_snr_eps_fn

    eps_at = make_log_snr_eps_fn(model)
    idx = np.linspace(0, len(test.images) - 1, n).astype(int)
    x = dequantize(test.images[idx], generator_for(0))[:, None]
    lam_min = float(schedule.log_snr[-1])
    draws = np.stack([bits_per_dim(log_likelihood(eps_at, x, lam_min, generator=generator_for(1000 + s)), 784)
                      for s in range(seeds)])
    rel = draws.std(0, ddof=1) / draws.mean(0)
    out = {"digits": n, "seeds": seeds, "mean_bits_per_dim": draws.mean(0).tolist(),
           "rel_std_median": float(np.median(rel)), "rel_std_max": float(rel.max())}
    _log(f"spread: {n} digits x {seeds} probe draws: Hutchinson's relative std median {100 * np.median(rel):.2f}%, "
         f"max {100 * rel.max():.2f}% of bits/dim")
    return out


def _patterns() -> dict:
    yy, xx = np.mgrid[:28, :28]
    return {
        "uniform noise": np.random.default_rng(0).integers(0, 256, (28, 28)),
        "stripes (2 px)": (xx // 2) % 2 * 255,
        "checkerboard (1 px)": (xx + yy) % 2 * 255,
        "blank (black)": np.zeros((28, 28)),
        "white": np.full((28, 28), 255),
        "grey 128": np.full((28, 28), 128),
        "Gaussian blob (σ 5 px)": 255 * np.exp(-((xx - 13.5) ** 2 + (yy - 13.5) ** 2) / 50.0),
        "horizontal ramp": xx * 255 / 27,
    }


def bench_patterns(model, schedule, test, n: int) -> dict:
    from ddpm_desktop.core.likelihood import image_bits_per_dim
    from ddpm_desktop.core.sampling import generator_for, make_log_snr_eps_fn

    pats = {k: np.rint(v).astype(np.uint8) for k, v in _patterns().items()}
    idx = np.linspace(0, len(test.images) - 1, n).astype(int)
    images = np.concatenate([test.images[idx], np.stack(list(pats.values()))])
    bpd = image_bits_per_dim(make_log_snr_eps_fn(model), images, schedule, generator=generator_for(0))
    digits = bpd[:n]
    out = {"digits": n, "digit_bits_per_dim": digits.tolist(),
           "digit_quantiles": {q: float(np.quantile(digits, q)) for q in (0.0, 0.1, 0.5, 0.9, 1.0)},
           "patterns": {k: float(v) for k, v in zip(pats, bpd[n:])}}
    _log(f"patterns: {n} held-out digits: median {np.median(digits):.3f} bits/dim "
         f"(min {digits.min():.3f}, max {digits.max():.3f})")
    for k, v in out["patterns"].items():
        _log(f"  {k}: {v:.3f} bits/dim (above {100 * np.mean(digits < v):.0f}% of the digits)")
    return out


def bench_uncertainty(model, schedule, test, digits, ts, completions: int) -> dict:
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.completions import completions as draw_completions
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import generator_for, make_eps_fn
    from ddpm_desktop.core.uncertainty import posterior_principal_components

    eps_fn = make_eps_fn(model, schedule)
    rows = []
    for index in digits:
        x0 = torch.as_tensor(imaging.to_model_range(test.images[index]))[None, None]
        for t in ts:
            x_t = q_sample(schedule, x0, t, generator=generator_for(0))     # reconstruct --seed 0
            times, cpu = [], []
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.process_time()
                pcs = posterior_principal_components(eps_fn, schedule, x_t, t, 4, generator=generator_for(1))
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            row = {"index": int(index), "t": t, "seconds_k4": statistics.median(times),
                   "cpu_seconds_k4": statistics.median(cpu), "variances": pcs.variances.tolist()}
            if completions:
                # reconstruct --index N --t T --seed 0 --n M --sampler ddpm --steps 50: sampler seeds 1..M
                xs = draw_completions(eps_fn, schedule, x_t, t, completions, sampler="ddpm", steps=50, seed=1)
                flat = xs.reshape(completions, -1).double().numpy()
                centred = flat - flat.mean(0)
                _, sv, vt = np.linalg.svd(centred, full_matrices=False)
                var = sv ** 2 / (completions - 1)
                row.update(cos_first=float(abs(vt[0] @ pcs.directions[0])),
                           completion_variances=var[:4].tolist(),
                           # a direction's variance in the samples, to set the Jacobian's against
                           sample_var_along_first=float(np.var(centred @ pcs.directions[0], ddof=1)))
            rows.append(row)
            _log(f"uncertainty: digit {index}, t = {t}: k = 4 in {row['seconds_k4']:.2f} s wall, "
                 f"{row['cpu_seconds_k4']:.2f} s CPU, variances "
                 f"{np.round(pcs.variances, 3).tolist()}"
                 + (f"; completions' PC1 variance {row['completion_variances'][0]:.3f}, "
                    f"|cos(first direction, PC1)| = {row['cos_first']:.3f}" if completions else ""))
    return {"rows": rows, "completions": completions,
            "median_seconds_k4": statistics.median(r["seconds_k4"] for r in rows),
            "median_cpu_seconds_k4": statistics.median(r["cpu_seconds_k4"] for r in rows)}


REFERENCE_PATTERNS = ("blank (black)", "uniform noise", "checkerboard (1 px)")


def reference_patterns(model, schedule, seed: int) -> dict:
    """{name: bits/dim} of a few non-digits at the reference's settings (one batch, probes and
    dequantization from generator_for(seed)): what a lesson sets a digit against."""
    from ddpm_desktop.core.likelihood import image_bits_per_dim
    from ddpm_desktop.core.sampling import generator_for, make_log_snr_eps_fn

    pats = _patterns()
    images = np.stack([np.rint(pats[name]).astype(np.uint8) for name in REFERENCE_PATTERNS])
    bpd = image_bits_per_dim(make_log_snr_eps_fn(model), images, schedule, generator=generator_for(seed))
    return {name: round(float(b), 5) for name, b in zip(REFERENCE_PATTERNS, bpd)}


def bench_reference(model, schedule, test, n: int, out_path) -> dict:
    from ddpm_desktop.core.likelihood import DEFAULT_LOG_SNR_MAX, DEFAULT_ODE_STEPS, DEFAULT_PROBES, image_bits_per_dim
    from ddpm_desktop.core.sampling import generator_for, make_log_snr_eps_fn
    from ddpm_desktop.core.schedule import DEFAULT_SCHEDULE

    idx = np.linspace(0, len(test.images) - 1, n).astype(int)          # the held-out split, every class
    eps_at = make_log_snr_eps_fn(model)
    bpd = np.concatenate([image_bits_per_dim(eps_at, test.images[idx[lo:lo + 10]], schedule,
                                             generator=generator_for(lo)) for lo in range(0, n, 10)])
    out = {"what": "bits/dim of held-out digits (bundled model, unconditional, default settings)",
           "command": f"python -m bench.likelihood --only reference --reference-digits {n} "
                      f"--reference-out {out_path}",
           "schedule": DEFAULT_SCHEDULE, "steps": DEFAULT_ODE_STEPS, "log_snr_max": DEFAULT_LOG_SNR_MAX,
           "probes": DEFAULT_PROBES, "indices": idx.tolist(), "labels": test.labels[idx].tolist(),
           "bits_per_dim": [round(float(b), 5) for b in bpd],
           "patterns": reference_patterns(model, schedule, seed=n)}
    if out_path:
        with open(out_path, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    q = np.quantile(bpd, [0.0, 0.1, 0.5, 0.9, 1.0])
    _log(f"reference: {n} held-out digits: bits/dim min {q[0]:.3f}, p10 {q[1]:.3f}, median {q[2]:.3f}, "
         f"p90 {q[3]:.3f}, max {q[4]:.3f}" + (f" -> {out_path}" if out_path else ""))
    return out


def run(cfg) -> dict:
    """bench/run.py's entry: the parts at sizes that fit its time limit on a 2-core machine."""
    quick = getattr(cfg, "quick", False)
    model, schedule, test = _setup(getattr(cfg, "model", None))
    return {
        "invert": bench_invert(model, schedule, test, 8 if quick else 50, 0),
        "bpd": bench_bpd_time(model, schedule, test, 1 if quick else 3),
        "spread": bench_spread(model, schedule, test, 4 if quick else 20, 2 if quick else 4),
        "patterns": bench_patterns(model, schedule, test, 4 if quick else 20),
        "uncertainty": bench_uncertainty(model, schedule, test, [7], [300, 600], 0 if quick else 64),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.likelihood", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a sanity check)")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    p.add_argument("--invert-digits", type=int, default=50)
    p.add_argument("--invert-sweep-digits", type=int, default=0, help="digits for the steps/refine sweep (0: none)")
    p.add_argument("--bpd-digits", type=int, default=3)
    p.add_argument("--exact-digits", type=int, default=1)
    p.add_argument("--exact-steps", type=int, default=2)
    p.add_argument("--spread-digits", type=int, default=20)
    p.add_argument("--spread-seeds", type=int, default=4)
    p.add_argument("--pattern-digits", type=int, default=20)
    p.add_argument("--uncertainty-digits", default="7,500")
    p.add_argument("--uncertainty-t", default="300,600")
    p.add_argument("--completions", type=int, default=64)
    p.add_argument("--reference-digits", type=int, default=50)
    p.add_argument("--reference-out", default=None, help="JSON for core.likelihood's reference distribution")
    p.add_argument("--model", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    parts = [s for s in args.only.split(",") if s]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        p.error(f"unknown part(s): {', '.join(unknown)}")
    q = args.quick
    model, schedule, test = _setup(args.model)
    result = {}
    if "invert" in parts:
        result["invert"] = bench_invert(model, schedule, test, 8 if q else args.invert_digits,
                                        0 if q else args.invert_sweep_digits)
    if "bpd" in parts:
        result["bpd"] = bench_bpd_time(model, schedule, test, 1 if q else args.bpd_digits)
    if "exact" in parts:
        result["exact"] = bench_exact(model, schedule, test, 1 if q else args.exact_digits,
                                      1 if q else args.exact_steps)
    if "spread" in parts:
        result["spread"] = bench_spread(model, schedule, test, 4 if q else args.spread_digits,
                                        2 if q else args.spread_seeds)
    if "patterns" in parts:
        result["patterns"] = bench_patterns(model, schedule, test, 4 if q else args.pattern_digits)
    if "uncertainty" in parts:
        result["uncertainty"] = bench_uncertainty(
            model, schedule, test, [int(v) for v in args.uncertainty_digits.split(",")],
            [int(v) for v in args.uncertainty_t.split(",")], 0 if q else args.completions)
    if "reference" in parts:
        result["reference"] = bench_reference(model, schedule, test, 10 if q else args.reference_digits,
                                              args.reference_out)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
