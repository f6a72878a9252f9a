"""Reverse samplers: timesteps, shapes, determinism and full loops with oracle networks."""
import math

import numpy as np
import pytest
import torch

from ddpm_desktop.core.sampling import (
    SAMPLERS,
    SampleStep,
    iter_ddim,
    iter_ddpm,
    iter_dpmpp_2m,
    iter_sampler,
    make_eps_fn,
    sample,
    timesteps_for,
)
from ddpm_desktop.core.schedule import NoiseSchedule

SCHED = NoiseSchedule.default()


def dummy_eps(x, t):
    # diffusers' scheduler-test dummy model
    return x * t / (t + 1)


def oracle_point_mass(schedule, c):
    """The exact ε for a dataset x_0 ≡ c: ε = (x_t - √ᾱ_t c)/√(1-ᾱ_t)."""
    def eps(x, t):
        a = schedule.alpha_bar(t)
        return (x - math.sqrt(a) * c) / math.sqrt(1 - a)
    return eps


def oracle_gaussian(schedule, m, s):
    """The exact E[ε|x_t] for x_0 ~ N(m, s²) per pixel."""
    def eps(x, t):
        a = schedule.alpha_bar(t)
        return math.sqrt(1 - a) * (x - math.sqrt(a) * m) / (a * s * s + 1 - a)
    return eps


