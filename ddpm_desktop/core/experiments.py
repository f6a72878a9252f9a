"""The poster's three experiments and the papers' presets, as data plus a headless run.

Each `Experiment` says how to set the app up (schedule, input, sampler settings: plain dicts the
UI applies) and has a `run(...)` that computes the same thing headless and returns an
`ExperimentResult`: numbers (ours, with the poster's value beside where the poster has one),
tables, and figures (uint8 images / GIF frames; `save_figures` writes them through
core.imaging, atomically). No Qt here; the network comes in as an argument (anything called
as `model(x, log_snr, labels)`, so tests can pass a fake).

  name               what it shows
  poster-noise       reconstruct a digit from torch.randn((1, 1, 28, 28)) noise (DDPM, Algorithm 2)
  poster-digit-kl    a digit to noise; the poster's KL sequence 1.8643 → … → 0.00101 (no t given) beside
                     the exact KL of the pixel-value marginal, our estimate and the upper bound
  poster-exponential the exponential start: poster 3.7697, exact 3.226, our estimate
  ddpm-linear        Ho et al. 2020: linear β 1e-4 → 0.02, T = 1000, ancestral sampling
  improved-cosine    Nichol & Dhariwal 2021: the cosine schedule against the linear one
  ddim-eta           Song et al. 2021: one x_T, η = 0, 0.2, 0.5, 1
  guidance           Ho & Salimans 2022: classifier-free guidance w = 0, 1, 2, 4
  forget-xT          one x_T through DDPM and DDIM (η = 0) with several sampler seeds: ancestral
                     sampling forgets x_T, DDIM keeps it

The KL quantities are those of docs/KL.md (nats per pixel value, against N(0, 1)).
"""
from __future__ import annotations

import time
from pathlib import Path

from . import imaging
from .experiment_runs import (GUIDANCE_LABEL, POSTER_KL_GRID, bundled_digit, first_below, poster_kl_times,
                              run_ddim_eta, run_ddpm_linear, run_forget_xT, run_guidance,
                              run_improved_cosine, run_poster_digit_kl, run_poster_exponential,
                              run_poster_noise)
from .experiment_types import (COSINE_SCHEDULE, DIGIT_LABEL, POSTER_DIGIT_KL, POSTER_DIGIT_KL_READING,
                               POSTER_EXPONENTIAL_KL, Experiment, ExperimentResult, Figure,
                               Number, Table)
from .schedule import DEFAULT_SCHEDULE


# Public API re-exported from the two modules the experiments are split into.
__all__ = ["EXPERIMENTS", "NAMES", "get", "run_experiment", "save_figures", "bundled_digit",
           "first_below", "poster_kl_times", "POSTER_KL_GRID", "DIGIT_LABEL", "POSTER_DIGIT_KL",
           "POSTER_EXPONENTIAL_KL", "POSTER_DIGIT_KL_READING", "Experiment", "ExperimentResult", "Figure", "Number", "Table"]

