"""The app's randomness on the command line: the flags that draw as the app does.

The app draws its numbers from separate seeds: the forward chain's z_1..z_T from the input
seed, x_T from its own seed (the input seed + an offset) and the distribution the Input dock
names, the sampler's noise from the sampler seed. `add_reproduce_args` gives `sample`,
`reconstruct` and `export` the same (`--noise-seed`, `--x-seed`, `--start`, `--start-param`);
with them `--seed` seeds only the sampler, as in the app. Without them the commands draw as
they always did (one generator from `--seed` for everything).

The line that reproduces an app run with these flags is built by core/reproduce.py. No Qt, no
torch at import.
"""
from __future__ import annotations

import argparse


# ---------------------------------------------------------------- the flags

def add_reproduce_args(p: argparse.ArgumentParser, forward: bool, start: bool) -> None:
    """--noise-seed (when `forward`: the forward chain's noise) and --x-seed, --start,
    --start-param (when `start`: the x_T draw)."""
    from ._common import seed_arg

    if forward:
        p.add_argument("--noise-seed", type=seed_arg, default=None,
                       help="noise x_0 with the step-by-step forward chain whose z_1..z_T come "
                            "from this seed (the app's forward chain); --seed then seeds only "
                            "the sampler")
    if start:
        from ddpm_desktop.core.forward import START_PARAMS, STARTS

        p.add_argument("--x-seed", type=seed_arg, default=None,
                       help="draw x_T from its own generator with this seed (as the app does); "
                            "--seed then seeds only the sampler")
        p.add_argument("--start", choices=tuple(s for s in STARTS if s != "image"),
                       default="gaussian", help="the distribution x_T is drawn from (default "
                                                "gaussian, N(0, I))")
        p.add_argument("--start-param", action="append", default=[], metavar="KEY=VALUE",
                       help="a parameter of --start, repeatable; the parameters and their defaults: "
                            + "; ".join(f"{name} " + ", ".join(f"{k}={v:.4g}" for k, v in params.items())
                                        for name, params in START_PARAMS.items() if params and name != "image"))


def start_params(args) -> dict:
    """--start-param KEY=VALUE... as a dict, checked against --start (ValueError, one line)."""
    from ddpm_desktop.core.forward import sample_start

    params = {}
    for item in getattr(args, "start_param", []) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--start-param must be KEY=VALUE, got {item!r}")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--start-param {key.strip()} must be a number, got {value!r}") from None
    sample_start(args.start, (1,), None, **params)  # validates the names and values
    return params


class XTDraw:
    """x_T for `n` images at a time: with --x-seed, numpy's draw of that seed, as the app draws
    its x_T (core.forward.draw_start; the first image is the app's); else from the shared
    generator `gen` (the commands' old behaviour: a Gaussian start draws exactly what
    `torch.randn((n, 1, 28, 28), generator=gen)` did)."""

    def __init__(self, args, gen) -> None:
        self.start = getattr(args, "start", "gaussian")
        self.params = start_params(args) if hasattr(args, "start") else {}
        self.x_seed = getattr(args, "x_seed", None)
        self.gen = gen

    def __call__(self, n: int):
        import torch

        from ddpm_desktop.core.forward import IMAGE_SHAPE, draw_start, sample_start

        shape = (n, 1, *IMAGE_SHAPE)
        if self.x_seed is not None:
            return torch.from_numpy(draw_start(self.start, shape, self.x_seed, **self.params))
        return sample_start(self.start, shape, self.gen, **self.params)


def forward_noise(args, gen) -> dict:
    """How the forward chain draws its noise, as keywords of core.forward.forward_chain: the
    app's chain of --noise-seed (`seed`, numpy), else the shared torch generator `gen`."""
    seed = getattr(args, "noise_seed", None)
    return {"generator": gen} if seed is None else {"seed": seed}
