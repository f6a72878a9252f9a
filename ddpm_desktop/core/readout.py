"""How a KL reading reads on screen: one set of rules for every view and the CLI.

`format_kl(value, spread=None, resolution=None, ...) -> Readout` turns a KL (nats) into what a
learner reads:

- a number, with its spread when there is one: "0.0772 ± 0.016";
- an estimate below its resolution (the level under which it cannot be told from N(0, 1),
  core.kl.indistinguishable_level), negative ones included, as "≈ 0 (below 0.0117)": a KL is
  never below 0, and a reading under the level says only that; the raw number goes in the
  tooltip;
- +∞ in words, with the reason: "∞ (x₀'s pixel values repeat: no density)", never "∞ ± –";
- a value not there yet as "not computed yet"; an undefined one (nan) as "not defined".

`Readout` keeps the compact reading (`value`: "≈ 0", "∞", "0.0772 ± 0.016"), the words that
explain it (`note`), their join (`text`) and the `tooltip` (the raw number, and what the note
means; "" for a plain number). A table (the CLI) prints `value` in its column and the notes
below it; a label prints `text` and sets `tooltip`.

Pure Python: no Qt, no numpy.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# Why a KL to N(0, 1) is +∞ (a distribution with an atom has no density; docs/KL.md).
NO_DENSITY = "x₀'s pixel values repeat: no density"
NO_DENSITY_TIP = ("An image's pixel values repeat exactly (the background is one value), so "
                  "their distribution has atoms and no density: its KL to N(0, 1) is +∞. Any "
                  "noise (t ≥ 1) smooths the atoms and the KL becomes finite.")
REPEATED_VALUES = "repeated pixel values: no density"
REPEATED_VALUES_TIP = ("At least 5 of the 784 pixel values are equal (clipped to ±1, or a flat "
                       "background), so the estimate's spacings are 0 and it reads +∞: values "
                       "with atoms have no density.")
POINT_MASS = "q(x₀|x₀) is a point mass"
POINT_MASS_TIP = ("At t = 0 no noise has been added: q(x₀|x₀) puts all its mass on x₀ itself, "
                  "and a point mass has infinite KL to N(0, 1).")
DISCRETE = "its pixel values are discrete: no density"
DISCRETE_TIP = ("The start's pixel values take a few values only, so their distribution has "
                "atoms and no density: its KL to N(0, 1) is +∞.")
MISSING = "not computed yet"
MISSING_TIP = "This number is being computed in the background; it appears when it is ready."
UNDEFINED = "not defined"


def number(v: float, digits: int = 3) -> str:
    """A plain number with `digits` significant digits and a true minus sign."""
    return ("−" if v < 0 else "") + f"{abs(v):.{digits}g}"


@dataclass(frozen=True)
class Readout:
    """A KL as read: `value` the compact reading, `note` the words that explain it ("" when a
    number needs none), `tooltip` the raw number and what the note means ("" for a plain
    number)."""

    value: str
    note: str = ""
    tooltip: str = ""

    @property
    def text(self) -> str:
        return f"{self.value} ({self.note})" if self.note else self.value


def format_kl(value: float | None, spread: float | None = None,
              resolution: float | None = None, *, infinite: str = NO_DENSITY,
              infinite_tip: str = "", missing: str = MISSING, unit: str = "",
              fmt: Callable[[float, int], str] = number, digits: int = 3) -> Readout:
    """How a KL (nats) reads.

    value: the KL (None: not there yet; nan: not defined; +inf: said as ∞ with `infinite`,
        the reason in a few words, and `infinite_tip`, the reason in full, in the tooltip).
    spread: its sampling standard deviation (shown as "± s" beside a number; ignored when
        not finite).
    resolution: the level under which the estimate cannot be told from 0 (None: an exact
        value, shown as it is). A value below it (or below 0) reads "≈ 0 (below level)".
    unit: appended to the numbers (" nats"); `fmt(v, digits)`: the number formatter (the
        maths panel passes its rich-text one), `digits` for the value, 2 for the spread.
    """
    if value is None:
        return Readout(missing, tooltip=MISSING_TIP if missing == MISSING else "")
    value = float(value)
    has_spread = spread is not None and math.isfinite(float(spread))
    raw = fmt(value, digits) + (f" ± {fmt(float(spread), 2)}" if has_spread else "") + unit
    if math.isnan(value):
        return Readout(UNDEFINED, tooltip="The reading is not a number (nan).")
    if math.isinf(value):
        if value > 0:
            return Readout("∞", infinite, f"KL = +∞: {infinite_tip}" if infinite_tip
                           else f"KL = +∞ ({infinite}).")
        return Readout(UNDEFINED, tooltip="The reading is −∞, which no KL can be.")
    level = None if resolution is None or not math.isfinite(resolution) else float(resolution)
    if (level is not None and value <= level) or value < 0:
        if level is not None and level > 0:
            note = f"below {fmt(level, digits)}{unit}"
            why = (f"below {fmt(level, digits)}{unit}, the level that 95% of estimates from N(0, 1) "
                   f"samples of this size stay under: it cannot be told from 0")
        else:
            note = "below 0"
            why = "a KL is never below 0: the reading's own error took it there"
        return Readout("≈ 0", note, f"raw value {raw}: {why}.")
    return Readout(raw)
