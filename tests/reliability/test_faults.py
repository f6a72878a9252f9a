"""Faults: writers killed mid-save, orphaned temp files, NaN losses, cancelled work, memory growth."""
from __future__ import annotations

import copy
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from ddpm_desktop.core import checkpoint, files
from ddpm_desktop.core.checkpoint import load_model, save_weights
from ddpm_desktop.core.sampling import iter_ddim, iter_ddpm, iter_dpmpp_2m, make_eps_fn
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.training import TrainConfig, Trainer, TrainingDivergedError

from reliability_helpers import TINY, few_digits, tiny_model

# ----------------------------------------------------------------------------- killed writers

# A server that imports torch once, then per request forks a child that saves checkpoints in a
# loop (EMA weights all equal to the version number × 1e-6, metadata {"version": v}) until
# SIGKILLed. (Scaled: weights of 10^5 would give a non-finite output, which load_model refuses.)
WRITER = r"""
import json, os, signal, sys, torch
torch.set_num_threads(1)
from ddpm_desktop.core.checkpoint import save_checkpoint
from ddpm_desktop.core.model import ModelConfig
from ddpm_desktop.core.training import TrainConfig, Trainer
path, cfg = sys.argv[1], ModelConfig.from_dict(json.loads(sys.argv[2]))
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped at once: dead pid = gone
trainer = Trainer(TrainConfig(steps=10**9, batch_size=2, model=cfg),
                  (torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)), device="cpu")

def write(v):
    with torch.no_grad():
        for p in trainer.ema.parameters():
            p.fill_(v * 1e-6)
    trainer.step = v  # each save at its own step, as in training (the pair record tells them apart)
    save_checkpoint(path, trainer, {"version": v})

import time
t0 = time.perf_counter()
write(0)
print(f"ready {time.perf_counter() - t0:.4f}", flush=True)
for line in sys.stdin:
    first = int(line)
    pid = os.fork()
    if pid == 0:
        v = first
        write(v)  # one whole save of this round first: the kill then lands on a later one
        print("saved", flush=True)
        while True:
            v += 1
            write(v)
    print(pid, flush=True)
"""


