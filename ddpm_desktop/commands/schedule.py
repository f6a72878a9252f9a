"""`ddpm-desktop schedule`: print a noise schedule (β_t, ᾱ_t) and how close it brings x_T to N(0, I)."""
from __future__ import annotations

import argparse
import json

KINDS = ("linear", "cosine", "quadratic", "sigmoid")  # = core.schedule.SCHEDULE_KINDS (no import at parse time)


def add_schedule_arguments(p: argparse.ArgumentParser) -> None:
    """--schedule, --steps, --beta-start, --beta-end (shared with `kl`)."""
    p.add_argument("--schedule", choices=KINDS, default="linear", help="β schedule (default linear)")
    p.add_argument("--steps", type=int, default=1000, help="number of diffusion steps T (default 1000)")
    p.add_argument("--beta-start", type=float, default=1e-4, help="β_1 (default 1e-4; cosine ignores it)")
    p.add_argument("--beta-end", type=float, default=0.02, help="β_T (default 0.02; cosine ignores it)")


def build_schedule(args: argparse.Namespace):
    from ddpm_desktop.core.schedule import NoiseSchedule

    return NoiseSchedule.named(args.schedule, args.steps, args.beta_start, args.beta_end)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "schedule", help="show a noise schedule and its prior KL",
        description="Compute a β schedule and report ᾱ_T and the prior term "
                    "L_T = KL(q(x_T|x_0) ‖ N(0, I)) per pixel (worst case E[x_0²] = 1).")
    add_schedule_arguments(p)
    p.add_argument("--json", action="store_true",
                   help="print JSON: betas, alphas_cumprod, log_snr (index 0 is t = 1), "
                        "alpha_bar_T, prior_kl, warning")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ddpm_desktop.core.schedule import prior_warning

    s = build_schedule(args)
    warning = prior_warning(s)
    if args.json:
        print(json.dumps({
            "schedule": s.kind,
            "T": s.T,
            "beta_start": None if s.kind == "cosine" else args.beta_start,
            "beta_end": None if s.kind == "cosine" else args.beta_end,
            "betas": s.betas.tolist(),
            "alphas_cumprod": s.alphas_cumprod.tolist(),
            "log_snr": s.log_snr.tolist(),
            "alpha_bar_T": s.alpha_bar_T,
            "prior_kl": s.prior_kl(),
            "warning": warning,
        }))
        return 0
    print(f"{s.kind} schedule, T = {s.T}: beta from {s.betas[0]:.4g} to {s.betas[-1]:.4g}")
    print(f"alpha_bar_T = {s.alpha_bar_T:.4g} (signal left in x_T: {s.alpha_bar_T ** 0.5:.3g})")
    print(f"prior KL(q(x_T|x_0) || N(0,1)) = {s.prior_kl():.3g} nats/pixel (worst case, E[x_0^2] = 1)")
    print(f"log-SNR from {s.log_snr[0]:.3g} (t = 1) to {s.log_snr[-1]:.3g} (t = T)")
    if warning:
        print(f"warning: {warning}")
    return 0
