"""The numbers the newer lessons' reveals quote (core.lessons: "Does it copy?" and "How likely,
how sure?"), computed at run time from the bundled model, the training digits and the bundled
likelihood reference, never typed in.

  exact_samples    samples of the loss's exact optimum (core.exact_denoiser) by a step's sampler
  network_sample   the bundled network's samples and the t and class each settles at
                   (core.decision)
  posterior_pcs    the principal directions of p(x₀ | x_t) (core.uncertainty)

and the facts functions over them (`exact_copies`, `network_copies`, `lab_growth` (the shipped
lab curves, core.generalisation), `speciation`,
`speciation_first`, `decided`, `likelihoods`, `unsure`) that core.lessons' steps call. Chains
already run are cached (`_CHAINS`), so a reveal shown twice runs nothing.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .lessons import Setup


# The copies lesson's facts run small chains (a few samples, ≤ 50 network calls) so a reveal
# stays well under a second once the model, the training digits and the classifier are loaded.
EXACT_SAMPLES = 4
NETWORK_SAMPLES = 4
HELD_OUT_REFERENCE = 64


def _chain_key(setup: Setup) -> tuple:
    return (tuple(sorted(setup.schedule_params().items())),
            tuple(sorted((k, repr(v)) for k, v in setup.sampler.items())), setup.seed)


def start_noise(setup: Setup, n: int = 1):
    """x_T [n, 1, 28, 28] as the app draws it for input seed setup.seed (+ k for the k-th)."""
    import torch

    from .forward import START_SEED_OFFSET, draw_start
    from .imaging import IMAGE_SHAPE

    name, params = setup.start
    return torch.from_numpy(np.stack([draw_start(name, IMAGE_SHAPE, setup.seed + k + START_SEED_OFFSET,
                                                 **params) for k in range(n)]))[:, None]


def _run(model, setup: Setup, x_T, recorder=None):
    """The final x_0 of the step's sampler (its name, steps, η; sampler seed setup.seed) from x_T."""
    from .sampling import generator_for, iter_sampler, make_eps_fn

    cfg = setup.sampler
    s = setup.noise_schedule()
    name = cfg.get("sampler", "ddpm")
    kwargs = {"steps": cfg.get("steps", 100), "generator": generator_for(int(cfg.get("seed", 0)))}
    if name == "ddim":
        kwargs["eta"] = float(cfg.get("eta", 0.0))
    last = None
    for last in iter_sampler(name, make_eps_fn(model, s), s, x_T, **kwargs):
        if recorder is not None:
            recorder.add(last)
    return last.x_t


@functools.lru_cache(maxsize=1)
def bundled_network():
    from .checkpoint import bundled_model_path, load_model

    path = bundled_model_path()
    if path is None:
        raise FileNotFoundError("the bundled model is missing from resources/")
    model, _info = load_model(path)
    return model.eval()


# Chains already run, by (what, schedule, sampler, seed): a reveal shown twice runs nothing.
_CHAINS: dict = {}


def exact_samples(setup: Setup):
    """EXACT_SAMPLES samples of the perfect denoiser (the exact posterior mean of the bundled
    training digits) by the step's sampler, from the input seeds setup.seed, setup.seed + 1, ..."""
    key = ("exact",) + _chain_key(setup)
    if key not in _CHAINS:
        from .exact_denoiser import ExactDenoiser

        _CHAINS[key] = _run(ExactDenoiser.bundled(), setup, start_noise(setup, EXACT_SAMPLES))
    return _CHAINS[key]


def network_sample(setup: Setup):
    """The bundled network's samples of the step from the x_T of input seeds setup.seed, ...,
    setup.seed + NETWORK_SAMPLES - 1 (the first is the app's lane 1) by the step's sampler, with
    the t and class each one's classifier reading settles at (core.decision): (x0 [n, 1, 28, 28],
    settle_t [n], settle_class [n])."""
    key = ("network",) + _chain_key(setup)
    if key not in _CHAINS:
        from .decision import DecisionRecorder, bundled_classifier

        recorder = DecisionRecorder(bundled_classifier())
        x0 = _run(bundled_network(), setup, start_noise(setup, NETWORK_SAMPLES), recorder)
        settle_t, settle_class = recorder.settle_steps()
        _CHAINS[key] = (x0, np.asarray(settle_t, dtype=np.int64), np.asarray(settle_class))
    return _CHAINS[key]


