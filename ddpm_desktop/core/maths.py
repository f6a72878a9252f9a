"""The equations the app animates, with today's numbers substituted: structured terms a view
renders (widgets/maths_panel.py) and a test checks against the schedule's arrays.

Each function returns `Term`s: `key` (stable, one per line of the panel), `name` (what it is),
`formula` (rich text: HTML <sub>/<sup>, √ with an overlined radicand), `value` (the same
equation with the numbers in, rich text), `tip` (plain text: the formula and where it comes
from) and `view` (which view of the window the term drives: one of `VIEWS`), plus `numbers`,
the floats substituted (so a test reads them without parsing text).

- `forward_terms(schedule, t)`: the forward step x_t = √α_t x_{t−1} + √(1−α_t) z (Ho et al.
  2020, eq. 2), the marginal x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (eq. 4), and β_t, ᾱ_t, log-SNR.
- `reverse_terms(sampler, schedule, ts, i, eta)`: step i (t = ts[i] → s = ts[i+1]) of the
  sampler with the coefficients `core.sampling.step_terms` gives (the numbers the samplers
  themselves run with): DDPM Algorithm 2 with its posterior mean and variance (eq. 6-7),
  DDIM eq. 12 with η (eq. 16), DPM-Solver++(2M) with h and r; the distilled student's step
  is DDIM's at η = 0. The t's come from the run's plan (core.run.plan_run).
- `guidance_terms(label, w)`: ε̃ = ε_u + w (ε_c − ε_u) (Ho & Salimans 2022, eq. 6).
- `kl_terms(...)`: the KL numbers of the histogram view (exact, estimate, histogram, bound).
- `likelihood_terms(schedule, bits_per_dim, ...)`: the probability-flow ODE in log-SNR, the
  instantaneous change of variables with Hutchinson's trace, and the dequantized bits/dim
  (core.likelihood), with the digit's bits/dim once the Beliefs dock has it.
- `inversion_terms(schedule, t, ...)`: the DDIM inversion step s → t through step t, its
  fixed-point refinement and the way back (core.inversion), with the round trip's MSE.
- `uncertainty_terms(schedule, t, variances, ...)`: Cov[x_0 | x_t] from the denoiser's Jacobian,
  subspace iteration with JVPs, and the variances found (core.uncertainty).

Pure Python and numpy; a few µs per call (the panel re-renders only the terms that change).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .inversion import DEFAULT_INVERSION_STEPS, DEFAULT_REFINE, inversion_coefficients, inversion_timesteps
from .likelihood import (BIN, DEFAULT_LOG_SNR_MAX, DEFAULT_ODE_STEPS, DEFAULT_PROBES, LOG2_BIN_OFFSET,
                         alpha_sigma, log_p_of_bits_per_dim)
from .readout import (NO_DENSITY, NO_DENSITY_TIP, POINT_MASS, POINT_MASS_TIP, REPEATED_VALUES,
                      REPEATED_VALUES_TIP, format_kl)
from .run import DISTILLED
from .sampling import step_terms
from .schedule import NoiseSchedule
from .uncertainty import DEFAULT_ITERATIONS, DEFAULT_OVERSAMPLE, FD_STEP, posterior_cov_coefficients

# The views a term can drive (the window highlights the one under the mouse).
VIEWS = ("forward", "schedule", "reverse", "sampler", "histogram", "kl", "likelihood", "inversion",
         "uncertainty")


@dataclass(frozen=True)
class Term:
    key: str
    name: str
    formula: str
    value: str
    tip: str
    view: str
    numbers: dict = field(default_factory=dict, compare=False)


# ---------------------------------------------------------------- rich-text pieces

def sub(base: str, index: str) -> str:
    return f"{base}<sub>{index}</sub>"


def sqrt(radicand: str) -> str:
    """√ with an overline over the radicand (Qt rich text has no MathML)."""
    return f"√<span style='text-decoration:overline'>{radicand}</span>"


def num(v: float | None, digits: int = 4) -> str:
    """A number for the panel: 4 significant digits, scientific below 1e-3, ∞, or –."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    a = abs(v)
    if v == int(v) and a < 1e5:
        return str(int(v)).replace("-", "−")
    # '#': trailing zeros kept, so 0.99998 reads 1.000 (not an exact 1)
    text = f"{v:.{digits - 1}e}" if (a < 1e-3 or a >= 1e5) else f"{v:#.{digits}g}"
    if text.endswith("."):
        text = text[:-1]
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}·10<sup>{int(exp)}</sup>"
    return text.replace("-", "−")


def _signed(v: float) -> str:
    """' + v' or ' − |v|', for a coefficient in a sum."""
    return f" − {num(-v)}" if v < 0 else f" + {num(v)}"


AB = "ᾱ"
X0_HAT = "x̂<sub>0</sub>"
EPS_HAT = "ε̂"


# ---------------------------------------------------------------- forward