def x_T(seed=0, shape=(3, 1, 28, 28)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_timesteps_trailing_match_diffusers():
    assert timesteps_for(1000, 10).tolist() == list(range(1000, -1, -100))
    for steps in (7, 13, 50, 999):
        ours = timesteps_for(1000, steps)
        # diffusers, timestep_spacing="trailing" (0-based timesteps, ours are k + 1)
        ratio = 1000 / steps
        theirs = np.round(np.arange(1000, 0, -ratio)).astype(np.int64) - 1
        np.testing.assert_array_equal(ours[:-1] - 1, theirs)
        assert ours[-1] == 0
    assert timesteps_for(10).tolist() == list(range(10, -1, -1))
    assert timesteps_for(1000, 5, t_start=300).tolist() == [300, 240, 180, 120, 60, 0]
    # More steps than there are: every step, no duplicates.
    assert timesteps_for(1000, 50, t_start=20).tolist() == list(range(20, -1, -1))


@pytest.mark.parametrize("kw, match", [
    (dict(steps=0), "steps"), (dict(steps=-2), "steps"),
    (dict(t_start=0), "t_start"), (dict(t_start=1001), "t_start"),
])
def test_timesteps_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        timesteps_for(1000, **kw)


@pytest.mark.parametrize("name", SAMPLERS)
def test_yields_every_step_with_cpu_copies(name):
    x = x_T()
    k = 4 if name == "distilled" else 10  # the distilled sampler takes 1..4 steps
    steps = list(iter_sampler(name, dummy_eps, SCHED, x, steps=k, generator=gen(1)))
    assert len(steps) == k + 1 and all(isinstance(s, SampleStep) for s in steps)
    assert [s.t for s in steps] == list(range(1000, -1, -1000 // k))
    assert [s.nfe for s in steps] == list(range(k + 1)) == [s.index for s in steps]
    assert {s.total for s in steps} == {k}
    assert torch.equal(steps[0].x_t, x) and steps[0].x_t is not x
    for s in steps:
        assert s.x_t.shape == x.shape == s.x0_pred.shape and s.x_t.device.type == "cpu"
        assert s.x_t.dtype == torch.float32 and torch.isfinite(s.x_t).all()
        assert not s.x_t.is_inference()
    assert steps[-1].x0_pred.abs().max() <= 1.0  # clipped
    # Yielded tensors are copies: scribbling on one changes nothing downstream.
    steps[1].x_t.zero_()
    assert not torch.equal(steps[1].x_t, steps[2].x_t)


def test_inference_mode_not_leaked_across_yield():
    it = iter_ddpm(dummy_eps, SCHED, x_T(), steps=5, generator=gen(0))
    next(it)
    next(it)
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()


@pytest.mark.parametrize("name", SAMPLERS)
def test_seeded_determinism(name):
    k = 4 if name == "distilled" else 20
    a = sample(name, dummy_eps, SCHED, x_T(), steps=k, generator=gen(5), eta=0.5)
    b = sample(name, dummy_eps, SCHED, x_T(), steps=k, generator=gen(5), eta=0.5)
    assert torch.equal(a, b)
    c = sample(name, dummy_eps, SCHED, x_T(), steps=k, generator=gen(6), eta=0.5)
    assert torch.equal(a, c) == (name in ("dpmpp", "distilled"))  # these draw no noise


def test_ddim_eta_zero_is_deterministic_without_generator():
    a = sample("ddim", dummy_eps, SCHED, x_T(), steps=25, eta=0.0)
    b = sample("ddim", dummy_eps, SCHED, x_T(), steps=25, eta=0.0, generator=gen(123))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("c", [0.3, -0.9])
def test_point_mass_oracle_returns_c(name, clip, c):
    steps = {"ddpm": None, "distilled": 4}.get(name, 50)
    out = sample(name, oracle_point_mass(SCHED, c), SCHED, x_T(), steps=steps,
                 generator=gen(2), clip_x0=clip, eta=1.0)
    assert torch.allclose(out, torch.full_like(out, c), atol=1e-5)


def test_sdedit_start_from_t_start():
    c = 0.5
    steps = list(iter_ddpm(oracle_point_mass(SCHED, c), SCHED, x_T(), t_start=300, generator=gen(0)))
    assert steps[0].t == 300 and len(steps) == 301
    assert torch.allclose(steps[-1].x_t, torch.full_like(steps[-1].x_t, c), atol=1e-5)


@pytest.mark.parametrize("steps, t_start", [(None, None), (7, None), (10, None), (4, 17), (None, 20)])
@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
@pytest.mark.parametrize("clip", [True, False])
def test_ddpm_steps_by_the_gaussian_posterior_of_each_jump(steps, t_start, variance, clip):
    """DDPM, respaced or not, = the posterior of x_s given x_t and x̂_0 for each kept jump t -> s,
    written here by conditioning the Gaussian pair (x_s, x_t) | x_0, from ᾱ alone (float64):
    mean √ᾱ_s x̂_0 + c (x_t - √ᾱ_t x̂_0), c = Cov(x_s, x_t)/Var(x_t) = √(ᾱ_t/ᾱ_s)(1-ᾱ_s)/(1-ᾱ_t),
    variance (1-ᾱ_s) - c² (1-ᾱ_t) for "beta_tilde", 1 - ᾱ_t/ᾱ_s for "beta"; no noise into s = 0."""
    s = NoiseSchedule.named("cosine", T=30)
    x = x_T(3, (2, 5))
    got = list(iter_ddpm(dummy_eps, s, x, t_start=t_start, generator=gen(9), variance=variance,
                         steps=steps, clip_x0=clip))
    ts = timesteps_for(30, steps, t_start)
    assert [st.t for st in got] == ts.tolist()
    g, xt = gen(9), x.double()
    for i, (t, u) in enumerate(zip(ts[:-1].tolist(), ts[1:].tolist())):
        a_t, a_s = s.alpha_bar(t), s.alpha_bar(u)
        x0 = (xt - math.sqrt(1 - a_t) * dummy_eps(xt, t)) / math.sqrt(a_t)
        if clip:
            x0 = x0.clamp(-1, 1)
        c = math.sqrt(a_t / a_s) * (1 - a_s) / (1 - a_t)
        xt = math.sqrt(a_s) * x0 + c * (xt - math.sqrt(a_t) * x0)
        var = (1 - a_s) - c * c * (1 - a_t) if variance == "beta_tilde" else 1 - a_t / a_s
        if u > 0:
            xt = xt + math.sqrt(var) * torch.randn(x.shape, generator=g).double()
        torch.testing.assert_close(got[i + 1].x_t, xt.float(), rtol=1e-5, atol=1e-5)


def test_ddpm_bad_variance():
    with pytest.raises(ValueError, match="variance"):
        next(iter_ddpm(dummy_eps, SCHED, x_T(), variance="large"))
    with pytest.raises(ValueError, match="sampler"):
        iter_sampler("euler", dummy_eps, SCHED, x_T())
    with pytest.raises(ValueError, match="eta"):
        next(iter_ddim(dummy_eps, SCHED, x_T(), eta=-1))


def test_ode_solvers_converge_to_the_exact_flow():
    """For x_0 ~ N(m, s²) the probability-flow ODE keeps (x_t - √ᾱ m)/√(ᾱ s² + 1 - ᾱ) fixed."""
    m, s = 0.2, 0.3
    eps = oracle_gaussian(SCHED, m, s)
    x = x_T(4)
    a = SCHED.alpha_bar_T
    exact = m + s * (x - math.sqrt(a) * m) / math.sqrt(a * s * s + 1 - a)
    ddim = sample("ddim", eps, SCHED, x, steps=1000, clip_x0=False)
    dpm100 = sample("dpmpp", eps, SCHED, x, steps=100, clip_x0=False)
    dpm20 = sample("dpmpp", eps, SCHED, x, steps=20, clip_x0=False)
    err = lambda y: (y - exact).abs().max().item()  # noqa: E731
    assert err(ddim) < 1e-2 and err(dpm100) < 3e-3
    assert (ddim - dpm100).abs().max() < 1e-2
    # second order beats first order at equal cost
    assert err(dpm20) < err(sample("ddim", eps, SCHED, x, steps=20, clip_x0=False))


class FakeModel(torch.nn.Module):
    null_label = 10

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x, log_snr, labels):
        self.calls.append((x.shape[0], log_snr.clone(), None if labels is None else labels.clone()))
        lab = torch.full((x.shape[0],), 10) if labels is None else labels
        return x * 0 + lab.float().view(-1, *[1] * (x.dim() - 1))


def test_make_eps_fn_guidance_in_one_batched_call():
    model = FakeModel()
    x = x_T(0, (4, 1, 2, 2))
    fn = make_eps_fn(model, SCHED, labels=3, guidance=2.5)
    eps = fn(x, 17)
    assert len(model.calls) == 1
    b, lam, labels = model.calls[0]
    assert b == 8 and labels.tolist() == [3] * 4 + [10] * 4
    assert torch.allclose(lam, torch.full((8,), float(SCHED.log_snr[16])))
    assert torch.allclose(eps, torch.full_like(x, 10 + 2.5 * (3 - 10)))
    # w = 1: conditional only; w = 0 or no labels: unconditional only
    make_eps_fn(model, SCHED, labels=torch.tensor([1, 2, 3, 4]))(x, 1)
    assert model.calls[-1][0] == 4 and model.calls[-1][2].tolist() == [1, 2, 3, 4]
    make_eps_fn(model, SCHED, labels=5, guidance=0.0)(x, 1)
    assert model.calls[-1][2] is None
    make_eps_fn(model, SCHED)(x, 1)
    assert model.calls[-1][2] is None


def test_sampler_with_make_eps_fn_runs():
    model = FakeModel()
    out = sample("dpmpp", make_eps_fn(model, SCHED, labels=1, guidance=3.0), SCHED,
                 x_T(0, (2, 1, 4, 4)), steps=4)
    assert out.shape == (2, 1, 4, 4) and len(model.calls) == 4



@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmpp"])
def test_step_terms_are_the_numbers_the_sampler_runs_with(name):
    """A view shows each step's equation with `step_terms`; rebuilding the step from those
    numbers gives the sampler's own x_s (deterministic samplers; DDPM without its noise)."""
    from ddpm_desktop.core.sampling import step_terms, timesteps_for

    schedule = NoiseSchedule.named("linear", 200)
    g = torch.Generator().manual_seed(3)
    x_T = torch.randn((1, 1, 28, 28), generator=g)
    steps = 7

    def eps_fn(x, t):
        return 0.3 * x + 0.01 * t / 200

    kwargs = {"eta": 0.0} if name == "ddim" else {}
    if name == "ddpm":
        kwargs["generator"] = torch.Generator().manual_seed(0)
    frames = list(iter_sampler(name, eps_fn, schedule, x_T, steps=steps, clip_x0=False, **kwargs))
    ts = timesteps_for(schedule.T, steps)
    x0_prev = None
    for i in range(len(ts) - 1):
        terms = step_terms(name, schedule, ts, i, eta=0.0)
        x = frames[i].x_t.double()
        eps = eps_fn(x, terms["t"])
        x0 = (x - terms["sqrt_1m_ab_t"] * eps) / terms["sqrt_ab_t"]
        if name == "ddpm":
            mean = terms["coef1"] * x0 + terms["coef2"] * x
            if terms["s"] == 0:
                torch.testing.assert_close(frames[i + 1].x_t.double(), mean, atol=1e-4, rtol=0)
            else:  # the sampler adds sigma z: its residual is that, of that size
                z = (frames[i + 1].x_t.double() - mean) / terms["sigma"]
                assert 0.8 < float(z.std()) < 1.2
        elif name == "ddim":
            x_s = terms["sqrt_ab_s"] * x0 + terms["dir_coef"] * eps
            torch.testing.assert_close(frames[i + 1].x_t.double(), x_s, atol=1e-4, rtol=0)
        else:
            if terms["s"] == 0:
                x_s = x0
            else:
                d = x0 if terms["r"] is None else \
                    (1 + 0.5 / terms["r"]) * x0 - (0.5 / terms["r"]) * x0_prev
                x_s = terms["ratio"] * x + terms["coef"] * d
            torch.testing.assert_close(frames[i + 1].x_t.double(), x_s, atol=1e-4, rtol=0)
        x0_prev = x0


def test_x0_and_eps_formulas_invert_each_other_and_match_q_sample():
    """x_t = √ᾱ x_0 + √(1-ᾱ) ε (eq. 4) solved either way gives back what went in."""
    from ddpm_desktop.core.forward import q_sample
    from ddpm_desktop.core.sampling import eps_from_x0, x0_from_eps

    g = torch.Generator().manual_seed(3)
    x0 = torch.rand((2, 1, 28, 28), generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = 400
    x_t = q_sample(SCHED, x0, t, eps.clone())
    a, s = math.sqrt(SCHED.alpha_bar(t)), math.sqrt(1.0 - SCHED.alpha_bar(t))
    torch.testing.assert_close(x0_from_eps(x_t, eps, a, s), x0, rtol=0, atol=1e-5)
    torch.testing.assert_close(eps_from_x0(x_t, x0, a, s), eps, rtol=0, atol=1e-5)
    assert float(x0_from_eps(x_t, 50 * eps, a, s, clip=True).abs().max()) <= 1.0


@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_ddim_step_is_the_step_iter_ddim_takes(eta):
    from ddpm_desktop.core.sampling import ddim_step, iter_ddim

    def eps_fn(x, t):
        return 0.3 * x + 0.01 * t / SCHED.T

    x_T = torch.randn((2, 1, 28, 28), generator=torch.Generator().manual_seed(1))
    steps = list(iter_ddim(eps_fn, SCHED, x_T, steps=5, eta=eta, generator=torch.Generator().manual_seed(2)))
    x, g = x_T.clone(), torch.Generator().manual_seed(2)
    for before, after in zip(steps, steps[1:]):
        x, x0 = ddim_step(eps_fn, SCHED, x, before.t, after.t, eta, g)
        assert torch.equal(x, after.x_t) and torch.equal(x0, after.x0_pred)