def exact_copies(setup: Setup) -> dict:
    """The copy check (core.copies: d1/d2 < 1/3) of a few samples of the perfect denoiser."""
    from .copies import COPY_RATIO, check_copies

    nb = check_copies(exact_samples(setup)).nearest
    return {"n": len(nb), "copies": int(nb.copies.sum()), "max_ratio": float(nb.ratio.max()),
            "max_d1": float(nb.d1.max()), "threshold": COPY_RATIO,
            "steps": setup.sampler.get("steps", 100)}


def network_copies(setup: Setup) -> dict:
    """d1, d2 and d1/d2 of the network's sample, beside the held-out digits' (the first
    HELD_OUT_REFERENCE of the bundled test split, which no model saw)."""
    from .copies import check_copies
    from .data import load_bundled_mnist

    x0, _t, _c = network_sample(setup)
    nb = check_copies(x0[:1]).nearest
    held = check_copies(load_bundled_mnist("test").images[:HELD_OUT_REFERENCE]).nearest
    return {"d1": float(nb.d1[0]), "d2": float(nb.d2[0]), "ratio": float(nb.ratio[0]),
            "copy": "copies" if bool(nb.copies[0]) else "does not copy",
            "held_n": len(held), "held_d1": float(np.median(held.d1)),
            "held_ratio": float(np.median(held.ratio)), "held_copies": int(held.copies.sum()),
            "steps": setup.sampler.get("steps", 100)}


# The copy fraction a training-set size's curve must reach for the lab step to call it copying.
COPYING_ONSET = 0.1


def lab_growth(setup: Setup) -> dict:
    """The shipped lab curves (core.generalisation.load_curves) at their last step, for the
    smallest and the largest training-set size: f_mem with its interval, the classifier's
    accuracy, and the first step at which f_mem reaches COPYING_ONSET (`reveal` words them;
    without the curves file it says so)."""
    from . import generalisation

    try:
        runs = [r for r in generalisation.load_curves()["runs"] if r["points"]]
    except ValueError:
        runs = []
    if len(runs) < 2:
        return {"reveal": "The measured curves are not installed with this copy of the app "
                          "(resources/generalisation.json): run the lab on 64 digits and on all "
                          "of them in the Training panel's Generalisation lab tab to see it."}
    out = {}
    for key, run in (("small", runs[0]), ("large", runs[-1])):
        last = run["points"][-1]
        onset = next((p["step"] for p in run["points"] if p["f_mem"] >= COPYING_ONSET), None)
        out.update({key: run["size"], f"{key}_step": last["step"], f"{key}_f": last["f_mem"],
                    f"{key}_lo": last["ci"][0], f"{key}_hi": last["ci"][1],
                    f"{key}_acc": last["accuracy"],
                    f"{key}_onset": "never" if onset is None else f"from step {onset}"})
    out["reveal"] = (
        "On {small:,} digits: {small_f:.0%} of its samples copy a training digit at step "
        "{small_step} (95% interval {small_lo:.0%} to {small_hi:.0%}; {small_onset} at least "
        "{onset:.0%} do), and the classifier reads {small_acc:.0%} as the class asked for. On "
        "{large:,} digits: {large_f:.0%} copy at step {large_step} ({large_lo:.0%} to "
        "{large_hi:.0%}; {large_onset} {onset:.0%} or more), with {large_acc:.0%} read right."
    ).format(**out, onset=COPYING_ONSET)
    return out


def speciation(setup: Setup) -> dict:
    """Λ of the training digits, ᾱ_S = 1/Λ and t_S on the step's schedule (core.speciation)."""
    from .speciation import bundled_lambda_max, speciation_time

    s = setup.noise_schedule()
    sp = speciation_time(s, bundled_lambda_max())
    return {"T": s.T, "kind": s.kind, "lambda_max": sp.lambda_max, "alpha_bar_s": sp.alpha_bar,
            "t_s": sp.t, "percent_s": 100.0 * sp.t / s.T if sp.t else 0.0}


