"""Short training runs that compare recipes by what they buy per image seen.

    python tools/recipe_search.py NAME [key=value ...] [--eval-every N] [--threads 1] [--out runs/recipes]

Every key=value overrides a field of core.training.TrainConfig (steps, batch_size, lr,
warmup_steps, min_lr_ratio, ema_decay, p_uncond, loss_weighting, min_snr_gamma, seed) or of its
ModelConfig (base_channels, ...). Every --eval-every steps, 200 class-conditional samples
(20 per digit, DPM-Solver++(2M) 20 steps, seed 0, from the EMA weights) at the default guidance
(core.sampling.DEFAULT_GUIDANCE) are read by the bundled classifier; a JSON line per evaluation
(step, images seen, training seconds without the evaluations, accuracy) goes to OUT/NAME.jsonl
and the final EMA weights to OUT/NAME.safetensors. Runs with the same key=values and seed give
the same weights.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def build_config(overrides: dict):
    from ddpm_desktop.core.training import TrainConfig

    base = TrainConfig()
    model_fields = {f.name for f in dataclasses.fields(base.model)}
    model_over = {k: v for k, v in overrides.items() if k in model_fields}
    train_over = {k: v for k, v in overrides.items() if k not in model_fields}
    model = dataclasses.replace(base.model, **model_over)
    return dataclasses.replace(base, model=model, **train_over).validated()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name")
    p.add_argument("overrides", nargs="*", help="key=value of TrainConfig / ModelConfig")
    p.add_argument("--eval-every", type=int, default=170)
    p.add_argument("--eval-samples", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/recipes")
    args = p.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.overrides)
    overrides = {k: _value(v) for k, v in overrides.items()}

    import torch

    torch.set_num_threads(args.threads)
    from ddpm_desktop.core import checkpoint, data, evaluation
    from ddpm_desktop.core.classifier import load_classifier
    from ddpm_desktop.core.sampling import DEFAULT_GUIDANCE
    from ddpm_desktop.core.schedule import NoiseSchedule
    from ddpm_desktop.core.training import Trainer, copy_for_inference

    config = build_config(overrides)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / f"{args.name}.jsonl"
    classifier, _ = load_classifier()
    schedule = NoiseSchedule.default()
    trainer = Trainer(config, data.load_dataset("mnist"), device="cpu")
    train_s = 0.0
    with open(log_path, "w") as log:
        log.write(json.dumps({"name": args.name, "overrides": overrides, "threads": args.threads,
                              "config": config.to_dict()}) + "\n")
        while trainer.step < config.steps:
            t0 = time.perf_counter()
            for _ in range(min(args.eval_every, config.steps - trainer.step)):
                loss, _ = trainer.train_step()
            train_s += time.perf_counter() - t0
            model = copy_for_inference(trainer.ema)
            accuracy = evaluation.legible_fraction(model, classifier, schedule, args.eval_samples,
                                                   DEFAULT_GUIDANCE)
            point = {"step": trainer.step, "images": trainer.step * config.batch_size,
                     "train_s": round(train_s, 1), "loss": round(loss, 4),
                     "accuracy": accuracy,
                     "guidance": DEFAULT_GUIDANCE, "load1": os.getloadavg()[0]}
            log.write(json.dumps(point) + "\n")
            log.flush()
            print(args.name, point, flush=True)
    checkpoint.save_weights(out / f"{args.name}.safetensors", copy_for_inference(trainer.ema),
                            extra={"recipe": json.dumps(overrides)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
