"""Guided lessons as data: "predict, then reveal" sequences over the app (no Qt here).

A `Lesson` is a few `LessonStep`s. Each step has a `Setup` (what the app is set to before the
question: schedule, cursor t, start distribution, sampler settings, seeds), a question, and an
answer template filled in by `facts(step)`: the numbers the answer quotes, computed from core at
run time (ᾱ_t of the step's schedule, the network calls of its sampler, ...), never typed in.
The newer lessons' answers (copies, likelihood) are computed in core.lesson_answers.
The UI (ui/session_lessons.py) applies the setup through the session and shows the answer only
when the user asks.

  name       what it teaches
  forward    x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε: how fast the digit fades
  alpha-bar  why ᾱ_T must be ≈ 0: T = 1000 against T = 50 and the cosine schedule
  reverse    the reverse chain and its prediction x̂_0 (Ho et al. 2020, eq. 15)
  samplers   network evaluations (NFE): DDPM's T against DDIM and DPM-Solver++(2M)
  guidance   classifier-free guidance ε̃ = ε_u + w (ε_c − ε_u) and its doubled cost
  copies     does it copy? the loss's exact optimum (core.exact_denoiser) copies, the network
             does not (core.copies), and when the class is decided (core.speciation)
  likelihood how likely is a digit? bits/dim from the bundled reference (core.likelihood: the
             ODE takes seconds a digit, so the reveal reads resources/likelihood_reference.json),
             and what the model is unsure of (core.uncertainty)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

from .schedule import DEFAULT_SCHEDULE, NoiseSchedule
from .run import SamplerSettings, plan_run
from .sampling import ddim_coefficients
from .lesson_answers import (  # noqa: F401  (the samples and constants re-exported for callers)
    EXACT_SAMPLES, HELD_OUT_REFERENCE, NETWORK_SAMPLES, UNCERTAINTY_K, bundled_network, decided,
    exact_copies, exact_samples, lab_growth, likelihoods, network_copies, network_sample,
    posterior_pcs, speciation_first, start_noise, unsure)

# The cursor value that means "the last step T of the step's schedule".
LAST = "T"


@dataclass(frozen=True)
class Setup:
    """How the app is set up before a step's question.

    schedule: ScheduleState parameters over DEFAULT_SCHEDULE; forward_t: the forward frame
    shown (an int, or LAST for T); forward_from: "digit" or "noise"; start: (name, params) of the
    x_T distribution; digit: load the bundled digit (core.experiments.bundled_digit) as x_0;
    seed: the input seed (forward noise and x_T draw); sampler: SamplerSettings fields over
    their defaults; run: start the reverse chain (when a model is there and the run is cheap).
    """

    schedule: dict = field(default_factory=dict)
    forward_t: int | str = 0
    forward_from: str = "digit"
    start: tuple = ("gaussian", {})
    digit: bool = True
    seed: int = 0
    sampler: dict = field(default_factory=dict)
    run: bool = False

    def schedule_params(self) -> dict:
        return {**DEFAULT_SCHEDULE, **self.schedule}

    def noise_schedule(self) -> NoiseSchedule:
        return NoiseSchedule.named(**self.schedule_params())

    def cursor(self) -> int:
        T = self.schedule_params()["T"]
        return T if self.forward_t == LAST else int(self.forward_t)


@dataclass(frozen=True)
class LessonStep:
    """One "predict, then reveal" step: `answer` is a str.format template over `facts`."""

    title: str
    setup: Setup
    question: str
    answer: str
    facts: Callable[[Setup], dict] = field(default=lambda setup: {}, repr=False, compare=False)

    def numbers(self) -> dict:
        """The numbers the answer quotes, computed now from this step's setup."""
        return dict(self.facts(self.setup))

    def answer_text(self) -> str:
        return self.answer.format(**self.numbers())


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    summary: str
    steps: tuple[LessonStep, ...]


# ----------------------------------------------------------------------------- facts