def forward_terms(schedule: NoiseSchedule, t: int) -> list[Term]:
    """The forward process at step t (0..T): the one-step kernel, the marginal, and the
    schedule's numbers at t. At t = 0 x_0 is the input, and the step terms say so."""
    T = schedule.T
    t = int(max(0, min(int(t), T)))
    terms = []
    if t == 0:
        step_value = "t = 0: x<sub>0</sub> is the input (no step taken yet)"
        marg_value = "x<sub>0</sub> = x<sub>0</sub> (ᾱ<sub>0</sub> = 1)"
        beta = alpha = None
        ab = 1.0
        log_snr = math.inf
    else:
        beta = float(schedule.betas[t - 1])
        alpha = float(schedule.alphas[t - 1])
        ab = float(schedule.alphas_cumprod[t - 1])
        log_snr = float(schedule.log_snr[t - 1])
        step_value = (f"{sub('x', t)} = {num(math.sqrt(alpha))} {sub('x', t - 1)}"
                      f" + {num(math.sqrt(1.0 - alpha))} {sub('z', t)}")
        marg_value = (f"{sub('x', t)} = {num(math.sqrt(ab))} x<sub>0</sub>"
                      f" + {num(math.sqrt(1.0 - ab))} ε")
    terms.append(Term(
        "forward.step", "Forward step q(x_t | x_{t−1})",
        f"{sub('x', 't')} = {sqrt(sub('α', 't'))} {sub('x', 't−1')} + "
        f"{sqrt('1 − ' + sub('α', 't'))} {sub('z', 't')},  z ~ N(0, I)",
        step_value,
        "x_t = √α_t x_{t−1} + √(1 − α_t) z_t, α_t = 1 − β_t, z_t ~ N(0, I) "
        "(Ho et al. 2020, eq. 2): one step of the forward chain shown on the left.",
        "forward", {"t": t, "sqrt_alpha": None if alpha is None else math.sqrt(alpha),
                    "sqrt_1m_alpha": None if alpha is None else math.sqrt(1.0 - alpha)}))
    terms.append(Term(
        "forward.marginal", "Marginal q(x_t | x_0)",
        f"{sub('x', 't')} = {sqrt(sub(AB, 't'))} x<sub>0</sub> + "
        f"{sqrt('1 − ' + sub(AB, 't'))} ε,  ε ~ N(0, I)",
        marg_value,
        "x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, ᾱ_t = Π_{s≤t} α_s (Ho et al. 2020, eq. 4): the same "
        "distribution as t forward steps, in one jump.",
        "forward", {"t": t, "sqrt_ab": math.sqrt(ab), "sqrt_1m_ab": math.sqrt(1.0 - ab)}))
    terms.append(Term(
        "schedule.values", "Schedule at t",
        f"{sub('β', 't')},  {sub(AB, 't')} = Π<sub>s≤t</sub> (1 − {sub('β', 's')}),  "
        f"log-SNR = ln({sub(AB, 't')} / (1 − {sub(AB, 't')}))",
        (f"t = {t} of T = {T}:  {sub('β', t)} = {num(beta)},  {sub(AB, t)} = {num(ab)},  "
         f"log-SNR = {num(log_snr)}") if t else
        f"t = 0 of T = {T}:  {sub(AB, 0)} = 1,  log-SNR = ∞",
        "β_t: the noise variance added at step t; ᾱ_t = Π_{s≤t} (1 − β_s): the share of x_0's "
        "variance left in x_t; log-SNR = ln(ᾱ_t/(1 − ᾱ_t)), what the network is conditioned "
        "on (the Schedule dock plots all three).",
        "schedule", {"t": t, "beta": beta, "alpha_bar": ab, "log_snr": log_snr}))
    return terms


# ---------------------------------------------------------------- reverse

