"""N completions of one x_t (core.completions): completion k is the plain sampler run with seed
seed + k, the batch gives different digits only with a stochastic sampler, bad n is refused."""
import numpy as np
import pytest
import torch

from ddpm_desktop.core.completions import completions, deterministic_problem, iter_completions
from ddpm_desktop.core.model import ModelConfig, UNet
from ddpm_desktop.core.sampling import generator_for, make_eps_fn, sample
from ddpm_desktop.core.schedule import NoiseSchedule

SCHED = NoiseSchedule.named("linear", 200)
TINY_MODEL = ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False)


def eps_linear(x, t):
    # a pure per-pixel function: the batch and a single run compute the same numbers exactly
    return 0.3 * x + 0.01 * t / 200


def x_t():
    return torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("sampler, eta", [("ddpm", 0.0), ("ddim", 0.7)])
def test_completion_k_is_the_single_run_with_seed_plus_k(sampler, eta):
    x = x_t()
    before = x.clone()
    batch = completions(eps_linear, SCHED, x, 120, 4, sampler=sampler, steps=9, seed=11, eta=eta)
    assert batch.shape == (4, 1, 28, 28)
    assert torch.equal(x, before)                  # the caller's x_t is not written to
    for k in range(4):
        alone = sample(sampler, eps_linear, SCHED, x.clone(), steps=9, t_start=120,
                       generator=generator_for(11 + k), eta=eta)
        assert torch.equal(batch[k], alone[0])
    # different seeds, different completions
    assert not torch.equal(batch[0], batch[1])


def test_completions_of_a_real_network_match_single_runs():
    torch.manual_seed(0)
    model = UNet(TINY_MODEL).eval()
    eps = make_eps_fn(model, SCHED)
    batch = completions(eps, SCHED, x_t()[0, 0], 60, 3, sampler="ddpm", steps=5, seed=0)
    for k in range(3):
        alone = sample("ddpm", eps, SCHED, x_t(), steps=5, t_start=60, generator=generator_for(k))
        np.testing.assert_allclose(batch[k].numpy(), alone[0].numpy(), atol=1e-4)


def test_iter_completions_yields_the_chain_from_t():
    steps = list(iter_completions(eps_linear, SCHED, x_t(), 50, 2, steps=5, seed=0))
    assert [s.t for s in steps] == [50, 40, 30, 20, 10, 0]
    assert steps[-1].nfe == 5 and steps[0].x_t.shape == (2, 1, 28, 28)


def test_deterministic_samplers_are_refused_for_more_than_one():
    assert deterministic_problem("dpmpp", 0.0, 4) and deterministic_problem("ddim", 0.0, 2)
    assert deterministic_problem("ddim", 0.5, 4) is None and deterministic_problem("dpmpp", 0.0, 1) is None
    with pytest.raises(ValueError, match="deterministic"):
        completions(eps_linear, SCHED, x_t(), 50, 2, sampler="dpmpp")
    one = completions(eps_linear, SCHED, x_t(), 50, 1, sampler="dpmpp", steps=4)
    assert torch.equal(one, sample("dpmpp", eps_linear, SCHED, x_t(), steps=4, t_start=50))


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_n_is_refused(n):
    with pytest.raises(ValueError, match="n ="):
        completions(eps_linear, SCHED, x_t(), 50, n)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="x_t must be one image"):
        completions(eps_linear, SCHED, torch.zeros(2, 1, 28, 28), 50, 2)
    with pytest.raises(ValueError, match="seed"):
        completions(eps_linear, SCHED, x_t(), 50, 3, seed=2**63 - 2)
    with pytest.raises(ValueError, match="sampler"):
        completions(eps_linear, SCHED, x_t(), 50, 3, sampler="euler")
