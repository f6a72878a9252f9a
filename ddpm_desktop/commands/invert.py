"""`ddpm-desktop invert`: DDIM inversion of digits to x_T and back, and how close the round trip is.

Each digit x_0 is encoded to x_T by the deterministic DDIM ODE run forwards
(core.inversion.iter_ddim_inversion), then decoded by deterministic DDIM over the same steps;
the report is the per-image reconstruction MSE in the model's pixel range [-1, 1].
"""
from __future__ import annotations

import argparse
import json
import time

HELP = "DDIM-invert digits to x_T and back; report the reconstruction MSE"  # the one line `ddpm-desktop --help` lists


def add_parser(sub) -> None:
    from ddpm_desktop.core.inversion import DEFAULT_INVERSION_STEPS, DEFAULT_REFINE

    from ._common import add_label_guidance_args
    from ._inputs import add_digits_args

    p = sub.add_parser("invert", help=HELP,
                       description="Encode each digit to x_T with the DDIM ODE run forwards, decode it "
                                   "back with DDIM, and report the per-image MSE in [-1, 1] units.")
    add_digits_args(p)
    p.add_argument("--steps", type=int, default=DEFAULT_INVERSION_STEPS,
                   help=f"DDIM steps each way (default {DEFAULT_INVERSION_STEPS})")
    p.add_argument("--refine", type=int, default=DEFAULT_REFINE,
                   help=f"fixed-point refinements per encoding step, 0..10 (default {DEFAULT_REFINE}; "
                        "0 is plain DDIM inversion)")
    add_label_guidance_args(p)
    p.add_argument("--decode-label", default=None,
                   help="decode x_T under another class 0-9 (\"turn your 3 into an 8\"); the MSE then "
                        "measures the change, and --out holds the edited digits")
    p.add_argument("--decode-guidance", type=float, default=None,
                   help="guidance scale w for --decode-label (default the app's)")
    p.add_argument("--batch", type=int, default=64, help="digits per network call (default 64)")
    p.add_argument("--out", default=None,
                   help=".npz for x_T (float32 [N, 28, 28]) and the reconstructions (uint8)")
    p.add_argument("--json", action="store_true",
                   help='print {"mse": [...], "median_mse", "nfe", ...}')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ._common import (check_guidance, check_int_range, check_out, check_threads, guidance_from_args,
                          labels_from_arg, model_on_device, schedule_from_args)
    from ._inputs import read_digits

    check_threads(args.threads)
    schedule = schedule_from_args(args)
    check_int_range("--steps", args.steps, 1, schedule.T)
    check_int_range("--refine", args.refine, 0, 10)
    check_int_range("--batch", args.batch, 1, 4096)
    labels_from_arg(args.label, 1)
    edit = labels_from_arg(args.decode_label, 1) is not None
    check_guidance(args.guidance)
    check_guidance(args.decode_guidance, "--decode-guidance")
    out = None if args.out is None else check_out(args.out, (".npz",))
    images, source = read_digits(args.file)

    import io

    import numpy as np
    import torch

    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.files import atomic_write_bytes
    from ddpm_desktop.core.inversion import ddim_decode, round_trip
    from ddpm_desktop.core.sampling import make_eps_fn

    model, device = model_on_device(args)
    x0 = torch.as_tensor(imaging.to_model_range(images))[:, None]
    started = time.perf_counter()
    mse, x_T, recon, nfe = [], [], [], 0
    for lo in range(0, len(x0), args.batch):
        chunk = x0[lo:lo + args.batch].to(device)
        labels = labels_from_arg(args.label, len(chunk), model.config.num_classes)
        eps_fn = make_eps_fn(model, schedule, None if labels is None else labels.to(device),
                             guidance_from_args(args))
        result = round_trip(eps_fn, schedule, chunk, args.steps, args.refine)
        back, err = result.reconstruction, result.mse
        if edit:
            other = labels_from_arg(args.decode_label, len(chunk), model.config.num_classes).to(device)
            w = guidance_from_args(argparse.Namespace(guidance=args.decode_guidance))
            back = ddim_decode(make_eps_fn(model, schedule, other, w), schedule, result.x_T.to(device), args.steps)
            diff = (back.double() - chunk.cpu().double()) ** 2
            err = diff.reshape(len(chunk), -1).mean(1).numpy()
        mse.append(err)
        x_T.append(result.x_T[:, 0].numpy())
        recon.append(back[:, 0].numpy())
        nfe = result.nfe + (args.steps if edit else 0)
    seconds = time.perf_counter() - started
    mse = np.concatenate(mse)
    if out is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, x_T=np.concatenate(x_T).astype(np.float32),
                            reconstructions=imaging.to_uint8(np.concatenate(recon)), mse=mse)
        atomic_write_bytes(out, buf.getvalue())
    report = {"source": source, "n": int(len(mse)), "steps": args.steps, "refine": args.refine,
              "decode_label": int(args.decode_label) if edit else None,
              "nfe": nfe, "mse": [round(float(v), 8) for v in mse],
              "median_mse": round(float(np.median(mse)), 8), "seconds": round(seconds, 3)}
    if out is not None:
        report["out"] = str(out)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"inverted {len(mse)} digit(s) from {source} to x_T and back ({args.steps} steps, "
              f"{args.refine} refinements, {nfe} network calls each): median MSE {np.median(mse):.2e}, "
              f"max {mse.max():.2e}" + (f" -> {out}" if out is not None else ""))
    return 0
