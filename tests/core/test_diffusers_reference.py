"""Our samplers against diffusers' schedulers: the same x_T, the same ε network and, where noise is
drawn, generators seeded alike, must give the same images (max |Δ| <= 1e-4).

diffusers is the independent reference (its own float32 coefficients, its own step code); the
schedulers are configured by bench/diffusers_compare.py's `make_scheduler`, so this test and the
benchmark compare the same thing. Our 1-based t is diffusers' 0-based k + 1 (core/sampling.py).

Where diffusers cannot express our chain, the test says so and uses the exact equivalent:
- DDIMScheduler steps from k to k - T // steps, which is the next trailing step only when steps
  divides T. For other step counts the reference is diffusers' first-order DPM-Solver++
  (solver_order=1), which is DDIM with η = 0 (Lu et al. 2022, "DPM-Solver++", §4: the
  first-order update is DDIM's), clipping included: with `use_clipped_model_output` DDIM
  re-derives ε from the clipped x̂_0, and x_s = (σ_s/σ_t) x + (α_s - σ_s α_t/σ_t) x̂_0 either way.
- DDPMScheduler with fewer than T steps ends at k = T/steps - 1 > 0, so its `if t > 0` adds noise
  of variance 1 - ᾱ_k on the last step (σ² = β), where ours adds none. There the test compares
  our final image with the mean diffusers adds that noise to (`pred_original_sample`, since
  ᾱ_prev = 1) and the state before it with diffusers' state. With σ² = β̃ that noise is
  √1e-20 (diffusers clamps β̃ = 0 to 1e-20) and the final images compare directly.
"""
import math

import pytest
import torch

from bench.diffusers_compare import make_scheduler
from ddpm_desktop.core.sampling import iter_ddim, iter_ddpm, iter_dpmpp_2m, timesteps_for
from ddpm_desktop.core.schedule import NoiseSchedule

# The whole module is in the slow tier: importing diffusers (torch._dynamo with it) costs 6 s of
# CPU, paid at collection when it was imported here at the top, selected or not. The quick tier
# checks the same samplers against their own oracles in test_sampling.py (each jump against the
# Gaussian posterior, DDIM and DPM-Solver++ against the exact flow of Gaussian data).
# diffusers 0.42.1's DPM-Solver builds its sigmas with np.array(tensor ** 0.5), which numpy 2 flags.
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]


@pytest.fixture(scope="module", autouse=True)
def _diffusers():
    """make_scheduler imports diffusers when called; without it, every test here skips."""
    return pytest.importorskip(
        "diffusers", reason="diffusers is not installed; it comes with the test extra: "
                            "pip install -c constraints.txt -e '.[test]'")

ATOL = 1e-4
SCHED = NoiseSchedule.default()
SHAPE = (2, 1, 28, 28)
_N = SHAPE[1] * SHAPE[2] * SHAPE[3]
# A fixed random linear map mixing every pixel, on top of diffusers' scheduler-test dummy
# `sample * t / (t + 1)`: a network that depends on t and on the whole image.
_W = 0.3 * torch.randn((_N, _N), generator=torch.Generator().manual_seed(11)) / math.sqrt(_N)


def eps_model(x, t):
    """ε̂(x_t, t) for our 1-based t."""
    return x * t / (t + 1) + (x.flatten(1) @ _W).view_as(x)


def x_T():
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))


def gen():
    return torch.Generator().manual_seed(7)


def ours(it):
    return [s.x_t for s in it]


def theirs(sched, steps, generator=None, **step_kwargs):
    """diffusers' loop: every state x_T, ..., and the last step's output (for pred_original_sample)."""
    sched.set_timesteps(steps)
    # The precondition of every comparison: the same steps (ours end at t = 0, diffusers' at -1).
    assert (sched.timesteps + 1).tolist() == timesteps_for(SCHED.T, steps)[:-1].tolist()
    x = x_T()
    states, out = [x], None
    with torch.inference_mode():
        for k in sched.timesteps:
            out = sched.step(eps_model(x, int(k) + 1), k, x, generator=generator, **step_kwargs)
            x = out.prev_sample
            states.append(x)
    return states, out


def max_abs(a, b) -> float:
    return float((a - b).abs().max())


@pytest.mark.parametrize("steps", [1000, 10, 7])
@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
@pytest.mark.parametrize("clip", [True, False])
def test_ddpm_matches_diffusers_ddpm_scheduler(steps, variance, clip):
    got = ours(iter_ddpm(eps_model, SCHED, x_T(), generator=gen(), variance=variance, steps=steps,
                         clip_x0=clip))
    states, last = theirs(make_scheduler("ddpm", clip, variance), steps, generator=gen())
    assert len(got) == len(states) == steps + 1
    if variance == "beta" and steps < SCHED.T:
        # diffusers adds noise on its last step (see the module docstring): compare up to it.
        assert max_abs(got[-2], states[-2]) <= ATOL
        assert max_abs(got[-1], last.pred_original_sample) <= ATOL
        assert max_abs(got[-1], states[-1]) > 0.1   # that noise is really there
    else:
        assert max_abs(got[-1], states[-1]) <= ATOL


@pytest.mark.parametrize("steps", [10, 50])
@pytest.mark.parametrize("eta", [0.0, 1.0])
@pytest.mark.parametrize("clip", [True, False])
def test_ddim_matches_diffusers_ddim_scheduler(steps, eta, clip):
    got = ours(iter_ddim(eps_model, SCHED, x_T(), steps=steps, eta=eta, generator=gen(), clip_x0=clip))
    # use_clipped_model_output=True: ε re-derived from the clipped x̂_0, as iter_ddim does.
    states, _ = theirs(make_scheduler("ddim", clip), steps, generator=gen(), eta=eta,
                       use_clipped_model_output=True)
    assert max_abs(got[-1], states[-1]) <= ATOL


@pytest.mark.parametrize("steps", [7, 13])
@pytest.mark.parametrize("clip", [True, False])
def test_ddim_at_steps_not_dividing_T_matches_first_order_dpm_solver(steps, clip):
    got = ours(iter_ddim(eps_model, SCHED, x_T(), steps=steps, eta=0.0, clip_x0=clip))
    base = make_scheduler("dpmpp", clip)
    sched = type(base).from_config(base.config, solver_order=1)
    states, _ = theirs(sched, steps)
    assert max_abs(got[-1], states[-1]) <= ATOL


@pytest.mark.parametrize("steps", [10, 20, 7, 13])
@pytest.mark.parametrize("clip", [True, False])
def test_dpmpp_2m_matches_diffusers_dpm_solver_multistep(steps, clip):
    got = ours(iter_dpmpp_2m(eps_model, SCHED, x_T(), steps=steps, clip_x0=clip))
    states, _ = theirs(make_scheduler("dpmpp", clip), steps)
    assert max_abs(got[-1], states[-1]) <= ATOL


def test_the_reference_can_tell_samplers_apart():
    """The comparison is not vacuous: DPM-Solver++(2M) and DDIM differ by far more than ATOL."""
    dpm = ours(iter_dpmpp_2m(eps_model, SCHED, x_T(), steps=10, clip_x0=False))[-1]
    ddim, _ = theirs(make_scheduler("ddim", False), 10, eta=0.0, use_clipped_model_output=True)
    assert max_abs(dpm, ddim[-1]) > 100 * ATOL
