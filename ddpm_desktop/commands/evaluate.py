"""`ddpm-desktop evaluate`: sample quality of a model, judged by the bundled MNIST classifier.

For each sampler at its NFE, from the same seeds: the classifier's accuracy on
class-conditional samples (labels cycle 0-9, guidance w), the Fréchet distance of its
penultimate features to the training digits, next to the floor the held-out digits reach, and
the fraction of samples that copy a training digit (f_mem with its bootstrap interval, `copies`),
next to the same fraction for the held-out digits.
Optionally, the reconstruction curve: held-out digits noised to t and reconstructed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time

DEFAULT_CONFIGS = "ddim:10,ddim:20,ddim:50,dpmpp:10,dpmpp:20,dpmpp:50"


HELP = "measure sample quality with the bundled classifier"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import add_schedule_args, seed_arg

    p = sub.add_parser("evaluate", help=HELP,
                       description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="model to evaluate (default: the bundled one)")
    p.add_argument("--student", default=None,
                   help="distilled student for distilled:N configs (default: the bundled one)")
    p.add_argument("--classifier", default=None, help="classifier (default: the bundled one)")
    p.add_argument("--samples", type=int, default=1000, help="samples per fast sampler (default 1000)")
    p.add_argument("--ddpm-samples", type=int, default=100,
                   help="samples for DDPM with all T steps (slow on CPU; 0 skips it; default 100)")
    p.add_argument("--matched-n", type=int, default=None,
                   help="also report each FD on the first N samples (default: --ddpm-samples), "
                        "to compare with a smaller DDPM-1000 run")
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"sampler:NFE list (default {DEFAULT_CONFIGS})")
    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE  # torch: built only when this command runs

    p.add_argument("--guidance", type=float, default=None,
                   help=f"classifier-free guidance scale w (default {DEFAULT_GUIDANCE:g}, as the app; "
                        "the README's older tables say which w they used)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the samples' random draws")
    add_schedule_args(p)
    p.add_argument("--guidance-sweep", default=None, metavar="W,W,...",
                   help="instead of the sampler table: sweep the guidance scale over these w "
                        "(e.g. 0,0.5,1,1.5,2,3,4) with DPM-Solver++ at 20 NFE, --samples each; "
                        "w = 0 is the unconditional model, whose class balance is printed")
    p.add_argument("--reconstruction", action="store_true", help="also measure the reconstruction curve")
    p.add_argument("--recon-t", default="50,100,200,300,400,500,600,700,800",
                   help="with --reconstruction: the steps t a digit is noised to")
    p.add_argument("--recon-samples", type=int, default=200,
                   help="with --reconstruction: held-out digits per t")
    p.add_argument("--grid-dir", default=None, help="save a 10x10 sample grid per sampler here")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: 1 on a machine of 2 cores or fewer, else half the cores)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def parse_configs(text: str) -> list[tuple[str, int]]:
    from ddpm_desktop.core.sampling import DISTILLED_MAX_STEPS

    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, steps = item.partition(":")
        if name not in ("ddpm", "ddim", "dpmpp", "distilled") or not steps.isdigit() or int(steps) < 1:
            raise ValueError(f"bad --configs entry {item!r}: use sampler:NFE with sampler ddpm, ddim, "
                             "dpmpp or distilled")
        if name == "distilled" and int(steps) > DISTILLED_MAX_STEPS:
            raise ValueError(f"bad --configs entry {item!r}: the distilled sampler takes 1..{DISTILLED_MAX_STEPS} steps")
        out.append((name, int(steps)))
    if not out:
        raise ValueError("--configs is empty")
    return out


def _parse_sweep(text: str) -> list[float]:
    try:
        ws = [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise ValueError(f"--guidance-sweep must be a comma-separated list of numbers, got {text!r}") from None
    if not ws:
        raise ValueError("--guidance-sweep is empty")
    for w in ws:
        if not (math.isfinite(w) and 0 <= w <= 20):
            raise ValueError(f"--guidance-sweep values must be in 0..20, got {w}")
    return ws


def _run_sweep(args, model, classifier, schedule, feats, ws, say, started, cls_info) -> int:
    import torch

    from ddpm_desktop.core.evaluation import guidance_sweep

    points = guidance_sweep(model, classifier, schedule, feats, ws, n=args.samples, seed=args.seed)
    for p in points:
        acc = "  (unconditional)" if p.guidance == 0 else f"accuracy {p.accuracy:.4f}"
        fr = " ".join(f"{v:.3f}" for v in p.class_fractions)
        say(f"w {p.guidance:>4g}  n={p.n}  {acc}  FD {p.fd:.3f} = {p.fd_ratio:.2f}x floor "
            f"{p.floor:.3f}  classes [{fr}]  ({p.seconds:.0f} s)")
    if args.json:
        print(json.dumps({"classifier": cls_info, "sampler": "dpmpp", "steps": 20, "seed": args.seed,
                          "sweep": [p.to_dict() for p in points],
                          "seconds": round(time.perf_counter() - started, 1),
                          "threads": torch.get_num_threads()}))
    return 0


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ddpm_desktop.core.files import check_writable

    from ._common import check_int_range, check_threads, schedule_from_args, warn_if_not_noise

    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE

    if args.guidance is None:
        args.guidance = DEFAULT_GUIDANCE
    configs = parse_configs(args.configs)
    if not 10 <= args.samples <= 100_000:
        raise ValueError(f"--samples must be in 10..100000, got {args.samples}")
    if not 0 <= args.ddpm_samples <= 100_000:
        raise ValueError(f"--ddpm-samples must be in 0..100000, got {args.ddpm_samples}")
    try:
        recon_ts = [int(t) for t in args.recon_t.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--recon-t must be a comma-separated list of steps, got {args.recon_t!r}") from None
    schedule = schedule_from_args(args)
    # Every flag checked here, before the first sample: a refusal after minutes of work wastes them.
    for t in recon_ts:
        if not 1 <= t <= schedule.T:
            raise ValueError(f"--recon-t values must be in 1..{schedule.T}, got {t}")
    if args.reconstruction and not recon_ts:
        raise ValueError("--recon-t is empty")
    check_int_range("--recon-samples", args.recon_samples, 1, 100_000)
    if args.matched_n is not None:
        check_int_range("--matched-n", args.matched_n, 1, args.samples)
    if not (math.isfinite(args.guidance) and -1e3 < args.guidance < 1e3):
        raise ValueError(f"--guidance must be a finite number in (-1000, 1000), got {args.guidance}")
    for name, steps in configs:
        if steps > schedule.T:
            raise ValueError(f"--configs entry {name}:{steps} takes more steps than T = {schedule.T}")
    sweep = _parse_sweep(args.guidance_sweep) if args.guidance_sweep is not None else None
    check_threads(args.threads)
    grid_dir = Path(args.grid_dir) if args.grid_dir else None
    if grid_dir is not None:
        if not grid_dir.is_dir():
            raise ValueError(f"--grid-dir '{grid_dir}' is not a folder")
        check_writable(grid_dir / "samples.png")
    warn_if_not_noise(schedule)

    import torch

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.classifier import load_classifier
    from ddpm_desktop.core.evaluation import (data_features, data_floor, evaluate_sampler,
                                              reconstruction_curve)
    from ddpm_desktop.core.training import resolve_device

    from ._common import apply_threads, load_model_arg

    apply_threads(args.threads)
    device = resolve_device(args.device)
    model, meta = load_model_arg(args.checkpoint, device)
    # distilled:N runs the student, its w baked in: loaded before any sampling
    student = None
    if any(name == "distilled" for name, _ in configs):
        from ._distilled import load_student_arg
        student, _ = load_student_arg(args.student, device)
    classifier, cls_info = load_classifier(args.classifier)
    say = (lambda s: None) if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    started = time.perf_counter()
    feats = data_features(classifier)
    floor, floor_n = data_floor(feats)
    say(f"classifier held-out accuracy {cls_info.get('held_out_accuracy')}; "
        f"data floor FD {floor:.3f} (held-out n={floor_n} vs train)")
    from ddpm_desktop.core.copies import held_out_reference

    copy_reference = held_out_reference(seed=args.seed).summary()
    say(f"copy reference: {copy_reference['copies']} of {copy_reference['n']} held-out digits copy a "
        f"training digit (f_mem {copy_reference['f_mem']:.3f})")
    if sweep is not None:
        return _run_sweep(args, model, classifier, schedule, feats, sweep, say, started, cls_info)
    results = []
    full = ("ddpm", schedule.T)  # DDPM with every step of the schedule
    if args.ddpm_samples and full not in configs:
        configs = [full] + configs
    match_n = args.matched_n or args.ddpm_samples or None
    for name, steps in configs:
        n = args.ddpm_samples if (name, steps) == full and args.ddpm_samples else args.samples
        matched = match_n if (match_n and n > match_n) else None
        if name == "distilled":  # the student, guidance 1 (w baked in), reported as its w
            r, kept = evaluate_sampler(student, classifier, schedule, feats, name, steps, n, 1.0,
                                       args.seed, matched_n=matched, keep=100)
            r = dataclasses.replace(r, guidance=student.guidance)
        else:
            r, kept = evaluate_sampler(model, classifier, schedule, feats, name, steps, n, args.guidance,
                                       args.seed, matched_n=matched, keep=100)
        results.append(r)
        extra = f", FD@{matched} {r.fd_matched:.3f}" if r.fd_matched is not None else ""
        say(f"{name:>5} NFE {r.nfe:>4}  n={n:<5} accuracy {r.accuracy:.4f}  FD {r.fd:.3f}{extra}  "
            f"copies {r.f_mem:.3f} [{r.f_mem_ci[0]:.3f}, {r.f_mem_ci[1]:.3f}]  ({r.seconds:.0f} s)")
        if grid_dir is not None:  # the first 100 samples: labels 0-9 in each row
            grid = imaging.make_grid(imaging.to_uint8(kept[:, 0].numpy()), nrow=10)
            imaging.save_png(imaging.upscale(grid, 2), grid_dir / f"samples_{name}_{steps}.png")
    recon = []
    if args.reconstruction:
        recon = reconstruction_curve(model, classifier, schedule, recon_ts, n=args.recon_samples, seed=args.seed)
        for p in recon:
            say(f"reconstruct t={p.t:>4}: label kept {p.label_agreement:.3f} "
                f"(noised alone {p.noised_agreement:.3f}), MSE {p.mse:.4f}")
    report = {
        "model": {"step": meta.get("step"), "dataset": meta.get("dataset")},
        "classifier": cls_info,
        "guidance": args.guidance,
        "seed": args.seed,
        "data_floor": {"fd": floor, "n": floor_n},
        "copy_reference": copy_reference,
        "results": [r.to_dict() for r in results],
        "reconstruction": [p.to_dict() for p in recon],
        "seconds": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(),
        "device": str(device),
    }
    if args.json:
        print(json.dumps(report))
    return 0
