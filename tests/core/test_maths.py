"""core.maths: the numbers the maths panel substitutes, against the schedule recomputed
independently from its β's with numpy (closed forms of Ho et al. 2020, Song et al. 2021,
Lu et al. 2022), and the guidance mix against ε_u + w(ε_c − ε_u) on random arrays."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ddpm_desktop.core import maths
from ddpm_desktop.core.run import SamplerSettings, plan_run
from ddpm_desktop.core.schedule import NoiseSchedule, get_named_beta_schedule


def _ts(sampler: str, T: int, steps):
    return plan_run(SamplerSettings(sampler=sampler, steps=steps), T).timesteps


def _reference(kind="linear", T=1000):
    betas = get_named_beta_schedule(kind, T)
    ab = np.cumprod(1.0 - betas)
    return betas, ab


def _ab(ab, t):
    return 1.0 if t == 0 else ab[t - 1]


def _numbers(terms, key):
    return {t.key: t for t in terms}[key].numbers


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("t", [1, 17, 500, 1000])
def test_forward_terms_match_the_betas(kind, t):
    betas, ab = _reference(kind)
    terms = maths.forward_terms(NoiseSchedule.named(kind, 1000), t)
    step, marg = _numbers(terms, "forward.step"), _numbers(terms, "forward.marginal")
    sched = _numbers(terms, "schedule.values")
    assert step["sqrt_alpha"] == pytest.approx(math.sqrt(1 - betas[t - 1]), rel=1e-12)
    assert step["sqrt_1m_alpha"] == pytest.approx(math.sqrt(betas[t - 1]), rel=1e-9)
    assert marg["sqrt_ab"] == pytest.approx(math.sqrt(ab[t - 1]), rel=1e-12)
    assert marg["sqrt_1m_ab"] == pytest.approx(math.sqrt(1 - ab[t - 1]), rel=1e-9)
    assert sched["beta"] == pytest.approx(betas[t - 1], rel=1e-12)
    assert sched["log_snr"] == pytest.approx(math.log(ab[t - 1] / (1 - ab[t - 1])), rel=1e-9)
    value = {x.key: x for x in terms}["forward.marginal"].value
    assert f"x<sub>{t}</sub> = {maths.num(math.sqrt(ab[t - 1]))} x<sub>0</sub>" in value


def test_forward_terms_at_t0_say_x0_is_the_input():
    terms = maths.forward_terms(NoiseSchedule.default(), 0)
    assert "input" in terms[0].value
    assert _numbers(terms, "forward.marginal")["sqrt_ab"] == 1.0


@pytest.mark.parametrize("steps", [None, 10])
def test_ddpm_terms_are_the_posterior_of_eq7(steps):
    betas, ab = _reference()
    schedule = NoiseSchedule.default()
    ts = _ts("ddpm", 1000, steps)
    for i in (0, 3, len(ts) - 2):
        t, s = int(ts[i]), int(ts[i + 1])
        beta = 1 - _ab(ab, t) / _ab(ab, s)  # the (respaced) step's β; β_t when s = t - 1
        if steps is None:
            assert beta == pytest.approx(betas[t - 1], rel=1e-9)
        terms = maths.reverse_terms("ddpm", schedule, ts, i)
        n = _numbers(terms, "reverse.update")
        assert n["coef1"] == pytest.approx(math.sqrt(_ab(ab, s)) * beta / (1 - _ab(ab, t)), rel=1e-9)
        assert n["coef2"] == pytest.approx(math.sqrt(1 - beta) * (1 - _ab(ab, s)) / (1 - _ab(ab, t)),
                                           rel=1e-9)
        assert n["sigma"] == pytest.approx(math.sqrt(beta) if s > 0 else 0.0, rel=1e-9)
        post = _numbers(terms, "reverse.posterior")
        assert post["beta_tilde"] == pytest.approx((1 - _ab(ab, s)) / (1 - _ab(ab, t)) * beta,
                                                   rel=1e-9)
        x0 = _numbers(terms, "reverse.x0")
        assert x0["sqrt_ab_t"] == pytest.approx(math.sqrt(_ab(ab, t)), rel=1e-12)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_terms_are_eq12_and_16(eta):
    _, ab = _reference()
    ts = _ts("ddim", 1000, 20)
    i = 5
    t, s = int(ts[i]), int(ts[i + 1])
    a_t, a_s = _ab(ab, t), _ab(ab, s)
    sigma = eta * math.sqrt((1 - a_s) / (1 - a_t)) * math.sqrt(1 - a_t / a_s)
    n = _numbers(maths.reverse_terms("ddim", NoiseSchedule.default(), ts, i, eta=eta),
                 "reverse.update")
    assert n["sqrt_ab_s"] == pytest.approx(math.sqrt(a_s), rel=1e-12)
    assert n["sigma"] == pytest.approx(sigma, abs=1e-15)
    assert n["dir_coef"] == pytest.approx(math.sqrt(1 - a_s - sigma ** 2), rel=1e-9)
    if eta == 1.0:  # η = 1 is DDPM's posterior variance β̃
        assert sigma ** 2 == pytest.approx((1 - a_s) / (1 - a_t) * (1 - a_t / a_s), rel=1e-12)


def test_dpmpp_terms_are_h_r_and_the_exponential_coefficient():
    _, ab = _reference("cosine")
    schedule = NoiseSchedule.named("cosine", 1000)
    ts = _ts("dpmpp", 1000, None)
    assert len(ts) == 21  # 20 steps by default, as iter_sampler
    lam = lambda t: 0.5 * math.log(_ab(ab, t) / (1 - _ab(ab, t)))  # noqa: E731
    for i in (0, 4):
        t, s = int(ts[i]), int(ts[i + 1])
        terms = maths.reverse_terms("dpmpp", schedule, ts, i)
        h = lam(s) - lam(t)
        n, hr = _numbers(terms, "reverse.update"), _numbers(terms, "reverse.posterior")
        assert hr["h"] == pytest.approx(h, rel=1e-9)
        assert n["ratio"] == pytest.approx(math.sqrt((1 - _ab(ab, s)) / (1 - _ab(ab, t))), rel=1e-9)
        assert n["coef"] == pytest.approx(-math.sqrt(_ab(ab, s)) * (math.exp(-h) - 1), rel=1e-9)
        if i == 0:
            assert hr["r"] is None
        else:
            assert hr["r"] == pytest.approx((lam(t) - lam(int(ts[i - 1]))) / h, rel=1e-9)
    last = maths.reverse_terms("dpmpp", schedule, ts, len(ts) - 2)
    assert _numbers(last, "reverse.update") == {"ratio": 0.0, "coef": 1.0}


@pytest.mark.parametrize("w", [0.0, 1.0, 3.5])
def test_guidance_coefficients_reproduce_the_mix(w):
    rng = np.random.default_rng(0)
    eps_u, eps_c = rng.normal(size=(2, 50))
    n = maths.guidance_terms(7, w)[0].numbers
    np.testing.assert_allclose(n["u_coef"] * eps_u + n["c_coef"] * eps_c,
                               eps_u + w * (eps_c - eps_u), rtol=1e-12, atol=1e-12)
    assert "unconditional" in maths.guidance_terms(None, w)[0].value


def test_distilled_terms_are_ddim_at_eta_zero():
    """The student steps as DDIM with η = 0 (core.sampling.iter_distilled): its terms are
    eq. 12 with σ = 0, along its own <= 4 steps, whatever η the settings hold."""
    _, ab = _reference()
    ts = plan_run(SamplerSettings(sampler="distilled", steps=20, eta=0.7), 1000).timesteps
    assert len(ts) == 5
    t, s = int(ts[1]), int(ts[2])
    terms = maths.reverse_terms("distilled", NoiseSchedule.default(), ts, 1, eta=0.7)
    n = _numbers(terms, "reverse.update")
    assert n["sigma"] == 0.0
    assert n["sqrt_ab_s"] == pytest.approx(math.sqrt(_ab(ab, s)), rel=1e-12)
    assert n["dir_coef"] == pytest.approx(math.sqrt(1 - _ab(ab, s)), rel=1e-9)
    assert _numbers(terms, "reverse.x0")["sqrt_ab_t"] == pytest.approx(math.sqrt(_ab(ab, t)))


def test_kl_terms_show_their_values_and_the_estimate_spread():
    terms = {t.key: t for t in maths.kl_terms(300, 0.0772, 0.086, 0.016, 0.0964, 0.233, 0.0118)}
    assert "0.07720" in terms["kl.exact"].value
    assert "± 0.016" in terms["kl.estimate"].value
    assert terms["kl.hist"].view == "histogram" and terms["kl.bound"].view == "kl"
    assert "not computed yet" in maths.kl_terms(0, None, None, None, None, None, 0.01)[0].value
    assert all(t.view in maths.VIEWS for t in terms.values())


def test_num_formats():
    assert maths.num(0.99998) == "1.000"
    assert maths.num(4.036e-5) == "4.036·10<sup>−5</sup>"
    assert maths.num(math.inf) == "∞" and maths.num(None) == "–" and maths.num(2.0) == "2"


# ---------------------------------------------------------------- likelihood, inversion, uncertainty

def _zero_eps(x, *_):
    return x * 0.0          # ε̂ = 0, still a function of x (autograd sees it)


def test_likelihood_terms_carry_the_codes_value_for_a_closed_form_density():
    """With ε̂ = 0 the flow is x(λ) ∝ α(λ), so p(x) = N(x; 0, (α_max/α_min)² I) in closed form: the
    log p the term reads back from core's bits/dim is that density at the same dequantized digit."""
    import torch

    from ddpm_desktop.core.likelihood import dequantize, image_bits_per_dim
    from ddpm_desktop.core.sampling import generator_for

    _, ab = _reference()
    schedule = NoiseSchedule.default()
    u = np.zeros((1, 28, 28), np.uint8)
    u[0, 8:20, 12:16] = 255
    bpd = float(image_bits_per_dim(_zero_eps, u, schedule, steps=32, generator=generator_for(3))[0])
    x = dequantize(u, generator_for(3)).double().reshape(-1).numpy()
    lam_min, lam_max = math.log(ab[-1] / (1 - ab[-1])), 14.0
    scale = math.sqrt(1 / (1 + math.exp(-lam_max))) / math.sqrt(1 / (1 + math.exp(-lam_min)))
    want = (-0.5 * np.sum((x / scale) ** 2) - 784 * math.log(scale) - 392 * math.log(2 * math.pi))
    terms = {t.key: t for t in maths.likelihood_terms(schedule, bpd, more_likely_than=0.25,
                                                      held_out_median=2.12)}
    bits = terms["likelihood.bits"].numbers
    assert bits["log_p"] == pytest.approx(want, abs=784 * 1e-4)        # 1e-4 nats/dim
    assert bits["offset"] == pytest.approx(math.log2(127.5), rel=1e-12)
    assert bits["bin"] == pytest.approx(2 / 255, rel=1e-12)
    assert f"{maths.num(bpd)}" in terms["likelihood.bits"].value and "25%" in terms["likelihood.bits"].value
    flow = terms["likelihood.flow"].numbers
    assert flow["log_snr_min"] == pytest.approx(lam_min, rel=1e-9)
    assert flow["sigma_at_max"] == pytest.approx(math.sqrt(1 / (1 + math.exp(lam_max))), rel=1e-12)
    assert flow["nfe"] == 128 and terms["likelihood.change"].numbers["nfe"] == 128
    assert terms["likelihood.change"].numbers["half_sigma2_d_at_min"] == pytest.approx(
        392 * (1 - ab[-1]), rel=1e-9)
    assert "not computed yet" in maths.likelihood_terms(schedule)[2].value
    assert all(t.view == "likelihood" for t in terms.values()) and "likelihood" in maths.VIEWS


