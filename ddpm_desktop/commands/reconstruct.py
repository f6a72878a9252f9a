"""`ddpm-desktop reconstruct`: noise a digit to step t, then run the reverse chain back (SDEdit).

"Reconstruct an image from an image", as on the poster: x_t ~ q(x_t | x_0), then t → 0.
MSE is measured in the model's pixel range [-1, 1] against the preprocessed input.

`--n N` draws N completions of the same x_t (core.completions: samples of x_0 given x_t),
x_t with seed S (--seed) and completion k with sampler seed S + 1 + k; N > 1 needs a
stochastic sampler (ddpm, or ddim with --eta > 0). Every completion is read by the bundled
classifier (its reading, p(reading), whether it is a digit at all, and the t from which its
reading of x̂_0 never changes again, core.decision.settle_step, go into --json and the .npz).
"""
from __future__ import annotations

import argparse
import json
import time

MAX_N = 1000


HELP = "noise a digit to step t and reconstruct it"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ._common import add_digit_args, add_model_args, add_sampler_args

    p = sub.add_parser("reconstruct", help=HELP,
                       description="Noise a digit to step t with q(x_t|x_0), then reverse the chain to x_0.")
    add_digit_args(p)
    p.add_argument("--t", type=int, required=True, help="noise the digit to this step (1..T)")
    add_model_args(p)
    add_sampler_args(p, "reverse steps from t (default: every step for ddpm/ddim, 20 for dpmpp)")
    p.add_argument("--n", type=int, default=1,
                   help=f"completions of the same x_t, 1..{MAX_N} (default 1); completion k runs the "
                        "sampler with seed S + 1 + k, x_t is drawn with seed S (with --noise-seed x_t "
                        "is the app's forward chain and completion k uses S + k); N > 1 needs ddpm or ddim "
                        "with --eta > 0")
    p.add_argument("--fps", type=float, default=20.0, help="frame rate of a .gif")
    p.add_argument("--out", required=True,
                   help=".png (input | noised | the N completions), .gif (the chain) or .npz "
                        "(images uint8 [N, 28, 28], readings, probabilities [N, 10], settled_at_t, ...)")
    p.add_argument("--json", action="store_true",
                   help="print the MSE, the classifier's readings, NFE and timing as JSON")
    from ._reproduce import add_reproduce_args  # the app's seeds (Copy as command)
    add_reproduce_args(p, forward=True, start=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ddpm_desktop.core.completions import deterministic_problem

    from ._common import (apply_threads, check_fps, check_int_range, check_out, check_sampler_args,
                          check_threads, digit_from_args, gif_frames, guidance_from_args, labels_from_arg,
                          schedule_from_args)

    out = check_out(args.out, (".png", ".gif", ".npz"))
    check_int_range("--n", args.n, 1, MAX_N)
    check_fps(args.fps)
    check_threads(args.threads)
    schedule = schedule_from_args(args)
    check_sampler_args(args, schedule.T)
    from ._distilled import check_distilled_steps, model_for  # the distilled sampler
    check_distilled_steps(args)
    labels_from_arg(args.label, 1)  # a bad --label is refused before any work
    if not 1 <= args.t <= schedule.T:
        raise ValueError(f"--t must be in 1..{schedule.T}, got {args.t}")
    problem = deterministic_problem(args.sampler, args.eta, args.n)
    if problem:
        raise ValueError(f"--n {args.n} with --sampler {args.sampler}: {problem} "
                         "(--sampler ddpm, or --sampler ddim --eta 0.5)")
    if args.seed > 2**63 - 1 - args.n:
        raise ValueError(f"--seed must be at most 2^63 - 1 - N with --n {args.n}, got {args.seed}")

    import io

    import numpy as np
    import torch

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.completions import iter_completions
    from ddpm_desktop.core.decision import DecisionRecorder, bundled_classifier, decision_curve
    from ddpm_desktop.core.files import atomic_write_bytes
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.run import SamplerSettings, plan_run
    from ddpm_desktop.core.sampling import generator_for, make_eps_fn
    from ddpm_desktop.core.training import resolve_device

    x0, original_label, source = digit_from_args(args)
    device = resolve_device(args.device)
    apply_threads(args.threads)
    model, _meta, baked = model_for(args, device)  # the student for distilled
    labels = labels_from_arg(args.label, args.n, model.config.num_classes)
    guidance = guidance_from_args(args) if baked is None else baked
    x0_t = torch.as_tensor(np.asarray(x0, dtype=np.float32))[None, None]
    if args.noise_seed is None:
        x_t = q_sample(schedule, x0_t, args.t, generator=generator_for(args.seed))
        sampler_seed = args.seed + 1
    else:  # the app's forward chain, step by step from its own seed; the sampler's from S
        from ddpm_desktop.core.forward import forward_chain
        x_t = forward_chain(schedule, x0_t[0, 0], seed=args.noise_seed).x[args.t][None, None]
        sampler_seed = args.seed
    eps_fn = make_eps_fn(model, schedule, None if labels is None else labels.to(device), guidance)
    # the run's plan from x_t (core.run, as the app's completions): the steps capped at t
    plan = plan_run(SamplerSettings(sampler=args.sampler, steps=args.steps), schedule.T,
                    from_t=args.t)
    classifier = bundled_classifier()
    decision = DecisionRecorder(classifier)
    want_chain = out.suffix.lower() == ".gif"
    started = time.perf_counter()
    chain, last = [], None
    for step in iter_completions(eps_fn, schedule, x_t.to(device), args.t, args.n, sampler=args.sampler,
                                 steps=plan.steps, seed=sampler_seed, eta=args.eta):
        last = step
        decision.add(step)
        if want_chain:
            chain.append(step.x_t[:, 0].numpy())
    seconds = time.perf_counter() - started
    settled, _settled_on = decision.settle_steps()
    recons = last.x_t[:, 0].numpy()
    probs = decision_curve(classifier, last.x_t)
    readings = probs.argmax(1)
    from ddpm_desktop.core.classifier import as_reader

    digits = np.array([r.digit for r in as_reader(classifier).read(last.x_t)])  # a digit at all?
    x0_np = np.asarray(x0, dtype=np.float32)
    mse_each = np.mean((recons - x0_np) ** 2, axis=(1, 2))
    noised = x_t[0, 0].numpy()
    u8 = imaging.to_uint8(recons)
    suffix = out.suffix.lower()
    nrow = min(args.n + 2, 10)
    if suffix == ".png":
        tiles = imaging.to_uint8(np.concatenate([np.stack([x0_np, noised]), recons]))
        imaging.save_png(imaging.upscale(imaging.make_grid(tiles, nrow=nrow if args.n > 1 else 3), 4), out)
    elif suffix == ".gif":
        frames = [imaging.upscale(imaging.make_grid(
            imaging.to_uint8(np.concatenate([x0_np[None], f])), nrow=min(args.n + 1, 10)), 4)
            for f in gif_frames(chain)]
        frames += [frames[-1]] * int(args.fps)
        imaging.save_gif(frames, out, fps=args.fps)
    else:
        buf = io.BytesIO()
        np.savez_compressed(buf, images=u8, input=imaging.to_uint8(x0_np), noised=imaging.to_uint8(noised),
                            reconstruction=u8[0], input_float=x0_np,
                            reconstruction_float=recons[0].astype(np.float32),
                            readings=readings.astype(np.int64), probabilities=probs.astype(np.float32),
                            digits=digits, settled_at_t=settled, t=np.int64(args.t), label=np.int64(original_label))
        atomic_write_bytes(out, buf.getvalue())
    report = {"source": source, "t": args.t, "sampler": args.sampler, "nfe": last.nfe, "n": args.n,
              "mse": round(float(mse_each[0]), 6), "label": original_label,
              "readings": readings.tolist(),
              "probabilities": [round(float(p[r]), 4) for p, r in zip(probs, readings)],
              "digits": digits.tolist(),
              "settled_at_t": settled.tolist(), "seconds": round(seconds, 4), "out": str(out)}
    if args.n > 1:
        report["mse_mean"] = round(float(mse_each.mean()), 6)
    if original_label >= 0:
        report["agreement"] = round(float((readings == original_label).mean()), 4)
    if args.json:
        print(json.dumps(report))
    elif args.n == 1:
        from ddpm_desktop.core.classifier import reading_text

        read = (f"the classifier reads {reading_text(readings[0], probs[0, readings[0]], True)}" if digits[0] else
                f"not a digit (nearest class {readings[0]}, p = {probs[0, readings[0]]:.2f})")
        print(f"reconstructed {source} from t = {args.t}: MSE {mse_each[0]:.4f} ({last.nfe} steps); "
              f"{read}, settled at t = {settled[0]} -> {out}")
    else:
        from ._common import readings_text

        print(f"{args.n} completions of {source} from t = {args.t} ({last.nfe} steps each, {seconds:.1f} s); "
              f"{readings_text(readings)} -> {out}")
    return 0