def reverse_terms(sampler: str, schedule: NoiseSchedule, ts, i: int, eta: float = 0.0,
                  variance: str = "beta") -> list[Term]:
    """Step i of a reverse run along `ts` (clamped to 0..len(ts)−2): x̂_0 and the sampler's
    update, with the coefficients of `core.sampling.step_terms`. The distilled student steps
    as DDIM with η = 0 (core.sampling.iter_distilled), so its terms are those."""
    student = sampler == DISTILLED
    if student:
        sampler, eta = "ddim", 0.0
    ts = np.asarray(ts)
    i = int(max(0, min(int(i), len(ts) - 2)))
    k = step_terms(sampler, schedule, ts, i, eta=eta, variance=variance)
    t, s = k["t"], k["s"]
    n_steps = len(ts) - 1
    header = f"step {i + 1} of {n_steps}: t = {t} → s = {s}"
    x0 = Term(
        "reverse.x0", "Predicted x̂_0",
        f"{X0_HAT} = ({sub('x', 't')} − {sqrt('1 − ' + sub(AB, 't'))} {EPS_HAT}) / "
        f"{sqrt(sub(AB, 't'))}",
        f"{header}:  {X0_HAT} = ({sub('x', t)} − {num(k['sqrt_1m_ab_t'])} {EPS_HAT}) / "
        f"{num(k['sqrt_ab_t'])}  (clipped to [−1, 1])",
        "x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t: the clean image the network's noise estimate ε̂ "
        "implies (Ho et al. 2020, eq. 4 solved for x_0), shown under the reverse chain.",
        "reverse", {"t": t, "s": s, "sqrt_ab_t": k["sqrt_ab_t"],
                    "sqrt_1m_ab_t": k["sqrt_1m_ab_t"]})
    if sampler == "ddpm":
        var = k["sigma"] ** 2
        update = Term(
            "reverse.update", "DDPM step (Algorithm 2, posterior eq. 7)",
            f"{sub('x', 's')} = {sub('μ̃', 't')} + {sub('σ', 't')} z,  "
            f"{sub('μ̃', 't')} = "
            f"{sqrt(sub(AB, 's'))} {sub('β', 't')}/(1 − {sub(AB, 't')}) {X0_HAT} + "
            f"{sqrt(sub('α', 't'))} (1 − {sub(AB, 's')})/(1 − {sub(AB, 't')}) {sub('x', 't')}",
            f"{sub('x', s)} = {num(k['coef1'])} {X0_HAT}{_signed(k['coef2'])} {sub('x', t)}"
            + (f" + {num(k['sigma'])} z" if s > 0 else "  (no noise on the last step)"),
            "x_{t−1} = μ̃_t(x̂_0, x_t) + σ_t z: the posterior q(x_{t−1} | x_t, x_0) with x̂_0 "
            "for x_0 (Ho et al. 2020, eq. 6-7 and Algorithm 2); σ_t² = β_t. With fewer steps "
            "than T, β_t is the respaced 1 − ᾱ_t/ᾱ_s.",
            "reverse", {"coef1": k["coef1"], "coef2": k["coef2"], "sigma": k["sigma"]})
        beta_tilde = (1.0 - k["ab_s"]) / (1.0 - k["ab_t"]) * (1.0 - k["ab_t"] / k["ab_s"])
        posterior = Term(
            "reverse.posterior", "Posterior variance",
            f"{sub('σ', 't')}<sup>2</sup> = {sub('β', 't')},  "
            f"{sub('β̃', 't')} = (1 − {sub(AB, 's')})/(1 − {sub(AB, 't')}) {sub('β', 't')}",
            f"{sub('σ', t)}<sup>2</sup> = {num(var)},  {sub('β̃', t)} = {num(beta_tilde)},  "
            f"{sub(AB, t)} = {num(k['ab_t'])},  {sub(AB, s)} = {num(k['ab_s'])}",
            "The noise DDPM adds: σ_t² = β_t (the paper's choice; β_t = 1 − ᾱ_t/ᾱ_s here), "
            "against the true posterior variance β̃_t = (1 − ᾱ_s)/(1 − ᾱ_t) β_t (eq. 7).",
            "reverse", {"sigma_sq": var, "beta_tilde": beta_tilde})
        return [x0, update, posterior]
    if sampler == "ddim":
        update = Term(
            "reverse.update",
            "Distilled student: DDIM step (eq. 12, η = 0)" if student else "DDIM step (eq. 12)",
            f"{sub('x', 's')} = {sqrt(sub(AB, 's'))} {X0_HAT} + "
            f"{sqrt('1 − ' + sub(AB, 's') + ' − σ<sup>2</sup>')} {EPS_HAT} + σ z",
            f"{sub('x', s)} = {num(k['sqrt_ab_s'])} {X0_HAT} + {num(k['dir_coef'])} {EPS_HAT}"
            + (f" + {num(k['sigma'])} z" if k["sigma"] > 0 else "  (σ = 0: deterministic)"),
            "x_s = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε̂ + σ z: the predicted x_0, the direction "
            "pointing to x_t, and noise (Song et al. 2021, eq. 12).",
            "reverse", {"sqrt_ab_s": k["sqrt_ab_s"], "dir_coef": k["dir_coef"],
                        "sigma": k["sigma"]})
        sigma = Term(
            "reverse.posterior", "DDIM noise σ with η",
            f"σ = η {sqrt('(1 − ' + sub(AB, 's') + ')/(1 − ' + sub(AB, 't') + ')')} "
            f"{sqrt('1 − ' + sub(AB, 't') + '/' + sub(AB, 's'))}",
            f"σ = {num(float(eta))} × {num(k['sigma'] / eta if eta else _ddim_unit(k))} = "
            f"{num(k['sigma'])}",
            "σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s) (Song et al. 2021, eq. 16): η = 0 "
            "is deterministic, η = 1 is DDPM's posterior variance β̃.",
            "sampler", {"eta": float(eta), "sigma": k["sigma"]})
        return [x0, update, sigma]
    if sampler == "dpmpp":
        if s == 0:
            update = Term(
                "reverse.update", "DPM-Solver++(2M), last step",
                f"x<sub>0</sub> = {X0_HAT}",
                f"{header}:  x<sub>0</sub> = {X0_HAT}  (σ<sub>0</sub> = 0, h = ∞)",
                "The last step lands on x̂_0 of the last network call (σ_0 = 0).",
                "reverse", {"ratio": 0.0, "coef": 1.0})
            hterm = Term(
                "reverse.posterior", "Step size h and ratio r",
                "h = λ<sub>s</sub> − λ<sub>t</sub>,  λ = ½ log-SNR", "h = ∞ (to t = 0)",
                "h = λ_s − λ_t with λ = ln(α/σ) = ½ log-SNR (Lu et al. 2022).",
                "reverse", {"h": math.inf, "r": None})
            return [x0, update, hterm]
        d = (f"D = {X0_HAT}" if k["order"] == 1 else
             f"D = {num(1 + 0.5 / k['r'])} {X0_HAT}{_signed(-0.5 / k['r'])} {X0_HAT}′")
        update = Term(
            "reverse.update", "DPM-Solver++(2M) step",
            f"{sub('x', 's')} = ({sub('σ', 's')}/{sub('σ', 't')}) {sub('x', 't')} − "
            f"{sub('α', 's')} (e<sup>−h</sup> − 1) D,  "
            f"D = (1 + 1/2r) {X0_HAT} − (1/2r) {X0_HAT}′",
            f"{sub('x', s)} = {num(k['ratio'])} {sub('x', t)} + {num(k['coef'])} D,  {d}"
            + (f"  (first order: no previous {X0_HAT} yet)" if k["order"] == 1 else ""),
            "x_s = (σ_s/σ_t) x_t − α_s (e^{−h} − 1) D with α = √ᾱ, σ = √(1 − ᾱ); D = x̂_0 on "
            "the first step, else the second-order mix of this and the previous x̂_0′ (Lu et "
            "al. 2022, DPM-Solver++(2M)).",
            "reverse", {"ratio": k["ratio"], "coef": k["coef"]})
        hterm = Term(
            "reverse.posterior", "Step size h and ratio r",
            "h = λ<sub>s</sub> − λ<sub>t</sub>,  λ = ½ log-SNR,  r = h<sub>prev</sub> / h",
            f"h = {num(k['h'])},  r = {num(k['r'])}",
            "h = λ_s − λ_t with λ = ln(α/σ) = ½ log-SNR; r = h_{prev}/h, the ratio of the "
            "previous step to this one (Lu et al. 2022).",
            "reverse", {"h": k["h"], "r": k["r"]})
        return [x0, update, hterm]
    raise ValueError(f"unknown sampler {sampler!r}")


