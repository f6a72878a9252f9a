"""When the digit is decided, and how often completions of a noised digit keep its label.

Two studies with the bundled model and classifier (core/decision.py has the definitions):

- `noise`: unconditional samples from x_T ~ N(0, I) with each sampler; at every network call
  the classifier reads x̂_0, and the sample *settles* at the t from which that reading never
  changes again. Prints the median and quartiles of the settle t per sampler.
- `reconstruct`: bundled held-out digits (the first of each class in turn) noised to t with
  q(x_t|x_0), then N completions each (core.completions: DDPM, completion k with seed + k);
  prints how often the completions read as the digit's true label.

Sample i of the noise study draws x_T and its sampler noise from its own seeds, so a study
split over several runs (--start, --samples) gives the same numbers as one run; every run
merges its per-sample results into the --json file and prints the summary of all of it.

    python bench/decision.py noise --samplers ddpm:1000,dpmpp:20 [--samples 100] [--start 0]
    python bench/decision.py reconstruct --ts 300,500,700 [--digits 100] [--n 4] [--steps 25]
    python bench/decision.py summary
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ddpm_desktop.core import checkpoint, imaging  # noqa: E402
from ddpm_desktop.core.completions import completion_seeds  # noqa: E402
from ddpm_desktop.core.data import load_bundled_mnist  # noqa: E402
from ddpm_desktop.core.decision import bundled_classifier, decision_curve, settle_step  # noqa: E402
from ddpm_desktop.core.forward import q_sample  # noqa: E402
from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn  # noqa: E402
from ddpm_desktop.core.schedule import NoiseSchedule  # noqa: E402

DEFAULT_JSON = ROOT / "docs" / "evaluation" / "decision.json"
# Sample i: x_T from seed X_T_SEED + i, its sampler noise from seed NOISE_SEED + i.
X_T_SEED, NOISE_SEED = 0, 1_000_000


def settle_from_noise(eps_fn, schedule, classifier, sampler: str, steps: int, indices) -> dict:
    """Per sample i of `indices`: the t its reading settles at, the class, the final p."""
    x_T = torch.cat([torch.randn((1, 1, 28, 28), generator=generator_for(X_T_SEED + int(i)))
                     for i in indices])
    gens = [generator_for(NOISE_SEED + int(i)) for i in indices]
    probs, ts, prev = [], [], None
    for step in iter_sampler(sampler, eps_fn, schedule, x_T, steps=steps, generator=gens):
        if prev is not None and step.nfe > prev.nfe:
            # one classifier call per network call, on the whole batch's x̂_0
            probs.append(decision_curve(classifier, step.x0_pred[None])[0])
            ts.append(prev.t)
        prev = step
    probs = np.stack(probs)                      # [K, B, 10]
    settled = [settle_step(probs[:, b], ts) for b in range(len(indices))]
    final = probs[-1].argmax(1)
    return {str(int(i)): {"settle_t": int(s), "class": int(c), "p": round(float(probs[-1, b, c]), 4)}
            for b, (i, s, c) in enumerate(zip(indices, settled, final))}


def held_out(digits: int):
    test = load_bundled_mnist("test")
    # the held-out set is sorted by class (100 of each): take the first of each class in turn
    idx = (np.arange(digits) % 10) * 100 + np.arange(digits) // 10
    return torch.from_numpy(imaging.to_model_range(test.images[idx]))[:, None], test.labels[idx].astype(np.int64)


def reconstruct_agreement(eps_fn, schedule, classifier, t: int, digits: int, n: int, steps: int,
                          seed: int = 0) -> dict:
    """N DDPM completions of each of `digits` held-out digits noised to t (one batch of
    digits × N; completion k of every digit with sampler seed seed + 1 + k, x_t with seed)."""
    x0, labels = held_out(digits)
    x_t = q_sample(schedule, x0, t, generator=generator_for(seed))
    batch = x_t.repeat_interleave(n, dim=0)
    gens = [generator_for(s) for _ in range(digits) for s in completion_seeds(seed + 1, n)]
    last = None
    for last in iter_sampler("ddpm", eps_fn, schedule, batch, steps=steps, t_start=t, generator=gens):
        pass
    readings = decision_curve(classifier, last.x_t[None])[0].argmax(1).reshape(digits, n)
    right = readings == labels[:, None]
    return {"t": t, "digits": digits, "n": n, "steps": steps, "sampler": "ddpm",
            "completions_true": round(float(right.mean()), 4),
            "digits_all_true": round(float(right.all(1).mean()), 4),
            "digits_majority_true": round(float((right.sum(1) * 2 > n).mean()), 4),
            "digits_all_same": round(float((readings == readings[:, :1]).all(1).mean()), 4),
            "mean_distinct_readings": round(float(np.mean([len(set(r)) for r in readings])), 3)}


def summary(results: dict) -> str:
    lines = []
    noise = results.get("noise", {})
    if noise:
        lines += ["| sampler (from noise) | samples | settle t: 25% | median | 75% |", "|---|---|---|---|---|"]
        for key, per in sorted(noise.items()):
            s = np.array([v["settle_t"] for v in per.values()])
            q1, med, q3 = np.percentile(s, [25, 50, 75])
            lines.append(f"| {key} | {len(s)} | {q1:.0f} | {med:.0f} | {q3:.0f} |")
    rec = results.get("reconstruct", {})
    if rec:
        lines += ["", "| reconstruct from t | digits × N | completions reading the true label | digits: all N true "
                  "| majority true | all N read the same | distinct readings (mean) |",
                  "|---|---|---|---|---|---|---|"]
        for key in sorted(rec, key=int):
            r = rec[key]
            lines.append(f"| {r['t']} | {r['digits']} × {r['n']} (DDPM {r['steps']} steps) | {r['completions_true']:.1%} "
                         f"| {r['digits_all_true']:.1%} | {r['digits_majority_true']:.1%} | {r['digits_all_same']:.1%} "
                         f"| {r['mean_distinct_readings']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study", choices=("noise", "reconstruct", "summary"))
    p.add_argument("--samplers", default="ddpm:1000,dpmpp:20", help="name:steps,... (noise)")
    p.add_argument("--samples", type=int, default=100, help="samples per sampler (noise)")
    p.add_argument("--start", type=int, default=0, help="first sample index (noise)")
    p.add_argument("--batch", type=int, default=100, help="samples per batch (noise)")
    p.add_argument("--ts", default="300,500,700", help="start steps (reconstruct)")
    p.add_argument("--digits", type=int, default=100, help="held-out digits (reconstruct)")
    p.add_argument("--n", type=int, default=4, help="completions per digit (reconstruct)")
    p.add_argument("--steps", type=int, default=25, help="DDPM steps from t (reconstruct)")
    p.add_argument("--json", default=str(DEFAULT_JSON), help="merge the results into this file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.exists() else {}
    if args.study != "summary":
        model, _ = checkpoint.load_model(checkpoint.bundled_model_path())
        schedule = NoiseSchedule.default()
        eps_fn = make_eps_fn(model, schedule)
        classifier = bundled_classifier()
        started = time.perf_counter()
        if args.study == "noise":
            for spec in args.samplers.split(","):
                name, steps = spec.split(":")
                key = f"{name} {steps} steps"
                per = results.setdefault("noise", {}).setdefault(key, {})
                for lo in range(args.start, args.start + args.samples, args.batch):
                    idx = list(range(lo, min(args.start + args.samples, lo + args.batch)))
                    per.update(settle_from_noise(eps_fn, schedule, classifier, name, int(steps), idx))
                    print(f"{key}: samples {idx[0]}..{idx[-1]} done, {time.perf_counter() - started:.0f} s", flush=True)
        else:
            for t in (int(v) for v in args.ts.split(",")):
                results.setdefault("reconstruct", {})[str(t)] = reconstruct_agreement(
                    eps_fn, schedule, classifier, t, args.digits, args.n, args.steps)
                print(f"reconstruct from t = {t} done, {time.perf_counter() - started:.0f} s", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
