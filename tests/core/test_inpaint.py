"""Inpainting (core.inpaint): masks, the known pixels kept exactly, the hole filled correctly by
an exact denoiser of two-point data, NFE per method, RePaint's walk against diffusers."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.inpaint import (METHODS, check_mask, inpaint, iter_inpaint, load_mask, preset_mask,
                                       repaint_levels)
from ddpm_desktop.core.sampling import SampleStep, timesteps_for
from ddpm_desktop.core.schedule import NoiseSchedule

SCHED = NoiseSchedule.named("linear")
BOTTOM12 = preset_mask("bottom", 12)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def two_digits():
    """Two held-out digits of different classes (a 7 and a 0: different tops and bottoms), [-1, 1]."""
    test = load_bundled_mnist("test")
    a = test.images[int(np.flatnonzero(test.labels == 7)[0])]
    b = test.images[int(np.flatnonzero(test.labels == 0)[0])]
    return [torch.from_numpy(im.astype(np.float64) / 127.5 - 1.0) for im in (a, b)]


def oracle_mixture(schedule, images):
    """The exact ε̂ = E[ε|x_t] for data uniform on a few images c_i: E[x_0|x_t] = Σ w_i c_i with
    w ∝ exp(-|x_t - √ᾱ_t c_i|² / 2(1-ᾱ_t)), then ε̂ = (x_t - √ᾱ_t E[x_0|x_t]) / √(1-ᾱ_t)."""
    c = torch.stack(images).reshape(len(images), -1)            # [K, 784] float64

    def eps(x, t):
        a = schedule.alpha_bar(t)
        xf = x.reshape(len(x), -1).double()
        d2 = ((xf[:, None, :] - math.sqrt(a) * c[None]) ** 2).sum(-1)
        w = torch.softmax(-d2 / (2 * (1 - a)), dim=1)
        mean = w @ c
        return ((xf - math.sqrt(a) * mean) / math.sqrt(1 - a)).reshape(x.shape).float()
    return eps


def counting(eps_fn):
    calls = []

    def f(x, t):
        calls.append(t)
        return eps_fn(x, t)
    return f, calls


CASES = [("paste", "ddpm", 100), ("paste", "ddim", 50), ("paste", "dpmpp", 20), ("repaint", "ddpm", 50),
         ("x0", "ddpm", 100), ("x0", "ddim", 50), ("x0", "dpmpp", 20)]


# ----------------------------------------------------------------------------- masks


def test_presets_hide_the_named_side():
    assert (~BOTTOM12).sum() == 12 * 28 and not BOTTOM12[16:].any() and BOTTOM12[:16].all()
    assert not preset_mask("top")[:14].any() and preset_mask("top")[14:].all()
    assert not preset_mask("left")[:, :14].any() and preset_mask("left")[:, 14:].all()
    assert not preset_mask("right")[:, 14:].any() and preset_mask("right")[:, :14].all()
    with pytest.raises(ValueError, match="unknown mask preset"):
        preset_mask("middle")
    with pytest.raises(ValueError, match="rows"):
        preset_mask("top", 28)


@pytest.mark.parametrize("mask, match", [
    (np.ones((28, 28), bool), "every pixel as known"),
    (np.zeros((28, 28), bool), "no pixel as known"),
    (np.ones((27, 28), bool), "28x28"),
    (np.ones((2, 28, 28), bool), "28x28"),
    (np.full((28, 28), 0.5), "only 0/1"),
    (np.stack([BOTTOM12, np.ones((28, 28), bool)])[:, None], "every pixel as known"),
])
def test_bad_masks_refused(mask, match):
    with pytest.raises(ValueError, match=match) as info:
        check_mask(mask)
    assert "\n" not in str(info.value)


def test_load_mask_white_is_known(tmp_path):
    img = np.zeros((28, 28), np.uint8)
    img[:10] = 255
    img[10:12] = 200                       # light grey counts as white (>= 0.5)
    Image.fromarray(img).save(tmp_path / "m.png")
    known = load_mask(tmp_path / "m.png")
    assert known.dtype == bool and known[:12].all() and not known[12:].any()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match="32x32 pixels; it must be exactly 28x28"):
        load_mask(tmp_path / "big.png")
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(tmp_path / "white.png")
    with pytest.raises(ValueError, match="'white.png'.*every pixel"):
        load_mask(tmp_path / "white.png")
    with pytest.raises(ValueError, match="no such file"):
        load_mask(tmp_path / "missing.png")


# ----------------------------------------------------------------------------- the methods


@pytest.mark.parametrize("method, sampler, steps", CASES)
def test_known_pixels_end_exactly_as_given(method, sampler, steps):
    x0 = torch.rand((28, 28), generator=gen(1)) * 2 - 1
    x_T = torch.randn((3, 1, 28, 28), generator=gen(2))
    x_T_before = x_T.clone()
    dummy = lambda x, t: x * t / (t + 1)      # noqa: E731 - diffusers' scheduler-test model
    last = inpaint(method, dummy, SCHED, x0, BOTTOM12, x_T, sampler=sampler, steps=steps // 5,
                   generator=gen(3))
    known = torch.from_numpy(BOTTOM12).expand(3, 1, 28, 28)
    assert torch.equal(last.x_t[known], x0.expand(3, 1, 28, 28)[known])
    assert torch.equal(x_T, x_T_before)       # the caller's noise is not written to
    assert not torch.equal(last.x_t[~known], x0.expand(3, 1, 28, 28)[~known])


@pytest.mark.parametrize("method, sampler, steps", CASES)
def test_exact_denoiser_fills_the_hole_of_the_matching_digit(method, sampler, steps):
    # Data = {a, b}. Given a's top (b's for the second half of the batch) every completion must
    # be that digit's bottom: unconditional sampling would give either digit.
    a, b = two_digits()
    x0 = torch.stack([a, a, a, b, b, b]).float()[:, None]
    x_T = torch.randn((6, 1, 28, 28), generator=gen(4))
    eps, calls = counting(oracle_mixture(SCHED, [a, b]))
    steps_seen = []
    for step in iter_inpaint(method, eps, SCHED, x0, BOTTOM12, x_T, sampler=sampler, steps=steps,
                             generator=gen(5)):
        assert isinstance(step, SampleStep) and step.x_t.shape == (6, 1, 28, 28)
        steps_seen.append(step)
    last = steps_seen[-1]
    hole = torch.from_numpy(~BOTTOM12)
    err = (last.x_t[:, 0] - x0[:, 0]).abs()[:, hole]
    assert err.max() < 0.05, f"hole error {err.max():.3f}"
    assert steps_seen[0].index == 0 and steps_seen[0].nfe == 0
    assert last.index == last.total == len(steps_seen) - 1 and last.t == 0
    assert last.nfe == len(calls)


def test_the_hole_is_not_filled_by_the_data_alone():
    # The oracle test above can fail: plain DDIM sampling of the same data (no mask) from these
    # starts lands on both digits.
    from ddpm_desktop.core.sampling import sample

    a, b = two_digits()
    x_T = torch.randn((16, 1, 28, 28), generator=gen(4))
    out = sample("ddim", oracle_mixture(SCHED, [a, b]), SCHED, x_T, steps=50)
    near_a = ((out[:, 0] - a.float()).abs().amax((1, 2)) < 0.05).sum()
    near_b = ((out[:, 0] - b.float()).abs().amax((1, 2)) < 0.05).sum()
    assert near_a + near_b == 16 and 0 < near_a < 16


@pytest.mark.parametrize("method, sampler, steps, nfe", [
    ("paste", "ddpm", 40, 40), ("paste", "ddim", 25, 25), ("paste", "dpmpp", 10, 10),
    ("x0", "ddim", 25, 25), ("x0", "dpmpp", 10, 10),
    # RePaint: steps + (r - 1) j ⌈steps/j - 1⌉ = 50 + 2·5·9
    ("repaint", "ddpm", 50, 140)])
def test_nfe_per_method(method, sampler, steps, nfe):
    eps, calls = counting(lambda x, t: x * 0.1)
    x_T = torch.randn((2, 1, 28, 28), generator=gen(0))
    last = inpaint(method, eps, SCHED, torch.zeros(28, 28), BOTTOM12, x_T, sampler=sampler, steps=steps,
                   generator=gen(1), jump_length=5, resample=3)
    assert last.nfe == len(calls) == nfe


@pytest.mark.slow
@pytest.mark.parametrize("steps, j, r", [(50, 5, 3), (250, 10, 10), (20, 4, 1), (7, 3, 2)])
def test_repaint_walk_matches_diffusers(steps, j, r):
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.RePaintScheduler(num_train_timesteps=1000)
    sched.set_timesteps(steps, jump_length=j, jump_n_sample=r)
    # diffusers lists, 0-based and scaled by T // steps, the level each move reaches.
    theirs = sched.timesteps.numpy() // (1000 // steps)
    ours = repaint_levels(steps, j, r)
    assert ours[0] == steps and np.array_equal(ours[1:], theirs)
    assert (np.diff(ours) == -1).sum() == steps + (r - 1) * j * len(range(0, steps - j, j))


def test_repaint_visits_the_respaced_steps():
    eps, calls = counting(lambda x, t: x * 0.1)
    x_T = torch.randn((1, 1, 28, 28), generator=gen(0))
    inpaint("repaint", eps, SCHED, torch.zeros(28, 28), BOTTOM12, x_T, steps=10, generator=gen(1),
            jump_length=2, resample=2)
    assert set(calls) == set(timesteps_for(1000, 10)[:-1].tolist())


def test_bad_arguments():
    x_T = torch.randn((1, 1, 28, 28))
    with pytest.raises(ValueError, match="unknown inpainting method"):
        inpaint("blur", lambda x, t: x, SCHED, torch.zeros(28, 28), BOTTOM12, x_T)
    with pytest.raises(ValueError, match="DDPM"):
        inpaint("repaint", lambda x, t: x, SCHED, torch.zeros(28, 28), BOTTOM12, x_T, sampler="ddim")
    with pytest.raises(ValueError, match="every pixel"):
        inpaint("paste", lambda x, t: x, SCHED, torch.zeros(28, 28), np.ones((28, 28), bool), x_T)
    assert set(METHODS) == {"paste", "repaint", "x0"}
