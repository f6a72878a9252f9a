"""The distilled sampler and the distillation maths (core.distill) against closed forms."""
import math

import pytest
import torch
from torch import nn

from ddpm_desktop.core import distill
from ddpm_desktop.core.model import ModelConfig, UNet
from ddpm_desktop.core.sampling import ddim_step, iter_ddim, iter_sampler, make_eps_fn, timesteps_for
from ddpm_desktop.core.schedule import NoiseSchedule

SCHEDULE = NoiseSchedule.default()


class PointMass(nn.Module):
    """The exact ε (or v) of data that is one image c: ε(x_t) = (x_t − α_t c)/σ_t, v = (α_t x_t − c)/σ_t.

    With it every DDIM step recovers x̂_0 = c exactly, so any distillation target is c."""

    def __init__(self, c: torch.Tensor, out: str = "eps"):
        super().__init__()
        self.c, self.out = c, out
        self.config = ModelConfig()

    def forward(self, x, log_snr, labels=None):
        alpha, sigma = distill.alpha_sigma(torch.as_tensor(log_snr, dtype=torch.float32).expand(x.shape[0]))
        a, s = alpha[:, None, None, None], sigma[:, None, None, None]
        if self.out == "eps":
            return (x - a * self.c) / s
        return (a * x - self.c) / s


def _counting(eps_fn):
    calls = []

    def fn(x, t):
        calls.append(t)
        return eps_fn(x, t)

    return fn, calls


@pytest.mark.parametrize("steps", [1, 2, 3, 4])
def test_distilled_nfe_equals_steps(steps):
    eps_fn, calls = _counting(lambda x, t: 0.3 * x)
    x_T = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    states = list(iter_sampler("distilled", eps_fn, SCHEDULE, x_T, steps=steps))
    assert states[-1].nfe == steps == len(calls) and states[-1].t == 0
    assert [s.t for s in states] == timesteps_for(SCHEDULE.T, steps).tolist()


def test_distilled_from_a_noised_digit_starts_at_t_start():
    eps_fn, calls = _counting(lambda x, t: 0.3 * x)
    states = list(iter_sampler("distilled", eps_fn, SCHEDULE, torch.zeros(1, 1, 28, 28), steps=2, t_start=300))
    assert calls == [300, 150] and states[0].t == 300 and states[-1].t == 0


@pytest.mark.parametrize("steps", [0, 5, 20])
def test_distilled_refuses_steps_outside_1_to_4(steps):
    with pytest.raises(ValueError, match="1..4"):
        iter_sampler("distilled", lambda x, t: x, SCHEDULE, torch.zeros(1, 1, 28, 28), steps=steps)


@pytest.mark.slow
def test_one_step_student_that_is_the_teacher_is_ddims_one_step_closed_form():
    torch.manual_seed(0)
    teacher = UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False))
    for p in teacher.parameters():   # a network whose output is not zero (zero-initialised last conv)
        nn.init.normal_(p, std=0.05)
    student = distill.StudentNet(teacher, prediction="eps")
    x_T = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 4, 10])
    got = list(iter_sampler("distilled", make_eps_fn(student, SCHEDULE, labels, 1.0), SCHEDULE, x_T, steps=1))
    ab_T = float(SCHEDULE.alphas_cumprod[-1])
    lam = torch.full((3,), float(SCHEDULE.log_snr[-1]))
    with torch.no_grad():
        eps = teacher(x_T, lam, labels)
    # DDIM (Song et al. 2021, eq. 12) from T to 0: x_0 = clip((x_T − √(1−ᾱ_T) ε)/√ᾱ_T)
    expected = ((x_T - math.sqrt(1 - ab_T) * eps) / math.sqrt(ab_T)).clamp(-1, 1)
    torch.testing.assert_close(got[-1].x_t, expected, rtol=1e-5, atol=1e-5)
    ddim = list(iter_ddim(make_eps_fn(teacher, SCHEDULE, labels, 1.0), SCHEDULE, x_T, steps=1))
    torch.testing.assert_close(got[-1].x_t, ddim[-1].x_t)


def test_student_v_output_gives_x0_alpha_x_minus_sigma_v():
    net = PointMass(torch.zeros(1, 1, 28, 28), out="v")
    torch.manual_seed(2)
    v = torch.randn(2, 1, 28, 28)
    net.forward = lambda x, lam, y=None: v     # the raw output, whatever it is
    student = distill.StudentNet(net, prediction="v")
    x = torch.randn(2, 1, 28, 28)
    lam = torch.full((2,), 0.7)
    a, s = math.sqrt(1 / (1 + math.exp(-0.7))), math.sqrt(1 / (1 + math.exp(0.7)))
    eps = student(x, lam)
    torch.testing.assert_close((x - s * eps) / a, a * x - s * v, rtol=1e-5, atol=1e-5)


