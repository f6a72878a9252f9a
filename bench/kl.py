"""KL numbers: cost of the exact marginal curve and of the estimate, the estimator comparison
behind core.kl.estimated_kl, and the poster's values set against the exact ones.

`python -m bench.kl [--quick] [--json PATH]` prints markdown (the tables of docs/KL.md);
about a minute on one core (--quick: fewer seeds). Not part of bench/run.py's suite.
`python -m bench.kl --spread` prints instead the figures the README quotes, each over many
digits and seeds with its spread (`spread_over_seeds`; about 20 s on one core).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import numpy as np
from scipy.special import digamma

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
POSTER = (1.8643, 1.542, 0.501, 0.0993, 0.00101)
POSTER_EXPONENTIAL = 3.7697


def _median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


# -- the candidates (the chosen one lives in core.kl) ---------------------------------------------

def _spacing(x, m):
    """Cross-entropy exactly minus the m-spacing entropy with the ψ correction."""
    xs = np.sort(np.asarray(x, np.float64), axis=1)
    n = xs.shape[1]
    with np.errstate(divide="ignore"):
        h = np.log(xs[:, m:] - xs[:, :-m]).mean(1) - digamma(m) + digamma(n + 1)
    return HALF_LOG_2PI + 0.5 * (xs * xs).mean(1) - h


def _vasicek_ebrahimi(x, m):
    xs = np.sort(np.asarray(x, np.float64), axis=1)
    n = xs.shape[1]
    i = np.arange(n)
    hi, lo = np.minimum(i + m, n - 1), np.maximum(i - m, 0)
    c = np.where(i < m, 1 + i / m, np.where(i >= n - m, 1 + (n - 1 - i) / m, 2.0))
    with np.errstate(divide="ignore"):
        h = np.log(n / (c * m) * (xs[:, hi] - xs[:, lo])).mean(1)
    return HALF_LOG_2PI + 0.5 * (xs * xs).mean(1) - h


def _own_range_histogram(x):
    from ddpm_desktop.core.kl import _histogram_entropy

    xs = np.sort(np.asarray(x, np.float64), axis=1)
    return HALF_LOG_2PI + 0.5 * (xs * xs).mean(1) - _histogram_entropy(xs)


def candidates():
    from ddpm_desktop.core.kl import estimated_kl_batch, histogram_kl_batch

    return {
        "histogram, fixed bins on ±5.17 (the poster's method)": histogram_kl_batch,
        "cross-entropy − 2-spacing entropy": lambda x: _spacing(x, 2),
        "cross-entropy − 4-spacing entropy": lambda x: _spacing(x, 4),
        "cross-entropy − 8-spacing entropy": lambda x: _spacing(x, 8),
        "cross-entropy − Vasicek–Ebrahimi m = 16": lambda x: _vasicek_ebrahimi(x, 16),
        "cross-entropy − own-range FD histogram, Miller–Madow": _own_range_histogram,
        "**chosen**: 4-spacing / own-range histogram blend (core.kl.estimated_kl)": estimated_kl_batch,
    }


def _digit():
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.imaging import to_model_range

    d = load_bundled_mnist("test")
    return to_model_range(d.images[np.flatnonzero(d.labels == 0)[0]])


def run(quick: bool = False) -> dict:
    import torch

    from ddpm_desktop.core import marginal
    from ddpm_desktop.core.forward import forward_chain, start_analytic_kl
    from ddpm_desktop.core.kl import analytic_kl_q, estimated_kl, estimated_kl_band_batch
    from ddpm_desktop.core.schedule import NoiseSchedule

    torch.set_num_threads(1)
    out: dict = {}
    s = NoiseSchedule.named("linear")
    x0 = _digit()

    # cost
    cost = {}
    for name, kw in [("exponential", {}), ("uniform", {}), ("laplace", {}), ("salt_pepper", {}),
                     ("shifted_gaussian", {}), ("image", {"image": x0})]:
        def build(name=name, kw=kw):
            marginal._CACHE.clear()
            marginal.marginal_kl_curve(s, name, **kw)
        cost[f"table for {name} (once per start/parameters/image)"] = _median_ms(build, 5)
        marginal.marginal_kl_curve(s, name, **kw)
        cost[f"curve t = 0..1000 from the cached table, {name} (a schedule edit)"] = _median_ms(
            lambda name=name, kw=kw: marginal.marginal_kl_curve(s, name, **kw), 50)
    frames = forward_chain(s, x0, torch.Generator().manual_seed(0)).x.reshape(1001, -1)
    cost["estimated_kl, one 784-pixel frame"] = _median_ms(lambda: estimated_kl(frames[500]), 200)
    cost["estimated_kl_band_batch, a digit's chain [1001, 784]"] = _median_ms(
        lambda: estimated_kl_band_batch(frames), 10)
    noise = np.random.default_rng(0).standard_normal((1001, 784)).astype(np.float32)
    cost["estimated_kl_band_batch, pure noise [1001, 784] (the histogram branch on every row)"] = \
        _median_ms(lambda: estimated_kl_band_batch(noise), 10)
    out["cost_ms"] = cost

    # estimator comparison
    rng = np.random.default_rng(2026)
    seeds_small, seeds_big = (60, 6) if quick else (300, 20)
    exact = marginal.marginal_kl_image_curve(s, x0)
    chains = [forward_chain(s, x0, torch.Generator().manual_seed(k)).x.reshape(1001, -1)
              for k in range(2 if quick else 6)]
    dists = {
        "exponential (λ = 0.5), t = 0": (lambda shape: rng.exponential(2.0, shape), start_analytic_kl("exponential")),
        "N(0, 1)": (lambda shape: rng.standard_normal(shape), 0.0),
        "Laplace (unit variance)": (lambda shape: rng.laplace(0, 1 / math.sqrt(2), shape), start_analytic_kl("laplace")),
        "uniform (unit variance)": (lambda shape: rng.uniform(-math.sqrt(3), math.sqrt(3), shape), start_analytic_kl("uniform")),
    }
    samples = {(d, n): draw((seeds_small if n == 784 else seeds_big, n))
               for d, (draw, _) in dists.items() for n in (784, 64 * 784)}
    table = {}
    for est_name, fn in candidates().items():
        row = {}
        for d, (_, truth) in dists.items():
            for n in (784, 64 * 784):
                e = fn(samples[(d, n)])
                row[f"{d} @ n={n}"] = {"bias": float(e.mean() - truth),
                                       "rmse": float(np.sqrt(np.mean((e - truth) ** 2)))}
        errs = [fn(c)[1:] - exact[1:] for c in chains]
        row["digit chain, t = 1..1000"] = {
            "bias": float(np.mean(errs)), "rmse": float(np.mean([np.sqrt(np.mean(e ** 2)) for e in errs]))}
        table[est_name] = row
    out["estimators"] = table

    # the poster's numbers against the exact ones
    cond = analytic_kl_q(s, x0)
    reach = {}
    for v in POSTER:
        t_exact = int(np.argmax(exact[1:] <= v)) + 1
        t_cond = int(np.argmax(cond[1:] <= v)) + 1
        reach[str(v)] = {"t_exact_marginal": t_exact, "t_conditional_upper_bound": t_cond}
    out["poster_reach"] = reach
    exp_t0 = {name: float(np.mean(fn(samples[("exponential (λ = 0.5), t = 0", 784)])))
              for name, fn in candidates().items()}
    out["poster_exponential"] = {"poster": POSTER_EXPONENTIAL, "exact": start_analytic_kl("exponential"),
                                 "estimators_mean_n784": exp_t0}
    out["digit_curve"] = {str(t): {"exact": float(exact[t]), "conditional": float(cond[t])}
                          for t in (1, 10, 50, 100, 200, 300, 400, 500, 600, 800, 1000)}
    return out


def spread_stats(values) -> dict:
    """Mean, sample standard deviation, standard error of the mean, min, max and n of values."""
    v = np.asarray(values, np.float64)
    sd = float(v.std(ddof=1)) if v.size > 1 else float("nan")
    return {"n": int(v.size), "mean": float(v.mean()), "sd": sd, "se": sd / math.sqrt(v.size),
            "min": float(v.min()), "max": float(v.max())}


def spread_over_seeds(classes=range(10), digits_per_class=5, chain_seeds=range(2),
                      first_zero_seeds=range(6), exp_seeds=range(1000)) -> dict:
    """The seed-dependent KL figures of the README, each with its spread.

    - chain RMSE: for the first `digits_per_class` held-out digits of each class in `classes`,
      one forward chain per seed in `chain_seeds` (`forward_chain(..., seed=seed)`, as the
      CLI's `kl --seed` and the app), the RMS over t = 1..1000 of (estimate − exact marginal KL) and of
      (histogram KL − exact); also for the first "0" alone over `first_zero_seeds`.
    - exponential start at t = 0: one 28×28 frame of −log(U)/0.5 per seed in `exp_seeds`
      (`draw_start` from seed + START_SEED_OFFSET, as `kl --start exponential --seed`), its estimate and
      histogram KL against the exact 3.2258.
    """
    import torch

    from ddpm_desktop.core import marginal
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.forward import START_SEED_OFFSET, draw_start, forward_chain, start_analytic_kl
    from ddpm_desktop.core.imaging import to_model_range
    from ddpm_desktop.core.kl import estimated_kl_batch, histogram_kl_batch
    from ddpm_desktop.core.schedule import NoiseSchedule

    torch.set_num_threads(1)
    s = NoiseSchedule.named("linear")
    test = load_bundled_mnist("test")

    def chain_rmse(x0, seed):
        exact = marginal.marginal_kl_image_curve(s, x0)[1:]
        frames = forward_chain(s, x0, seed=seed).x.reshape(s.T + 1, -1)[1:]
        return (float(np.sqrt(np.mean((estimated_kl_batch(frames) - exact) ** 2))),
                float(np.sqrt(np.mean((histogram_kl_batch(frames) - exact) ** 2))))

    out: dict = {}
    per_chain = []
    digits = [(int(c), int(k)) for c in classes for k in np.flatnonzero(test.labels == c)[:digits_per_class]]
    for c, k in digits:
        x0 = to_model_range(test.images[k])
        for seed in chain_seeds:
            est, hist = chain_rmse(x0, seed)
            per_chain.append({"class": c, "test_index": k, "seed": int(seed),
                              "estimate_rmse": est, "histogram_rmse": hist})
    out["chain_rmse"] = {"chains": per_chain,
                         "estimate": spread_stats([r["estimate_rmse"] for r in per_chain]),
                         "histogram": spread_stats([r["histogram_rmse"] for r in per_chain])}
    x0 = to_model_range(test.images[int(np.flatnonzero(test.labels == 0)[0])])
    zero = [chain_rmse(x0, seed) for seed in first_zero_seeds]
    out["chain_rmse_first_zero"] = {"seeds": [int(k) for k in first_zero_seeds],
                                    "estimate": spread_stats([e for e, _ in zero]),
                                    "histogram": spread_stats([h for _, h in zero])}
    frames = np.stack([draw_start("exponential", (28, 28), k + START_SEED_OFFSET).ravel()
                       for k in exp_seeds])
    est = estimated_kl_batch(frames)
    out["exponential_t0"] = {"exact": start_analytic_kl("exponential"), "seeds": [int(k) for k in exp_seeds],
                             "estimate": spread_stats(est), "estimate_first_10_seeds": spread_stats(est[:10]),
                             "histogram": spread_stats(histogram_kl_batch(frames))}
    return out


def spread_markdown(r: dict) -> str:
    def row(name, st):
        return (f"| {name} | {st['n']} | {st['mean']:.4f} | {st['se']:.4f} | {st['sd']:.4f} | "
                f"{st['min']:.4f}–{st['max']:.4f} |")

    head = ["| figure | n | mean | standard error of the mean | SD (one chain or frame) | min–max |",
            "|---|---|---|---|---|---|"]
    cr, z, e = r["chain_rmse"], r["chain_rmse_first_zero"], r["exponential_t0"]
    lines = head + [
        row("chain RMSE of the estimate, held-out digits × seeds", cr["estimate"]),
        row("chain RMSE of the histogram KL, same chains", cr["histogram"]),
        row("chain RMSE of the estimate, the first \"0\" alone", z["estimate"]),
        row("chain RMSE of the histogram KL, the first \"0\" alone", z["histogram"]),
        row(f"exponential start, t = 0: estimate (exact {e['exact']:.4f})", e["estimate"]),
        row("exponential start, t = 0: estimate, the first 10 seeds alone", e["estimate_first_10_seeds"]),
        row("exponential start, t = 0: histogram KL", e["histogram"]),
    ]
    lines += ["", "| class | held-out index | seed | estimate RMSE | histogram RMSE |", "|---|---|---|---|---|"]
    lines += [f"| {c['class']} | {c['test_index']} | {c['seed']} | {c['estimate_rmse']:.4f} | "
              f"{c['histogram_rmse']:.4f} |" for c in cr["chains"]]
    return "\n".join(lines)


def markdown(r: dict) -> str:
    lines = ["| measured | median ms |", "|---|---|"]
    lines += [f"| {k} | {v:.3g} |" for k, v in r["cost_ms"].items()]
    cols = list(next(iter(r["estimators"].values())))
    lines += ["", "| estimator | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in r["estimators"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{row[c]['bias']:+.4f} / {row[c]['rmse']:.4f}" for c in cols) + " |")
    lines += ["", "| poster's value | t where the exact marginal KL reaches it | "
                  "t where the conditional upper bound reaches it |", "|---|---|---|"]
    for v, d in r["poster_reach"].items():
        lines.append(f"| {v} | {d['t_exact_marginal']} | {d['t_conditional_upper_bound']} |")
    pe = r["poster_exponential"]
    lines += ["", f"Exponential start at t = 0: poster {pe['poster']}, exact {pe['exact']:.4f}", "",
              "| estimator | mean over seeds, n = 784 |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in pe["estimators_mean_n784"].items()]
    lines += ["", "| t | exact marginal | conditional (upper bound) |", "|---|---|---|"]
    lines += [f"| {t} | {d['exact']:.4g} | {d['conditional']:.4g} |" for t, d in r["digit_curve"].items()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--spread", action="store_true",
                    help="only the README's seed-dependent figures over many digits and seeds")
    ap.add_argument("--json", default=None, help="also write the numbers as JSON here")
    args = ap.parse_args()
    r = spread_over_seeds() if args.spread else run(args.quick)
    print(spread_markdown(r) if args.spread else markdown(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
