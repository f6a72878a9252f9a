"""Reconstruct as you draw (core.live): the fixed noise, the newest-drawing mailbox, the
generator a worker runs, and what the bundled model brings back."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.classifier import load_classifier
from ddpm_desktop.core.decision import decision_curve
from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.live import TEACHER_STEPS, LatestDrawing, LiveReconstructor, iter_live
from ddpm_desktop.core.schedule import NoiseSchedule


@pytest.fixture(scope="module")
def bundled():
    torch.set_num_threads(1)
    model, _ = checkpoint.load_model(checkpoint.bundled_model_path())
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    test = load_bundled_mnist("test")
    idx = np.arange(0, 1000, 50)[:20]
    return test.images[idx].astype(np.float32) / 127.5 - 1.0, test.labels[idx]


def test_mailbox_keeps_only_the_newest_drawing():
    box = LatestDrawing()
    assert box.take(0.01) is None                      # nothing waiting: times out empty
    a, b = np.zeros((28, 28), np.float32), np.ones((28, 28), np.float32)
    box.put(a)
    serial = box.put(b)
    got = box.take(0.01)
    assert got[0] == serial == 2 and np.array_equal(got[1], b)   # b overtook a
    assert box.take(0.01) is None
    b[:] = 5                                           # the mailbox holds its own copy
    box.put(b)
    b[:] = 0
    assert box.take(0.01)[1].max() == 5


@pytest.mark.slow
def test_the_same_drawing_gives_the_same_picture(bundled, digits):
    schedule = NoiseSchedule.default()
    recon = LiveReconstructor(bundled, schedule, t=300, seed=3)
    x0 = digits[0][0]
    one, two = recon.reconstruct(x0), recon.reconstruct(x0)
    assert np.array_equal(one.image, two.image) and np.array_equal(one.x_t, two.x_t)
    assert one.nfe == TEACHER_STEPS
    # x_t is the closed form with the fixed ε of the seed
    eps = torch.randn((1, 1, 28, 28), generator=torch.Generator().manual_seed(3))[0, 0].numpy()
    ab = schedule.alphas_cumprod[299]
    np.testing.assert_allclose(one.x_t, np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps, atol=1e-5)
    other = recon.reconstruct(digits[0][1])
    assert np.abs(other.image - one.image).mean() > 0.05   # another drawing, another picture


def test_small_t_keeps_the_drawing_and_t300_keeps_the_label(bundled, digits):
    schedule = NoiseSchedule.default()
    images, labels = digits
    near = LiveReconstructor(bundled, schedule, t=5, steps=1)
    err = np.mean([np.abs(near.reconstruct(x).image - x).mean() for x in images[:5]])
    assert err < 0.05          # at t = 5 the noise is ~0.07 per pixel and the model removes it
    classifier, _ = load_classifier()
    recon = LiveReconstructor(bundled, schedule, t=300, classifier=classifier)
    results = [recon.reconstruct(x) for x in images]
    readings = np.array([r.reading for r in results])
    assert (readings == labels).mean() >= 0.85
    assert np.mean([r.digit for r in results]) >= 0.85  # and they are digits at all
    direct = decision_curve(classifier, torch.from_numpy(results[0].image)[None, None])[0]
    assert results[0].probability == pytest.approx(float(direct.max()), rel=1e-5)


def test_iter_live_serves_the_newest_edit_then_idles_until_cancelled(bundled, digits):
    schedule = NoiseSchedule.default()
    recon = LiveReconstructor(bundled, schedule, t=100, steps=2)
    box, cancel = LatestDrawing(), threading.Event()
    idle = object()
    gen = iter_live(recon, box, cancel, poll_s=0.01, idle=lambda: idle)
    assert next(gen) is idle                            # nothing drawn yet
    box.put(digits[0][0])
    box.put(digits[0][1])
    first = next(gen)
    assert first.serial == 2 and np.array_equal(first.x0, digits[0][1])
    assert next(gen) is idle
    cancel.set()
    assert list(gen) == []


def test_bad_settings_are_refused(bundled):
    schedule = NoiseSchedule.default()
    with pytest.raises(ValueError, match="t must be in"):
        LiveReconstructor(bundled, schedule, t=0)
    with pytest.raises(ValueError, match="steps must be in"):
        LiveReconstructor(bundled, schedule, t=3, steps=5)
