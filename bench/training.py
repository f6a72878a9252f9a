"""3. Training: images per second of the bundled architecture on the CPU per thread count, and
(optional, --with-time-to-quality) how long a fresh run takes to make digits the bundled
classifier recognises.

Throughput, two ways, for every thread count from 1 to the cores:
- core.training.measure_thread_counts (forward + backward of the bundled U-Net, batch 128);
- real `Trainer.train_step()` calls (data draw, forward, backward, clipping, AdamW, EMA) with
  the bundled recipe (batch 128, conditional), in blocks interleaved across thread counts,
  median seconds per step.
The thread count the app trains with (core.training.default_cpu_threads, the one policy: 1 on
<= 2 cores, else half the cores, at most 8) and the CLI's `--threads auto` (core.training.choose_num_threads)
are recorded next to the fastest measured.

Time to quality: a fresh Trainer with a recipe of core.training.RECIPES (default "fast": what
`ddpm-desktop train` does by default; "bundled": the recipe of resources/model.safetensors) at
the thread count `ddpm-desktop train --threads auto` would choose (core.training.choose_num_threads);
every `ttq_eval_every` steps, 200 class-conditional samples (20 per digit, DPM-Solver++(2M)
20 steps, fixed seed, from a CPU copy of the EMA weights) are drawn at each classifier-free
guidance scale of `ttq_guidance` (default the app's and CLI's default, w = 1.5) and read by the
bundled classifier; each scale's clock stops at its first evaluation with accuracy >= 95%. The
run goes on to the recipe's last step (its learning rate decays to there) unless the training
time passes `ttq_max_minutes` first. Training time excludes the evaluations; wall time
includes them.
"""
from __future__ import annotations

import os
import time

import torch

from bench import common

from ddpm_desktop.core.training import RECIPES

TTQ_TARGET = 0.95
BUNDLED_RECIPE = RECIPES["bundled"]


