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

Pure Python and numpy; a few µs per call (the panel re-renders only the terms that change).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .readout import (NO_DENSITY, NO_DENSITY_TIP, POINT_MASS, POINT_MASS_TIP, REPEATED_VALUES,
                      REPEATED_VALUES_TIP, format_kl)
from .run import DISTILLED
from .sampling import step_terms
from .schedule import NoiseSchedule

# The views a term can drive (the window highlights the one under the mouse).
VIEWS = ("forward", "schedule", "reverse", "sampler", "histogram", "kl")


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
