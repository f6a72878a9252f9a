"""`ddpm-desktop toy`: diffusion in two dimensions, headless (the 2-D window's data, models
and samplers).

`--data` moons, gmm (the 3-component mixture), ring8 (8 Gaussians on a ring), swissroll,
checkerboard, or mnist-latent (the bundled digits' 2-D latent codes, resources/latent.safetensors).
`--model learned` trains the small MLP for `--train-seconds` on one thread (mnist-latent: the
bundled class-conditional latent model, no training); `--model exact` is the closed-form
E[ε | x_t] of a Gaussian mixture (gmm, ring8 only). `--data-only` writes samples of the data
itself. `--out` .npz (`points` float32 [N, 2]; mnist-latent adds `images` uint8 [N, 28, 28]
and `labels` int64 [N]), .png (the last frame, as the window draws it) or .gif (the chain: the
reverse chain, or with --data-only the forward chain of the data), painted by the app's
2-D export (Qt offscreen, imported only for .png/.gif).
"""
from __future__ import annotations

import argparse
import json
import time

DATA_CHOICES = ("moons", "gmm", "ring8", "swissroll", "checkerboard", "mnist-latent")
MODEL_CHOICES = ("learned", "exact")
MAX_N = 100_000
MAX_TRAIN_SECONDS = 3600.0
DEFAULT_TRAIN_SECONDS = 20.0
DATA_POINTS = 20_000   # training points drawn from a data set (as the window)
LATENT = "mnist-latent"


HELP = ("2-D diffusion: particles, the learned or exact denoiser, "
        "the digits' latent map")  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import SAMPLER_CHOICES, add_schedule_args, seed_arg

    p = sub.add_parser("toy", help=HELP,
                       description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=DATA_CHOICES, required=True, help="the 2-D data set")
    p.add_argument("--model", choices=MODEL_CHOICES, default=None,
                   help="learned (default) or exact (Gaussian mixtures only)")
    p.add_argument("--train-seconds", type=float, default=None,
                   help=f"training time of the learned MLP on one thread (default "
                        f"{DEFAULT_TRAIN_SECONDS:g}; not for mnist-latent or --model exact)")
    p.add_argument("--sampler", choices=SAMPLER_CHOICES, default="dpmpp",
                   help="ddpm, ddim or dpmpp (DPM-Solver++(2M)) on the 2-D points")
    p.add_argument("--steps", type=int, default=None,
                   help="reverse steps (default: 20 for dpmpp, every step of T for ddpm/ddim)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η (0: the probability-flow ODE)")
    from ddpm_desktop.core.latent import LATENT_GUIDANCE  # torch: built only when this command runs

    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance w of mnist-latent's class samples "
                        f"(default {LATENT_GUIDANCE:g})")
    p.add_argument("--n", type=int, default=2000, help=f"number of particles (1..{MAX_N})")
    p.add_argument("--label", default=None,
                   help="mnist-latent: a class 0-9 or 'all' (the default: cycles 0-9)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the particles and the training")
    p.add_argument("--data-only", action="store_true", help="write samples of the data itself")
    add_schedule_args(p)
    p.add_argument("--fps", type=float, default=20.0, help=".gif frames per second")
    p.add_argument("--out", required=True, help="output .npz, .png or .gif")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(run=run)


def _check(args) -> tuple[str, str]:
    """Validate everything before any heavy import; -> (model, output kind)."""
    from ._common import check_fps, check_int_range, check_out

    out = check_out(args.out, (".npz", ".png", ".gif"))
    kind = out.suffix.lower()[1:]
    check_int_range("--n", args.n, 1, MAX_N)
    latent = args.data == LATENT
    model = args.model or "learned"
    if args.data_only and (args.model is not None or args.train_seconds is not None):
        raise ValueError("--data-only writes the data itself: drop --model and --train-seconds")
    if model == "exact" and args.data not in ("gmm", "ring8"):
        raise ValueError(f"--model exact needs a Gaussian mixture (gmm, ring8); {args.data} has "
                         "no closed-form denoiser: use --model learned")
    if args.train_seconds is not None:
        if latent:
            raise ValueError("--train-seconds does not apply to mnist-latent (its model is bundled)")
        if model == "exact":
            raise ValueError("--train-seconds does not apply to --model exact (nothing to train)")
        if not 0 < args.train_seconds <= MAX_TRAIN_SECONDS:
            raise ValueError(f"--train-seconds must be in (0, {MAX_TRAIN_SECONDS:g}], "
                             f"got {args.train_seconds}")
    if args.label is not None and not latent:
        raise ValueError("--label applies to --data mnist-latent only")
    if args.guidance is not None and not latent:
        raise ValueError("--guidance applies to --data mnist-latent only")
    if args.guidance is not None and not -1e3 < args.guidance < 1e3:
        raise ValueError(f"--guidance must be a finite number, got {args.guidance}")
    if args.steps is not None and not 1 <= args.steps <= args.T:
        raise ValueError(f"--steps must be in 1..{args.T} (T), got {args.steps}")
    if not 0.0 <= args.eta <= 1.0:
        raise ValueError(f"--eta must be in [0, 1], got {args.eta}")
    if kind == "gif":
        check_fps(args.fps)
    return model, kind