def _thread_candidates() -> list[int]:
    cores = os.cpu_count() or 1
    return sorted({1, *range(2, cores + 1, max(1, cores // 4))} | {cores})


def real_steps(candidates, blocks: int, steps_per_block: int, batch: int) -> dict:
    from ddpm_desktop.core import data
    from ddpm_desktop.core.training import TrainConfig, Trainer

    dataset = data.load_dataset("mnist")
    cfg = TrainConfig(**{**BUNDLED_RECIPE, "batch_size": batch})
    trainers = {n: Trainer(cfg, dataset, device="cpu") for n in candidates}
    before = torch.get_num_threads()
    per_step: dict[int, list[float]] = {n: [] for n in candidates}
    try:
        for n in candidates:  # warm-up
            torch.set_num_threads(n)
            for _ in range(2):
                trainers[n].train_step()
        for b in range(blocks):
            order = candidates if b % 2 == 0 else candidates[::-1]
            for n in order:
                torch.set_num_threads(n)
                for _ in range(steps_per_block):
                    per_step[n].append(common.timed(trainers[n].train_step))
    finally:
        torch.set_num_threads(before)
    return {n: {"median_s_per_step": common.median(v), "images_per_s": batch / common.median(v),
                "steps": len(v)} for n, v in per_step.items()}


def run(cfg: common.BenchConfig) -> dict:
    from ddpm_desktop.core.training import TrainConfig, measure_thread_counts

    candidates = _thread_candidates()
    q = cfg.quick
    batch = 32 if q else BUNDLED_RECIPE["batch_size"]
    common.log(f"training: measure_thread_counts {candidates}")
    fb = measure_thread_counts(candidates, batch_size=batch, model_config=TrainConfig().model,
                               repeats=2 if q else 5)
    common.log("training: real Trainer steps")
    real = real_steps(candidates, blocks=1 if q else 3, steps_per_block=2 if q else 8, batch=batch)
    cores = os.cpu_count() or 1
    from ddpm_desktop.core.training import default_cpu_threads

    panel_choice = default_cpu_threads()
    panel_rule = ("1 thread on <= 2 cores (the GUI keeps the other)" if cores <= 2
                  else "half the cores, at most 8 (core.training.default_cpu_threads)")
    cli_choice = max(fb, key=fb.get)  # what choose_num_threads() returns for these measurements
    fastest = max(real, key=lambda n: real[n]["images_per_s"])
    rate = real[panel_choice]["images_per_s"] if panel_choice in real else float("nan")
    return {
        "batch_size": batch, "candidates": candidates,
        "forward_backward_images_per_s": {str(k): v for k, v in fb.items()},
        "trainer_steps": {str(k): v for k, v in real.items()},
        "panel_threads": panel_choice, "panel_rule": panel_rule,
        "cli_auto_threads": cli_choice, "fastest_threads": fastest,
        "images_per_s_at_panel_threads": rate,
        "images_per_s_fastest": real[fastest]["images_per_s"],
    }


# ----------------------------------------------------------------------------- time to quality


def run_time_to_quality(cfg: common.BenchConfig) -> dict:
    from ddpm_desktop.core import data, evaluation
    from ddpm_desktop.core.classifier import load_classifier
    from ddpm_desktop.core.schedule import NoiseSchedule
    from ddpm_desktop.core.training import TrainConfig, Trainer, copy_for_inference

    from ddpm_desktop.core.training import choose_num_threads

    classifier, cinfo = load_classifier()
    dataset = data.load_dataset("mnist")
    schedule = NoiseSchedule.named("linear", 1000)
    cores = os.cpu_count() or 1
    train_threads, rates = choose_num_threads(_thread_candidates())
    eval_threads = cores
    guidances = [float(w) for w in cfg.ttq_guidance]
    recipe = RECIPES[cfg.ttq_recipe]
    trainer = Trainer(TrainConfig(**recipe), dataset, device="cpu")
    limit_s = (1.0 if cfg.quick else cfg.ttq_max_minutes) * 60
    every = 20 if cfg.quick else cfg.ttq_eval_every
    n_eval = 40 if cfg.quick else 200
    curve = []
    reached: dict[str, dict] = {}
    train_s = eval_s = 0.0
    wall0 = time.perf_counter()
    while trainer.step < trainer.config.steps:
        torch.set_num_threads(train_threads)
        t0 = time.perf_counter()
        for _ in range(every):
            trainer.train_step()
        train_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        torch.set_num_threads(eval_threads)
        model = copy_for_inference(trainer.ema)
        point = {"step": trainer.step, "train_s": round(train_s, 1),
                 "wall_s": round(time.perf_counter() - wall0, 1)}
        for w in guidances:
            acc = evaluation.legible_fraction(model, classifier, schedule, n_eval, w)
            point[f"accuracy_w{w:g}"] = acc
            if acc >= TTQ_TARGET and f"w{w:g}" not in reached:
                reached[f"w{w:g}"] = {"steps": trainer.step, "train_seconds": round(train_s, 1),
                                      "wall_seconds": point["wall_s"], "accuracy": acc,
                                      "images_seen": trainer.step * recipe["batch_size"]}
        eval_s += time.perf_counter() - t0
        curve.append(point)
        common.log(f"time to quality: {point}")
        if train_s > limit_s:  # the recipe's steps normally end first: the whole curve is kept
            break
    return {
        "target_accuracy": TTQ_TARGET, "guidances": guidances,
        "reached": {f"w{w:g}": reached.get(f"w{w:g}") for w in guidances},
        "steps_done": trainer.step, "train_seconds_done": round(train_s, 1),
        "wall_seconds": round(time.perf_counter() - wall0, 1), "eval_seconds": round(eval_s, 1),
        "limit_minutes": limit_s / 60, "train_threads": train_threads,
        "thread_rates": {str(k): v for k, v in rates.items()}, "eval_every_steps": every,
        "eval_samples": n_eval, "eval_sampler": "dpmpp 20 steps", "recipe_name": cfg.ttq_recipe, "recipe": recipe,
        "classifier": cinfo, "curve": curve,
    }
