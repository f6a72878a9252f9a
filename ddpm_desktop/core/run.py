"""A reverse run planned once: the sampler settings as pure data, and the plan they make.

`SamplerSettings` is what a user sets for the reverse chain (sampler, steps, seed, class label,
guidance w, where x_T comes from, a compare lane, DDIM η); `plan_run` turns it and the
schedule's T into a frozen `RunPlan`, which every consumer reads instead of working the run
out again (the session's reverse run, its cheap-run rule, the maths panel, the sampler panel's
step count, lessons, experiments, completions, the 2-D view, copy-as-command, the CLI):

    plan = plan_run(settings, schedule.T)             # from x_T (or the input at t_start)
    plan = plan_run(settings, schedule.T, from_t=t)   # from a given x_t (completions, 2-D)
    plan.t_start, plan.steps, plan.timesteps, plan.lanes, plan.network_calls, plan.guided

The rules, in one place:
- start: T from noise; t_start clamped to 1..T from the input ("source" "input"); `from_t`
  (clamped to 1..T) overrides both, for a run that starts from a given x_t.
- steps: the setting capped at the start (the setting keeps what the user chose, so a later,
  longer schedule gets the full count again); None: every step for DDPM and DDIM, 20 for
  DPM-Solver++(2M), DISTILLED_MAX_STEPS for the distilled student (as core.sampling's
  iter_sampler). A run with a distilled lane takes at most DISTILLED_MAX_STEPS steps in every
  lane, so a compare lane runs at equal NFE.
- timesteps: core.sampling.timesteps_for (trailing spacing) from the start.
- guided: a class label with w ∉ {0, 1} (w = 0 is the unconditional ε, w = 1 the conditional
  one: one network call each); a guided step costs two calls, except in a distilled lane (the
  student has w baked in).

Pure Python and numpy; no Qt.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .sampling import DEFAULT_GUIDANCE, DISTILLED_MAX_STEPS, SAMPLERS, timesteps_for

DISTILLED = "distilled"
SOURCES = ("noise", "input")
# Steps a sampler takes when the setting says None (every step for the others).
DEFAULT_STEPS = {"dpmpp": 20, DISTILLED: DISTILLED_MAX_STEPS}


@dataclass(frozen=True)
class SamplerSettings:
    """The reverse-chain settings.

    source: "noise" (x_T from the input's starting distribution) or "input" (the forward
    chain's frame at t_start, i.e. the digit noised to t_start: SDEdit-style reconstruction).
    steps: reverse steps (= network calls) per lane, capped at the start step by `plan_run`
    (the setting itself keeps what the user chose); None = every step. compare: also run
    `sampler_b` from the same x_T with the same number of steps (equal NFE).
    label: class 0-9 or None (unconditional); guidance: classifier-free guidance scale w.
    """

    sampler: str = "ddpm"
    steps: int | None = 100
    seed: int = 0
    label: int | None = None
    guidance: float = DEFAULT_GUIDANCE
    source: str = "noise"
    t_start: int = 500
    compare: bool = False
    sampler_b: str = "dpmpp"
    eta: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def validated(self) -> "SamplerSettings":
        for name in (self.sampler, self.sampler_b):
            if name not in SAMPLERS:
                raise ValueError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")
        if self.source not in SOURCES:
            raise ValueError(f"start from 'noise' or 'input', not {self.source!r}")
        if self.steps is not None and not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"steps = {self.steps!r} must be a positive integer")
        if self.label is not None and not (isinstance(self.label, int) and 0 <= self.label <= 9):
            raise ValueError(f"class label {self.label!r} must be 0-9 or none")
        if not (math.isfinite(self.guidance) and 0.0 <= self.guidance <= 20.0):
            raise ValueError(f"guidance w = {self.guidance!r} must lie in [0, 20]")
        if not (math.isfinite(self.eta) and 0.0 <= self.eta <= 1.0):
            raise ValueError(f"DDIM eta = {self.eta!r} must lie in [0, 1]")
        if not (isinstance(self.t_start, int) and self.t_start >= 1):
            raise ValueError(f"t = {self.t_start!r} must be a positive integer")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**31):
            raise ValueError(f"seed {self.seed!r} must lie in 0..2^31-1")
        return self

    def lane_names(self) -> list[str]:
        return [self.sampler] + ([self.sampler_b] if self.compare else [])


def is_guided(label: int | None, guidance: float) -> bool:
    """Whether classifier-free guidance needs both the conditional and the unconditional ε
    (Ho & Salimans 2022, eq. 6): a label, and w neither 0 (unconditional) nor 1 (conditional)."""
    return label is not None and float(guidance) not in (0.0, 1.0)


@dataclass(frozen=True)
class LanePlan:
    """One lane of a run: its sampler, the `steps` iter_sampler is given (None: every step),
    and the descending t's it visits (t_start first, 0 last), len = its steps + 1."""

    sampler: str
    steps: int | None
    timesteps: tuple[int, ...]

    @property
    def n_steps(self) -> int:
        return len(self.timesteps) - 1


@dataclass(frozen=True)
class RunPlan:
    """A reverse run as it will happen (see the module docstring for the rules).

    T: the schedule's length; t_start: the step the run starts from (1..T); from_input: x_T is
    the forward chain's frame at t_start (else drawn from the start distribution, or given by
    the caller with from_t); steps: what every lane's sampler is given (None: its default);
    lanes: one LanePlan per sampler (two when comparing); guided: guidance doubles the
    teacher's calls; network_calls: ε-network evaluations of the whole run, all lanes.
    """

    T: int
    t_start: int
    from_input: bool
    steps: int | None
    lanes: tuple[LanePlan, ...]
    guided: bool
    network_calls: int

    @property
    def sampler(self) -> str:
        return self.lanes[0].sampler

    @property
    def timesteps(self) -> np.ndarray:
        """The first lane's t's, int64, descending to 0."""
        return np.asarray(self.lanes[0].timesteps, dtype=np.int64)

    @property
    def n_steps(self) -> int:
        """Reverse steps of the first lane (= its network calls, before guidance)."""
        return self.lanes[0].n_steps

    @property
    def has_distilled(self) -> bool:
        return any(lane.sampler == DISTILLED for lane in self.lanes)


def plan_run(settings: SamplerSettings, T: int, *, from_t: int | None = None) -> RunPlan:
    """The plan of a reverse run of `settings` under a schedule of T steps; `from_t` starts it
    from a given x_t instead of T or the input's t_start. ValueError for an unknown sampler."""
    T = int(T)
    if from_t is not None:
        t_start, from_input = int(max(1, min(int(from_t), T))), False
    elif settings.source == "input":
        t_start, from_input = int(max(1, min(int(settings.t_start), T))), True
    else:
        t_start, from_input = T, False
    names = settings.lane_names()
    for name in names:
        if name not in SAMPLERS:
            raise ValueError(f"unknown sampler {name!r}: choose one of {', '.join(SAMPLERS)}")
    steps = None if settings.steps is None else int(min(settings.steps, t_start))
    if DISTILLED in names:
        steps = DISTILLED_MAX_STEPS if steps is None else min(steps, DISTILLED_MAX_STEPS)
    guided = is_guided(settings.label, settings.guidance)
    lanes, calls = [], 0
    for name in names:
        lane_steps = steps if steps is not None else DEFAULT_STEPS.get(name)
        ts = timesteps_for(T, lane_steps, t_start)
        lanes.append(LanePlan(name, steps, tuple(int(t) for t in ts)))
        calls += (len(ts) - 1) * (2 if guided and name != DISTILLED else 1)
    return RunPlan(T=T, t_start=t_start, from_input=from_input, steps=steps, lanes=tuple(lanes),
                   guided=guided, network_calls=calls)