def _labels(label: str | None, n: int):
    import numpy as np

    if label is None or str(label).lower() == "all":
        return np.arange(n, dtype=np.int64) % 10, None
    try:
        k = int(label)
    except ValueError:
        raise ValueError(f"--label must be a class 0-9 or 'all', got {label!r}") from None
    if not 0 <= k <= 9:
        raise ValueError(f"--label must be a class 0-9 or 'all', got {k}")
    return np.full(n, k, dtype=np.int64), k


def run(args: argparse.Namespace) -> int:
    model_name, kind = _check(args)
    from ._common import schedule_from_args

    schedule = schedule_from_args(args)

    import numpy as np
    import torch

    from ddpm_desktop.core import toy2d
    from ddpm_desktop.core.forward import forward_frames
    from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn

    torch.set_num_threads(1)
    latent = args.data == LATENT
    report: dict = {"data": args.data, "n": args.n, "seed": args.seed, "out": None,
                    "data_only": bool(args.data_only)}
    labels = label = None
    models = None
    if latent:
        from ddpm_desktop.core.latent import load_latent

        models = load_latent()
        labels, label = _labels(args.label, args.n)
        report["label"] = "all" if label is None else label
        codes, code_labels = models.codes_of_bundled("train")
        marginal = toy2d.Marginal(points=codes)
        mixture = None
    else:
        mixture = toy2d.mixture_for(args.data)
        marginal = (toy2d.Marginal(mixture=mixture) if mixture is not None else
                    toy2d.Marginal(points=toy2d.sample_data(args.data, DATA_POINTS,
                                                            generator_for(args.seed + 104_729))))
    eps_fn = None
    images = None
    t0 = time.perf_counter()
    if args.data_only:
        if latent:
            from ddpm_desktop.core.data import load_bundled_mnist

            ds = load_bundled_mnist("train")
            pool = np.arange(len(code_labels)) if label is None else np.flatnonzero(code_labels == label)
            pick = torch.randint(len(pool), (args.n,), generator=generator_for(args.seed)).numpy()
            idx = pool[pick]
            points, labels, images = codes[idx], code_labels[idx], np.array(ds.images[idx])
        else:
            points = toy2d.sample_data(args.data, args.n, generator_for(args.seed))
        if mixture is not None:
            eps_fn = toy2d.exact_eps_fn(mixture, schedule)
        noise = torch.randn((schedule.T, args.n, 2), generator=generator_for(args.seed + 7_919)).numpy()
        chain = forward_frames(schedule, points, noise) if kind == "gif" else points[None]
        ts = np.arange(len(chain))
        title = f"Forward q(x_t|x_0): {args.data}"
    else:
        if latent:
            from ddpm_desktop.core.latent import LATENT_GUIDANCE

            guidance = LATENT_GUIDANCE if args.guidance is None else float(args.guidance)
            eps_fn = make_eps_fn(models.diffusion, schedule, labels=torch.from_numpy(labels),
                                 guidance=guidance)
            report["model"] = "bundled latent diffusion (class-conditional ToyMLP)"
            report["guidance"] = guidance
        elif model_name == "exact":
            eps_fn = toy2d.exact_eps_fn(mixture, schedule)
            report["model"] = "exact"
        else:
            from ddpm_desktop.core.toy2d_model import train_for_seconds

            seconds = DEFAULT_TRAIN_SECONDS if args.train_seconds is None else args.train_seconds
            net, last = train_for_seconds(marginal.points if mixture is None else
                                          toy2d.sample_data(args.data, DATA_POINTS,
                                                            generator_for(args.seed + 104_729)),
                                          schedule, seconds, seed=args.seed)
            eps_fn = make_eps_fn(net, schedule)
            report["model"] = "learned"
            report["train"] = {"steps": last.step, "seconds": round(last.elapsed_s, 2),
                               "final_loss": round(last.loss, 4)}
        x_T = torch.randn((args.n, 2), generator=generator_for(args.seed))
        keep = kind == "gif"
        chain, ts, nfe = [], [], 0
        with torch.inference_mode():
            for step in iter_sampler(args.sampler, eps_fn, schedule, x_T, steps=args.steps,
                                     generator=generator_for(args.seed + 1), eta=args.eta,
                                     clip_x0=False):
                if keep or step.t == 0:
                    chain.append(step.x_t.numpy().copy())
                    ts.append(int(step.t))
                nfe = step.nfe
        chain, ts = np.stack(chain), np.asarray(ts)
        points = chain[-1]
        report.update({"sampler": args.sampler, "nfe": nfe,
                       "steps": args.steps if args.steps is not None else nfe})
        title = f"Reverse ({args.sampler}): {args.data}"
        if latent:
            images = models.decode(points)
    seconds = time.perf_counter() - t0
    points = np.asarray(points, dtype=np.float32)
    if not np.all(np.isfinite(points)):
        raise ValueError("the sampler diverged (non-finite points); try more --steps or "
                         "another --sampler")
    report["seconds"] = round(seconds, 2)
    # how close the points are to the data: SW against a data sample, and data against data
    if latent:
        report.update(_latent_numbers(images, labels, label, args.data_only))
    else:
        ref = toy2d.sample_data(args.data, 2 * args.n, generator_for(args.seed + 99))
        report["sliced_wasserstein_to_data"] = round(toy2d.sliced_wasserstein(points, ref[:args.n]), 5)
        report["sliced_wasserstein_data_to_data"] = round(
            toy2d.sliced_wasserstein(ref[:args.n], ref[args.n:]), 5)
    # The export's arrows evaluate the field on a grid of its own size: a latent run's sampler
    # eps_fn carries one label per particle, so the field of the asked class is its own EpsFn
    # (none for "all": no single field to draw).
    field_fn = eps_fn
    if latent and eps_fn is not None:
        field_fn = None if label is None else make_eps_fn(models.diffusion, schedule,
                                                          labels=int(label), guidance=guidance)
    out = _write(args, kind, points, images, labels if latent else None, chain, ts, schedule,
                 marginal, field_fn, title)
    report["out"] = str(out)
    report["format"] = kind
    if args.json:
        print(json.dumps(report))
    else:
        what = "data samples" if args.data_only else f"samples ({report.get('model')}, {args.sampler})"
        print(f"wrote {out}: {args.n} {what} of {args.data} in {seconds:.1f} s")
    return 0


