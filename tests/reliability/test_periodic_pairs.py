"""A periodic save killed at any moment leaves a (state, weights) pair that resumes: the state
being replaced is kept until the new weights are in place."""
from __future__ import annotations

import os

import pytest
import torch

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.training import TrainConfig, Trainer

from reliability_helpers import TINY, few_digits


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (not an Exception, so no handler catches it)."""


@pytest.fixture(scope="module")
def data():
    return few_digits(8)


def _trainer(data, steps=6):
    torch.manual_seed(0)
    return Trainer(TrainConfig(model=TINY, batch_size=4, steps=steps, seed=0), data, device="cpu")


def _train_to(tr, step):
    for p in tr.iter_training():
        if p.step >= step:
            break


def _ema_equal(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_crash_between_state_and_weights_resumes_from_the_previous_pair(tmp_path, data, monkeypatch):
    path = tmp_path / "m.safetensors"
    tr = _trainer(data)
    _train_to(tr, 1)
    checkpoint.save_checkpoint(path, tr)           # the pair at step 1
    _train_to(tr, 2)
    real = checkpoint.save_weights

    def killed(*a, **k):
        raise Killed

    monkeypatch.setattr(checkpoint, "save_weights", killed)
    with pytest.raises(Killed):
        checkpoint.save_checkpoint(path, tr)       # state of step 2 written, weights not
    monkeypatch.setattr(checkpoint, "save_weights", real)
    assert torch.load(checkpoint.state_path_for(path), weights_only=True)["step"] == 2
    resumed = checkpoint.load_trainer(path, data, device="cpu")
    assert resumed.step == 1
    weights, _ = checkpoint.load_model(path)
    assert _ema_equal(resumed.ema.float(), weights.float().to(memory_format=torch.contiguous_format))
    # and the resumed run saves and resumes normally
    _train_to(resumed, 3)
    checkpoint.save_checkpoint(path, resumed)
    assert checkpoint.load_trainer(path, data, device="cpu").step == 3
    assert not checkpoint.previous_state_path_for(path).exists()


def _count_renames(monkeypatch):
    calls = {"n": 0, "kill_at": None}
    real_replace, real_link = os.replace, os.link

    def counted(real):
        def f(*a, **k):
            calls["n"] += 1
            if calls["n"] == calls["kill_at"]:
                raise Killed
            return real(*a, **k)
        return f

    monkeypatch.setattr(os, "replace", counted(real_replace))
    monkeypatch.setattr(os, "link", counted(real_link))
    return calls


@pytest.mark.slow
def test_a_kill_at_every_rename_of_a_save_leaves_a_pair_that_resumes(tmp_path, data, monkeypatch):
    """Every point where a save changes the folder (each link and rename), killed in turn."""
    calls = _count_renames(monkeypatch)
    probe = tmp_path / "probe.safetensors"
    tr = _trainer(data)
    _train_to(tr, 1)
    checkpoint.save_checkpoint(probe, tr)
    _train_to(tr, 2)
    calls["n"] = 0
    checkpoint.save_checkpoint(probe, tr)
    renames = calls["n"]
    assert renames >= 3  # the state kept, the new state, the new weights
    for kill_at in range(1, renames + 1):
        path = tmp_path / f"m{kill_at}.safetensors"
        tr = _trainer(data)
        _train_to(tr, 1)
        calls["kill_at"] = None
        checkpoint.save_checkpoint(path, tr)
        _train_to(tr, 2)
        calls["n"], calls["kill_at"] = 0, kill_at
        with pytest.raises(Killed):
            checkpoint.save_checkpoint(path, tr)
        calls["kill_at"] = None
        resumed = checkpoint.load_trainer(path, data, device="cpu")
        assert resumed.step in (1, 2), kill_at
        weights, meta = checkpoint.load_model(path)
        assert meta["step"] == resumed.step, kill_at  # the weights beside it are the same save's


def test_other_weights_under_the_name_are_still_refused(tmp_path, data):
    from reliability_helpers import tiny_model

    path = tmp_path / "m.safetensors"
    tr = _trainer(data)
    _train_to(tr, 1)
    checkpoint.save_checkpoint(path, tr)
    checkpoint.save_weights(path, tiny_model(3))  # a weights-only save over the checkpoint
    with pytest.raises(checkpoint.CheckpointError, match="saved together"):
        checkpoint.load_trainer(path, data, device="cpu")
