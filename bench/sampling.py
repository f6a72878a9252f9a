"""2. Sampling: seconds per image and per batch of 64 for each sampler on the bundled model,
and each sampler's overhead over the bare network calls it makes.

For every (sampler, steps, batch): the sampler (core.sampling.iter_sampler over
make_eps_fn, class labels 0..9 cycling, guidance 1 = one network call per step) and the same
number of bare `model(x, log_snr, labels)` calls (same batch, same prepared inputs, same
thread count, under inference_mode as the sampler) are timed interleaved, repeats times;
overhead = median(sampler) / median(bare) - 1. Everything the sampler does besides the
network - the log-SNR lookup, the step arithmetic, the noise draws, the CPU copies it yields -
is overhead.

That A/B difference subtracts two runs, so this machine's run-to-run jitter (±10%) lands on it
whole. The headline is therefore measured inside each sampler run as well: the network is
wrapped in a timer (`_TimedNet`, two perf_counter calls per call), and
in-run overhead = (sampler run − time inside the network) ÷ time inside the network, taken
per run and reported as the median over runs. Both numbers come from the same runs.

DDPM with 1000 steps at batch 64 takes minutes per run, so it is timed over its first 100
steps and scaled to 1000 (every step costs the same: one network call on the same shapes,
the same arithmetic); the report marks such rows as extrapolated.
"""
from __future__ import annotations

import time

import torch

from bench import common

TARGET_OVERHEAD = 0.05
CONFIGS = (("ddpm", 1000), ("ddim", 10), ("ddim", 20), ("ddim", 50),
           ("dpmpp", 10), ("dpmpp", 20), ("dpmpp", 50))
QUICK_CONFIGS = (("ddpm", 1000), ("ddim", 10), ("dpmpp", 10))


def _timesteps(schedule, steps):
    from ddpm_desktop.core.sampling import timesteps_for

    return [int(t) for t in timesteps_for(schedule.T, steps)[:-1]]


class _TimedNet:
    """The network with a stopwatch: seconds spent inside its calls accumulate in `.seconds`.
    Attribute reads (null_label, config) pass through, so make_eps_fn treats it as the model."""

    def __init__(self, model):
        self._model = model
        self.seconds = 0.0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, *args):
        t0 = time.perf_counter()
        out = self._model(*args)
        self.seconds += time.perf_counter() - t0
        return out


def measure(model, schedule, name: str, steps: int, batch: int, repeats: int,
            max_steps: int | None = None) -> dict:
    """Interleaved sampler vs bare-network timings of the first `max_steps` steps (all if None)."""
    from ddpm_desktop.core.sampling import iter_sampler, make_eps_fn

    ts = _timesteps(schedule, steps)
    total = len(ts)
    n = total if max_steps is None else min(max_steps, total)
    labels = torch.arange(batch) % 10
    x_T = torch.randn((batch, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    net = _TimedNet(model)
    eps_fn = make_eps_fn(net, schedule, labels=labels, guidance=1.0)
    inrun: list[float] = []  # (run - network) / network, per timed run
    inrun_us: list[float] = []  # (run - network) / steps, µs, per timed run

    def run_sampler():
        net.seconds = 0.0
        t0 = time.perf_counter()
        it = iter_sampler(name, eps_fn, schedule, x_T, steps=steps,
                          generator=torch.Generator().manual_seed(1))
        for step in it:
            if step.nfe >= n:
                break
        it.close()
        elapsed = time.perf_counter() - t0
        inrun.append((elapsed - net.seconds) / net.seconds)
        inrun_us.append((elapsed - net.seconds) / n * 1e6)

    lams = [torch.full((batch,), float(schedule.log_snr[t - 1])) for t in ts[:n]]

    def run_bare():
        with torch.inference_mode():
            for lam in lams:
                model(x_T, lam, labels)

    # Warm-up: a whole round where that is cheap, else one network call (same shapes).
    warmup = 1 if batch * n <= 2000 else 0
    if not warmup:
        with torch.inference_mode():
            model(x_T, lams[0], labels)
    times = common.interleaved({"sampler": run_sampler, "bare": run_bare}, repeats, warmup=warmup)
    inrun, inrun_us = inrun[len(inrun) - repeats:], inrun_us[len(inrun_us) - repeats:]  # no warm-up
    s, b = common.median(times["sampler"]), common.median(times["bare"])
    scale = total / n
    return {
        "sampler": name, "steps": steps, "nfe": total, "batch": batch, "repeats": repeats,
        "timed_steps": n, "extrapolated": n < total,
        "seconds_per_batch": s * scale, "seconds_per_image": s * scale / batch,
        "bare_seconds_per_batch": b * scale,
        "ms_per_step": s / n * 1e3, "bare_ms_per_call": b / n * 1e3,
        "overhead": common.median(inrun),
        "overhead_inrun_runs": inrun,
        "overhead_ab": s / b - 1.0,
        "overhead_per_step_us": (s - b) / n * 1e6,
        "inrun_overhead_per_step_us": common.median(inrun_us),
        "sampler_s": times["sampler"], "bare_s": times["bare"],
    }


def run(cfg: common.BenchConfig) -> dict:
    from ddpm_desktop.core.schedule import NoiseSchedule

    threads = cfg.threads or common.app_thread_count()
    torch.set_num_threads(threads)
    model, info = common.load_bench_model(cfg)
    schedule = NoiseSchedule.named("linear", 1000)
    rows = []
    configs = QUICK_CONFIGS if cfg.quick else CONFIGS
    for batch in (1, 64):
        for name, steps in configs:
            if cfg.quick:
                repeats, max_steps = 1, (10 if batch == 64 else 50)
            elif batch == 1:
                # a 10-step chain is ~40 ms: the machine's jitter needs many rounds to resolve 5%
                repeats, max_steps = (3 if steps >= 1000 else 11), None
            else:
                repeats, max_steps = 3, (100 if name == "ddpm" else None)
            common.log(f"sampling: {name} {steps} steps, batch {batch}")
            rows.append(measure(model, schedule, name, steps, batch, repeats, max_steps))
    worst = max(rows, key=lambda r: r["overhead"])
    return {"model": info, "torch_threads": threads, "guidance": 1.0, "labels": "0..9 cycling",
            "target_overhead": TARGET_OVERHEAD, "rows": rows,
            "max_overhead": worst["overhead"],
            "max_overhead_at": f"{worst['sampler']} {worst['steps']}, batch {worst['batch']}"}
