"""`ddpm-desktop kl`: KL of pixel values against N(0, 1) along the forward chain from a start."""
from __future__ import annotations

import argparse
import json
import math

from ._common import add_schedule_args, schedule_from_args

STARTS = ("gaussian", "exponential", "uniform", "laplace", "salt_pepper", "shifted_gaussian",
          "image")  # = core.forward.STARTS
SIDE = 28


def add_parser(sub) -> None:
    from ._common import seed_arg

    p = sub.add_parser(
        "kl", help="KL to N(0, 1) along the forward chain",
        description="Draw x_0 (28×28) from a start distribution or load an image, run the "
                    "forward chain x_0 .. x_T and print the histogram KL of each frame's pixels "
                    "against N(0, 1), with its small-sample bias floor and the exact KL where "
                    "one is known.")
    p.add_argument("--start", choices=STARTS, default="gaussian",
                   help="distribution of x_0's pixels, or image (needs --image); default gaussian")
    p.add_argument("--rate", type=float, default=None, help="rate λ of the exponential start (default 0.5)")
    p.add_argument("--image", default=None, help="picture for --start image (MNIST-style preprocessing)")
    add_schedule_args(p, t_aliases=("--steps", "--schedule-steps"))  # --steps: its old name for T
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    p.add_argument("--bins", type=int, default=None,
                   help="histogram bins on [-5, 5] (default: 31 bins of width 1/3 centred on 0)")
    p.add_argument("--json", action="store_true",
                   help="print JSON: histogram_kl and analytic_kl (t = 0..T), bins, range, bias_floor")
    p.set_defaults(run=run)


def _analytic(start: str, schedule, x0, params: dict) -> list | None:
    """Exact KL per pixel for t = 0..T where known (None entries where not); None if never known.

    - image: KL(q(x_t|x_0) ‖ N(0, 1)) averaged over pixels; t = 0 (a point mass) is null.
    - gaussian family: x_0 ~ N(μ, s²) gives x_t ~ N(√ᾱ_t μ, ᾱ_t s² + 1 - ᾱ_t), exact at every t.
    - exponential, uniform, laplace: the closed form at t = 0 only; the law of x_t (a scaled
      copy convolved with a Gaussian) has no closed-form KL, so t >= 1 is null.
    - salt_pepper: null (discrete, no density).
    """
    import numpy as np

    from ddpm_desktop.core.forward import START_PARAMS, start_analytic_kl
    from ddpm_desktop.core.kl import analytic_kl_q

    if start == "image":
        return [None] + analytic_kl_q(schedule, x0)[1:].tolist()
    if start in ("gaussian", "shifted_gaussian"):
        p = {**START_PARAMS["shifted_gaussian"], **params} if start == "shifted_gaussian" \
            else {"mean": 0.0, "std": 1.0}
        ab = np.append(1.0, schedule.alphas_cumprod)
        mean = np.sqrt(ab) * p["mean"]
        var = ab * p["std"] ** 2 + (1.0 - ab)
        return (0.5 * (var + mean ** 2 - 1.0 - np.log(var))).tolist()
    value = start_analytic_kl(start, **params)
    if value is None:
        return None
    return [value] + [None] * schedule.T


def run(args: argparse.Namespace) -> int:
    if args.rate is not None and args.start != "exponential":
        raise ValueError("--rate only applies to --start exponential")
    if args.image is not None and args.start != "image":
        raise ValueError("--image only applies to --start image")
    if args.start == "image" and args.image is None:
        raise ValueError("--start image needs --image PATH")
    if args.bins is not None and not 2 <= args.bins <= 10_000:
        raise ValueError(f"--bins must be in 2..10000, got {args.bins}")
    schedule = schedule_from_args(args)  # validates --T and the betas before the heavy imports

    import torch

    from ddpm_desktop.core.forward import forward_chain, sample_start
    from ddpm_desktop.core.kl import bias_floor, default_binning, histogram_kl_batch

    params = {"rate": args.rate} if args.start == "exponential" and args.rate is not None else {}
    generator = torch.Generator().manual_seed(args.seed)
    if args.start == "image":
        from ddpm_desktop.core.imaging import load_digit

        x0 = torch.from_numpy(load_digit(args.image))
    else:
        x0 = sample_start(args.start, (SIDE, SIDE), generator, **params)
    chain = forward_chain(schedule, x0, generator)
    frames = chain.x.reshape(schedule.T + 1, -1).numpy()
    n = frames.shape[1]
    if args.bins is None:
        bins, (lo, hi) = default_binning(n)
    else:
        bins, lo, hi = args.bins, -5.0, 5.0
    hist = histogram_kl_batch(frames, bins=bins, range=(lo, hi))
    analytic = _analytic(args.start, schedule, x0.numpy(), params)
    floor = bias_floor(n, bins)

    if args.json:
        print(json.dumps({
            "start": args.start,
            "rate": params.get("rate", 0.5) if args.start == "exponential" else None,
            "schedule": schedule.kind,
            "T": schedule.T,
            "seed": args.seed,
            "n": n,
            "bins": bins,
            "range": [lo, hi],
            "bias_floor": floor,
            "histogram_kl": hist.tolist(),
            "analytic_kl": analytic,
        }))
        return 0
    T = schedule.T
    print(f"start {args.start}, {schedule.kind} schedule, T = {T}, {n} pixels, {bins} bins on "
          f"[{lo:.3g}, {hi:.3g}], bias floor {floor:.3g} nats")
    picks = sorted({0, 1, T // 10, T // 4, T // 2, 3 * T // 4, T})
    for t in picks:
        exact = analytic[t] if analytic is not None else None
        exact_s = "" if exact is None else f"   exact {exact:.4g}" if math.isfinite(exact) else "   exact inf"
        print(f"t = {t:>6}: histogram KL {hist[t]:.4g}{exact_s}")
    return 0
