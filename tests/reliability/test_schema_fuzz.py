"""Fuzzing the one schema (bounded): whatever text, session or checkpoint metadata comes in,
the result is a clean value or a one-line SchemaError, never another exception."""
from __future__ import annotations

import json
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddpm_desktop.core.checkpoint import decode_metadata
from ddpm_desktop.core.schema import SchemaError, parse_json
from ddpm_desktop.core.snapshot import VERSION, Snapshot

N = int(os.environ.get("DDPM_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=N, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                database=None)

_scalars = (st.none() | st.booleans() | st.integers(-(10**30), 10**30)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def _one_line(exc: SchemaError) -> None:
    assert str(exc) and "\n" not in str(exc)


def _base() -> dict:
    return {
        "format": "ddpm-desktop-session", "version": VERSION,
        "schedule": {"kind": "cosine", "T": 200, "beta_start": 1e-4, "beta_end": 0.02},
        "input": {"seed": 1, "start": "laplace", "start_params": {"scale": 0.7},
                  "forward_from": "noise", "digit_source": "x", "digit_label": -1,
                  "digit": np.full((28, 28), -1.0).tolist()},
        "forward": {"t": 3},
        "sampler": {"sampler": "dpmpp", "steps": None, "label": 2, "compare": True},
        "training": {"dataset": "mnist", "conditional": False},
        "export": {"what": "both", "scale": 4},
        "device": "cpu", "model": {"kind": "bundled"},
    }


_PATHS = [("version",), ("schedule",), ("schedule", "T"), ("schedule", "beta_end"),
          ("input",), ("input", "seed"), ("input", "start"), ("input", "start_params"),
          ("input", "start_params", "scale"), ("input", "digit"), ("input", "digit_label"),
          ("forward",), ("forward", "t"), ("sampler",), ("sampler", "steps"),
          ("sampler", "compare"), ("sampler", "guidance"), ("training", "conditional"),
          ("training", "lr"), ("export", "path"), ("export", "fps"), ("device",), ("model",),
          ("model", "kind"), ("model", "sha256"), ("extra",)]


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_fuzz_parse_json_on_arbitrary_text(text):
    try:
        parse_json(text, 10_000, max_depth=6)
    except SchemaError as exc:
        _one_line(exc)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _json), min_size=1, max_size=4))
def test_fuzz_sessions_give_a_snapshot_or_one_line(edits):
    from ddpm_desktop.ui.session_file import prepare  # the settings' own rules too

    d = _base()
    for path, value in edits:
        target = d
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
    try:
        text = json.dumps(d, allow_nan=False)
        snap = Snapshot.from_json(text)
        prepare(snap)
    except SchemaError as exc:
        _one_line(exc)
        return
    assert Snapshot.from_json(snap.to_json()) == snap  # what reads, writes back the same


@FUZZ
@given(st.dictionaries(st.sampled_from(["step", "pair", "schedule", "model_config",
                                        "loss_history", "class_names", "dataset", "distill",
                                        "prediction", "guidance", "other"]),
                       _json.map(lambda v: json.dumps(v)) | st.text(max_size=30), max_size=4))
def test_fuzz_checkpoint_metadata_decodes_or_refuses_in_one_line(raw):
    try:
        decode_metadata(raw)
    except SchemaError as exc:
        _one_line(exc)


@FUZZ
@given(_scalars | st.lists(st.text(max_size=5), max_size=3),
       st.sampled_from([True, 0, 0.0, ""]))
def test_fuzz_settings_values_read_strictly_or_refuse(raw, default):
    from ddpm_desktop.ui.settings import strict_value

    kind = type(default)
    try:
        value = strict_value(raw, kind)
    except (ValueError, OverflowError):
        return
    assert type(value) is kind
    if kind is float:
        assert np.isfinite(value)
