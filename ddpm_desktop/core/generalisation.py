"""The generalisation lab: train the U-Net on N training digits and measure, every few hundred
steps, whether its samples copy them and whether they read as the digit asked for.

Bonnaire et al. 2025 ("Why diffusion models don't memorize") find that the time a model takes
to start copying grows with the training-set size N while the time it takes to produce good
samples does not: with few digits the two times meet and the model copies; with many it
generalises for a long window first. The lab shows it on this project's data: for each N the
same recipe, the same seed, and at each evaluation step the same x_T and labels.

At each evaluation, with the EMA weights (what a checkpoint saves and sampling uses):
- `f_mem`: the share of `n_eval` guided samples (labels cycling 0..9, w = `guidance`,
  DPM-Solver++ with `sample_steps` steps) that copy a training digit by the copy rule
  (`core.copies`, d1/d2 < 1/3 against all 9,000 training digits), with its bootstrap interval;
- `accuracy`: the share the bundled classifier reads as a digit of the asked class;
- `median_d1`: the median distance to the nearest training digit (pixels in [0, 1]).

No Qt here: `iter_lab` is a generator the CLI prints and the app's worker iterates.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np

# The sizes the bundled curves (resources/generalisation.json) were measured at; 9000 is all.
LAB_SIZES = (64, 256, 1024, 4500, 9000)
LAB_STEPS = 2000
LAB_EVAL_EVERY = 250
LAB_N_EVAL = 100
LAB_SAMPLE_STEPS = 10
LAB_GUIDANCE = 1.5
LAB_SAMPLE_SEED = 12345


@dataclass(frozen=True)
class LabPoint:
    """One evaluation of the lab at a training step."""

    step: int
    loss_smooth: float
    f_mem: float
    ci: tuple[float, float]
    median_d1: float
    accuracy: float
    n: int
    elapsed_s: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci"] = [round(float(v), 4) for v in self.ci]
        for k in ("loss_smooth", "f_mem", "median_d1", "accuracy", "elapsed_s"):
            d[k] = round(float(d[k]), 4)
        return d


# The shipped curves: resources/generalisation.json, measured by tools/generalisation_lab.py with
# the settings above. {"recipe", "steps", "eval_every", "n_eval", "sample_steps", "guidance",
# "runs": [{"name", "size", "subset_seed", "offset", "points": [LabPoint.to_dict(), ...]}]}
CURVES_FILE = "generalisation.json"


def load_curves(path=None) -> dict:
    """The shipped lab curves (or the file at `path`), validated: runs sorted by size, each with
    its points sorted by step. A malformed file is a one-line ValueError."""
    import json
    from pathlib import Path

    from ddpm_desktop import resources_path

    p = Path(path) if path is not None else Path(resources_path(CURVES_FILE))
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
        runs = []
        for run in d["runs"]:
            points = sorted(
                ({"step": int(q["step"]), "loss_smooth": float(q["loss_smooth"]),
                  "f_mem": float(q["f_mem"]), "ci": [float(q["ci"][0]), float(q["ci"][1])],
                  "median_d1": float(q["median_d1"]), "accuracy": float(q["accuracy"]),
                  "n": int(q["n"]), "elapsed_s": float(q.get("elapsed_s", 0.0))}
                 for q in run["points"]), key=lambda q: q["step"])
            runs.append({"name": str(run["name"]), "size": int(run["size"]),
                         "subset_seed": int(run.get("subset_seed", 0)),
                         "offset": int(run.get("offset", 0)), "points": points})
    except OSError as exc:
        raise ValueError(f"cannot read the lab curves '{p}': {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"'{p}' is not a lab curves file ({type(exc).__name__}: {exc})") from None
    meta = {k: d.get(k) for k in ("recipe", "steps", "eval_every", "n_eval", "sample_steps",
                                  "guidance")}
    return {**meta, "runs": sorted(runs, key=lambda r: (r["size"], r["offset"]))}


def lab_samples(model, n: int = LAB_N_EVAL, steps: int = LAB_SAMPLE_STEPS,
                guidance: float = LAB_GUIDANCE, seed: int = LAB_SAMPLE_SEED):
    """n guided samples of `model` (labels 0..9 cycling) from one fixed x_T: float32
    [n, 28, 28] in [-1, 1], and the labels asked for."""
    import torch

    from . import sampling
    from .imaging import IMAGE_SHAPE
    from .schedule import NoiseSchedule

    schedule = NoiseSchedule.default()
    x_T = torch.randn((n, 1, *IMAGE_SHAPE), generator=sampling.generator_for(seed))
    labels = torch.arange(n) % model.config.num_classes
    eps_fn = sampling.make_eps_fn(model, schedule, labels=labels, guidance=guidance)
    last = None
    with torch.no_grad():
        for last in sampling.iter_dpmpp_2m(eps_fn, schedule, x_T, steps=steps):
            pass
    return last.x_t[:, 0].numpy().astype(np.float32).copy(), labels.numpy()


def evaluate_model(model, index=None, reader=None, n: int = LAB_N_EVAL,
                   steps: int = LAB_SAMPLE_STEPS, guidance: float = LAB_GUIDANCE,
                   seed: int = LAB_SAMPLE_SEED) -> dict:
    """f_mem (with its interval), median d1 and classifier accuracy of `lab_samples(model)`."""
    from .classifier import bundled_reader
    from .copies import bundled_index, check_copies

    index = index if index is not None else bundled_index()
    reader = reader if reader is not None else bundled_reader()
    x, asked = lab_samples(model, n=n, steps=steps, guidance=guidance, seed=seed)
    check = check_copies(x, index=index, seed=seed)
    read = reader.read(x)
    hits = [r.digit and r.label == int(a) for r, a in zip(read, asked)]
    return {"f_mem": float(check.f_mem), "ci": tuple(float(v) for v in check.ci),
            "median_d1": float(np.median(check.nearest.d1)), "accuracy": float(np.mean(hits)),
            "n": int(n), "samples": x}


def iter_lab(size: int, steps: int = LAB_STEPS, eval_every: int = LAB_EVAL_EVERY,
             n_eval: int = LAB_N_EVAL, subset_seed: int = 0, offset: int = 0, seed: int = 0,
             recipe_name: str = "fast", sample_steps: int = LAB_SAMPLE_STEPS,
             guidance: float = LAB_GUIDANCE, stop: threading.Event | None = None,
             trainer_out: list | None = None) -> Iterator[LabPoint]:
    """Train on `size` training digits (all 9,000 when size >= 9000; else the subset
    `data.subset_rows(9000, size, subset_seed, offset)`) for `steps` steps of `recipe_name`,
    yielding a `LabPoint` every `eval_every` steps (and at the last step). `trainer_out`, when
    given a list, receives the Trainer (to save it as a checkpoint afterwards)."""
    from . import data
    from .copies import bundled_index
    from .classifier import bundled_reader
    from .training import Trainer, copy_for_inference, recipe

    if eval_every < 1 or steps < 1 or n_eval < 1:
        raise ValueError("steps, eval_every and n_eval must be positive")
    dataset = data.load_bundled_mnist("train")
    if size < len(dataset):
        dataset = data.random_subset(dataset, size, subset_seed, offset)
    trainer = Trainer(recipe(recipe_name, steps=steps, seed=seed), dataset, device="cpu")
    if trainer_out is not None:
        trainer_out.append(trainer)
    index, reader = bundled_index(), bundled_reader()
    started = time.perf_counter()
    for p in trainer.iter_training(stop=stop):
        if p.step % eval_every == 0 or p.done:
            r = evaluate_model(copy_for_inference(trainer.ema), index, reader, n=n_eval,
                               steps=sample_steps, guidance=guidance)
            yield LabPoint(step=p.step, loss_smooth=p.loss_smooth, f_mem=r["f_mem"], ci=r["ci"],
                           median_d1=r["median_d1"], accuracy=r["accuracy"], n=r["n"],
                           elapsed_s=time.perf_counter() - started)
