"""`ddpm-desktop schedule`: print a noise schedule (β_t, ᾱ_t) and how close it brings x_T to N(0, I)."""
from __future__ import annotations

import argparse
import json


HELP = "show a noise schedule and its prior KL"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import add_schedule_args

    p = sub.add_parser(
        "schedule", help=HELP,
        description="Compute a β schedule and report ᾱ_T and the prior term "
                    "L_T = KL(q(x_T|x_0) ‖ N(0, I)) per pixel (worst case E[x_0²] = 1).")
    # --steps was this command's name for T before every command said --T.
    add_schedule_args(p, t_aliases=("--steps", "--schedule-steps"))
    p.add_argument("--json", action="store_true",
                   help="print JSON: betas, alphas_cumprod, log_snr (index 0 is t = 1), "
                        "alpha_bar_T, prior_kl, warning")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ddpm_desktop.core.schedule import prior_warning

    from ._common import schedule_from_args

    s = schedule_from_args(args)
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