def _ddim_unit(k: dict) -> float:
    # σ at η = 1 (shown beside η = 0, where σ itself is 0)
    ab_t, ab_s = k["ab_t"], k["ab_s"]
    return math.sqrt((1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s))


# ---------------------------------------------------------------- guidance

def guidance_terms(label: int | None, w: float) -> list[Term]:
    """Classifier-free guidance with scale w (Ho & Salimans 2022, eq. 6)."""
    w = float(w)
    formula = f"ε̃ = {sub('ε', 'u')} + w ({sub('ε', 'c')} − {sub('ε', 'u')})"
    if label is None:
        value = f"no class label: ε̃ = {sub('ε', 'u')} (unconditional)"
    elif w == 1.0:
        value = f"class {label}, w = 1: ε̃ = {sub('ε', 'c')} (plain conditional)"
    else:
        value = (f"class {label}, w = {num(w)}: ε̃ = {num(1.0 - w)} {sub('ε', 'u')} + "
                 f"{num(w)} {sub('ε', 'c')}")
    return [Term("guidance", "Classifier-free guidance", formula, value,
                 "ε̃ = ε_u + w (ε_c − ε_u) = (1 − w) ε_u + w ε_c: ε_c with the class label, ε_u "
                 "with the null label (Ho & Salimans 2022, eq. 6); w = 0 unconditional, 1 "
                 "conditional, > 1 a stronger class at the cost of variety.",
                 "sampler", {"w": w, "label": label, "u_coef": 1.0 - w, "c_coef": w})]


# ---------------------------------------------------------------- KL

_KL_FMT = {"unit": " nats", "fmt": num, "digits": 4}  # the panel's numbers, in nats


