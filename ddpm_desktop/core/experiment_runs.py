"""The headless runs of core.experiments, one function per experiment (`run_<name>(exp, model,
seed, quick) -> ExperimentResult`), and the helpers they share."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from . import imaging
from .imaging import IMAGE_SHAPE
from .schedule import DEFAULT_SCHEDULE, NoiseSchedule
from .experiment_types import (DIGIT_LABEL, POSTER_DIGIT_KL, POSTER_DIGIT_KL_READING,
                               POSTER_EXPONENTIAL_KL, Experiment, ExperimentResult, Figure, Number, Table)


def bundled_digit(label: int = DIGIT_LABEL) -> tuple[np.ndarray, int]:
    """(the first held-out bundled digit of `label` in [-1, 1], its index)."""
    from .data import load_bundled_mnist

    test = load_bundled_mnist("test")
    index = int(np.flatnonzero(test.labels == label)[0])
    return imaging.to_model_range(test.images[index]).astype(np.float32), index


def _strip(frames: Sequence[np.ndarray], scale: int = 4, nrow: int | None = None) -> np.ndarray:
    u8 = imaging.to_uint8(np.stack([np.asarray(f, dtype=np.float32) for f in frames]))
    return imaging.upscale(imaging.make_grid(u8, nrow=nrow or len(frames)), scale)


def _gif(frames: Sequence[np.ndarray], limit: int = 120, scale: int = 4) -> tuple[np.ndarray, ...]:
    idx = np.unique(np.rint(np.linspace(0, len(frames) - 1, min(limit, len(frames)))).astype(int))
    u8 = imaging.to_uint8(np.stack([np.asarray(frames[i], dtype=np.float32) for i in idx]))
    return tuple(imaging.upscale(f, scale) for f in u8)


def _eps_fn(model, schedule, labels=None, guidance=1.0):
    from .sampling import make_eps_fn

    return make_eps_fn(model, schedule, labels, guidance)


def _run_chain(sampler: str, eps_fn, schedule, x_T, steps, seed: int | None = None, eta=0.0,
               keep_chain=True):
    from .sampling import iter_sampler

    gen = None if seed is None else torch.Generator().manual_seed(int(seed))
    chain, last = [], None
    for last in iter_sampler(sampler, eps_fn, schedule, x_T, steps=steps, generator=gen, eta=eta):
        if keep_chain:
            chain.append(last.x_t[0, 0].numpy().copy())
    return last, chain


def _classify(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels [N], softmax probabilities float64 [N, 10]) from the bundled
    classifier on images [N, 1, 28, 28] clipped to [-1, 1] (core.decision.decision_curve)."""
    from .decision import bundled_classifier, decision_curve

    probs = decision_curve(bundled_classifier(), images.float().clamp(-1, 1))
    return probs.argmax(1), probs


def _is_digit(images: torch.Tensor) -> np.ndarray:
    """bool [N]: whether the bundled classifier takes each image for a digit at all
    (core.classifier.DigitReader)."""
    from .classifier import bundled_reader

    reader = bundled_reader()
    return reader.probs_and_scores(images.float().clamp(-1, 1))[1] <= reader.ood.threshold


def reading_note(images: torch.Tensor) -> str:
    """What the bundled classifier says of the first image [N, 1, 28, 28], in words: its
    reading (core.classifier.reading_text) and, when unsure or not a digit, what that means."""
    from .classifier import UNSURE_P, bundled_reader

    r = bundled_reader().read(images[:1].float().clamp(-1, 1))[0]
    text = f"The classifier reads the final x_0 as {r.text}."
    if not r.digit:
        text += (f" Its activations lie farther from the training digits' than the calibrated "
                 f"threshold: not a digit (its most probable class is {r.top}, p = {r.p:.2f}).")
    elif r.unsure:
        text += (f" A reading with p below {UNSURE_P:g} is right for only about three held-out "
                 "digits in four: the picture looks like a digit's strokes, but not enough like "
                 "one digit to name it.")
    return text