def speciation_first(setup: Setup) -> dict:
    """t_S on the step's schedule and the share of the reverse chain before it."""
    out = speciation(setup)
    return {**out, "percent_first": 100.0 - out["percent_s"]}


def decided(setup: Setup) -> dict:
    """t_S beside the t at which the network's chain of this step settles."""
    _x0, settle_t, settle_class = network_sample(setup)
    return {**speciation(setup), "settle_t": int(settle_t[0]), "settle_class": int(settle_class[0]),
            "settle_all": ", ".join(str(int(t)) for t in settle_t),
            "settle_median": float(np.median(settle_t)), "n": len(settle_t),
            "steps": setup.sampler.get("steps", 100)}


def _reference() -> dict:
    """resources/likelihood_reference.json: bits/dim of held-out digits and of a few non-digits
    (blank, noise, checkerboard) under the bundled model, written by bench/likelihood.py."""
    import json

    from ddpm_desktop import resources_path

    from .likelihood import REFERENCE_FILE

    path = resources_path(REFERENCE_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"the likelihood reference {REFERENCE_FILE} is missing from resources/")
    return json.loads(path.read_text(encoding="utf-8"))


def likelihoods(setup: Setup) -> dict:
    """The held-out digits' bits/dim (their spread) against the blank image, uniform noise and a
    checkerboard, and the share of digits each is more likely than (lower bits/dim)."""
    ref = _reference()
    digits = np.sort(np.asarray(ref["bits_per_dim"], dtype=np.float64))
    pats = ref["patterns"]

    def share(bpd: float) -> float:  # % of digits with higher bits/dim (less likely)
        return 100.0 * float(np.mean(digits > bpd))

    blank, noise = pats["blank (black)"], pats["uniform noise"]
    checker = pats["checkerboard (1 px)"]
    blank_share = share(blank)
    verdict = "The blank" if blank_share >= 50 else \
        "Nearly a tie" if blank_share >= 20 else "The digit, but not by far"
    return {"verdict": verdict,
            "n": len(digits), "median": float(np.median(digits)), "lo": float(digits[0]),
            "hi": float(digits[-1]), "blank": blank, "blank_share": blank_share,
            "noise": noise, "checker": checker, "gap": min(noise, checker) - float(digits[-1]),
            "steps": ref["steps"]}


UNCERTAINTY_K = 4


def posterior_pcs(setup: Setup):
    """The top UNCERTAINTY_K principal directions and variances of p(x₀ | x_t) by the bundled
    network (core.uncertainty, seeded by setup.seed) at the forward chain's x_t of the step: the
    bundled digit noised to the step's t with the app's forward noise of input seed setup.seed.
    -> (x_t [1, 1, 28, 28], PosteriorPCs)."""
    key = ("pcs",) + _chain_key(setup) + (setup.cursor(),)
    if key not in _CHAINS:
        import torch

        from .experiment_runs import bundled_digit
        from .forward import forward_chain
        from .sampling import generator_for, make_eps_fn
        from .uncertainty import posterior_principal_components

        s, t = setup.noise_schedule(), setup.cursor()
        x0 = torch.from_numpy(np.asarray(bundled_digit()[0], dtype=np.float32))
        x_t = forward_chain(s, x0, seed=setup.seed).x[t].reshape(1, 1, *x0.shape)
        pcs = posterior_principal_components(make_eps_fn(bundled_network(), s), s, x_t, t,
                                             UNCERTAINTY_K, generator=generator_for(setup.seed))
        _CHAINS[key] = (x_t, pcs)
    return _CHAINS[key]


def unsure(setup: Setup) -> dict:
    """The posterior's top variances at the step's x_t, against the (1−ᾱ_t)/ᾱ_t of every
    direction that a denoiser knowing nothing about digits (ε̂ = 0) would give."""
    _x_t, pcs = posterior_pcs(setup)
    s, t = setup.noise_schedule(), setup.cursor()
    ab = s.alpha_bar(t)
    v = [float(x) for x in pcs.variances]
    return {"t": t, "k": len(v), "variances": ", ".join(f"{x:.1f}" for x in v), "v1": v[0],
            "v2": v[1], "ratio": v[0] / v[1], "isotropic": (1.0 - ab) / ab,
            "fold": (1.0 - ab) / ab / v[0]}
