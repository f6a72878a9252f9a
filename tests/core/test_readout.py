"""A KL reads as a number, "≈ 0 (below the level)", ∞ with its reason, or words: never a negative
KL, never "∞ ± –"."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ddpm_desktop.core import kl, maths, readout
from ddpm_desktop.core.readout import format_kl


def test_a_number_reads_with_its_spread_and_no_note():
    r = format_kl(0.0772, 0.016, resolution=0.0117)
    assert r.text == "0.0772 ± 0.016" and r.note == "" and r.tooltip == ""
    assert format_kl(0.0772, unit=" nats").text == "0.0772 nats"
    assert format_kl(1.5, math.nan).text == "1.5"  # an undefined spread is left out


@pytest.mark.parametrize("raw", [-0.00544, 0.0, 0.004])
def test_an_estimate_below_its_resolution_reads_about_zero_with_the_raw_value_on_hover(raw):
    level = float(kl.indistinguishable_level(784))
    r = format_kl(raw, 0.0055, resolution=level)
    assert r.value == "≈ 0" and r.text == f"≈ 0 (below {level:.3g})"
    assert readout.number(raw) in r.tooltip and "± 0.0055" in r.tooltip
    assert "−" not in r.text  # no negative KL on screen


def test_a_negative_reading_is_about_zero_even_without_a_level():
    r = format_kl(-1e-12)
    assert r.text == "≈ 0 (below 0)" and "−1e-12" in r.tooltip


def test_the_level_is_what_95_percent_of_normal_samples_stay_under():
    """The resolution the views pass is the level itself: estimates of N(0, 1) samples read
    "≈ 0" about 95% of the time (one-sided 5% test), an exponential start never does."""
    rng = np.random.default_rng(0)
    level = float(kl.indistinguishable_level(784))
    est = kl.estimated_kl_batch(rng.standard_normal((400, 784)))
    about_zero = np.mean([format_kl(e, resolution=level).value == "≈ 0" for e in est])
    assert 0.90 <= about_zero <= 0.99
    far = kl.estimated_kl_batch(rng.exponential(2.0, (20, 784)))
    assert not any(format_kl(e, resolution=level).value == "≈ 0" for e in far)


def test_infinity_reads_as_words_with_its_reason():
    r = format_kl(math.inf, math.nan, resolution=0.0117)
    assert r.text == f"∞ ({readout.NO_DENSITY})" and "±" not in r.text and "–" not in r.text
    assert "+∞" in r.tooltip
    r = format_kl(math.inf, infinite=readout.POINT_MASS, infinite_tip=readout.POINT_MASS_TIP)
    assert r.text == "∞ (q(x₀|x₀) is a point mass)" and r.tooltip.endswith(readout.POINT_MASS_TIP)


def test_missing_and_undefined_values_read_as_words():
    assert format_kl(None, None).text == "not computed yet"
    assert format_kl(None).tooltip
    assert format_kl(math.nan).text == "not defined"
    assert format_kl(-math.inf).text == "not defined"


def test_the_maths_panel_number_format_can_be_passed_in():
    r = format_kl(4.036e-5, 2e-6, fmt=maths.num, digits=4)
    assert r.text == "4.036·10<sup>−5</sup> ± 2.0·10<sup>−6</sup>"


def _kl_terms(*args):
    return {term.key: term for term in maths.kl_terms(*args)}


def test_the_maths_panel_kl_terms_at_t0_say_why_in_words():
    """At t = 0 of an image the exact KL, the estimate and the bound are +∞ (the spread nan):
    each reads ∞ with its reason, never "∞ ± –"."""
    terms = _kl_terms(0, math.inf, math.inf, math.nan, 2.9, math.inf, 0.0117)
    for key in ("kl.exact", "kl.estimate", "kl.bound"):
        value = terms[key].value
        assert "∞ (" in value and "±" not in value and "–" not in value, value
        assert "+∞" in terms[key].tip
    assert readout.NO_DENSITY in terms["kl.estimate"].value
    assert readout.POINT_MASS in terms["kl.bound"].value
    assert "2.900 nats" in terms["kl.hist"].value


def test_the_maths_panel_estimate_below_the_level_reads_about_zero():
    terms = _kl_terms(1000, 4.0e-5, -0.00544, 0.0055, 0.02, 4.5e-5, 0.0117)
    est = terms["kl.estimate"]
    assert "KL̂ = ≈ 0 (below 0.01170 nats)" in est.value and "−" not in est.value
    assert "−0.005440 ± 0.0055 nats" in est.tip  # the raw value on hover
    assert "4.000·10<sup>−5</sup> nats" in terms["kl.exact"].value  # an exact value as it is
    missing = _kl_terms(3, None, None, None, None, None, 0.0117)
    assert all(t.value.endswith("not computed yet") for t in missing.values())