def kl_terms(t: int, exact: float | None, estimate: float | None, spread: float | None,
             hist: float | None, bound: float | None, level: float) -> list[Term]:
    """The KL numbers of the pixel-value distribution p_t against N(0, 1) (nats per pixel
    value) at step t, as the histogram view shows them (None: not computed yet), read by
    core.readout: the estimate below `level` as "≈ 0", ∞ with its reason, the raw value and
    the reason added to the term's tip."""
    exact_r = format_kl(exact, infinite=NO_DENSITY, infinite_tip=NO_DENSITY_TIP, **_KL_FMT)
    est_r = format_kl(estimate, spread, level, infinite=NO_DENSITY if t == 0 else REPEATED_VALUES,
                      infinite_tip=NO_DENSITY_TIP if t == 0 else REPEATED_VALUES_TIP, **_KL_FMT)
    below = "" if est_r.tooltip else f"  (≈ N(0,1) below {num(level)})"  # a plain number
    bound_r = format_kl(bound, infinite=POINT_MASS, infinite_tip=POINT_MASS_TIP, **_KL_FMT)
    hist_r = format_kl(hist, **_KL_FMT)

    def tip(text: str, r) -> str:  # the formula's tip, then the raw value and why, if any
        return text + ("\n" + r.tooltip if r.tooltip else "")

    return [
        Term("kl.exact", "Exact KL of p_t",
             "KL(p<sub>t</sub> ‖ N(0,1)) = ∫ p<sub>t</sub> ln(p<sub>t</sub>/φ) dx,  "
             f"p<sub>t</sub> = (1/n) Σ<sub>i</sub> N({sqrt(sub(AB, 't'))} x<sub>0,i</sub>, "
             f"1 − {sub(AB, 't')})",
             f"t = {t}:  KL = {exact_r.text}",
             tip("The exact KL of the pixel-value distribution p_t (the histogram's limit) to "
                 "N(0, 1), by quadrature (core.marginal); ∞ at t = 0 for an image.", exact_r),
             "kl", {"exact": exact}),
        Term("kl.estimate", "Estimated KL from the 784 values",
             "KL̂ = ½ ln 2π + ½ mean(x<sup>2</sup>) − Ĥ  (m-spacing entropy)",
             f"KL̂ = {est_r.text}{below}",
             tip("The estimate from this frame's 784 pixel values: ½ ln 2π + ½ mean x² − Ĥ with "
                 "Ĥ the m-spacing entropy estimate, ± its sampling spread; below the level, 95% "
                 "of N(0, 1) samples would give as much.", est_r),
             "kl", {"estimate": estimate, "spread": spread, "level": level}),
        Term("kl.hist", "Histogram KL (the poster's)",
             "KL<sub>hist</sub> = Σ<sub>b</sub> p̂<sub>b</sub> ln(p̂<sub>b</sub> / "
             "q<sub>b</sub>)",
             f"KL<sub>hist</sub> = {hist_r.text}",
             tip("Σ_b p̂_b ln(p̂_b/q_b) over 31 bins of the frame's values against N(0, 1)'s "
                 "bin masses q_b: the poster's method; it lumps the tails and has a "
                 "small-sample floor.", hist_r),
             "histogram", {"hist": hist}),
        Term("kl.bound", "Upper bound: mean KL of q(x_t | x_0)",
             f"(1/n) Σ<sub>i</sub> ½({sub(AB, 't')} x<sub>0,i</sub><sup>2</sup> − "
             f"{sub(AB, 't')} − ln(1 − {sub(AB, 't')}))",
             f"bound = {bound_r.text}" + ("" if bound_r.tooltip else " ≥ exact"),
             tip("(1/n) Σ_i KL(N(√ᾱ_t x_0,i, 1 − ᾱ_t) ‖ N(0, 1)) = (1/n) Σ_i ½(ᾱ_t x_0,i² − "
                 "ᾱ_t − ln(1 − ᾱ_t)) ≥ the exact KL (convexity); Ho et al.'s L_T at t = T.",
                 bound_r),
             "kl", {"bound": bound}),
    ]


# ---------------------------------------------------------------- likelihood

IMAGE_DIMS = 784  # D: the pixels of a 28 × 28 digit