def _fade(setup: Setup) -> dict:
    """√ᾱ_t, √(1−ᾱ_t) and the signal-to-noise ratio ᾱ_t/(1−ᾱ_t) at the step's cursor t."""
    s, t = setup.noise_schedule(), setup.cursor()
    ab = s.alpha_bar(t)
    return {"t": t, "T": s.T, "alpha_bar": ab, "sqrt_ab": math.sqrt(ab),
            "sqrt_1m_ab": math.sqrt(1.0 - ab), "snr": ab / (1.0 - ab),
            "percent": 100.0 * math.sqrt(ab)}


def _prior(setup: Setup) -> dict:
    """ᾱ_T, √ᾱ_T and the prior KL L_T (worst case E[x_0²] = 1) of the step's schedule."""
    s = setup.noise_schedule()
    ab = s.alpha_bar_T
    return {"T": s.T, "kind": s.kind, "alpha_bar_T": ab, "sqrt_ab_T": math.sqrt(ab),
            "percent": 100.0 * math.sqrt(ab), "prior_kl": s.prior_kl(1.0)}


def _sampler_cost(setup: Setup) -> dict:
    """Network evaluations of the step's sampler, as core.run plans the run: the visited steps,
    each one ε_θ call (two with guidance w ∉ {0, 1})."""
    s = setup.noise_schedule()
    cfg = setup.sampler
    w = float(cfg.get("guidance", 1.0))
    plan = plan_run(replace(SamplerSettings(), **{"guidance": w, **cfg}), s.T)
    t_start, per_lane = plan.t_start, plan.n_steps
    out = {"T": s.T, "steps": per_lane, "nfe": per_lane,
           "calls_per_step": 2 if plan.guided else 1, "nfe_total": plan.network_calls,
           "w": w, "one_minus_w": 1.0 - w, "label": cfg.get("label"),
           "t_start": t_start, "sqrt_ab_start": math.sqrt(s.alpha_bar(t_start)),
           "sqrt_1m_ab_start": math.sqrt(1.0 - s.alpha_bar(t_start))}
    if cfg.get("sampler") == "ddim":
        ts = plan.timesteps
        ab_t, ab_s = s.alpha_bar(int(ts[0])), s.alpha_bar(int(ts[1]))
        out["sigma_first"] = ddim_coefficients(ab_t, ab_s, float(cfg.get("eta", 0.0)))[2]
        out["t_first"], out["s_first"] = int(ts[0]), int(ts[1])
    return out


# ----------------------------------------------------------------------------- the lessons

_DDPM_ALL = {"sampler": "ddpm", "steps": None, "source": "noise"}
_COPY_DDIM = {"sampler": "ddim", "steps": 20, "eta": 0.0, "source": "noise"}
_DECIDE_DDIM = {"sampler": "ddim", "steps": 50, "eta": 0.0, "source": "noise"}

