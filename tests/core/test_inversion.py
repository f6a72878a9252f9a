"""DDIM inversion against the closed-form flow of Gaussian data, and a round trip on the bundled model."""
import math

import numpy as np
import pytest
import torch

from ddpm_desktop.core.inversion import (
    ddim_decode,
    ddim_invert,
    inversion_timesteps,
    iter_ddim_inversion,
    round_trip,
)
from ddpm_desktop.core.sampling import timesteps_for
from ddpm_desktop.core.schedule import NoiseSchedule

MU, S = 0.3, 0.5  # x_0 ~ N(MU, S²) in every pixel


def _gaussian_eps(schedule):
    """E[ε | x_t] for x_0 ~ N(MU, S²) per dimension: σ (x - α MU)/(α² S² + σ²), float64."""
    def eps_fn(x, t):
        ab = float(schedule.alphas_cumprod[t - 1])
        a, s = math.sqrt(ab), math.sqrt(1.0 - ab)
        return s * (x - a * MU) / (ab * S * S + 1.0 - ab)
    return eps_fn


def _flow(schedule, x0):
    """The probability-flow ODE's map x_0 -> x_T for Gaussian data (x̄ - MU ∝ √(S² + σ̄²))."""
    ab = schedule.alpha_bar_T
    return math.sqrt(ab) * MU + math.sqrt(ab * S * S + 1.0 - ab) * (x0 - MU) / S


@pytest.fixture(scope="module")
def bundled_model():
    from ddpm_desktop.core.checkpoint import bundled_model_path, load_model

    return load_model(bundled_model_path())[0]


@pytest.fixture
def gaussian_x0():
    g = torch.Generator().manual_seed(0)
    return MU + S * torch.randn(4, 1, 28, 28, generator=g, dtype=torch.float64)


def test_inversion_timesteps_are_the_decoders_reversed():
    ts = inversion_timesteps(1000, 20)
    assert ts[0] == 0 and ts[-1] == 1000 and np.all(np.diff(ts) > 0)
    assert np.array_equal(ts[::-1], timesteps_for(1000, 20))


def test_x_T_follows_the_exact_flow_of_gaussian_data(gaussian_x0):
    schedule = NoiseSchedule.default()
    x_T = ddim_invert(_gaussian_eps(schedule), schedule, gaussian_x0, steps=None, refine=3)
    expect = _flow(schedule, gaussian_x0)
    # Euler in σ̄ over 1000 steps: the discretisation error is under 1% of x_T's scale
    assert float((x_T - expect).abs().max()) < 1e-2 * float(expect.abs().max())
    # refinement solves each implicit step; what is left is the step size's error, larger at 50 steps
    coarse = ddim_invert(_gaussian_eps(schedule), schedule, gaussian_x0, steps=50, refine=3)
    assert float((coarse - expect).abs().max()) > float((x_T - expect).abs().max())


@pytest.mark.parametrize("steps", [5, 50])
def test_refined_inversion_is_exactly_undone_by_ddim(gaussian_x0, steps):
    schedule = NoiseSchedule.default()
    eps_fn = _gaussian_eps(schedule)
    x_T = ddim_invert(eps_fn, schedule, gaussian_x0, steps=steps, refine=60)
    back = ddim_decode(eps_fn, schedule, x_T, steps=steps)
    assert float((back - gaussian_x0).abs().max()) < 1e-6
    # without refinement the round trip is only approximate at few steps
    plain = ddim_decode(eps_fn, schedule, ddim_invert(eps_fn, schedule, gaussian_x0, steps=5, refine=0), steps=5)
    assert float((plain - gaussian_x0).abs().max()) > 1e-4


def test_iter_inversion_yields_every_step_and_counts_calls(gaussian_x0):
    schedule = NoiseSchedule.default()
    states = list(iter_ddim_inversion(_gaussian_eps(schedule), schedule, gaussian_x0, steps=4, refine=2))
    assert [s.t for s in states] == [0, 250, 500, 750, 1000]
    assert [s.nfe for s in states] == [0, 3, 6, 9, 12]
    assert torch.equal(states[0].x, gaussian_x0)
    with pytest.raises(ValueError):
        next(iter_ddim_inversion(_gaussian_eps(schedule), schedule, gaussian_x0, refine=-1))


def test_bundled_model_round_trip_on_held_out_digits(bundled_model):
    from ddpm_desktop.core import imaging
    from ddpm_desktop.core.data import load_bundled_mnist
    from ddpm_desktop.core.sampling import make_eps_fn

    schedule = NoiseSchedule.default()
    x0 = torch.as_tensor(imaging.to_model_range(load_bundled_mnist("test").images[[0, 500]]))[:, None]
    result = round_trip(make_eps_fn(bundled_model, schedule), schedule, x0)
    assert result.mse.shape == (2,)
    assert np.all(result.mse < 2e-3)
    assert result.nfe == 20 * 3 + 20  # 20 steps, each 1 + 2 refinements; 20 to decode