def _latent_numbers(images, labels, label, data_only: bool) -> dict:
    """The bundled classifier's reading of the decoded digits (against the asked labels)."""
    import torch

    from ddpm_desktop.core.classifier import load_classifier, predict

    clf, _ = load_classifier()
    x = torch.from_numpy(images.astype("float32")[:, None] / 127.5 - 1.0)
    pred, _ = predict(clf, x)
    return {"classifier_agrees_with_label": round(float((pred == labels).mean()), 4),
            "what_is_compared": "data labels" if data_only else
            ("the asked class" if label is not None else "the asked classes (0-9 cycled)")}


def _write(args, kind, points, images, labels, chain, ts, schedule, marginal, eps_fn, title):
    from pathlib import Path

    import numpy as np

    out = Path(args.out)
    if kind == "npz":
        from ddpm_desktop.core.files import atomic_write

        arrays = {"points": points}
        if images is not None:
            arrays["images"] = images.astype(np.uint8)
            arrays["labels"] = np.asarray(labels, dtype=np.int64)
        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)

        return atomic_write(out, write)
    from ddpm_desktop.render.gui import start_gui

    start_gui()
    from ddpm_desktop.render.palette import dark_palette, plot_colors
    from ddpm_desktop.render.toy2d import Toy2DExportJob, alpha_bars_of, run_toy_export

    job = Toy2DExportJob(path=str(out), frames=chain, ts=ts, alpha_bars=alpha_bars_of(schedule, ts),
                         title=title, kind=kind, role="forward" if args.data_only else "reverse",
                         marginal=marginal, eps_fn=eps_fn, labels=labels, fps=float(args.fps),
                         picked=tuple(range(6)) if not args.data_only else (),
                         colors=plot_colors(dark_palette()))
    return Path(run_toy_export(job))