@pytest.mark.parametrize("t, s_want, t_want", [(0, 0, 50), (300, 250, 300), (301, 300, 350), (1000, 950, 1000)])
def test_inversion_terms_are_the_encoding_step_the_code_takes(t, s_want, t_want):
    """The step through t, against the betas (x̄ = x/√ᾱ, σ̄ = √((1−ᾱ)/ᾱ)) and against one step of
    core.inversion with a constant ε̂ (the step is then explicit: x_t = ratio x_s + coef ε)."""
    import torch

    from ddpm_desktop.core.inversion import iter_ddim_inversion

    _, ab = _reference()
    schedule = NoiseSchedule.default()
    terms = {x.key: x for x in maths.inversion_terms(schedule, t, mse=2.5e-4, label=8, guidance=3.0)}
    n = terms["inversion.step"].numbers
    assert (n["s"], n["t"]) == (s_want, t_want)
    sb = lambda k: 0.0 if k == 0 else math.sqrt((1 - _ab(ab, k)) / _ab(ab, k))  # noqa: E731
    assert n["ratio"] == pytest.approx(math.sqrt(_ab(ab, t_want) / _ab(ab, s_want)), rel=1e-12)
    assert n["coef"] == pytest.approx(math.sqrt(_ab(ab, t_want)) * (sb(t_want) - sb(s_want)), rel=1e-9)
    assert n["sigma_bar_t"] == pytest.approx(sb(t_want), rel=1e-9)
    c = torch.full((1, 1, 4, 4), 0.3, dtype=torch.float64)
    x0 = torch.linspace(-1, 1, 16, dtype=torch.float64).reshape(1, 1, 4, 4)
    states = {st.t: st for st in iter_ddim_inversion(lambda x, _t: c.expand_as(x), schedule, x0, refine=2)}
    np.testing.assert_allclose(states[t_want].x.numpy(),
                               (n["ratio"] * states[s_want].x + n["coef"] * c).numpy(), rtol=1e-12, atol=1e-12)
    back = terms["inversion.round_trip"].numbers
    assert back["nfe_up"] == states[1000].nfe == 60 and back["nfe_down"] == 20
    assert "class 8 at w = 3" in terms["inversion.round_trip"].value and back["mse"] == 2.5e-4