_DEFAULT = dict(DEFAULT_SCHEDULE)

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("poster-noise", "Poster 1: a digit from torch.randn((1,1,28,28)) noise", "poster",
               "x_T = torch.randn((1, 1, 28, 28)): pure N(0, 1) noise; the reverse chain (DDPM "
               "ancestral sampling, all T steps) turns it into a digit.",
               _DEFAULT, run_poster_noise, forward_from="digit",
               sampler={"sampler": "ddpm", "steps": None, "source": "noise", "compare": False,
                        "label": None, "eta": 0.0}),
    Experiment("poster-digit-kl", "Poster 2: a digit to noise, the poster's KL sequence", "poster",
               "The forward chain takes a digit to N(0, 1). The poster lists its KL as 1.8643 → 1.542 "
               "→ 0.501 → 0.0993 → 0.00101 without the t of any value: our exact KL of the pixel "
               "values, our estimate and the upper bound at fixed t, all at the same t, and the t "
               "at which each would reach each poster value (which only says where it could sit).",
               _DEFAULT, run_poster_digit_kl, forward_from="digit", forward_t=0, needs_model=False),
    Experiment("poster-exponential", "Poster 3: the exponential start", "poster",
               "x_0 ~ Exp(λ = 0.5) per pixel: KL to N(0, 1) poster 3.7697, exact 3.226 (closed "
               "form and core.marginal), our estimate from 784 pixels; the forward chain makes it "
               "Gaussian.",
               _DEFAULT, run_poster_exponential, forward_from="noise",
               start=("exponential", {"rate": 0.5}), digit=False, needs_model=False),
    Experiment("ddpm-linear", "DDPM (Ho et al. 2020): linear β 1e-4 → 0.02, T = 1000",
               "Ho et al. 2020", "The DDPM paper's schedule and sampler: β linear from 1e-4 to 0.02 "
               "over T = 1000 steps (ᾱ_T ≈ 4e-5), ancestral sampling with σ_t² = β_t.",
               _DEFAULT, run_ddpm_linear,
               sampler={"sampler": "ddpm", "steps": None, "source": "noise", "compare": False,
                        "label": None}),
    Experiment("improved-cosine", "Improved DDPM (Nichol & Dhariwal 2021): cosine schedule",
               "Nichol & Dhariwal 2021", "ᾱ_t = cos²(((t/T + s)/(1 + s))·π/2)/cos²(s/(1+s)·π/2), "
               "s = 0.008: the signal fades evenly instead of being gone by mid-chain as with the "
               "linear schedule.",
               COSINE_SCHEDULE, run_improved_cosine,
               sampler={"sampler": "ddpm", "steps": 100, "source": "noise", "compare": False,
                        "label": None}, forward_t=500),
    Experiment("ddim-eta", "DDIM (Song et al. 2021): the η sweep", "Song et al. 2021",
               "One x_T through DDIM (eq. 12) with η = 0, 0.2, 0.5, 1: η = 0 is deterministic, η = 1 "
               "is DDPM-like; the distance from the η = 0 sample grows with η. In the app: change "
               "η in the sampler panel.",
               _DEFAULT, run_ddim_eta,
               sampler={"sampler": "ddim", "steps": 50, "eta": 0.0, "source": "noise",
                        "compare": False, "label": None}),
    Experiment("guidance", "Classifier-free guidance (Ho & Salimans 2022): the w sweep",
               "Ho & Salimans 2022", f"ε̂ = ε_u + w(ε_c − ε_u) with label {GUIDANCE_LABEL}, w = 0, 1, 2, 4: "
               "w = 0 ignores the label, larger w makes the class unmistakable. In the app: change w.",
               _DEFAULT, run_guidance,
               sampler={"sampler": "ddim", "steps": 50, "eta": 0.0, "source": "noise",
                        "compare": False, "label": GUIDANCE_LABEL, "guidance": 2.0}),
    Experiment("forget-xT", "One x_T, several sampler seeds: DDPM forgets x_T, DDIM keeps it",
               "Ho et al. 2020; Song et al. 2021", "The same x_T through DDPM and DDIM (η = 0), side "
               "by side, with several sampler seeds: DDPM's added noise dominates (different digits "
               "from one x_T), DDIM's result is a function of x_T. In the app: change the sampler "
               "seed and watch only the DDPM lane change.",
               _DEFAULT, run_forget_xT,
               sampler={"sampler": "ddpm", "steps": 100, "source": "noise", "compare": True,
                        "sampler_b": "ddim", "eta": 0.0, "label": None}),
)

NAMES = tuple(e.name for e in EXPERIMENTS)


def get(name: str) -> Experiment:
    for e in EXPERIMENTS:
        if e.name == name:
            return e
    raise ValueError(f"unknown experiment {name!r}: choose one of {', '.join(NAMES)}")


def run_experiment(name: str, model=None, seed: int = 0, quick: bool = False) -> ExperimentResult:
    """Run one experiment headless. `model`: the network (None: the bundled one, loaded only
    when the experiment needs it); `quick`: fewer steps and samples (tests)."""
    exp = get(name)
    if model is None and exp.needs_model:
        from .checkpoint import bundled_model_path, load_model

        path = bundled_model_path()
        if path is None:
            raise ValueError(f"experiment {name} needs a model and this build has none")
        model, _ = load_model(path)
    started = time.perf_counter()
    result = exp.run(exp, model, seed=seed, quick=quick)
    result.seconds = time.perf_counter() - started
    return result


def save_figures(result: ExperimentResult, folder, hold_s: float = 1.0) -> list[Path]:
    """Write each figure as FOLDER/<experiment>_<figure>.png|.gif (atomically); the paths."""
    folder = Path(folder)
    paths = []
    for f in result.figures:
        path = folder / f"{result.name}_{f.name}.{f.kind}"
        if f.kind == "png":
            imaging.save_png(f.frames[0], path)
        else:
            imaging.save_gif(list(f.frames), path, fps=f.fps, hold_last_s=hold_s)
        paths.append(path)
    return paths