def test_writer_killed_at_random_moments_leaves_a_loadable_checkpoint(tmp_path):
    rounds = 25
    path = tmp_path / "ck.safetensors"
    server = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), json.dumps(TINY.to_dict())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    rng = random.Random(1234)
    seen, orphans_seen, last, ahead = [], 0, -1, 0
    try:
        word, save_s = server.stdout.readline().split()
        assert word == "ready"
        # Kill within a few save durations, measured on this machine now, so that most kills
        # land mid-write whether the machine is idle or loaded.
        window = max(0.02, 4 * float(save_s))
        for r in range(rounds):
            server.stdin.write(f"{(r + 1) * 100_000}\n")
            server.stdin.flush()
            # The server's pid line and the child's "saved" (after its first whole save), in
            # either order: a writer starved of CPU by other load still saves once before the
            # kill, so every round tests a kill of a later save rather than of nothing.
            got = [server.stdout.readline().strip() for _ in range(2)]
            assert "saved" in got, got
            pid = int(next(w for w in got if w != "saved"))
            time.sleep(rng.uniform(0.0, window))
            os.kill(pid, signal.SIGKILL)
            for _ in range(200):  # until the kernel has reaped it
                if not files._pid_alive(pid):
                    break
                time.sleep(0.005)
            model, meta = load_model(path)
            v = int(meta["version"])
            assert all(torch.all(t == v * 1e-6) for t in model.state_dict().values()), \
                f"round {r}: weights do not match version {v}"
            assert v >= last, f"round {r}: went back from version {last} to {v}"
            state = torch.load(checkpoint.state_path_for(path), weights_only=True)
            ema_v = round(float(next(iter(state["ema"].values())).flatten()[0]) * 1e6)
            # State is written before weights: a kill between them leaves the state one save
            # ahead: v + 1, or the first version of a later round when that round died there.
            assert ema_v in (v, v + 1) or (ema_v > v and ema_v % 100_000 == 0), \
                f"state holds version {ema_v}, weights {v}"
            if ema_v != v:  # the state it replaced is kept, and pairs with the weights
                prev = torch.load(checkpoint.previous_state_path_for(path), weights_only=True)
                assert round(float(next(iter(prev["ema"].values())).flatten()[0]) * 1e6) == v
            ahead += ema_v != v
            orphans_seen += len(list(tmp_path.glob(".*.tmp")))
            seen.append(v)
            last = v
    finally:
        server.kill()
        server.wait()
    # Every round got through its first save (the kill landed on a later one).
    assert len({v // 100_000 for v in seen}) == rounds, seen
    # The next save removes whatever temporary files the killed writers left.
    save_weights(path, tiny_model())
    assert list(tmp_path.glob(".*.tmp")) == []
    print(f"\n{rounds} kills, versions {seen}, orphaned temp files seen: {orphans_seen}, "
          f"state one save ahead of weights: {ahead}")


def test_orphaned_temp_files_are_removed_at_next_save_but_live_writers_are_left_alone(tmp_path):
    target = tmp_path / "m.safetensors"
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f".m.safetensors.{dead.pid}.tmp"
    orphan_state = tmp_path / f".m.state.pt.{dead.pid}.tmp"
    live = tmp_path / f".m.safetensors.{os.getppid()}.tmp"  # a running process: still writing
    other = tmp_path / f".other.safetensors.{dead.pid}.tmp"  # another file's: not ours to touch
    for p in (orphan, orphan_state, live, other):
        p.write_bytes(b"half a checkpoint")
    save_weights(target, tiny_model())
    assert not orphan.exists()
    assert live.exists() and other.exists()
    load_model(target)


# ----------------------------------------------------------------------------- NaN losses

def _trainer(steps=50, seed=0, batch_size=8):
    return Trainer(TrainConfig(steps=steps, batch_size=batch_size, warmup_steps=5, seed=seed, model=TINY),
                   few_digits(32), device="cpu")


def _snapshot(tr: Trainer):
    return (copy.deepcopy(tr.model.state_dict()), copy.deepcopy(tr.ema.state_dict()),
            copy.deepcopy(tr.optimizer.state_dict()["state"]), tr.step)


def _assert_same(a, b):
    for da, db in zip(a[:2], b[:2]):
        assert da.keys() == db.keys()
        for k in da:
            assert torch.equal(da[k], db[k]) or (torch.isnan(da[k]).any() and
                                                torch.equal(torch.nan_to_num(da[k]), torch.nan_to_num(db[k]))), k
    for k in a[2]:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(a[2][k][name], b[2][k][name]), (k, name)
    assert a[3] == b[3]


@pytest.mark.parametrize("poison", ["data", "parameter", "gradient"])
def test_nan_stops_training_and_keeps_last_good_state(poison):
    tr = _trainer()
    gen = tr.iter_training()
    for _ in range(3):
        next(gen)
    if poison == "data":
        clean = tr.images.clone()
        tr.images[:] = float("nan")
    elif poison == "parameter":
        p = next(tr.model.parameters())
        clean = p.detach().clone()
        with torch.no_grad():
            p.view(-1)[0] = float("nan")
    else:  # the loss stays finite, the gradient does not
        p = next(tr.model.parameters())
        handle = p.register_hook(lambda g: g * float("inf"))
    before = _snapshot(tr)
    with pytest.raises(TrainingDivergedError, match="last good state"):
        next(gen)
    _assert_same(before, _snapshot(tr))
    assert all(torch.isfinite(v).all() for v in tr.ema.state_dict().values())
    # The trainer is still usable once the cause is gone.
    if poison == "data":
        tr.images.copy_(clean)
    elif poison == "parameter":
        with torch.no_grad():
            p.copy_(clean)
    else:
        handle.remove()
    losses = [pr.loss for _, pr in zip(range(5), tr.iter_training())]
    assert tr.step == 8 and all(np.isfinite(losses))


# ----------------------------------------------------------------------------- cancelling

def test_cancelled_training_continues_exactly_like_an_uninterrupted_run():
    ref = _trainer(steps=20)
    for _ in ref.iter_training():
        pass
    tr = _trainer(steps=20)
    stop = threading.Event()
    for p in tr.iter_training(stop):
        if p.step == 5:
            stop.set()
    assert tr.step == 5
    gen = tr.iter_training()
    for p in gen:
        if p.step == 12:
            gen.close()  # closing the generator midway
    assert tr.step == 12
    # Cancelled from another thread while it runs.
    stop = threading.Event()
    worker = threading.Thread(target=lambda: [time.sleep(0.002) for _ in tr.iter_training(stop)])
    worker.start()
    time.sleep(0.02)
    stop.set()
    worker.join(10)
    assert not worker.is_alive() and 12 <= tr.step <= 20
    for _ in tr.iter_training():
        pass
    assert tr.step == 20
    for k, v in ref.ema.state_dict().items():
        assert torch.equal(v, tr.ema.state_dict()[k]), k


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp"])
def test_cancelled_sampling_leaves_a_working_sampler(sampler):
    model = tiny_model().eval()
    sched = NoiseSchedule.named("linear", 60)
    eps_fn = make_eps_fn(model, sched)

    def run(stop_after=None):
        g = torch.Generator().manual_seed(7)
        x_T = torch.randn(2, 1, 28, 28, generator=g)
        gen = {"ddpm": lambda: iter_ddpm(eps_fn, sched, x_T, generator=g),
               "ddim": lambda: iter_ddim(eps_fn, sched, x_T, steps=20, eta=1.0, generator=g),
               "dpmpp": lambda: iter_dpmpp_2m(eps_fn, sched, x_T, steps=20)}[sampler]()
        last = None
        for i, s in enumerate(gen):
            last = s
            if stop_after is not None and i == stop_after:
                gen.close()
                break
        return last

    full = run()
    partial = run(stop_after=5)
    assert partial.index == 5 and not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    again = run()
    assert torch.equal(again.x_t, full.x_t) and again.t == 0
    # The same eps_fn keeps working in another thread after an abandoned run.
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("x", run().x_t))
    t.start()
    t.join(30)
    assert torch.equal(out["x"], full.x_t)


# ----------------------------------------------------------------------------- memory

def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_training_memory_stays_flat_over_300_steps():
    tr = _trainer(steps=400, batch_size=4)
    gen = tr.iter_training()
    for _ in range(50):  # warm-up: allocator pools, optimizer state, first-call caches
        next(gen)
    start = _rss_mb()
    samples = []
    for i, _ in enumerate(gen, 1):
        if i % 50 == 0:
            samples.append(_rss_mb())
        if i == 300:
            break
    growth = max(samples) - start
    assert growth < 8.0, f"RSS grew {growth:.1f} MB over 300 steps: {start:.1f} -> {samples}"


def test_weights_only_save_also_removes_an_orphaned_state_temp(tmp_path):
    # A writer killed between the state and the weights of save_checkpoint leaves both names.
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan_state = tmp_path / f".m.state.pt.{dead.pid}.tmp"
    orphan_state.write_bytes(b"half a state")
    save_weights(tmp_path / "m.safetensors", tiny_model())
    assert not orphan_state.exists()


# The picture writers (PNG/GIF export) have the same contract; no torch import: fast to start.
PNG_WRITER = r"""
import sys, numpy as np
from ddpm_desktop.core.imaging import save_png
rng = np.random.default_rng(int(sys.argv[2]))
v = int(sys.argv[2])
while True:
    a = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)  # incompressible: each save takes a while
    a[:8, :8] = v % 256
    save_png(a, sys.argv[1])
    if v == int(sys.argv[2]):  # after one whole save: the kill lands on a later one
        print("saved", flush=True)
    v += 1
"""


def test_png_writer_killed_at_random_moments_leaves_a_readable_file(tmp_path):
    from PIL import Image

    from ddpm_desktop.core.imaging import save_png

    path = tmp_path / "grid.png"
    first = np.zeros((300, 300, 3), np.uint8)
    save_png(first, path)
    rng = random.Random(99)
    rounds, orphans, tags = 12, 0, []
    for r in range(rounds):
        start = (r + 1) * 16
        proc = subprocess.Popen([sys.executable, "-c", PNG_WRITER, str(path), str(start)],
                                stdout=subprocess.PIPE, text=True)
        # Wait for the writer's first whole save, however starved of CPU it is, then kill it
        # within the next few saves.
        assert proc.stdout.readline().strip() == "saved"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im)
        assert arr.shape == (300, 300, 3)
        tag = int(arr[0, 0, 0])
        assert (arr[:8, :8] == tag).all()
        assert tag >= start, f"round {r}: the file was not replaced by this round's writer"
        tags.append(tag)
        orphans += len(list(tmp_path.glob(".*.tmp")))
    save_png(first, path)  # the next save removes what the killed writers left
    assert list(tmp_path.glob(".*.tmp")) == []
    print(f"\n{rounds} PNG writer kills, tags {tags}, orphaned temp files seen: {orphans}")