def test_uncertainty_terms_are_the_covariance_the_code_iterates_on():
    """The coefficients against the betas, and against core: with ε̂ = 0 the posterior covariance is
    (1−ᾱ_t)/ᾱ_t I, so every variance subspace iteration finds is the term's scale."""
    import torch

    from ddpm_desktop.core.uncertainty import posterior_principal_components

    _, ab = _reference()
    schedule = NoiseSchedule.default()
    terms = {x.key: x for x in maths.uncertainty_terms(schedule, 300, [2.5, 1.0])}
    cov = terms["uncertainty.covariance"].numbers
    assert cov["scale"] == pytest.approx((1 - ab[299]) / ab[299], rel=1e-12)
    assert cov["root"] == pytest.approx(math.sqrt(1 - ab[299]), rel=1e-12)
    assert cov["jacobian_scale"] == pytest.approx((1 - ab[299]) / math.sqrt(ab[299]), rel=1e-12)
    x_t = torch.zeros(1, 1, 28, 28)
    pcs = posterior_principal_components(_zero_eps, schedule, x_t, 300, k=2, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(pcs.variances, cov["scale"], rtol=1e-5)
    var = terms["uncertainty.variances"].numbers
    assert var["two_sigma"] == pytest.approx([2 * math.sqrt(2.5), 2.0])
    it = terms["uncertainty.iteration"].numbers
    assert (it["k"], it["oversample"], it["calls"], it["batch"]) == (2, 4, 5, 12)
    assert "σ<sub>1</sub><sup>2</sup> = 2.500" in terms["uncertainty.variances"].value
    assert "x<sub>0</sub> is known" in maths.uncertainty_terms(schedule, 0)[0].value
    assert "not computed yet" in maths.uncertainty_terms(schedule, 10)[2].value