def test_progressive_target_makes_one_step_land_on_the_two_step_end():
    g = torch.Generator().manual_seed(3)
    x_t, x_end = torch.randn(2, 1, 28, 28, generator=g), torch.randn(2, 1, 28, 28, generator=g)
    t, t_end = 750, 500
    target = distill.progressive_target(SCHEDULE, x_t, x_end, t, t_end)
    a_t, s_t = math.sqrt(SCHEDULE.alphas_cumprod[t - 1]), math.sqrt(1 - SCHEDULE.alphas_cumprod[t - 1])
    a_e, s_e = math.sqrt(SCHEDULE.alphas_cumprod[t_end - 1]), math.sqrt(1 - SCHEDULE.alphas_cumprod[t_end - 1])
    eps = (x_t - a_t * target) / s_t
    torch.testing.assert_close(a_e * target + s_e * eps, x_end, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_progressive_loss_is_zero_when_student_is_the_exact_teacher(prediction):
    """Point-mass data: two teacher DDIM steps land on α c + σ ε, the target x̃ is c, and a
    student that is the same exact model has zero loss (in either parametrisation)."""
    c = torch.linspace(-0.9, 0.9, 784).reshape(1, 1, 28, 28)
    teacher = PointMass(c, "eps")
    eps_fn = make_eps_fn(teacher, SCHEDULE, None, 1.0)
    grid = timesteps_for(SCHEDULE.T, 4)
    t, t_mid, t_end = int(grid[0]), int(grid[1]), int(grid[2])
    ab = float(SCHEDULE.alphas_cumprod[t - 1])
    x_t = math.sqrt(ab) * c + math.sqrt(1 - ab) * torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    x_mid, _ = ddim_step(eps_fn, SCHEDULE, x_t, t, t_mid)
    x_end, _ = ddim_step(eps_fn, SCHEDULE, x_mid, t_mid, t_end)
    target = distill.progressive_target(SCHEDULE, x_t, x_end, t, t_end)
    torch.testing.assert_close(target, c.expand_as(target), rtol=1e-3, atol=1e-3)
    lam = torch.full((2,), float(SCHEDULE.log_snr[t - 1]))
    loss = distill.distill_loss(PointMass(c, prediction), prediction, x_t, lam, None, target)
    assert float(loss) < 1e-6
    # and a student that is off by δ in x̂_0 pays (1 + SNR) δ² with v (Salimans & Ho's weighting)
    if prediction == "v":
        delta = 0.1
        off = distill.distill_loss(PointMass(c + delta, "v"), "v", x_t, lam, None, target)
        snr = math.exp(float(lam[0]))
        assert float(off) == pytest.approx((1 + snr) * delta ** 2, rel=1e-3)


@pytest.mark.slow
def test_direct_and_progressive_runs_take_steps_and_resume_exactly():
    torch.manual_seed(0)
    teacher = UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False))
    cfg = distill.DistillConfig(method="direct", steps=3, batch_size=4, pairs=6, pair_batch=4, teacher_steps=4)
    a = distill.Distiller(cfg, teacher, SCHEDULE)
    events = list(a.iter_distill())
    assert [e.phase for e in events] == ["pairs", "pairs", "train", "train", "train"]
    assert a.pair_x.shape == (6, 4, 1, 28, 28) and a.pair_x0.shape == (6, 1, 28, 28)
    # resume from the state after 3 steps and take 2 more = 5 steps straight through
    b = distill.Distiller(distill.DistillConfig(**{**cfg.to_dict(), "steps": 5}), teacher, SCHEDULE)
    b.load_state_dict(a.state_dict())
    list(b.iter_distill())
    c = distill.Distiller(distill.DistillConfig(**{**cfg.to_dict(), "steps": 5}), teacher, SCHEDULE)
    list(c.iter_distill())
    for pb, pc in zip(b.ema.parameters(), c.ema.parameters()):
        torch.testing.assert_close(pb, pc)

    data = (torch.rand(8, 1, 28, 28) * 2 - 1, torch.arange(8) % 10)
    pd = distill.Distiller(distill.DistillConfig(method="progressive", steps=4, batch_size=2,
                                                 pd_start_steps=4, pd_round_steps=2), teacher, SCHEDULE, data)
    events = list(pd.iter_distill())
    assert [e.student_steps for e in events] == [2, 2, 1, 1] and math.isfinite(events[-1].loss)


def test_load_student_refuses_a_plain_model(tmp_path):
    from ddpm_desktop.core.checkpoint import CheckpointError, save_weights

    model = UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False))
    path = save_weights(tmp_path / "plain.safetensors", model)
    with pytest.raises(CheckpointError, match="not a distilled student"):
        distill.load_student(path)
    save_weights(tmp_path / "s.safetensors", model, extra={"distill": {"guidance": 1.5}, "prediction": "v"})
    student, meta = distill.load_student(tmp_path / "s.safetensors")
    assert student.prediction == "v" and student.guidance == 1.5


def test_a_warm_start_begins_at_the_given_student_and_refuses_another_architecture():
    small = ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=32, groups=4, attention=False)
    torch.manual_seed(0)
    teacher, previous = UNet(small), UNet(small)
    cfg = distill.DistillConfig(method="direct", steps=1, batch_size=4, pairs=4, pair_batch=4, teacher_steps=4)
    d = distill.Distiller(cfg, teacher, SCHEDULE, init=previous)
    for ps, pe, pp, pt in zip(d.student.parameters(), d.ema.parameters(), previous.parameters(),
                              teacher.parameters()):
        torch.testing.assert_close(ps, pp)
        torch.testing.assert_close(pe, pp)
    assert any(not torch.equal(pp, pt) for pp, pt in zip(previous.parameters(), teacher.parameters()))
    # the trajectories are still the teacher's: the targets do not depend on the start
    cold = distill.Distiller(cfg, teacher, SCHEDULE)
    list(d.iter_distill()), list(cold.iter_distill())
    torch.testing.assert_close(d.pair_x0, cold.pair_x0)
    other = UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=16, groups=4, attention=False))
    with pytest.raises(ValueError, match="architecture"):
        distill.Distiller(cfg, teacher, SCHEDULE, init=other)