def likelihood_terms(schedule: NoiseSchedule, bits_per_dim: float | None = None,
                     steps: int = DEFAULT_ODE_STEPS, log_snr_max: float = DEFAULT_LOG_SNR_MAX,
                     probes: int = DEFAULT_PROBES, more_likely_than: float | None = None,
                     held_out_median: float | None = None, dims: int = IMAGE_DIMS) -> list[Term]:
    """The likelihood of core.likelihood: the probability-flow ODE from λ_max down to the
    schedule's λ_T, the change of variables with Hutchinson's trace, and bits/dim of the
    dequantized pixels; `bits_per_dim` (None: not computed yet) is the Beliefs dock's result,
    `more_likely_than` (0..1) and `held_out_median` its place among held-out digits."""
    lam_min, lam_max = float(schedule.log_snr[-1]), float(log_snr_max)
    sigma_at_max, sigma_at_min = alpha_sigma(lam_max)[1], alpha_sigma(lam_min)[1]
    nfe = 4 * int(steps)
    lam = sub("λ", "max")
    flow = Term(
        "likelihood.flow", "Probability-flow ODE in log-SNR λ",
        f"dx/dλ = ½(σ<sup>2</sup> x − σ {EPS_HAT}(x, λ)),  α<sup>2</sup> = sigmoid(λ),  "
        f"σ<sup>2</sup> = sigmoid(−λ)",
        f"λ from {lam} = {num(lam_max)} (σ = {num(sigma_at_max)}) down to {sub('λ', 'min')} = "
        f"{sub('λ', 'T')} = {num(lam_min)} (σ = {num(sigma_at_min)}):  {int(steps)} RK4 steps, "
        f"{nfe} network calls",
        "dx/dλ = ½(σ² x − σ ε̂(x, λ)) with α² = sigmoid(λ), σ² = sigmoid(−λ), λ = ln(ᾱ/(1 − ᾱ)): "
        "the probability-flow ODE of the VP-SDE (Song et al. 2021, eq. 13) written in the log-SNR "
        "(β dt = −σ² dλ). It carries the digit x(λ_max) = x₀ to x(λ_min), the noise end, by "
        "classical RK4 at equal steps in λ (4 network calls a step).",
        "likelihood", {"log_snr_min": lam_min, "log_snr_max": lam_max, "sigma_at_max": sigma_at_max,
                       "sigma_at_min": sigma_at_min, "steps": int(steps), "nfe": nfe})
    divergence = Term(
        "likelihood.change", "Change of variables, Hutchinson's trace",
        f"log p(x<sub>0</sub>) = log N(x({sub('λ', 'min')}); 0, I) − ∫ g dλ,  "
        f"g = ½σ<sup>2</sup>D − ½σ tr(∂{EPS_HAT}/∂x),  tr J ≈ v<sup>T</sup>J v,  v ∈ {{±1}}<sup>D</sup>",
        f"D = {dims};  {int(probes)} Rademacher probe{'s' if probes != 1 else ''} v per call, "
        f"drawn afresh at each of the {nfe} calls;  ½σ<sup>2</sup>D = {num(0.5 * sigma_at_min ** 2 * dims)} "
        f"at {sub('λ', 'min')}, {num(0.5 * sigma_at_max ** 2 * dims)} at {lam}",
        "log p(x₀) = log N(x(λ_min); 0, I) − ∫_{λ_min}^{λ_max} g(λ) dλ with g = div(dx/dλ) = "
        "½σ²D − ½σ tr(∂ε̂/∂x): the instantaneous change of variables (Chen et al. 2018; Song et al. "
        "2021, eq. 39). tr J = E[vᵀJv] for random ±1 vectors v (Hutchinson 1989; FFJORD): one "
        "vector-Jacobian product a call instead of D; unbiased, and its errors average over the "
        "calls because v is drawn afresh each time.",
        "likelihood", {"dims": dims, "probes": int(probes), "nfe": nfe,
                       "half_sigma2_d_at_min": 0.5 * sigma_at_min ** 2 * dims,
                       "half_sigma2_d_at_max": 0.5 * sigma_at_max ** 2 * dims})
    bits_formula = (f"x = u/127.5 − 1 + Δ(v − ½),  v ~ U[0, 1)<sup>D</sup>,  Δ = 2/255;  "
                    f"bits/dim = −log p(x)/(D ln 2) − log<sub>2</sub> Δ")
    numbers = {"bin": BIN, "offset": LOG2_BIN_OFFSET, "bits_per_dim": bits_per_dim, "log_p": None,
               "more_likely_than": more_likely_than}
    if bits_per_dim is None:
        value = (f"−log<sub>2</sub> Δ = log<sub>2</sub> 127.5 = {num(LOG2_BIN_OFFSET)};  x₀'s "
                 "bits/dim: not computed yet (Likelihood, in the Beliefs dock)")
    else:
        log_p = float(log_p_of_bits_per_dim(bits_per_dim, dims))
        numbers["log_p"] = log_p
        value = (f"bits/dim = {num(bits_per_dim - LOG2_BIN_OFFSET)} + {num(LOG2_BIN_OFFSET)} = "
                 f"{num(bits_per_dim)}  (log p(x) = {num(log_p)} nats)")
        if more_likely_than is not None:
            value += f";  more likely than {100 * more_likely_than:.0f}% of held-out digits"
            if held_out_median is not None:
                value += f" (median {num(held_out_median)})"
    bits = Term(
        "likelihood.bits", "Bits per dimension (uniform dequantization)", bits_formula, value,
        "Each 8-bit pixel u is spread uniformly over its bin of width Δ = 2/255 (Theis et al. 2016), "
        "so log P(u) ≥ E_v[log p(x)] + D log Δ and bits/dim = −log p(x)/(D ln 2) − log₂ Δ = "
        "−log p(x)/(D ln 2) + log₂ 127.5: an upper bound on the discrete bits/dim. Lower is more "
        "likely.",
        "likelihood", numbers)
    return [flow, divergence, bits]


# ---------------------------------------------------------------- DDIM inversion

