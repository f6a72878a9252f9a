"""`ddpm-desktop kl`: KL of pixel values against N(0, 1) along the forward chain from a start."""
from __future__ import annotations

import argparse
import json
import math

from ._common import add_schedule_args, schedule_from_args

STARTS = ("gaussian", "exponential", "uniform", "laplace", "salt_pepper", "shifted_gaussian",
          "image")  # = core.forward.STARTS
# --flag -> (start, parameter of core.forward.START_PARAMS), so every start's parameters can be set
START_FLAGS = {
    "rate": ("exponential", "rate", "rate λ of the exponential start (default 0.5)"),
    "half_width": ("uniform", "a", "half-width a of the uniform start U[-a, a] (default √3)"),
    "scale": ("laplace", "scale", "scale b of the Laplace start (default 1/√2)"),
    "amount": ("salt_pepper", "amount", "fraction of ±value pixels of salt_pepper (default 1)"),
    "value": ("salt_pepper", "value", "pixel value ±v of salt_pepper (default 1)"),
    "mean": ("shifted_gaussian", "mean", "mean μ of the shifted_gaussian start (default 1)"),
    "std": ("shifted_gaussian", "std", "standard deviation of the shifted_gaussian start (default 1)"),
}
# The range each --flag is accepted in: wide enough for any start worth plotting (the app's
# spin boxes offer 0.001..10), narrow enough that no exp/log in core.marginal over- or underflows.
FLAG_RANGES = {"rate": (1e-3, 100.0), "half_width": (1e-3, 100.0), "scale": (1e-3, 100.0),
               "amount": (0.0, 1.0), "value": (1e-3, 100.0), "mean": (-100.0, 100.0), "std": (1e-3, 100.0)}


HELP = "KL to N(0, 1) along the forward chain"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import seed_arg

    p = sub.add_parser(
        "kl", help=HELP,
        description="Draw x_0 (28×28) from a start distribution or load an image, run the "
                    "forward chain x_0 .. x_T and print, for each t, the exact KL of the pixel-value "
                    "marginal p_t against N(0, 1), the tail-keeping estimate from the frame's 784 "
                    "pixels with its spread, the mean conditional KL of q(x_t|x_0) (an upper bound "
                    "on the exact one) and the poster's plain histogram KL.")
    p.add_argument("--start", choices=STARTS, default="gaussian",
                   help="distribution of x_0's pixels, or image (needs --image); default gaussian")
    for flag, (_, _, text) in START_FLAGS.items():
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=float, default=None, help=text)
    p.add_argument("--image", default=None, help="picture for --start image (MNIST-style preprocessing)")
    add_schedule_args(p, t_aliases=("--steps", "--schedule-steps"))  # --steps: its old name for T
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="the app's input seed: the forward chain's noise and a noise start are "
                        "drawn as the app draws them for this seed (default 0)")
    p.add_argument("--bins", type=int, default=None,
                   help="histogram bins on [-5, 5] (default: 31 bins of width 1/3 centred on 0)")
    p.add_argument("--json", action="store_true",
                   help="print JSON: exact_kl, estimated_kl, estimated_kl_spread, conditional_kl, "
                        "histogram_kl (t = 0..T; null where infinite), indistinguishable_level, "
                        "bins, range, bias_floor")
    p.set_defaults(run=run)


def _nulls(values) -> list:
    """JSON list with null where a value is infinite or undefined."""
    import math as _m

    return [float(v) if _m.isfinite(v) else None for v in values]