LESSONS: tuple[Lesson, ...] = (
    Lesson("forward", "1. The forward process",
           "A digit becomes noise: x_t = √ᾱ_t x₀ + √(1−ᾱ_t) ε, with ᾱ_t = Π α_s.",
           (
               LessonStep(
                   "A hundred steps in", Setup(forward_t=100),
                   "The forward chain shows x_100 of the linear schedule (β 1e-4 → 0.02). "
                   "Predict before you look closely: what fraction of the digit's amplitude is "
                   "left, i.e. the factor √ᾱ_100 in front of x₀?",
                   "√ᾱ_{t} = {sqrt_ab:.3f}: {percent:.0f}% of the digit is left, under noise of "
                   "standard deviation √(1−ᾱ_{t}) = {sqrt_1m_ab:.3f}. The signal-to-noise ratio "
                   "ᾱ/(1−ᾱ) is {snr:.2f}.", _fade),
               LessonStep(
                   "Half-way", Setup(forward_t=500),
                   "Now t = 500, half of T. Is the digit still visible? Guess √ᾱ_500 and "
                   "whether the histogram already looks like the N(0, 1) curve.",
                   "√ᾱ_{t} = {sqrt_ab:.3f} ({percent:.1f}% of the digit) against noise "
                   "√(1−ᾱ_{t}) = {sqrt_1m_ab:.3f}: signal-to-noise {snr:.3f}. Half the steps, and "
                   "the digit is already faint: ᾱ_t is a product, so it falls fast once β_t grows.",
                   _fade),
               LessonStep(
                   "The end of the chain", Setup(forward_t=LAST),
                   "At t = T = 1000, what should the histogram look like, and how close to "
                   "N(0, 1) is q(x_T | x₀)?",
                   "ᾱ_T = {alpha_bar_T:.2e}, so x_T keeps {percent:.2f}% of the digit: the "
                   "histogram lies on the N(0, 1) curve, and the KL of q(x_T|x₀) to N(0, 1) "
                   "(Ho et al.'s L_T, at worst) is {prior_kl:.1e} nats per pixel.", _prior),
           )),
    Lesson("alpha-bar", "2. Why ᾱ_T must be ≈ 0",
           "The reverse chain starts from N(0, 1); that is only right if x_T really is N(0, 1).",
           (
               LessonStep(
                   "T = 1000", Setup(forward_t=LAST),
                   "With the linear schedule and T = 1000, how much of the digit survives to "
                   "x_T? Look at ᾱ_T in the Schedule panel only after you guess.",
                   "ᾱ_T = {alpha_bar_T:.2e}: x_T holds {percent:.2f}% of the digit, and the "
                   "prior KL L_T is {prior_kl:.1e} nats per pixel: starting the reverse chain "
                   "from N(0, 1) is almost exactly right.", _prior),
               LessonStep(
                   "T = 50, same β range", Setup(schedule={"T": 50}, forward_t=LAST),
                   "Same β_1 = 1e-4 and β_T = 0.02, but only T = 50 steps. Predict ᾱ_T: is x_T "
                   "still noise? (Watch the last frame and the Schedule panel's warning.)",
                   "ᾱ_T = {alpha_bar_T:.3f}: x_T keeps {percent:.0f}% of the digit's amplitude, "
                   "the prior KL is {prior_kl:.3f} nats per pixel, and the digit is plainly "
                   "visible in x_T. A reverse chain started from N(0, 1) starts from the wrong "
                   "distribution.", _prior),
               LessonStep(
                   "Sampling with T = 50", Setup(schedule={"T": 50}, forward_t=LAST,
                                                 sampler=_DDPM_ALL, run=True),
                   "The reverse chain now runs DDPM from pure noise under T = 50 (press Sample "
                   "if it does not start). Will it end in a clean digit?",
                   "The network is told x_T still holds √ᾱ_T = {sqrt_ab_T:.2f} of a digit, but "
                   "pure noise holds none: the chain removes noise that was never added with "
                   "signal, and the result is often not a clean digit. The mismatch is the "
                   "prior KL, {prior_kl:.3f} nats per pixel.", _prior),
               LessonStep(
                   "The cosine schedule", Setup(schedule={"kind": "cosine"}, forward_t=LAST),
                   "The improved-DDPM cosine schedule with T = 1000: is its ᾱ_T smaller or "
                   "larger than the linear one's?",
                   "Cosine: ᾱ_T = {alpha_bar_T:.1e} (β capped at 0.999), prior KL "
                   "{prior_kl:.1e}: even closer to 0 than linear, while destroying the digit "
                   "more evenly along t.", _prior),
           )),
    Lesson("reverse", "3. The reverse process and x̂₀",
           "Each reverse step predicts ε, hence x̂₀ = (x_t − √(1−ᾱ_t) ε_θ)/√ᾱ_t (Ho et al. eq. "
           "15), and steps towards it.",
           (
               LessonStep(
                   "From a noised digit", Setup(forward_t=300, sampler={
                       "sampler": "ddpm", "steps": 100, "source": "input", "t_start": 300},
                       run=True),
                   "The reverse chain starts from the forward chain's x_300 (the digit noised "
                   "to t = 300). Predict: does the first x̂₀ already look like the digit?",
                   "Yes: at t = {t_start}, √ᾱ_t = {sqrt_ab_start:.3f} of the digit is still in "
                   "x_t (noise √(1−ᾱ_t) = {sqrt_1m_ab_start:.3f}), so ε_θ is easy to predict and "
                   "x̂₀ is the digit from the first step; the chain only sharpens it, in "
                   "{nfe} network evaluations.", _sampler_cost),
               LessonStep(
                   "From pure noise", Setup(forward_t=LAST, sampler={
                       "sampler": "ddpm", "steps": 100, "source": "noise"}, run=True),
                   "Now from pure noise x_T ~ N(0, 1). Which becomes recognisable first: x_t or "
                   "the prediction x̂₀?",
                   "x̂₀. At the first step √ᾱ_t = {sqrt_ab_start:.4f}, so x_t is all noise, and "
                   "x̂₀ is the network's average of the digits that noise could have come from: a "
                   "blurry digit long before x_t shows one. {nfe} steps, one network call each.",
                   _sampler_cost),
               LessonStep(
                   "Another sampler seed", Setup(forward_t=LAST, sampler={
                       "sampler": "ddpm", "steps": 100, "source": "noise", "seed": 1},
                       run=True),
                   "Same x_T, only the sampler's seed changed (the noise DDPM adds at every "
                   "step). Same digit or a different one?",
                   "Usually a different one: ancestral sampling adds fresh noise σ_t z at each "
                   "of its {nfe} steps, and that noise, not x_T, decides the digit. (DDIM with "
                   "η = 0 adds none and keeps x_T's digit: Experiments → forget-xT.)",
                   _sampler_cost),
           )),
    Lesson("samplers", "4. Samplers and NFE",
           "The cost of a sample is its number of network evaluations (NFE).",
           (
               LessonStep(
                   "DDPM, every step", Setup(forward_t=LAST, sampler=_DDPM_ALL),
                   "DDPM ancestral sampling with every step of T = 1000: how many network "
                   "evaluations does one sample cost? (Press Sample to watch the NFE counter; "
                   "it takes a while on a CPU.)",
                   "NFE = {nfe}: one ε_θ call for each of the T = {T} steps.", _sampler_cost),
               LessonStep(
                   "DDIM, 20 steps", Setup(forward_t=LAST, sampler={
                       "sampler": "ddim", "steps": 20, "eta": 0.0, "source": "noise",
                       "compare": True, "sampler_b": "dpmpp"}, run=True),
                   "DDIM (η = 0) beside DPM-Solver++(2M), 20 steps each, from the same x_T. How "
                   "many network calls per chain, and which looks cleaner?",
                   "NFE = {nfe} per chain (the steps t = {t_first}, {s_first}, …, 0). DDIM with "
                   "η = 0 is deterministic (σ = {sigma_first:.1f}); DPM-Solver++(2M) reuses the "
                   "previous ε for a second-order step at no extra cost, so at equal NFE it is "
                   "usually the sharper.", _sampler_cost),
               LessonStep(
                   "DDIM with η = 1", Setup(forward_t=LAST, sampler={
                       "sampler": "ddim", "steps": 20, "eta": 1.0, "source": "noise"},
                       run=True),
                   "DDIM with η = 1 adds noise again at each step. How large is the noise "
                   "σ_t of the first step?",
                   "σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_s) = {sigma_first:.3f} for the jump "
                   "t = {t_first} → {s_first} (Song et al. eq. 16): with η = 1, DDIM is DDPM on "
                   "the {nfe} kept steps.", _sampler_cost),
           )),
    Lesson("guidance", "5. Guidance",
           "Classifier-free guidance: ε̃ = ε_u + w (ε_c − ε_u) (Ho & Salimans 2022).",
           (
               LessonStep(
                   "w = 0", Setup(forward_t=LAST, sampler={
                       "sampler": "ddim", "steps": 50, "source": "noise", "label": 3,
                       "guidance": 0.0}, run=True),
                   "Class label 3 with guidance w = 0. Which digit do you expect?",
                   "Any digit: w = 0 leaves ε̃ = ε_u, the unconditional prediction, so the label "
                   "is ignored. {calls_per_step} network call per step, NFE = {nfe_total}.",
                   _sampler_cost),
               LessonStep(
                   "w = 1", Setup(forward_t=LAST, sampler={
                       "sampler": "ddim", "steps": 50, "source": "noise", "label": 3,
                       "guidance": 1.0}, run=True),
                   "Now w = 1. A 3? And what does a step cost?",
                   "w = 1 gives ε̃ = ε_c, the plain conditional model: usually a 3, one call per "
                   "step, NFE = {nfe_total}.", _sampler_cost),
               LessonStep(
                   "w = 4", Setup(forward_t=LAST, sampler={
                       "sampler": "ddim", "steps": 50, "source": "noise", "label": 3,
                       "guidance": 4.0}, run=True),
                   "w = 4 pushes away from the unconditional prediction. Bolder 3, and what is "
                   "the cost now?",
                   "ε̃ = {one_minus_w:g} ε_u + {w:g} ε_c: a bolder, more typical 3 (less "
                   "variety). Each step needs ε_c and ε_u: {calls_per_step} calls per step, "
                   "NFE = {nfe_total} for {nfe} steps.", _sampler_cost),
           )),
    Lesson("copies", "6. Does it copy?",
           "The training loss has an exact optimum for a finite training set; it only copies. "
           "The network trained on that loss does not (Gu et al. 2025; Kadkhodaie et al. 2024).",
           (
               LessonStep(
                   "The loss's exact optimum", Setup(forward_t=LAST, sampler=_COPY_DDIM),
                   "The loss ‖ε − ε_θ(x_t)‖² over the 9,000 training digits has an exact "
                   "minimiser: x̂₀ = Σ_i w_i x_i, the training digits weighted by a softmax of "
                   "their distance to x_t (the perfect denoiser, the exact model of the model "
                   "switch). Will samples of this optimum be new digits?",
                   "No: {copies} of {n} of its samples (DDIM, {steps} steps, from this step's "
                   "input seed on) copy a training digit: the nearest lies {max_d1:.1e} away at "
                   "most (pixels in [0, 1]), and d1/d2 is at most {max_ratio:.1e}, far under "
                   "the copy line {threshold:.2f}. The weights snap to one training digit as the "
                   "noise vanishes, so the loss's optimum can only reproduce its training set.",
                   exact_copies),
               LessonStep(
                   "The network", Setup(forward_t=LAST, sampler=_COPY_DDIM, run=True),
                   "The bundled network was trained on that same loss. Its sample from this "
                   "x_T (DDIM, η = 0): does it copy a training digit, i.e. is its nearest "
                   "training digit more than 3× closer than the second nearest (d1/d2 < 1/3)?",
                   "It {copy}: d1 = {d1:.2f}, d2 = {d2:.2f}, d1/d2 = {ratio:.2f}. Held-out "
                   "digits, which no model saw, look the same against the training set: over "
                   "the first {held_n}, median d1 = {held_d1:.2f} and median d1/d2 = "
                   "{held_ratio:.2f} ({held_copies} copy). The network never reaches the "
                   "loss's optimum: its smooth function fills the space between the training "
                   "digits, and that is what makes new ones.", network_copies),
               LessonStep(
                   "Few digits or many?", Setup(forward_t=LAST),
                   "Now the same network trained on only 64 training digits, and on all of "
                   "them, with the same recipe and the same number of steps. Which copies, "
                   "and does the one that copies draw worse digits? (The Training panel's "
                   "Generalisation lab tab plots both over training, and View > Twins runs "
                   "two 64-digit models from the same noise.)",
                   "{reveal} Few digits are learned by heart within the same training time: "
                   "the time a model takes to start copying grows with the number of training "
                   "digits, while the time it takes to draw good digits does not (Bonnaire et "
                   "al. 2025).", lab_growth),
               LessonStep(
                   "When is the digit decided?", Setup(forward_t=LAST, sampler=_DECIDE_DDIM,
                                                       run=True),
                   "The training digits' covariance has a largest eigenvalue Λ; the class should "
                   "be decided when ᾱ_t falls to 1/Λ, where the noise stops hiding the data's "
                   "strongest direction (Biroli et al. 2024). Predict that t on the linear "
                   "schedule: where will the decision plot's reading settle?",
                   "Λ = {lambda_max:.1f}, so ᾱ_S = 1/Λ = {alpha_bar_s:.3f}: t_S = {t_s} of "
                   "T = {T}. This step's chain (DDIM, {steps} steps, the bundled network) reads "
                   "{settle_class} from t = {settle_t} on; the chains of the next input seeds "
                   "settle at t = {settle_all} (median {settle_median:.0f} of {n}). t_S is a "
                   "typical time, not a sharp one: single chains commit earlier or later, and "
                   "after the class is set the remaining steps draw the stroke.", decided),
               LessonStep(
                   "Another schedule", Setup(schedule={"kind": "cosine"}, forward_t=LAST),
                   "The cosine schedule keeps more of the digit at each t. Is its t_S earlier "
                   "or later in the chain than the linear schedule's?",
                   "Later in t, so earlier in the reverse chain: ᾱ_S = {alpha_bar_s:.3f} is the "
                   "same (a property of the data), and the {kind} schedule reaches it at "
                   "t_S = {t_s} of T = {T}: the class is decided in the first "
                   "{percent_first:.0f}% of the reverse chain.", speciation_first),
           )),
    Lesson("likelihood", "7. How likely, how sure?",
           "Bits per dimension by the probability-flow ODE, and the principal directions of "
           "p(x₀ | x_t) from the denoiser's Jacobian (Song et al. 2021; Manor & Michaeli 2024).",
           (
               LessonStep(
                   "A digit or a blank image?", Setup(forward_t=0),
                   "The model gives any image a likelihood, in bits per dimension (lower is "
                   "more likely). It was trained on digits only. Which does it rate more likely: "
                   "a typical held-out digit, or an all-black image it never saw?",
                   "{verdict}: the blank image, which the model never saw, scores {blank:.2f} "
                   "bits/dim, more likely than "
                   "{blank_share:.0f}% of {n} held-out digits (median {median:.2f}, from "
                   "{lo:.2f} to {hi:.2f}; the ODE at {steps} RK4 steps, Hutchinson's trace). "
                   "Likelihood rewards simple images (most pixels of every digit are "
                   "background), so a high likelihood does not mean \"looks like a digit\" "
                   "(Nalisnick et al. 2019).", likelihoods),
               LessonStep(
                   "Noise and a checkerboard", Setup(forward_t=0),
                   "Uniform noise and a 1-pixel checkerboard: more or less likely than the least "
                   "likely held-out digit?",
                   "Far less: noise {noise:.2f} and the checkerboard {checker:.2f} bits/dim, "
                   "against {hi:.2f} for the least likely of the {n} digits, at least {gap:.1f} "
                   "bits/dim apart: each bit per pixel is a factor 2^784 in probability. The "
                   "likelihood does rank digits far above images unlike them.", likelihoods),
               LessonStep(
                   "What is the model unsure of?", Setup(forward_t=600),
                   "The forward chain shows the digit at t = 600. A denoiser that knew nothing "
                   "about digits (ε̂ = 0) would be equally unsure of x₀ in every direction, with "
                   "variance (1−ᾱ_t)/ᾱ_t. Is the network as unsure, and in how many directions?",
                   "The top {k} variances of p(x₀ | x_{t}) are {variances} (model units², along "
                   "unit directions), against {isotropic:.1f} in every one of the 784 directions "
                   "for ε̂ = 0: even its least sure direction is {fold:.1f}× narrower, and the "
                   "first holds {ratio:.1f}× the variance of the second. The covariance is "
                   "((1−ᾱ)/√ᾱ) ∂x̂₀/∂x_t, found by subspace iteration with Jacobian-vector "
                   "products (Manor & Michaeli 2024); x̂₀ ± 2σ along each shows how the digit "
                   "could still go.",
                   unsure),
           )),
)

NAMES = tuple(lesson.name for lesson in LESSONS)


def get(name: str) -> Lesson:
    for lesson in LESSONS:
        if lesson.name == name:
            return lesson
    raise ValueError(f"unknown lesson {name!r}: choose one of {', '.join(NAMES)}")
