"""Lesson content is data, and every number an answer quotes is computed, not typed in: each is
checked here against an independent computation (a plain product of (1 − β), the closed-form
prior KL, a count of the visited steps, the DDIM σ formula)."""
from __future__ import annotations

import math
import string

import numpy as np
import pytest

from ddpm_desktop.core import lessons
from ddpm_desktop.core.lessons import LAST, LESSONS


def _alpha_bar(kind: str, T: int, t: int, b1=1e-4, bT=0.02) -> float:
    """ᾱ_t by hand: the linear β_t of Ho et al. and the cosine f(t)/f(0) of Nichol & Dhariwal
    (β capped at 0.999), multiplied out step by step."""
    if t == 0:
        return 1.0
    if kind == "linear":
        betas = np.linspace(b1, bT, T, dtype=np.float64)
    else:
        f = lambda u: math.cos((u / T + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
        betas = np.array([min(1 - f(i + 1) / f(i), 0.999) for i in range(T)])
    return float(np.prod(1.0 - betas[:t]))


def _prior_kl(a: float) -> float:
    # KL(N(√a x0, 1 − a) ‖ N(0, 1)) per pixel with x0² = 1 (worst case in [-1, 1]):
    # ½(mean² + variance − 1 − ln variance)
    return 0.5 * (a + (1.0 - a) - 1.0 - math.log(1.0 - a))


def _all_steps():
    return [(lesson.name, i, step) for lesson in LESSONS for i, step in enumerate(lesson.steps)]


def test_seven_lessons_with_questions_and_answers():
    assert lessons.NAMES == ("forward", "alpha-bar", "reverse", "samplers", "guidance", "copies",
                            "likelihood")
    for lesson in LESSONS:
        assert 3 <= len(lesson.steps) <= 6
        for step in lesson.steps:
            assert step.question.strip().endswith("?") or "?" in step.question


@pytest.mark.slow  # computes every answer (~3 s); the numbers are checked step by step below
def test_every_step_has_an_answer():
    for lesson in LESSONS:
        for step in lesson.steps:
            assert step.answer_text()


@pytest.mark.parametrize("name,index,step", _all_steps(),
                         ids=[f"{n}-{i}" for n, i, _ in _all_steps()])
def test_quoted_numbers_match_an_independent_computation(name, index, step):
    setup = step.setup
    params = setup.schedule_params()
    T, kind = params["T"], params["kind"]
    numbers = step.numbers()
    fields = {f for _, f, _, _ in string.Formatter().parse(step.answer) if f}
    assert fields <= set(numbers), f"{name}[{index}] quotes a number it does not compute"
    t = T if setup.forward_t == LAST else setup.forward_t
    cfg = setup.sampler
    t_start = min(cfg.get("t_start", T), T) if cfg.get("source") == "input" else T
    expected = {
        "t": t,
        "T": T,
        "alpha_bar_T": _alpha_bar(kind, T, T),
        "sqrt_ab_T": math.sqrt(_alpha_bar(kind, T, T)),
        "prior_kl": _prior_kl(_alpha_bar(kind, T, T)),
        "sqrt_ab_start": math.sqrt(_alpha_bar(kind, T, t_start)),
        "sqrt_1m_ab_start": math.sqrt(1 - _alpha_bar(kind, T, t_start)),
    }
    if "sqrt_ab" in numbers:
        a = _alpha_bar(kind, T, t)
        expected.update(sqrt_ab=math.sqrt(a), sqrt_1m_ab=math.sqrt(1 - a), snr=a / (1 - a),
                        percent=100 * math.sqrt(a))
    elif "alpha_bar_T" in numbers:
        expected["percent"] = 100 * math.sqrt(_alpha_bar(kind, T, T))
    if "nfe" in numbers:
        steps = cfg.get("steps", 100)
        # the visited steps t_start = t_0 > t_1 > ... > 0, one network call each to leave it
        visited = sorted({round(t_start * (1 - k / steps)) for k in range(steps + 1)}) \
            if steps is not None else list(range(t_start + 1))
        guided = cfg.get("label") is not None and cfg.get("guidance", 1.0) not in (0.0, 1.0)
        expected["nfe"] = len(visited) - 1
        expected["nfe_total"] = (len(visited) - 1) * (2 if guided else 1)
        expected["calls_per_step"] = 2 if guided else 1
        if cfg.get("sampler") == "ddim":
            ts = visited[::-1]
            a_t, a_s = _alpha_bar(kind, T, ts[0]), _alpha_bar(kind, T, ts[1])
            eta = cfg.get("eta", 0.0)
            expected["sigma_first"] = eta * math.sqrt((1 - a_s) / (1 - a_t)) * \
                math.sqrt(1 - a_t / a_s)
    for key in fields:
        if key in expected:
            assert numbers[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-15), key


def test_linear_schedule_numbers_are_the_known_ones():
    """The headline numbers against values anyone can recompute: ᾱ_T of Ho et al.'s linear
    schedule is ≈ 4.0e-5 at T = 1000 and ≈ 0.60 at T = 50."""
    ab = {s.setup.schedule_params()["T"]: s.numbers()["alpha_bar_T"]
          for s in lessons.get("alpha-bar").steps if "alpha_bar_T" in s.numbers()
          and s.setup.schedule_params()["kind"] == "linear"}
    assert ab[1000] == pytest.approx(4.04e-5, rel=0.01)
    assert ab[50] == pytest.approx(0.603, rel=0.01)


def test_unknown_lesson_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown lesson 'nope'"):
        lessons.get("nope")


# ----------------------------------------------------------------------------- "Does it copy?"

def _train_rows() -> np.ndarray:
    from ddpm_desktop.core.data import load_bundled_mnist

    return load_bundled_mnist("train").images.reshape(-1, 784).astype(np.float64) / 255.0


def _two_nearest(samples, rows) -> tuple[np.ndarray, np.ndarray]:
    """d1, d2 by brute force: every distance in float64, sorted (pixels in [0, 1]). One sample
    at a time: the same sums as one broadcast, without its samples × rows × 784 temporary
    (3.6 GB and 9 s for the 64 held-out digits; this takes 1.3 s)."""
    x = np.clip((np.asarray(samples, dtype=np.float64).reshape(len(samples), -1) + 1) / 2, 0, 1)
    d = np.sort(np.stack([np.sqrt(((rows - xi) ** 2).sum(-1)) for xi in x]), axis=1)
    return d[:, 0], d[:, 1]


def _copies_step(title):
    return next(s for s in lessons.get("copies").steps if s.title == title)


def test_the_exact_optimum_copies_by_brute_force():
    step = _copies_step("The loss's exact optimum")
    numbers = step.numbers()
    d1, d2 = _two_nearest(lessons.exact_samples(step.setup).numpy(), _train_rows())
    assert numbers["n"] == lessons.EXACT_SAMPLES
    assert numbers["copies"] == int((d1 / d2 < 1 / 3).sum()) == lessons.EXACT_SAMPLES
    assert numbers["max_d1"] == pytest.approx(d1.max(), abs=1e-5)
    assert numbers["max_ratio"] == pytest.approx((d1 / d2).max(), abs=1e-5)


def test_the_network_sample_and_held_out_digits_by_brute_force():
    from ddpm_desktop.core.data import load_bundled_mnist

    step = _copies_step("The network")
    numbers = step.numbers()
    rows = _train_rows()
    x0 = lessons.network_sample(step.setup)[0][:1].numpy()
    d1, d2 = _two_nearest(x0, rows)
    assert numbers["d1"] == pytest.approx(d1[0], rel=1e-5)
    assert numbers["d2"] == pytest.approx(d2[0], rel=1e-5)
    assert numbers["copy"] == ("copies" if d1[0] / d2[0] < 1 / 3 else "does not copy")
    held = load_bundled_mnist("test").images[:numbers["held_n"]].astype(np.float64) / 127.5 - 1
    h1, h2 = _two_nearest(held, rows)
    assert numbers["held_d1"] == pytest.approx(np.median(h1), rel=1e-5)
    assert numbers["held_ratio"] == pytest.approx(np.median(h1 / h2), rel=1e-5)
    assert numbers["held_copies"] == int((h1 / h2 < 1 / 3).sum())
    assert numbers["copy"] == "does not copy"  # the bundled model's sample is new


def test_speciation_time_against_the_covariance_and_the_schedule_by_hand():
    rows = _train_rows() * 2 - 1  # the model's [-1, 1]
    lam = float(np.linalg.eigvalsh(np.cov(rows, rowvar=False))[-1])
    for title in ("When is the digit decided?", "Another schedule"):
        step = _copies_step(title)
        numbers = step.numbers()
        kind, T = step.setup.schedule_params()["kind"], step.setup.schedule_params()["T"]
        assert numbers["lambda_max"] == pytest.approx(lam, rel=1e-6)
        assert numbers["alpha_bar_s"] == pytest.approx(1 / lam, rel=1e-6)
        t_s = next(t for t in range(1, T + 1) if _alpha_bar(kind, T, t) <= 1 / lam)
        assert numbers["t_s"] == t_s
    assert _copies_step("When is the digit decided?").numbers()["t_s"] == 551
    assert _copies_step("Another schedule").numbers()["percent_first"] == \
        pytest.approx(100 * (1 - _copies_step("Another schedule").numbers()["t_s"] / 1000))


def test_the_settle_step_is_where_the_classifier_reading_stops_changing():
    """DDIM's last step lands on x̂₀, so the settled class is the classifier's reading of the
    final sample; the settle t is one of the chain's visited steps."""
    import torch

    from ddpm_desktop.core.decision import bundled_classifier

    step = _copies_step("When is the digit decided?")
    numbers = step.numbers()
    x0, settle_t, settle_class = lessons.network_sample(step.setup)
    with torch.inference_mode():
        readings = bundled_classifier()(x0.float()).argmax(1).numpy()
    np.testing.assert_array_equal(settle_class, readings)
    visited = {round(1000 * (1 - k / 50)) for k in range(50)}
    assert set(settle_t.tolist()) <= visited
    assert numbers["settle_t"] == settle_t[0] and numbers["settle_class"] == readings[0]
    assert numbers["settle_median"] == pytest.approx(np.median(settle_t))


# ----------------------------------------------------------------------------- likelihood

def _likelihood_step(title):
    return next(s for s in lessons.get("likelihood").steps if s.title == title)


def test_the_likelihood_reveals_read_the_reference_as_its_own_table_does():
    import json

    from ddpm_desktop import resources_path
    from ddpm_desktop.core.likelihood import load_reference

    raw = json.loads(resources_path("likelihood_reference.json").read_text(encoding="utf-8"))
    digits = raw["bits_per_dim"]
    blank = raw["patterns"]["blank (black)"]
    numbers = _likelihood_step("A digit or a blank image?").numbers()
    assert numbers["n"] == len(digits) == 50
    assert numbers["median"] == pytest.approx(float(np.median(digits)))
    assert (numbers["lo"], numbers["hi"]) == (min(digits), max(digits))
    share = 100 * sum(d > blank for d in digits) / len(digits)
    assert numbers["blank_share"] == pytest.approx(share)
    assert numbers["blank_share"] == pytest.approx(100 * load_reference().more_likely_than(blank))
    noise = _likelihood_step("Noise and a checkerboard").numbers()
    assert noise["gap"] == pytest.approx(min(raw["patterns"]["uniform noise"],
                                             raw["patterns"]["checkerboard (1 px)"]) - max(digits))
    assert noise["gap"] > 4  # digits far more likely than noise and checkers


def test_the_posterior_variances_are_rayleigh_quotients_of_the_covariance():
    """Each reported variance is dᵀ Cov d along its direction, Cov v = ((1−ᾱ)/ᾱ)(v − √(1−ᾱ) J v)
    with J v = ∂ε̂/∂x_t · v by a central difference of the network written out here."""
    import torch

    step = _likelihood_step("What is the model unsure of?")
    numbers = step.numbers()
    x_t, pcs = lessons.posterior_pcs(step.setup)
    t = step.setup.cursor()
    a = _alpha_bar("linear", 1000, t)
    model = lessons.bundled_network()
    lam = torch.full((1,), math.log(a / (1 - a)))
    d = pcs.directions
    np.testing.assert_allclose(d @ d.T, np.eye(len(d)), atol=1e-6)
    h = 1e-2 * float(x_t.norm())
    for k, direction in enumerate(d):
        v = torch.from_numpy(direction.astype(np.float32)).reshape(x_t.shape)
        with torch.inference_mode():
            jv = (model(x_t + h * v, lam) - model(x_t - h * v, lam)) / (2 * h)
        cov_v = (1 - a) / a * (v - math.sqrt(1 - a) * jv)
        assert float((v * cov_v).sum()) == pytest.approx(pcs.variances[k], rel=0.05)
    assert numbers["isotropic"] == pytest.approx((1 - a) / a, rel=1e-9)
    assert numbers["v1"] == pytest.approx(pcs.variances[0]) and numbers["k"] == 4
    assert list(pcs.variances) == sorted(pcs.variances, reverse=True)


def test_the_lab_step_reads_the_curves_file_as_written(tmp_path, monkeypatch):
    import json
    from functools import partial

    from ddpm_desktop.core import generalisation

    def point(step, f, acc):
        return {"step": step, "loss_smooth": 0.05, "f_mem": f, "ci": [f / 2, min(1.0, f + 0.1)],
                "median_d1": 3.0, "accuracy": acc, "n": 100}

    runs = [{"name": "all", "size": 9000, "points": [point(500, 0.0, 0.9), point(250, 0.0, 0.5)]},
            {"name": "mid", "size": 1024, "points": [point(250, 0.3, 0.4)]},
            {"name": "few", "size": 64, "points": [point(750, 0.875, 0.8), point(250, 0.05, 0.3),
                                                   point(500, 0.5, 0.6)]}]
    path = tmp_path / "curves.json"
    path.write_text(json.dumps({"runs": runs}))
    monkeypatch.setattr(generalisation, "load_curves", partial(generalisation.load_curves, path))
    step = _copies_step("Few digits or many?")
    n = step.numbers()
    # by hand from the file: the smallest size's latest point, and the first step at 10%
    assert (n["small"], n["small_step"], n["small_f"], n["small_acc"]) == (64, 750, 0.875, 0.8)
    assert (n["small_lo"], n["small_hi"]) == (0.4375, 0.975)
    assert n["small_onset"] == "from step 500"
    assert (n["large"], n["large_step"], n["large_f"], n["large_onset"]) == (9000, 500, 0.0, "never")
    text = step.answer_text()
    assert "On 64 digits: 88% of its samples copy" in text and "On 9,000 digits: 0% copy" in text


def test_the_lab_step_says_when_the_curves_are_missing(tmp_path, monkeypatch):
    from functools import partial

    from ddpm_desktop.core import generalisation

    monkeypatch.setattr(generalisation, "load_curves",
                        partial(generalisation.load_curves, tmp_path / "none.json"))
    assert "not installed" in _copies_step("Few digits or many?").answer_text()
