"""When the digit is decided (core.decision): settle_step on constructed probability sequences,
decision_curve against the classifier called one image at a time, the recorder's t per call."""
import numpy as np
import pytest
import torch

from ddpm_desktop.core.data import load_bundled_mnist
from ddpm_desktop.core.decision import (DecisionRecorder, bundled_classifier, decision_curve,
                                        settle_index, settle_step)
from ddpm_desktop.core.inpaint import iter_inpaint, preset_mask, repaint_levels
from ddpm_desktop.core.sampling import iter_sampler, timesteps_for
from ddpm_desktop.core.schedule import NoiseSchedule


def one_hot_probs(readings, classes=10, p=0.7):
    """probs [K, classes]: p on each row's reading, the rest spread evenly."""
    out = np.full((len(readings), classes), (1 - p) / (classes - 1))
    out[np.arange(len(readings)), readings] = p
    return out


@pytest.mark.parametrize("readings, index", [
    ([4, 4, 4, 4], 0),                 # never changes: settles at the first call
    ([3, 3, 5, 5, 7, 7, 7], 4),        # the last change is into 7 at index 4
    ([1, 1, 1, 2], 3),                 # changes on the very last call
    ([2, 7, 2, 7, 7], 3),              # an early 7 that flips back does not count
    ([9], 0),
])
def test_settle_index_is_the_first_index_after_the_last_change(readings, index):
    probs = one_hot_probs(readings)
    assert settle_index(probs) == index
    ts = np.arange(len(readings))[::-1] * 100 + 7      # T..0 order, any values
    assert settle_step(probs, ts) == ts[index]


def test_settle_ignores_probability_changes_that_keep_the_argmax():
    probs = np.array([[0.2, 0.8], [0.4, 0.6], [0.49, 0.51], [0.1, 0.9]])
    assert settle_index(probs) == 0
    # a tie reads the lowest class (numpy's argmax), so a tied row is a change here
    probs[2] = [0.5, 0.5]
    assert settle_index(probs) == 3


def test_settle_refuses_bad_shapes():
    with pytest.raises(ValueError):
        settle_index(np.zeros((0, 10)))
    with pytest.raises(ValueError):
        settle_index(np.zeros(10))
    with pytest.raises(ValueError):
        settle_step(np.eye(3), [3, 2])


def some_images(k):
    test = load_bundled_mnist("test")
    real = test.images[:k].astype(np.float32) / 127.5 - 1.0
    noise = np.clip(np.random.default_rng(0).normal(size=(k, 28, 28)), -1, 1).astype(np.float32)
    return np.where(np.arange(k)[:, None, None] % 2 == 0, real, noise).astype(np.float32)


def test_decision_curve_equals_one_image_at_a_time():
    clf = bundled_classifier()
    images = some_images(7)
    with torch.inference_mode():
        one = np.stack([torch.softmax(clf(torch.from_numpy(im)[None, None]).double(), 1)[0].numpy()
                        for im in images])
    for x in (images, images[:, None], torch.from_numpy(images)[:, None]):
        np.testing.assert_allclose(decision_curve(clf, x, batch_size=3), one, atol=1e-6)
    batched = decision_curve(clf, images[:6].reshape(3, 2, 1, 28, 28), batch_size=4)
    assert batched.shape == (3, 2, 10)
    np.testing.assert_allclose(batched.reshape(6, 10), one[:6], atol=1e-6)
    np.testing.assert_allclose(one.sum(1), 1.0, atol=1e-12)


def test_decision_curve_calls_the_classifier_once_per_chunk():
    calls = []

    class Counting(torch.nn.Module):
        def forward(self, x):
            calls.append(len(x))
            return x.reshape(len(x), -1)[:, :10]

    out = decision_curve(Counting().eval(), np.zeros((10, 3, 1, 28, 28), np.float32), batch_size=8)
    assert out.shape == (10, 3, 10) and calls == [8, 8, 8, 6]
    with pytest.raises(ValueError, match="training mode"):
        decision_curve(Counting().train(), np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError):
        decision_curve(Counting().eval(), np.zeros((2, 27, 28), np.float32))


def eps_zero(x, t):
    return torch.zeros_like(x)


def test_recorder_keeps_one_x0_per_network_call_with_the_t_it_saw():
    sched = NoiseSchedule.named("linear", 100)
    clf = bundled_classifier()
    rec = DecisionRecorder(clf, chunk=5)           # a chunk every third call: some left to flush
    x0s, last = [], None
    for last in iter_sampler("ddpm", eps_zero, sched, torch.randn(2, 1, 28, 28), steps=7,
                             generator=torch.Generator().manual_seed(0)):
        rec.add(last)
        x0s.append(last.x0_pred)
    assert len(rec) == last.nfe == 7
    np.testing.assert_array_equal(rec.ts, timesteps_for(100, 7)[:-1])
    curve = rec.curve()
    assert curve.shape == (7, 2, 10)
    np.testing.assert_allclose(curve, decision_curve(clf, torch.stack(x0s[1:])), atol=1e-6)


def test_recorder_skips_repaint_jumps():
    sched = NoiseSchedule.named("linear", 100)
    known = preset_mask("bottom")
    rec = DecisionRecorder(bundled_classifier())
    last = None
    for last in iter_inpaint("repaint", eps_zero, sched, np.zeros((28, 28), np.float32), known,
                             torch.randn(1, 1, 28, 28), steps=10, jump_length=2, resample=2,
                             generator=torch.Generator().manual_seed(0)):
        rec.add(last)
    levels = repaint_levels(10, 2, 2)
    ts = timesteps_for(100, 10)
    down = [int(ts[10 - levels[i]]) for i in range(len(levels) - 1) if levels[i + 1] < levels[i]]
    assert len(rec) == last.nfe == len(down)
    np.testing.assert_array_equal(rec.ts, down)


@pytest.mark.slow
def test_a_real_chain_settles_on_its_final_reading():
    """The bundled model, 20 DPM-Solver++ steps: the settle step is a t the chain ran at, and
    the reading from there on is the final digit's."""
    from ddpm_desktop.core import checkpoint
    from ddpm_desktop.core.sampling import make_eps_fn

    model, _ = checkpoint.load_model(checkpoint.bundled_model_path(), device="cpu")
    sched = NoiseSchedule.default()
    rec = DecisionRecorder(bundled_classifier())
    for step in iter_sampler("dpmpp", make_eps_fn(model, sched), sched,
                             torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1)), steps=20):
        rec.add(step)
    settled, classes = rec.settle_steps()
    probs = rec.curve()
    for b in range(3):
        i = int(np.flatnonzero(rec.ts == settled[b])[0])
        assert (probs[i:, b].argmax(1) == classes[b]).all()
        assert i == 0 or probs[i - 1, b].argmax() != classes[b]
