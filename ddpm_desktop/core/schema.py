"""Strict, bounded reading of JSON that came from a file (sessions, settings, model metadata).

Two steps, both before anything is applied:

1. `parse_json(text, max_bytes, max_depth)`: the text is refused when longer than `max_bytes`
   or nested deeper than `max_depth` (counted before the parser runs, so no RecursionError),
   integers longer than `MAX_INT_DIGITS` digits are refused as they are parsed (no
   int-to-str limit traceback, no megabyte integers), and NaN/Infinity and floats that
   overflow to inf are refused.
2. `check_object(value, fields, where)`: every field of an object against a `Field` (its kind,
   range, length, choices); unknown keys are refused; booleans are JSON true/false only (never
   "yes", "false" or 1), an integer field takes only integers (not 1e30, not true), a float
   field takes any finite number within its range.

Every refusal is a `SchemaError` (a ValueError) of one line naming the field; callers add the
file's name (`refusal(name, exc)`).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np

MAX_INT_DIGITS = 24


class SchemaError(ValueError):
    """A value that does not fit its schema; one line, naming the field."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def refusal(name: str, exc: BaseException) -> str:
    """One line: the file's name, then why it was refused."""
    text = " ".join(str(exc).split())[:300]
    return f"'{name}': {text}"


# -- step 1: bounded parsing --------------------------------------------------------------------

# A JSON string, or an unterminated one running to the end: the possessive loop stops only at
# a closing quote or the end, so a match never fails and the scan stays linear (a failing
# pattern retried from every quote of '"\\"\\"...' took quadratic time).
_STRING = re.compile(rb'"(?:[^"\\]|\\.?)*+(?:"|\Z)', re.DOTALL)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets inside strings do not
    count); linear time, no recursion."""
    raw = _STRING.sub(b'""', text.encode("utf-8", "surrogatepass"))
    codes = np.frombuffer(raw, dtype=np.uint8)
    steps = (np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
             - np.isin(codes, (ord("]"), ord("}"))).astype(np.int64))
    return int(np.cumsum(steps).max(initial=0))


def _parse_int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise SchemaError(f"an integer of {len(s.lstrip('-'))} digits is too large "
                          f"(at most {MAX_INT_DIGITS})")
    return int(s)


def _parse_float(s: str) -> float:
    value = float(s)
    if not math.isfinite(value):
        raise SchemaError(f"the number {s[:40]} is too large")
    return value


def _parse_constant(s: str):
    raise SchemaError(f"{s} is not a number JSON allows")


def parse_json(text: str | bytes, max_bytes: int, max_depth: int = 16):
    """The JSON value in `text`; SchemaError (one line) for text over `max_bytes`, nesting over
    `max_depth`, over-long integers, non-finite numbers or anything that is not JSON."""
    if isinstance(text, bytes):
        if len(text) > max_bytes:
            raise SchemaError(f"too large ({len(text)} bytes; at most {max_bytes})")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise SchemaError("not UTF-8 text") from None
    elif len(text) > max_bytes:
        raise SchemaError(f"too large ({len(text)} characters; at most {max_bytes})")
    depth = json_depth(text)
    if depth > max_depth:
        raise SchemaError(f"nested {depth} levels deep (at most {max_depth})")
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") \
            from None
    except RecursionError:  # not reachable after the depth check; kept as a last guard
        raise SchemaError(f"nested too deeply (at most {max_depth})") from None


# -- step 2: typed fields -----------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One field of an object: `kind` is "bool", "int", "float", "str", "optional_int" (an int
    or null), "matrix" (rows x cols finite numbers in [lo, hi]) or "object" (a nested object
    checked by its own fields); `lo`/`hi` bound numbers, `max_len` strings, `choices`
    restrict a string; `required` fields must be present (others may be left out)."""

    name: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    max_len: int = 256
    required: bool = False
    shape: tuple = ()
    fields: tuple = ()


def _what(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounded(value, f: Field, what: str):
    if (f.lo is not None and value < f.lo) or (f.hi is not None and value > f.hi):
        raise SchemaError(f"{what} = {value!r} must lie in {f.lo:g}..{f.hi:g}"
                          if f.lo is not None and f.hi is not None
                          else f"{what} = {value!r} is out of range")
    return value


def check_value(value, f: Field, where: str = ""):
    """`value` checked against `f` (and converted: ints to float for float fields, a matrix
    to a float64 array); SchemaError naming the field otherwise."""
    what = _what(where, f.name)
    kind = f.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise SchemaError(f"{what} must be true or false, not {_show(value)}")
        return value
    if kind in ("int", "optional_int"):
        if value is None and kind == "optional_int":
            return None
        if not _is_int(value):
            raise SchemaError(f"{what} must be an integer, not {_show(value)}")
        return _bounded(value, f, what)
    if kind == "float":
        if not _is_number(value) or not math.isfinite(value):
            raise SchemaError(f"{what} must be a finite number, not {_show(value)}")
        return _bounded(float(value), f, what)
    if kind == "str":
        if not isinstance(value, str):
            raise SchemaError(f"{what} must be text, not {_show(value)}")
        if len(value) > f.max_len:
            raise SchemaError(f"{what} is too long ({len(value)} characters; at most {f.max_len})")
        if f.choices and value not in f.choices:
            raise SchemaError(f"{what} must be one of {', '.join(map(str, f.choices))}, "
                              f"not {_show(value)}")
        return value
    if kind == "matrix":
        rows, cols = f.shape
        if not (isinstance(value, list) and len(value) == rows
                and all(isinstance(r, list) and len(r) == cols for r in value)
                and all(_is_number(v) for r in value for v in r)):
            raise SchemaError(f"{what} must be {rows} rows of {cols} numbers")
        arr = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(arr)) or (f.lo is not None and arr.min() < f.lo) \
                or (f.hi is not None and arr.max() > f.hi):
            raise SchemaError(f"{what} must be {rows} rows of {cols} numbers in "
                              f"[{f.lo:g}, {f.hi:g}]")
        return arr
    if kind == "object":
        return check_object(value, f.fields, what)
    raise SchemaError(f"{what}: unknown field kind {kind!r}")  # a bug in a schema


def check_object(value, fields, where: str = "", allow_unknown: bool = False) -> dict:
    """A dict of the fields present in `value` (a JSON object), each checked; SchemaError for a
    missing required field, an unknown key (unless `allow_unknown`) or a bad value."""
    if not isinstance(value, dict):
        raise SchemaError(f"{where or 'the file'} must be an object, not {_show(value)}")
    by_name = {f.name: f for f in fields}
    unknown = sorted(_key(k) for k in value if k not in by_name)
    if unknown and not allow_unknown:
        raise SchemaError(f"unknown field(s) in {where or 'the file'}: {', '.join(unknown[:5])}")
    out = {}
    for f in fields:
        if f.name in value:
            out[f.name] = check_value(value[f.name], f, where)
        elif f.required:
            raise SchemaError(f"{_what(where, f.name)} is missing")
    return out


def _key(key) -> str:
    """A key as it may be shown: plain when it is a short name, else quoted with escapes."""
    text = str(key)
    return text if text.isidentifier() and len(text) <= 40 else repr(text[:40])


def _show(value) -> str:
    if isinstance(value, str):
        return repr(value[:40] + ("…" if len(value) > 40 else ""))
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"
