"""core.run: the plan of a reverse run, checked against the samplers themselves (the t's and
network calls a run with a counting ε-function really makes) and against the rules written
out by hand (start, step cap, guidance)."""
from __future__ import annotations

import pytest
import torch

from ddpm_desktop.core.run import SamplerSettings, is_guided, plan_run
from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn
from ddpm_desktop.core.schedule import NoiseSchedule


class CountingNet(torch.nn.Module):
    """A stand-in ε-network (the UNet's call signature) that counts rows evaluated."""

    def __init__(self) -> None:
        super().__init__()
        self.rows = 0

    def forward(self, x, log_snr, labels=None):
        self.rows += x.shape[0]
        return 0.1 * x


def _run(settings: SamplerSettings, T: int, from_t=None):
    """What a run of `settings` really does: per lane, the t's visited and the network rows."""
    schedule = NoiseSchedule.named("linear", T)
    plan = plan_run(settings, T, from_t=from_t)
    out = []
    for lane in plan.lanes:
        net = CountingNet()
        guidance = 1.0 if lane.sampler == "distilled" else settings.guidance
        eps_fn = make_eps_fn(net, schedule, labels=settings.label, guidance=guidance)
        x = torch.zeros(1, 1, 4, 4)
        ts = [step.t for step in iter_sampler(lane.sampler, eps_fn, schedule, x, steps=lane.steps,
                                              t_start=plan.t_start,
                                              generator=torch.Generator().manual_seed(0))]
        out.append((tuple(ts), net.rows))
    return plan, out


@pytest.mark.parametrize("settings, T, from_t", [
    (SamplerSettings(sampler="ddpm", steps=None), 50, None),
    (SamplerSettings(sampler="ddpm", steps=10), 50, None),
    (SamplerSettings(sampler="dpmpp", steps=None), 100, None),
    (SamplerSettings(sampler="ddim", steps=500, source="input", t_start=30), 100, None),
    (SamplerSettings(sampler="ddim", steps=8, source="input", t_start=5000), 100, None),
    (SamplerSettings(sampler="ddpm", steps=7, compare=True, sampler_b="dpmpp"), 60, None),
    (SamplerSettings(sampler="ddim", steps=None, label=3, guidance=2.0), 40, None),
    (SamplerSettings(sampler="ddim", steps=12, label=3, guidance=1.0), 40, None),
    (SamplerSettings(sampler="distilled", steps=20, label=3, guidance=2.0, compare=True,
                     sampler_b="ddim"), 1000, None),
    (SamplerSettings(sampler="ddpm", steps=100), 1000, 25),
])
def test_the_plan_is_what_the_samplers_run(settings, T, from_t):
    plan, lanes = _run(settings, T, from_t)
    assert len(plan.lanes) == len(settings.lane_names())
    for lane, (ts, _rows) in zip(plan.lanes, lanes):
        assert lane.timesteps == ts
        assert ts[0] == plan.t_start and ts[-1] == 0
    assert plan.network_calls == sum(rows for _ts, rows in lanes)


def test_start_and_step_cap_rules():
    s = SamplerSettings(sampler="ddim", steps=50, source="input", t_start=30)
    plan = plan_run(s, 1000)
    assert (plan.t_start, plan.steps, plan.n_steps, plan.from_input) == (30, 30, 30, True)
    assert plan_run(s, 20).t_start == 20  # t_start clamped to T
    assert plan_run(s, 1000, from_t=7).t_start == 7 and not plan_run(s, 1000, from_t=7).from_input
    noise = plan_run(SamplerSettings(steps=None), 1000)
    assert (noise.t_start, noise.steps, noise.n_steps) == (1000, None, 1000)
    assert plan_run(SamplerSettings(sampler="dpmpp", steps=None), 1000).n_steps == 20
    # a distilled lane caps every lane at 4 steps (equal NFE), None included
    d = plan_run(SamplerSettings(sampler="ddpm", steps=None, compare=True,
                                 sampler_b="distilled"), 1000)
    assert [lane.n_steps for lane in d.lanes] == [4, 4] and d.has_distilled


@pytest.mark.parametrize("label, w, guided", [
    (None, 3.0, False), (2, 0.0, False), (2, 1.0, False), (2, 1.5, True), (0, 20.0, True)])
def test_guided_means_both_epsilons_are_needed(label, w, guided):
    assert is_guided(label, w) is guided
    plan = plan_run(SamplerSettings(sampler="ddim", steps=10, label=label, guidance=w), 100)
    assert plan.guided is guided
    assert plan.network_calls == 10 * (2 if guided else 1)


def test_unknown_sampler_is_one_line():
    with pytest.raises(ValueError, match="unknown sampler 'euler'"):
        plan_run(SamplerSettings(sampler="euler"), 100)
    with pytest.raises(ValueError, match="unknown sampler"):
        SamplerSettings(sampler_b="euler").validated()
