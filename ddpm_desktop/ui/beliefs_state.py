"""What the model believes about the input digit: the results the Beliefs panel shows.

Three results, each set by the beliefs area (ui/session_beliefs.py) when its worker job ends:
the digit's likelihood (bits/dim and its place among held-out digits), the principal
directions of p(x_0 | x_t) at one t, and the digit's DDIM inversion with a decoding under
another class. Each has a running flag and a one-line error; `changed(str)` names the one
that changed ("likelihood", "uncertainty", "inversion"). CPU numpy copies only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

KINDS = ("likelihood", "uncertainty", "inversion")
# The guidance w the digit's x_T is decoded as another class with, unless set: at w = 1 the
# x_T of a held-out 0 decoded as an 8 still read as 0 for one of three; at w = 3 all three
# read as 8 (the bundled classifier, p(8) > 0.97).
DEFAULT_DECODE_GUIDANCE = 3.0


@dataclass(frozen=True)
class LikelihoodResult:
    """Bits/dim of the input digit (core.likelihood.image_bits_per_dim); `more_likely_than` the
    share (0..1) of held-out digits with higher bits/dim and `held_out_median` their median,
    both None when the reference does not apply (another model or other settings)."""

    bits_per_dim: float
    steps: int
    more_likely_than: float | None = None
    held_out_median: float | None = None


@dataclass(frozen=True)
class UncertaintyResult:
    """At step t: x̂_0 = E[x_0 | x_t] float32 [28, 28], the top-k principal directions of
    p(x_0 | x_t) float32 [k, 28, 28] (unit norm) and their variances float64 [k] (model units²)."""

    t: int
    x0_mean: np.ndarray
    directions: np.ndarray
    variances: np.ndarray


@dataclass(frozen=True)
class InversionResult:
    """The digit x_0, its DDIM inversion x_T, x_T decoded back (unconditionally) and decoded with
    class `label` at guidance w = `guidance`, float32 [28, 28] each; `mse` the round trip's
    reconstruction MSE in model units [-1, 1]."""

    x0: np.ndarray
    x_T: np.ndarray
    reconstruction: np.ndarray
    decoded: np.ndarray
    label: int
    guidance: float
    mse: float


class BeliefsState(QObject):
    changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.results: dict[str, object | None] = {k: None for k in KINDS}
        self.running: dict[str, bool] = {k: False for k in KINDS}
        self.errors: dict[str, str] = {k: "" for k in KINDS}

    @property
    def likelihood(self) -> LikelihoodResult | None:
        return self.results["likelihood"]

    @property
    def uncertainty(self) -> UncertaintyResult | None:
        return self.results["uncertainty"]

    @property
    def inversion(self) -> InversionResult | None:
        return self.results["inversion"]

    def set_running(self, kind: str) -> None:
        self.running[kind], self.errors[kind] = True, ""
        self.changed.emit(kind)

    def set_result(self, kind: str, result) -> None:
        self.results[kind], self.running[kind], self.errors[kind] = result, False, ""
        self.changed.emit(kind)

    def set_error(self, kind: str, message: str) -> None:
        """A failure as one line (the first line of `message`)."""
        self.running[kind] = False
        self.errors[kind] = (message.strip().splitlines() or [""])[0]
        self.changed.emit(kind)

    def clear(self, kind: str) -> None:
        """Forget `kind`'s result and error (its input changed)."""
        if self.results[kind] is not None or self.errors[kind] or self.running[kind]:
            self.results[kind], self.errors[kind], self.running[kind] = None, "", False
            self.changed.emit(kind)

    def set_stopped(self, kind: str) -> None:
        if self.running[kind]:
            self.running[kind] = False
            self.changed.emit(kind)
