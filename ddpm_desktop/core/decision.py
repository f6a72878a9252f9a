"""When the digit is decided: the bundled classifier's class probabilities on x̂_0 along a reverse
chain, and the step from which its reading never changes again.

A reverse chain predicts x̂_0 = (x_t - √(1-ᾱ_t) ε̂)/√ᾱ_t at every network call (Ho et al. 2020,
eq. 15 solved for x_0). Reading each x̂_0 with the classifier gives p(class | x̂_0(x_t)) as a
function of t: early on (t near T) x̂_0 is a blur the classifier reads as anything; somewhere
along the chain its reading settles on the class the final digit has.

Definitions (used by the app, the CLI and the docs' numbers):

- the *decision curve* of a chain is p(k | x̂_0) for k = 0..9 at each network call, in chain
  order, each with the t of the x_t the network saw (`DecisionRecorder` collects them from
  `core.sampling.SampleStep`s: a step whose nfe grew made one call, at the t of the state
  before it; RePaint's jumps up make none and are skipped);
- the *reading* at a call is argmax_k p(k | x̂_0) (ties: the lowest class, numpy's argmax);
- the chain *settles* at the first call i from which the reading never changes again:
  reading_j = reading_{K-1} for every j >= i (`settle_index`); `settle_step` is the t of that
  call. A chain whose reading never changes settles at its first call (its t_start).
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from .imaging import IMAGE_SIDE

NUM_CLASSES = 10
# Images per classifier call: big enough that the per-call overhead vanishes, small enough
# that a chunk of a 1000-step chain of a batch stays a few MB.
CHUNK = 512


@functools.lru_cache(maxsize=1)
def bundled_classifier():
    """The bundled classifier (core/classifier.py), loaded once per process, in eval mode.

    Read-only from here on: inference from several threads at once is safe in torch."""
    from .classifier import load_classifier

    model, _info = load_classifier()
    return model


def decision_curve(classifier, x0_preds, batch_size: int = CHUNK) -> np.ndarray:
    """Softmax class probabilities of the classifier on each x̂_0, float64 [..., 10].

    x0_preds: [K, 28, 28], [K, 1, 28, 28] or [K, B, 1, 28, 28] (K calls of a chain of B
    images), in [-1, 1] (numpy or torch); the result is [K, 10] or [K, B, 10]. All images go
    through the classifier in chunks of `batch_size` (one call per chunk), under inference
    mode. The classifier must be in eval mode (dropout off), as `load_classifier` returns it.
    """
    x = x0_preds.detach().cpu() if isinstance(x0_preds, torch.Tensor) else \
        torch.from_numpy(np.asarray(x0_preds, dtype=np.float32))
    shape = tuple(x.shape)
    if len(shape) == 3 and shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        lead = shape[:1]
    elif len(shape) == 4 and shape[1:] == (1, IMAGE_SIDE, IMAGE_SIDE):
        lead = shape[:1]
    elif len(shape) == 5 and shape[2:] == (1, IMAGE_SIDE, IMAGE_SIDE):
        lead = shape[:2]
    else:
        raise ValueError(f"x̂_0 must be [K, 28, 28], [K, 1, 28, 28] or [K, B, 1, 28, 28], got {list(shape)}")
    if getattr(classifier, "training", False):
        raise ValueError("the classifier is in training mode (dropout on): call .eval() first")
    flat = x.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE).to(torch.float32)
    out = np.empty((len(flat), NUM_CLASSES), dtype=np.float64)
    with torch.inference_mode():
        for lo in range(0, len(flat), int(batch_size)):
            logits = classifier(flat[lo:lo + int(batch_size)])
            out[lo:lo + len(logits)] = torch.softmax(logits.double(), dim=1).numpy()
    return out.reshape(*lead, NUM_CLASSES)


def _check_probs(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"probs must be [K >= 1, classes], got shape {list(p.shape)}")
    return p


def settle_index(probs) -> int:
    """The first index i of probs [K, C] from which argmax_k probs[j, k] equals the last row's
    argmax for every j >= i (0 when the reading never changes)."""
    readings = _check_probs(probs).argmax(axis=1)
    changed = np.flatnonzero(readings != readings[-1])
    return 0 if changed.size == 0 else int(changed[-1]) + 1


def settle_step(probs, ts) -> int:
    """The step t at which the reading settles: ts[settle_index(probs)].

    probs [K, C] (a decision curve), ts [K] the t of each row (the t each x̂_0 was predicted at).
    """
    ts = np.asarray(ts)
    p = _check_probs(probs)
    if ts.shape != (p.shape[0],):
        raise ValueError(f"ts must hold one t per row of probs ({p.shape[0]}), got shape {list(ts.shape)}")
    return int(ts[settle_index(p)])


class DecisionRecorder:
    """The decision curve of a chain, read as the chain runs, from its `SampleStep`s.

    `add(step)` for every step in order (the start state first): a step whose nfe grew made
    one network call, at the t of the state before it, and its x̂_0 (batch B) is queued; the
    queue goes through the classifier whenever it holds `chunk` images (one call per chunk)
    and on `flush()`, so memory holds the probabilities, not the images. `curve()` is then
    float64 [K, B, 10] and `ts` int64 [K], the t of the x_t each call saw.
    """

    def __init__(self, classifier, chunk: int = CHUNK) -> None:
        self.classifier = classifier
        self.chunk = int(chunk)
        self._pending: list[torch.Tensor] = []
        self._probs: list[np.ndarray] = []
        self._ts: list[int] = []
        self._prev_t: int | None = None
        self._prev_nfe = 0

    def add(self, step) -> bool:
        """Record `step` (a SampleStep); True when it made a network call (a new x̂_0)."""
        made_call = self._prev_t is not None and step.nfe > self._prev_nfe
        if made_call:
            x0 = step.x0_pred.detach().to("cpu", torch.float32, copy=True)
            self._pending.append(x0.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE))
            self._ts.append(self._prev_t)
            if sum(len(x) for x in self._pending) >= self.chunk:
                self.flush()
        self._prev_t, self._prev_nfe = int(step.t), int(step.nfe)
        return made_call

    def flush(self) -> int:
        """Classify the queued x̂_0s now; -> how many calls' rows that added."""
        if not self._pending:
            return 0
        rows = decision_curve(self.classifier, torch.stack(self._pending), batch_size=self.chunk)
        self._pending = []
        self._probs.append(rows)
        return len(rows)

    def __len__(self) -> int:
        return len(self._ts)

    @property
    def ts(self) -> np.ndarray:
        return np.asarray(self._ts, dtype=np.int64)

    def curve(self) -> np.ndarray:
        """The decision curve of every chain of the batch: float64 [K, B, 10]."""
        self.flush()
        if not self._probs:
            raise ValueError("no network call recorded: the chain has no decision curve")
        return np.concatenate(self._probs)

    def settle_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """(the t each chain of the batch settles at [B], the class it settles on [B])."""
        probs = self.curve()
        ts = self.ts
        settled = np.array([settle_step(probs[:, b], ts) for b in range(probs.shape[1])], dtype=np.int64)
        return settled, probs[-1].argmax(axis=1).astype(np.int64)
