"""Reconstruct as you draw: one noised-and-reconstructed digit per edit, as fast as possible.

Every edit of the drawing re-runs SDEdit (Meng et al. 2022): x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε with
a fixed ε (drawn once from the seed, so the picture changes only because the drawing did),
then a deterministic sampler from t to 0 with few network calls (the bundled distilled student
in one call with the bundled model, DPM-Solver++(2M) in two with any other: `live_plan`).
`LiveReconstructor.reconstruct` is the unit of work; `iter_live` is the generator a worker runs:
it waits for the newest drawing, drops the ones overtaken by a newer edit, and yields one
`LiveResult` per reconstruction.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .forward import q_sample
from .imaging import IMAGE_SHAPE
from .sampling import generator_for, iter_sampler, make_eps_fn
from .schedule import NoiseSchedule

# The sampler of each update, chosen by bench/live.py (100 held-out digits from t = 300, one
# torch thread, docs/evaluation/live.json): the bundled distilled student at 1 network call reads
# as the same digit as DPM-Solver++(2M) at 2 calls for 100 of 100 and as the 20-call reference
# for 100 of 100 (the true label for 94%, like every DPM-Solver++ count from 2 to 10), at half
# the compute of the 2 calls (one UNet call; its x̂_0 is sharp where DPM-Solver++ with 1 call is
# the blurred x̂_0 of a single ε prediction). A model without its student (trained here, loaded
# from a file) keeps DPM-Solver++(2M) at 2 calls: the student is the bundled teacher's only.
LIVE_SAMPLER = "distilled"
LIVE_STEPS = 1
TEACHER_SAMPLER = "dpmpp"
TEACHER_STEPS = 2
LIVE_T = 300


@dataclass(frozen=True)
class LiveResult:
    """One reconstruction: the drawing it came from, x_t and the result (float32 [28, 28]),
    the classifier's reading (its most probable class) and probability, and whether the
    result is a digit at all (all three None without a classifier), its compute time in ms
    and the sequence number of the drawing (to drop stale ones)."""

    x0: np.ndarray
    x_t: np.ndarray
    image: np.ndarray
    reading: int | None
    probability: float | None
    nfe: int
    ms: float
    serial: int
    digit: bool | None = None


def live_plan(has_student: bool) -> tuple[str, int]:
    """(sampler, steps) of the live updates: the distilled student's 1 call when the model in
    use has its student, DPM-Solver++(2M) at 2 calls otherwise."""
    return (LIVE_SAMPLER, LIVE_STEPS) if has_student else (TEACHER_SAMPLER, TEACHER_STEPS)


class LiveReconstructor:
    """x_0 -> x_t (fixed ε) -> sampler back to 0. No state but the model and the fixed noise.

    `model` is the network the sampler needs: the teacher for ddpm/ddim/dpmpp, the distilled
    student (core.distill.StudentNet, its unconditional output: a drawing has no class) for
    "distilled". `classifier`: a core.classifier.DigitReader, or a DigitClassifier (read with
    the bundled calibration), or None for no reading."""

    def __init__(self, model, schedule: NoiseSchedule, t: int = LIVE_T,
                 sampler: str = TEACHER_SAMPLER, steps: int = TEACHER_STEPS, seed: int = 0,
                 classifier=None) -> None:
        if not 1 <= int(t) <= schedule.T:
            raise ValueError(f"t must be in 1..{schedule.T}, got {t}")
        if not 1 <= int(steps) <= int(t):
            raise ValueError(f"steps must be in 1..{t}, got {steps}")
        self.model, self.schedule = model, schedule
        self.t, self.sampler, self.steps = int(t), sampler, int(steps)
        self.classifier = classifier
        if classifier is not None:
            from .classifier import as_reader

            self.reader = as_reader(classifier)
        else:
            self.reader = None
        self.device = next(iter(model.parameters()), torch.empty(0)).device
        self.noise = torch.randn((1, 1, *IMAGE_SHAPE), generator=generator_for(seed))
        self.eps_fn = make_eps_fn(model, schedule)

    @torch.no_grad()
    def reconstruct(self, x0: np.ndarray, serial: int = 0) -> LiveResult:
        started = time.perf_counter()
        x = torch.from_numpy(np.asarray(x0, np.float32).reshape(1, 1, *IMAGE_SHAPE))
        x_t = q_sample(self.schedule, x, self.t, noise=self.noise)
        last = None
        for last in iter_sampler(self.sampler, self.eps_fn, self.schedule, x_t.to(self.device),
                                 steps=self.steps, t_start=self.t):
            pass
        image = last.x_t.clamp(-1, 1)
        reading = probability = digit = None
        if self.reader is not None:
            r = self.reader.read(image)[0]
            reading, probability, digit = r.top, r.p, r.digit
        ms = (time.perf_counter() - started) * 1e3
        return LiveResult(np.asarray(x0, np.float32).reshape(IMAGE_SHAPE).copy(), x_t[0, 0].numpy().copy(),
                          image[0, 0].numpy().copy(), reading, probability, last.nfe, ms, serial, digit)


class LatestDrawing:
    """A one-slot mailbox: `put` replaces what is waiting (an edit overtakes older ones)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[int, np.ndarray] | None = None
        self._serial = 0

    def put(self, x0: np.ndarray) -> int:
        with self._cond:
            self._serial += 1
            self._item = (self._serial, np.array(x0, np.float32, copy=True))
            self._cond.notify()
            return self._serial

    def take(self, timeout: float) -> tuple[int, np.ndarray] | None:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item


def iter_live(recon: LiveReconstructor, mailbox: LatestDrawing, cancel: threading.Event,
              poll_s: float = 0.05, idle: Callable[[], object] | None = None):
    """Yield a LiveResult for the newest drawing each time one waits; between drawings yield
    `idle()` (when given) every `poll_s`, so the caller can serve requests, until cancelled."""
    while not cancel.is_set():
        item = mailbox.take(poll_s)
        if item is None:
            if idle is not None:
                yield idle()
            continue
        serial, x0 = item
        yield recon.reconstruct(x0, serial)
