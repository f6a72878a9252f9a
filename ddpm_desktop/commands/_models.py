"""`--model` for the sampling commands: which ε-model drives the sampler.

network (default): the U-Net of --checkpoint (default: the bundled model; with `--sampler
distilled`, the student). exact: the perfect denoiser of core.exact_denoiser, the exact posterior
mean over the bundled training digits (9,000; --bandwidth h > 0 widens its kernel, from copying
towards averaging). twin-a, twin-b, few-a, few-b: the bundled models trained on parts of the
training digits (core.checkpoint.SUBSET_MODELS; docs/COPIES.md has their recipe): the twins on the
two disjoint halves (4,500 digits each), the few-digit pair on two disjoint sets of 64 digits,
trained until they copy them.
"""
from __future__ import annotations

from ddpm_desktop.core.checkpoint import SUBSET_MODELS

MODEL_CHOICES = ("network", "exact", *SUBSET_MODELS)


def add_model_choice_args(p) -> None:
    p.add_argument("--model", choices=MODEL_CHOICES, default="network",
                   help="network: the U-Net of --checkpoint (default). exact: the perfect denoiser, the "
                        "exact posterior mean of the 9,000 training digits (its samples copy them). "
                        "twin-a, twin-b: the same U-Net trained on one of two disjoint halves of the "
                        "training digits (4,500 each); sample both with the same --seed to compare "
                        "what they draw from the same noise. few-a, few-b: trained on 64 digits each "
                        "(two disjoint sets) until most of their samples copy one of them")
    p.add_argument("--bandwidth", type=float, default=None,
                   help="with --model exact: widen its kernel to a per-pixel std h in [-1, 1] units "
                        "(default 0, exact; about 2: most samples still copy, 4: none do, blends)")


def check_model_choice(args) -> None:
    """Refuse combinations that mean nothing, in one line, before any work."""
    import math

    if args.model != "exact":
        if args.bandwidth is not None:
            raise ValueError("--bandwidth applies to --model exact only")
        if args.model in SUBSET_MODELS:
            _check_subset_model(args)
        return
    if args.checkpoint is not None:
        raise ValueError("--model exact uses the bundled training digits, not a --checkpoint")
    if getattr(args, "sampler", None) == "distilled":
        raise ValueError("--model exact runs with the ddpm, ddim or dpmpp sampler, not distilled")
    h = args.bandwidth
    if h is not None and not (math.isfinite(h) and 0 <= h <= 1e3):
        raise ValueError(f"--bandwidth must be a number in [0, 1000], got {h}")


def _check_subset_model(args) -> None:
    """A bundled subset model replaces --checkpoint and is a teacher; its file must be there."""
    from ddpm_desktop.core import checkpoint

    if args.checkpoint is not None:
        raise ValueError(f"--model {args.model} is a bundled model; leave out --checkpoint")
    if getattr(args, "sampler", None) == "distilled":
        raise ValueError(f"--model {args.model} runs with the ddpm, ddim or dpmpp sampler, not distilled")
    path = checkpoint.subset_model_path(args.model)
    if not path.is_file():
        raise ValueError(f"this build has no {args.model} model: '{path}' is missing")


def model_from_args(args, device):
    """(model, metadata, guidance or None) as `_distilled.model_for`, with --model exact giving the
    perfect denoiser and a subset model its bundled U-Net (both with the caller's guidance)."""
    if args.model in SUBSET_MODELS:
        from ddpm_desktop.core.twins import load_subset_model

        model, meta = load_subset_model(args.model, device=device)
        return model, meta, None
    if args.model == "exact":
        from ddpm_desktop.core.exact_denoiser import DEFAULT_BANDWIDTH, ExactDenoiser

        h = DEFAULT_BANDWIDTH if args.bandwidth is None else args.bandwidth
        return ExactDenoiser.bundled(h), {"model": "exact", "bandwidth": h}, None
    from ._distilled import model_for

    return model_for(args, device)


def num_classes(model) -> int:
    config = getattr(model, "config", None)
    return config.num_classes if config is not None else model.num_classes


def model_bytes(model, batch: int) -> int:
    """Memory one call over `batch` images takes: the U-Net's estimate, or the exact denoiser's
    logits and weights (float64 [batch, M], a few copies)."""
    from ._common import unet_bytes

    config = getattr(model, "config", None)
    if config is not None:
        return unet_bytes(config, batch)
    return 4 * 8 * batch * len(model) + 8 * batch * 784 * 4