def inversion_step_through(T: int, t: int, steps: int | None = DEFAULT_INVERSION_STEPS) -> tuple[int, int, int]:
    """(i, s, t') of the inversion step s → t' (core.inversion.inversion_timesteps) whose interval
    (s, t'] holds step t: the first step for t = 0, the last for t ≥ T."""
    ts = inversion_timesteps(T, steps)
    i = int(np.searchsorted(ts, max(1, min(int(t), T)), side="left")) - 1
    i = max(0, min(i, len(ts) - 2))
    return i, int(ts[i]), int(ts[i + 1])


def inversion_terms(schedule: NoiseSchedule, t: int, steps: int | None = DEFAULT_INVERSION_STEPS,
                    refine: int = DEFAULT_REFINE, mse: float | None = None, label: int | None = None,
                    guidance: float | None = None) -> list[Term]:
    """DDIM inversion (core.inversion) at the step through t (`inversion_step_through`): the
    encoding step with its coefficients, the refinement and the way back, with the round trip's
    `mse` (None: not computed yet) and the class `label` at guidance w it was decoded as."""
    i, s, t_step = inversion_step_through(schedule.T, t, steps)
    n_steps = len(inversion_timesteps(schedule.T, steps)) - 1
    a_s, a_t, d_sigma = inversion_coefficients(schedule, s, t_step)
    ratio, coef = a_t / a_s, a_t * d_sigma
    sb_s = 0.0 if s == 0 else math.sqrt((1.0 - a_s * a_s)) / a_s
    sb_t = math.sqrt(1.0 - a_t * a_t) / a_t
    xbar = "x̄"
    step = Term(
        "inversion.step", "DDIM inversion step s → t (eq. 13, run upwards)",
        f"{sub(xbar, 't')} = {sub(xbar, 's')} + ({sub('σ̄', 't')} − {sub('σ̄', 's')}) "
        f"{EPS_HAT}({sub('x', 't')}, t),  x̄ = x/{sqrt(AB)},  σ̄ = {sqrt('(1 − ' + AB + ')/' + AB)}",
        f"step {i + 1} of {n_steps} (through t = {int(t)}): {sub('x', t_step)} = {num(ratio)} "
        f"{sub('x', s)}{_signed(coef)} {EPS_HAT}({sub('x', t_step)}, {t_step});  "
        f"{sub('σ̄', s)} = {num(sb_s)},  {sub('σ̄', t_step)} = {num(sb_t)}",
        "x̄_t = x̄_s + (σ̄_t − σ̄_s) ε̂(x_t, t) in x̄ = x/√ᾱ, σ̄ = √((1 − ᾱ)/ᾱ): deterministic DDIM "
        "(η = 0, Song et al. 2021, eq. 13) is Euler's method for the probability-flow ODE, and run "
        "from s up to t > s it encodes: x_t = (√ᾱ_t/√ᾱ_s) x_s + √ᾱ_t (σ̄_t − σ̄_s) ε̂(x_t, t).",
        "inversion", {"index": i, "s": s, "t": t_step, "ratio": ratio, "coef": coef,
                      "sigma_bar_s": sb_s, "sigma_bar_t": sb_t})
    up, down = n_steps * (int(refine) + 1), n_steps
    value = (f"{n_steps} steps × (1 + {int(refine)} refinements) = {up} calls up, {down} down;  "
             + ("round trip: not computed yet (Invert, in the Beliefs dock)" if mse is None else
                f"round-trip MSE = {num(mse)} ([−1, 1] units)"))
    if mse is not None and label is not None:
        value += f";  x<sub>T</sub> decoded as class {int(label)} at w = {num(float(guidance))}"
    back = Term(
        "inversion.round_trip", "Fixed-point refinement and the way back",
        f"{sub('x', 't')} ← {sqrt(sub(AB, 't'))} ({sub('x', 's')}/{sqrt(sub(AB, 's'))} + "
        f"({sub('σ̄', 't')} − {sub('σ̄', 's')}) {EPS_HAT}({sub('x', 't')}, t));  back: "
        f"{sub('x', 's')} = {sqrt(sub(AB, 's'))} {X0_HAT} + {sqrt('1 − ' + sub(AB, 's'))} {EPS_HAT}",
        value,
        "The encoding step needs ε̂ at the x_t it is computing: the first pass uses x_s, then "
        "`refine` fixed-point iterations put the x_t just found back in (Pan et al. 2023), one "
        "network call each. DDIM with η = 0 (eq. 12) over the same steps decodes x_T back to x₀; "
        "MSE = mean over the 784 pixels of (x̂₀ − x₀)².",
        "inversion", {"steps": n_steps, "refine": int(refine), "nfe_up": up, "nfe_down": down,
                      "mse": mse})
    return [step, back]


# ---------------------------------------------------------------- uncertainty