def run(args: argparse.Namespace) -> int:
    params = {}
    for flag, (start, key, _) in START_FLAGS.items():
        value = getattr(args, flag)
        if value is None:
            continue
        if args.start != start:
            raise ValueError(f"--{flag.replace('_', '-')} only applies to --start {start}")
        lo, hi = FLAG_RANGES[flag]
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"--{flag.replace('_', '-')} must be a number in {lo:g}..{hi:g}, got {value:g}")
        params[key] = value
    if args.image is not None and args.start != "image":
        raise ValueError("--image only applies to --start image")
    if args.start == "image" and args.image is None:
        raise ValueError("--start image needs --image PATH")
    if args.bins is not None and not 2 <= args.bins <= 10_000:
        raise ValueError(f"--bins must be in 2..10000, got {args.bins}")
    schedule = schedule_from_args(args)  # validates --T and the betas before the heavy imports

    # numpy only, no torch, and the app's draws for this seed: the chain's noise from the seed
    # (forward_noises), a noise start from seed + START_SEED_OFFSET (draw_start)
    import numpy as np

    from ddpm_desktop.core.forward import (IMAGE_SHAPE, START_PARAMS, START_SEED_OFFSET, draw_start,
                                           forward_frames, forward_noises)
    from ddpm_desktop.core.kl import (analytic_kl_q, bias_floor, default_binning,
                                      estimated_kl_band_batch, histogram_kl_batch,
                                      indistinguishable_level)
    from ddpm_desktop.core.marginal import marginal_kl_curve

    if args.start == "image":
        from ddpm_desktop.core.imaging import load_digit

        x0 = np.asarray(load_digit(args.image), dtype=np.float32)
    else:
        x0 = draw_start(args.start, IMAGE_SHAPE, args.seed + START_SEED_OFFSET, **params)  # validates
    chain = forward_frames(schedule, x0, forward_noises(args.seed, schedule.T, x0.shape))
    frames = chain.reshape(schedule.T + 1, -1)
    n = frames.shape[1]
    if args.bins is None:
        bins, (lo, hi) = default_binning(n)
    else:
        bins, lo, hi = args.bins, -5.0, 5.0
    hist = histogram_kl_batch(frames, bins=bins, range=(lo, hi))
    estimate, spread = estimated_kl_band_batch(frames)
    start_params = {"image": x0} if args.start == "image" else params
    exact = marginal_kl_curve(schedule, args.start, **start_params)
    conditional = analytic_kl_q(schedule, x0)
    floor = bias_floor(n, bins)
    level = float(indistinguishable_level(n))

    if args.json:
        shown = {} if args.start == "image" else {**START_PARAMS[args.start], **params}
        print(json.dumps({
            "start": args.start,
            "params": shown,
            "rate": shown.get("rate"),
            "schedule": schedule.kind,
            "T": schedule.T,
            "seed": args.seed,
            "n": n,
            "exact_kl": _nulls(exact),
            "estimated_kl": _nulls(estimate),
            "estimated_kl_spread": _nulls(spread),
            "indistinguishable_level": level,
            "conditional_kl": _nulls(conditional),
            "histogram_kl": hist.tolist(),
            "bins": bins,
            "range": [lo, hi],
            "bias_floor": floor,
        }))
        return 0
    T = schedule.T
    print(f"start {args.start}, {schedule.kind} schedule, T = {T}, {n} pixels; estimate "
          f"indistinguishable from N(0, 1) below {level:.3g} nats; histogram: {bins} bins on "
          f"[{lo:.3g}, {hi:.3g}], bias floor {floor:.3g} nats")
    print("exact = KL of the pixel-value marginal p_t; conditional = mean KL of q(x_t|x_0) per "
          "pixel (an upper bound on exact); histogram = the poster's method")

    from ddpm_desktop.core.readout import (NO_DENSITY, POINT_MASS, REPEATED_VALUES,
                                           format_kl, number)

    notes: dict[tuple[str, str], list[tuple[str, int, float]]] = {}  # (reading, why): cells

    def cell(column: str, t: int, v: float, width: int = 10, **how) -> str:
        """The column's reading (core.readout): a number, "≈ 0" or "∞"; a note below the table
        says why."""
        r = format_kl(float(v), fmt=lambda x, digits: f"{x:.{digits}g}", digits=4, **how)
        if r.note:
            notes.setdefault((r.value, r.note), []).append((column, t, float(v)))
        return f"{r.value:>{width}}"

    print(f"{'t':>7} {'exact':>10} {'estimate':>10} {'± spread':>10} {'conditional':>11} {'histogram':>10}")
    picks = sorted({0, 1, T // 10, T // 4, T // 2, 3 * T // 4, T})
    for t in picks:
        sp = f"{spread[t]:10.2g}" if math.isfinite(spread[t]) else f"{'':>10}"
        why = NO_DENSITY if t == 0 else REPEATED_VALUES
        print(f"{t:>7} {cell('exact', t, exact[t], infinite=NO_DENSITY)} "
              f"{cell('estimate', t, estimate[t], resolution=level, infinite=why)} "
              f"{sp} {cell('conditional', t, conditional[t], 11, infinite=POINT_MASS)} "
              f"{cell('histogram', t, hist[t])}")
    for (value, note), cells in notes.items():
        columns = ", ".join(dict.fromkeys(column for column, _, _ in cells))
        ts = ", ".join(str(t) for t in dict.fromkeys(t for _, t, _ in cells))
        if value == "∞":
            print(f"∞ at t = {ts} ({columns}): {note}")
        else:
            raw = ", ".join(number(v) for _, _, v in cells)
            print(f"≈ 0 at t = {ts} ({columns}: {raw}): {note} nats, the level that 95% of "
                  f"estimates from N(0, 1) itself stay under, so it cannot be told from 0")
    return 0
