"""The poster's numbers and the data types of core.experiments: an `Experiment` and what a run
returns (`ExperimentResult` of `Number`s, `Table`s and `Figure`s)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


# The poster's numbers (the KL of a digit's forward chain at five stages; the exponential start).
POSTER_DIGIT_KL = (1.8643, 1.542, 0.501, 0.0993, 0.00101)
POSTER_EXPONENTIAL_KL = 3.7697
# What the poster's digit values (given without their t) let one say, and what not: the same
# words wherever the values are shown beside ours (the app's results card; the run's docstring
# in core.experiment_runs says it at length).
POSTER_DIGIT_KL_READING = (
    "What can be inferred: every quantity here falls with t, as the poster's values do; and the "
    "last value, 0.00101, lies below what one 784-pixel frame can measure (the histogram's floor "
    "(bins − 1)/2n and the estimate's resolution), so it is a closed form (exact or bound) or "
    "pooled over many frames, not a one-frame measurement. What cannot: the t of each value, and "
    "so which of our curves it belongs to. Each curve passes through each value at some t, and a "
    "t picked to make one curve equal a value would make the agreement a construction, not a "
    "finding; so our numbers are tabulated at t fixed in advance, every one at the same t.")
DIGIT_LABEL = 7  # the digit the digit experiments use: the first 7 of the bundled test set
COSINE_SCHEDULE = {"kind": "cosine", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02}


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Number:
    """One measured quantity: `ours`, and the poster's value where it has one."""

    key: str
    label: str
    ours: float
    poster: float | None = None

    def to_json(self) -> dict:
        return {"key": self.key, "label": self.label, "ours": _finite(self.ours),
                "poster": self.poster}


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]

    def to_json(self) -> dict:
        return {"title": self.title, "columns": list(self.columns),
                "rows": [[_finite(v) if isinstance(v, float) else v for v in r] for r in self.rows]}


@dataclass(frozen=True)
class Figure:
    """A picture to save: one uint8 image (kind "png") or animation frames (kind "gif")."""

    name: str
    kind: str
    frames: tuple[np.ndarray, ...]
    caption: str
    fps: float = 10.0


@dataclass
class ExperimentResult:
    """`notes`: sentences that say what the numbers mean and what they do not (the app's results
    card shows them, `ddpm-desktop experiment` prints them and writes them as "notes")."""

    name: str
    title: str
    numbers: list[Number] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def number(self, key: str) -> float:
        for n in self.numbers:
            if n.key == key:
                return n.ours
        raise KeyError(key)

    def to_json(self) -> dict:
        return {"name": self.name, "title": self.title, "seconds": round(self.seconds, 3),
                "numbers": [n.to_json() for n in self.numbers],
                "tables": [t.to_json() for t in self.tables],
                "notes": list(self.notes),
                "figures": [{"name": f.name, "kind": f.kind, "caption": f.caption,
                             "frames": len(f.frames)} for f in self.figures]}


def _finite(v):
    v = float(v)
    return v if math.isfinite(v) else None


# ----------------------------------------------------------------------------- the experiments


@dataclass(frozen=True)
class Experiment:
    """An experiment as data. `schedule`: ScheduleState parameters; `forward_from`: "digit" or
    "noise"; `start`: (name, params) of the x_T / noise distribution; `digit`: True to load the
    first `DIGIT_LABEL` of the bundled test set as x_0; `sampler`: SamplerSettings fields;
    `forward_t`: the forward frame to show; `needs_model`: the run uses the network."""

    name: str
    title: str
    source: str
    description: str
    schedule: dict
    run: Callable = field(repr=False, compare=False)
    forward_from: str = "digit"
    start: tuple = ("gaussian", {})
    digit: bool = True
    sampler: dict = field(default_factory=dict)
    forward_t: int = 0
    needs_model: bool = True