def _rms(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def _mean_pairwise_rms(xs: Sequence[np.ndarray]) -> float:
    d = [_rms(xs[i], xs[j]) for i in range(len(xs)) for j in range(i + 1, len(xs))]
    return float(np.mean(d)) if d else 0.0


def run_poster_noise(exp: Experiment, model, seed: int = 0, quick: bool = False) -> ExperimentResult:
    from .kl import estimated_kl, indistinguishable_level

    schedule = NoiseSchedule.named(**exp.schedule)
    torch.manual_seed(seed)
    x_T = torch.randn((1, 1, *IMAGE_SHAPE))  # the poster's call, under torch.manual_seed(seed)
    steps = 25 if quick else None
    last, chain = _run_chain("ddpm", _eps_fn(model, schedule), schedule, x_T, steps, seed)
    label, probs = _classify(last.x_t)
    res = ExperimentResult(exp.name, exp.title)
    res.notes.append(reading_note(last.x_t))
    res.numbers += [
        Number("kl_xT", "estimated KL of x_T's 784 pixel values to N(0,1) (nats)",
               estimated_kl(x_T.numpy())),
        Number("indistinguishable", "estimate indistinguishable from N(0,1) below (nats)",
               float(indistinguishable_level(784))),
        Number("nfe", "network evaluations", float(last.nfe)),
        Number("label", "the classifier's most probable class for x_0", float(label[0])),
        Number("confidence", "classifier confidence", float(probs[0].max())),
        Number("digit", "x_0 is a digit at all (1) or far from every training digit (0)",
               float(_is_digit(last.x_t)[0])),
    ]
    res.figures += [Figure("chain_strip", "png", (_strip([chain[i] for i in _key(len(chain), 8)]),),
                           "x_T → x_0, 8 key frames"),
                    Figure("chain", "gif", _gif(chain), "the reverse chain x_T → x_0", 20.0)]
    return res


def _key(n: int, k: int) -> list[int]:
    return sorted(set(np.rint(np.linspace(0, n - 1, min(k, n))).astype(int).tolist()))


def poster_kl_times(curve: np.ndarray, values: Sequence[float] = POSTER_DIGIT_KL) -> list[int | None]:
    """For each value, the first t >= 1 at which a KL curve over t = 0..T is at or below it (the
    curves fall with t); None when it never gets there."""
    out = []
    for v in values:
        hit = np.flatnonzero(np.asarray(curve[1:]) <= v)
        out.append(int(hit[0]) + 1 if hit.size else None)
    return out


# The t at which the digit's KL curves are tabulated: fixed in advance, never fitted to the
# poster's values (the poster gives its values without their t).
POSTER_KL_GRID = (1, 10, 50, 100, 200, 300, 400, 500, 600, 800, 1000)


def run_poster_digit_kl(exp: Experiment, model=None, seed: int = 0, quick: bool = False) -> ExperimentResult:
    """The poster lists five KL values of a digit's forward chain, 1.8643 → … → 0.00101, but
    not the t of any of them, nor which digit or which quantity. What that leaves:

    - what can be inferred: every quantity here falls with t, as the values do; and the last
      value, 0.00101, lies below what one 784-pixel frame can measure (the histogram's floor,
      (bins − 1)/2n, and the estimate's level of indistinguishability from N(0, 1)), so it is a
      closed form (exact or bound) or pooled over many frames, not a one-frame measurement;
    - what cannot: the t of each value, and so which of our curves it belongs to: each curve
      passes through each value at some t (the crossing table), and a t picked to make one
      curve equal a value makes that agreement a construction, not a finding.

    So the result tabulates our four curves at fixed t (`POSTER_KL_GRID`), every one at the
    same t, and lists the poster's values apart with the t at which each curve would reach them.
    """
    from .forward import forward_chain
    from .kl import (analytic_kl_q, bias_floor, estimated_kl_band_batch, histogram_kl_batch,
                     indistinguishable_level)
    from .marginal import marginal_kl_image_curve

    schedule = NoiseSchedule.named(**exp.schedule)
    digit, index = bundled_digit()
    exact = marginal_kl_image_curve(schedule, digit)
    chain = forward_chain(schedule, torch.from_numpy(digit), seed=seed)  # kl --seed's chain
    frames = chain.x.reshape(schedule.T + 1, -1).numpy()
    estimate, spread = estimated_kl_band_batch(frames)
    upper = analytic_kl_q(schedule, digit)
    hist = histogram_kl_batch(frames)
    n = frames.shape[1]
    res = ExperimentResult(exp.name, exp.title)
    grid = [t for t in POSTER_KL_GRID if t <= schedule.T]
    res.tables.append(Table(
        f"bundled test digit #{index} (a {DIGIT_LABEL}), {schedule.kind} schedule, T = {schedule.T}: "
        "our KL to N(0, 1) at fixed t, every quantity at the same t",
        ("t", "exact marginal", "our estimate", "± spread", "upper bound (mean KL of q(x_t|x_0))",
         "histogram (poster's method)"),
        tuple((t, float(exact[t]), float(estimate[t]), float(spread[t]), float(upper[t]), float(hist[t]))
              for t in grid)))
    crossings = {name: poster_kl_times(curve) for name, curve in
                 (("exact", exact), ("estimate", estimate), ("upper", upper), ("histogram", hist))}
    res.tables.append(Table(
        "the poster's values (their t is not given): the t at which each of our curves reaches "
        "each value (— never); any value can be met by a choice of t, so these say where a value "
        "could sit, not that it agrees",
        ("poster", "exact marginal", "our estimate", "upper bound", "histogram"),
        tuple((p, *(crossings[k][i] if crossings[k][i] is not None else "—"
                    for k in ("exact", "estimate", "upper", "histogram")))
              for i, p in enumerate(POSTER_DIGIT_KL))))
    floor, level = bias_floor(n), float(indistinguishable_level(n))
    for name, curve, what in (("exact", exact, "exact marginal KL"), ("upper", upper, "upper bound")):
        for i, t in enumerate(crossings[name]):
            if t is not None:
                res.numbers.append(Number(f"t_{name}_{i}", f"t at which the {what} reaches the "
                                          f"poster's {POSTER_DIGIT_KL[i]:g}", float(t)))
    res.numbers += [
        Number("histogram_floor", f"the histogram's floor on one frame, (bins − 1)/2n, n = {n}", floor),
        Number("indistinguishable", "our estimate's resolution on one frame (below it: N(0, 1))", level),
    ]
    picked = [chain.x[t].numpy() for t in grid]
    res.notes.append(POSTER_DIGIT_KL_READING)
    res.figures += [Figure("poster_stages", "png", (_strip(picked),),
                           "the frames at t = " + ", ".join(str(t) for t in grid)),
                    Figure("forward_chain", "gif", _gif(list(chain.x.numpy())),
                           "the forward chain x_0 → x_T", 20.0)]
    return res


def run_poster_exponential(exp: Experiment, model=None, seed: int = 0, quick: bool = False) -> ExperimentResult:
    from .forward import START_SEED_OFFSET, draw_start, forward_frames, forward_noises, start_analytic_kl
    from .kl import analytic_kl_q, estimated_kl_band_batch, estimated_kl_batch, histogram_kl_batch
    from .marginal import marginal_kl_curve

    schedule = NoiseSchedule.named(**exp.schedule)
    name, params = exp.start
    closed = start_analytic_kl(name, **params)
    exact = marginal_kl_curve(schedule, name, **params)
    # x_0 and the chain as `kl --start NAME --seed SEED` draws them (numpy, the app's streams)
    x0 = draw_start(name, IMAGE_SHAPE, seed + START_SEED_OFFSET, **params)
    est, spread = estimated_kl_band_batch(x0.reshape(1, -1))
    hist0 = histogram_kl_batch(x0.reshape(1, -1))
    n_seeds = 8 if quick else 64
    many = np.stack([draw_start(name, (784,), seed + START_SEED_OFFSET + 1 + k, **params)
                     for k in range(n_seeds)])
    mean_est = float(np.mean(estimated_kl_batch(many)))
    chain = forward_frames(schedule, x0, forward_noises(seed, schedule.T, x0.shape))
    frames = chain.reshape(schedule.T + 1, -1)
    est_t, hist_t, upper_t = estimated_kl_batch(frames), histogram_kl_batch(frames), \
        analytic_kl_q(schedule, x0)
    res = ExperimentResult(exp.name, exp.title)
    res.numbers += [
        Number("closed_form", "exact KL of Exp(λ) to N(0,1), closed form ln λ − 1 + ½ ln 2π + 1/λ²",
               float(closed), POSTER_EXPONENTIAL_KL),
        Number("exact", "exact marginal KL at t = 0 (core.marginal)", float(exact[0]),
               POSTER_EXPONENTIAL_KL),
        Number("estimate", "our estimate from one 784-pixel x_0", float(est[0]), POSTER_EXPONENTIAL_KL),
        Number("spread", "its sampling standard deviation", float(spread[0])),
        Number("estimate_mean", f"our estimate, mean over {n_seeds} draws of 784 pixels", mean_est,
               POSTER_EXPONENTIAL_KL),
        Number("histogram", "the poster's method (31-bin histogram) on the same x_0", float(hist0[0]),
               POSTER_EXPONENTIAL_KL),
    ]
    ts = sorted({0, 1, 10, 50, 100, 250, 500, schedule.T})
    res.tables.append(Table(f"Exp(rate {params.get('rate', 0.5)}) start along the forward chain",
                            ("t", "exact marginal", "our estimate", "upper bound", "histogram"),
                            tuple((t, float(exact[t]), float(est_t[t]), float(upper_t[t]),
                                   float(hist_t[t])) for t in ts if t <= schedule.T)))
    # an exponential's values run to ~15: show them on the display range [-1, 1] clipped
    res.figures += [Figure("forward_strip", "png",
                           (_strip([chain[t] for t in ts if t <= schedule.T]),),
                           "x_t at t = " + ", ".join(str(t) for t in ts))]
    return res


def run_ddpm_linear(exp: Experiment, model, seed: int = 0, quick: bool = False) -> ExperimentResult:
    from .kl import analytic_kl_q

    schedule = NoiseSchedule.named(**exp.schedule)
    digit, _ = bundled_digit()
    n = 2 if quick else 8
    steps = 20 if quick else None
    torch.manual_seed(seed)
    x_T = torch.randn((n, 1, *IMAGE_SHAPE))
    last, _ = _run_chain("ddpm", _eps_fn(model, schedule), schedule, x_T, steps, seed, keep_chain=False)
    labels, probs = _classify(last.x_t)
    res = ExperimentResult(exp.name, exp.title)
    res.numbers += [
        Number("beta_1", "β_1", float(schedule.betas[0])),
        Number("beta_T", "β_T", float(schedule.betas[-1])),
        Number("alpha_bar_T", "ᾱ_T = ∏(1 − β_t)", float(schedule.alphas_cumprod[-1])),
        Number("log_snr_T", "log-SNR at T, ln(ᾱ_T/(1 − ᾱ_T))", float(schedule.log_snr[-1])),
        Number("prior_kl", "L_T for the digit: mean KL(q(x_T|x_0) ‖ N(0,1)) per pixel (nats)",
               float(analytic_kl_q(schedule, digit)[-1])),
        Number("nfe", "network evaluations per sample", float(last.nfe)),
        Number("confidence", f"mean classifier confidence over {n} samples", float(probs.max(1).mean())),
        Number("digits", f"samples of the {n} the classifier takes for digits at all",
               float(_is_digit(last.x_t).sum())),
    ]
    res.tables.append(Table("samples", ("sample", "classifier reads"),
                            tuple((i, int(v)) for i, v in enumerate(labels))))
    res.figures.append(Figure("samples", "png", (_strip(list(last.x_t[:, 0].numpy()), nrow=4),),
                              f"{n} DDPM samples, {last.nfe} steps"))
    return res


def first_below(alpha_bar: np.ndarray, level: float) -> int:
    """The first t (1-based) with ᾱ_t below `level`."""
    hit = np.flatnonzero(np.asarray(alpha_bar) < level)
    return int(hit[0]) + 1 if hit.size else len(alpha_bar)


def run_improved_cosine(exp: Experiment, model, seed: int = 0, quick: bool = False) -> ExperimentResult:
    from .forward import forward_chain
    from .kl import analytic_kl_q

    cosine = NoiseSchedule.named(**exp.schedule)
    linear = NoiseSchedule.named(**DEFAULT_SCHEDULE)
    digit, _ = bundled_digit()
    res = ExperimentResult(exp.name, exp.title)
    T = cosine.T
    res.numbers += [
        Number("alpha_bar_half", f"cosine ᾱ at t = T/2 = {T // 2}", float(cosine.alphas_cumprod[T // 2 - 1])),
        Number("alpha_bar_half_linear", f"linear ᾱ at t = {T // 2}", float(linear.alphas_cumprod[T // 2 - 1])),
        Number("alpha_bar_T", "cosine ᾱ_T", float(cosine.alphas_cumprod[-1])),
        Number("t_half", "cosine: first t with ᾱ_t < 0.5", float(first_below(cosine.alphas_cumprod, 0.5))),
        Number("t_half_linear", "linear: first t with ᾱ_t < 0.5", float(first_below(linear.alphas_cumprod, 0.5))),
        Number("t_noise", "cosine: first t with ᾱ_t < 0.01 (little signal left)",
               float(first_below(cosine.alphas_cumprod, 0.01))),
        Number("t_noise_linear", "linear: first t with ᾱ_t < 0.01",
               float(first_below(linear.alphas_cumprod, 0.01))),
        Number("prior_kl", "L_T for the digit under the cosine schedule (nats)",
               float(analytic_kl_q(cosine, digit)[-1])),
    ]
    ts = [0, T // 8, T // 4, 3 * T // 8, T // 2, 3 * T // 4, T]
    rows = []
    for sch in (linear, cosine):
        ch = forward_chain(sch, torch.from_numpy(digit), seed=seed)
        rows += [ch.x[t].numpy() for t in ts]
    figures = [Figure("linear_vs_cosine", "png", (_strip(rows, nrow=len(ts)),),
                      "forward chain, top: linear, bottom: cosine, t = " + ", ".join(map(str, ts)))]
    if model is not None:
        n, steps = (2, 20) if quick else (8, 100)
        torch.manual_seed(seed)
        last, _ = _run_chain("ddpm", _eps_fn(model, cosine), cosine, torch.randn((n, 1, 28, 28)),
                             steps, seed, keep_chain=False)
        _, probs = _classify(last.x_t)
        res.numbers.append(Number("confidence", f"mean classifier confidence, {n} cosine samples "
                                  f"({steps} respaced DDPM steps)", float(probs.max(1).mean())))
        figures.append(Figure("samples", "png", (_strip(list(last.x_t[:, 0].numpy()), nrow=4),),
                              f"{n} samples under the cosine schedule"))
    res.figures += figures
    return res


ETAS = (0.0, 0.2, 0.5, 1.0)


def run_ddim_eta(exp: Experiment, model, seed: int = 0, quick: bool = False) -> ExperimentResult:
    schedule = NoiseSchedule.named(**exp.schedule)
    steps = 10 if quick else 50
    x_T = torch.randn((1, 1, *IMAGE_SHAPE), generator=torch.Generator().manual_seed(seed))
    eps_fn = _eps_fn(model, schedule)
    finals, strips = [], []
    for eta in ETAS:
        last, chain = _run_chain("ddim", eps_fn, schedule, x_T, steps, seed + 1, eta)
        finals.append(last.x_t[0, 0].numpy())
        strips += [chain[i] for i in _key(len(chain), 6)]
    again, _ = _run_chain("ddim", eps_fn, schedule, x_T, steps, seed + 2, 0.0, keep_chain=False)
    res = ExperimentResult(exp.name, exp.title)
    for eta, f in zip(ETAS, finals):
        res.numbers.append(Number(f"distance_eta_{eta:g}",
                                  f"RMS pixel distance of the η = {eta:g} sample from η = 0's", _rms(f, finals[0])))
    res.numbers.append(Number("eta0_other_seed", "η = 0 with another sampler seed: RMS distance",
                              _rms(again.x_t[0, 0].numpy(), finals[0])))
    res.numbers.append(Number("nfe", "network evaluations per sample", float(steps)))
    res.figures.append(Figure("eta_sweep", "png", (_strip(strips, nrow=len(strips) // len(ETAS)),),
                              "one x_T, rows η = " + ", ".join(f"{e:g}" for e in ETAS)))
    return res


GUIDANCE_SCALES = (0.0, 1.0, 2.0, 4.0)
GUIDANCE_LABEL = 3


def run_guidance(exp: Experiment, model, seed: int = 0, quick: bool = False) -> ExperimentResult:
    schedule = NoiseSchedule.named(**exp.schedule)
    n, steps = (2, 10) if quick else (8, 50)
    x_T = torch.randn((n, 1, *IMAGE_SHAPE), generator=torch.Generator().manual_seed(seed))
    labels = torch.full((n,), GUIDANCE_LABEL, dtype=torch.long)
    res = ExperimentResult(exp.name, exp.title)
    rows, grid = [], []
    for w in GUIDANCE_SCALES:
        last, _ = _run_chain("ddim", _eps_fn(model, schedule, labels, w), schedule, x_T, steps,
                             keep_chain=False)
        pred, probs = _classify(last.x_t)
        acc = float(np.mean(pred == GUIDANCE_LABEL))
        conf = float(probs[:, GUIDANCE_LABEL].mean())
        rows.append((w, acc, conf))
        res.numbers.append(Number(f"accuracy_w_{w:g}", f"w = {w:g}: fraction read as {GUIDANCE_LABEL}", acc))
        res.numbers.append(Number(f"p_label_w_{w:g}", f"w = {w:g}: mean classifier p({GUIDANCE_LABEL})", conf))
        grid += list(last.x_t[:, 0].numpy())
    res.tables.append(Table(f"label {GUIDANCE_LABEL}, {n} samples, DDIM {steps} steps, ε_u + w(ε_c − ε_u)",
                            ("w", f"read as {GUIDANCE_LABEL}", f"p({GUIDANCE_LABEL})"), tuple(rows)))
    res.figures.append(Figure("guidance_sweep", "png", (_strip(grid, nrow=n),),
                              "rows w = " + ", ".join(f"{w:g}" for w in GUIDANCE_SCALES)))
    return res


def run_forget_xT(exp: Experiment, model, seed: int = 0, quick: bool = False) -> ExperimentResult:
    schedule = NoiseSchedule.named(**exp.schedule)
    n_seeds, steps = (3, 20) if quick else (4, 100)
    x_T = torch.randn((1, 1, *IMAGE_SHAPE), generator=torch.Generator().manual_seed(seed))
    other = torch.randn((1, 1, *IMAGE_SHAPE), generator=torch.Generator().manual_seed(seed + 7919))
    eps_fn = _eps_fn(model, schedule)
    out = {}
    for name in ("ddpm", "ddim"):
        out[name] = [_run_chain(name, eps_fn, schedule, x_T, steps, s, 0.0, keep_chain=False)[0]
                     .x_t[0, 0].numpy() for s in range(seed, seed + n_seeds)]
    ddim_other = _run_chain("ddim", eps_fn, schedule, other, steps, seed, 0.0, keep_chain=False)[0]
    ref = _rms(out["ddim"][0], ddim_other.x_t[0, 0].numpy())
    res = ExperimentResult(exp.name, exp.title)
    d_ddpm, d_ddim = _mean_pairwise_rms(out["ddpm"]), _mean_pairwise_rms(out["ddim"])
    labels = {k: _classify(torch.from_numpy(np.stack(v))[:, None])[0] for k, v in out.items()}
    res.numbers += [
        Number("ddpm_seed_distance", f"DDPM: mean RMS pixel distance between the {n_seeds} samples "
               "of one x_T with different sampler seeds", d_ddpm),
        Number("ddim_seed_distance", "DDIM η = 0: the same distance", d_ddim),
        Number("other_xT_distance", "DDIM η = 0: distance between the samples of two different x_T "
               "(what 'unrelated' looks like)", ref),
        Number("ddpm_distinct_labels", "DDPM: distinct digits the classifier reads among the seeds",
               float(len(set(labels["ddpm"].tolist())))),
        Number("ddim_distinct_labels", "DDIM: distinct digits among the seeds",
               float(len(set(labels["ddim"].tolist())))),
        Number("steps", "reverse steps of each sampler", float(steps)),
    ]
    res.figures.append(Figure("ddpm_vs_ddim_seeds", "png",
                              (_strip(out["ddpm"] + out["ddim"], nrow=n_seeds),),
                              f"one x_T, sampler seeds {seed}..{seed + n_seeds - 1}: top DDPM, bottom DDIM η = 0"))
    return res