def uncertainty_terms(schedule: NoiseSchedule, t: int, variances=None, k: int = 4,
                      iterations: int = DEFAULT_ITERATIONS, oversample: int = DEFAULT_OVERSAMPLE,
                      dims: int = IMAGE_DIMS) -> list[Term]:
    """What the model is unsure of at step t (core.uncertainty): Cov[x_0 | x_t] from the
    denoiser's Jacobian, the subspace iteration that finds its top k directions, and the
    `variances` found (descending; None: not computed yet). At t = 0 x_0 is known."""
    t = int(max(0, min(int(t), schedule.T)))
    if variances is not None:
        k = len(variances)
    block = min(dims, int(k) + int(oversample))
    if t == 0:
        scale = root = jac = None
        cov_value = "t = 0: x<sub>0</sub> is known, Cov = 0"
    else:
        scale, root = posterior_cov_coefficients(schedule, t)
        jac = scale * math.sqrt(schedule.alpha_bar(t))          # (1 − ᾱ)/√ᾱ
        cov_value = (f"t = {t}:  Cov = {num(scale)} (I − {num(root)} ∂{EPS_HAT}/∂{sub('x', t)}) = "
                     f"{num(jac)} ∂{X0_HAT}/∂{sub('x', t)}")
    cov = Term(
        "uncertainty.covariance", "Posterior covariance from the denoiser's Jacobian",
        f"Cov[x<sub>0</sub> | {sub('x', 't')}] = ((1 − {sub(AB, 't')})/{sqrt(sub(AB, 't'))}) "
        f"∂{X0_HAT}/∂{sub('x', 't')} = ((1 − {sub(AB, 't')})/{sub(AB, 't')}) (I − "
        f"{sqrt('1 − ' + sub(AB, 't'))} ∂{EPS_HAT}/∂{sub('x', 't')})",
        cov_value,
        "Cov[x₀ | x_t] = ((1 − ᾱ_t)/√ᾱ_t) ∂x̂₀/∂x_t = ((1 − ᾱ_t)/ᾱ_t)(I − √(1 − ᾱ_t) ∂ε̂/∂x_t): "
        "Tweedie's formula to second order (Miyasawa 1961; Manor & Michaeli 2024, Theorem 1) for "
        "y = x_t/√ᾱ_t = x₀ + s n with s² = (1 − ᾱ_t)/ᾱ_t, and x̂₀ = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t.",
        "uncertainty", {"t": t, "scale": scale, "root": root, "jacobian_scale": jac})
    calls = int(iterations) + 1
    iteration = Term(
        "uncertainty.iteration", "Subspace iteration with Jacobian-vector products",
        f"V ← orth(Cov V),  J v ≈ ({EPS_HAT}(x<sub>t</sub> + h v) − {EPS_HAT}(x<sub>t</sub> − h v))/2h;  "
        f"then the eigenvectors of V<sup>T</sup> Cov V",
        f"k = {int(k)} directions + {block - int(k)} extra, {int(iterations)} iterations:  {calls} "
        f"calls of {2 * block} images;  h = {num(FD_STEP, 1)} × max(1, ‖x<sub>t</sub>‖)",
        "Start from k + p random orthonormal directions V and repeat V ← orth(Cov V) (Manor & "
        "Michaeli 2024, Algorithm 1; p extra directions speed up the k-th, Halko et al. 2011); then "
        "Rayleigh-Ritz: the eigenvectors of the symmetrised VᵀCov V give the directions, its "
        "eigenvalues the variances. Products with the Jacobian are central differences of ε̂, so "
        "the 784 × 784 matrix is never formed.",
        "uncertainty", {"k": int(k), "oversample": block - int(k), "iterations": int(iterations),
                        "calls": calls, "batch": 2 * block})
    if variances is None:
        var_value = "not computed yet (Uncertainty at t, in the Beliefs dock)"
        var_numbers = {"variances": None, "two_sigma": None}
    else:
        v = [float(x) for x in variances]
        two = [2.0 * math.sqrt(max(x, 0.0)) for x in v]
        var_value = f"t = {t}:  " + ",  ".join(
            f"{sub('σ', i + 1)}<sup>2</sup> = {num(x)} (2{sub('σ', i + 1)} = {num(y)})"
            for i, (x, y) in enumerate(zip(v, two)))
        var_numbers = {"variances": v, "two_sigma": two}
    var = Term(
        "uncertainty.variances", "Variances along the principal directions",
        f"{sub('σ', 'i')}<sup>2</sup> = {sub('d', 'i')}<sup>T</sup> Cov {sub('d', 'i')},  shown as "
        f"{X0_HAT} ± 2{sub('σ', 'i')} {sub('d', 'i')}",
        var_value,
        "σ_i² = d_iᵀ Cov[x₀ | x_t] d_i: the variance of x₀ given x_t along the unit direction d_i "
        "(model units² over the 784 pixels), largest first. The Beliefs dock draws x̂₀ − 2σ_i d_i, "
        "x̂₀ and x̂₀ + 2σ_i d_i, the ways the digit could still go.",
        "uncertainty", {"t": t, **var_numbers})
    return [cov, iteration, var]
