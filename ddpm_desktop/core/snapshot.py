"""One snapshot of everything a user set: a typed, versioned, frozen value, and its file format.

`Snapshot` holds the schedule, the input (x_0's pixels and where they came from, the starting
distribution of x_T, the seed), the forward frame on screen, the sampler, training and export
settings, the device and the model (by path and content hash, or "bundled"). The session file
is `Snapshot.to_dict()` as JSON; `Snapshot.from_dict` reads one back through core.schema
(bounded, strictly typed, validated completely; a one-line SchemaError naming the field
otherwise). Nothing here knows Qt: ui/session_file.py takes a snapshot of the session and
applies one.

Format (FORMAT, VERSION 2; version 1 files, without "forward" and "model", still read):
  {"format": "ddpm-desktop-session", "version": 2,
   "schedule": {"kind", "T", "beta_start", "beta_end"},
   "input": {"seed", "start", "start_params", "forward_from", "digit_source", "digit_label",
             "digit": 28 rows of 28 numbers in [-1, 1]},
   "forward": {"t"},
   "sampler": {...}, "training": {...}, "export": {...}   (SAMPLER/TRAINING/EXPORT_FIELDS),
   "device": "cpu" | "cuda",
   "model": null | {"kind": "bundled" | "file" | "trained" | "exact" | "twin-a" | "twin-b" |
                    "few-a" | "few-b", "path", "sha256", "bandwidth" (exact only)}}
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .forward import IMAGE_SHAPE, START_PARAMS, STARTS
from .sampling import SAMPLERS
from .schema import Field, SchemaError, check_object, check_value, parse_json
from .schedule import MAX_T, SCHEDULE_KINDS

FORMAT = "ddpm-desktop-session"
VERSION = 2
MAX_BYTES = 2_000_000
MAX_DEPTH = 6
SEED_MAX = 2**31 - 1
# The subset models are core.checkpoint.SUBSET_MODELS (which imports this module, so they are
# spelled out here; tests/core/test_twins.py checks the two agree).
MODEL_KINDS = ("bundled", "file", "trained", "exact", "twin-a", "twin-b", "few-a", "few-b")
_SHA256 = re.compile(r"[0-9a-f]{64}")

# The range each starting-distribution parameter may take (what the Input panel offers).
START_PARAM_RANGES = {"rate": (0.001, 10.0), "a": (0.001, 10.0), "scale": (0.001, 10.0),
                      "std": (0.001, 10.0), "value": (0.001, 10.0), "amount": (0.0, 1.0),
                      "mean": (-10.0, 10.0)}

SCHEDULE_FIELDS = (
    Field("kind", "str", choices=SCHEDULE_KINDS, required=True),
    Field("T", "int", 1, MAX_T, required=True),
    Field("beta_start", "float", 0.0, 1.0, required=True),
    Field("beta_end", "float", 0.0, 1.0, required=True),
)
INPUT_FIELDS = (
    Field("seed", "int", 0, SEED_MAX, required=True),
    Field("start", "str", choices=tuple(s for s in STARTS if s != "image"), required=True),
    Field("start_params", "object", fields=tuple(
        Field(k, "float", lo, hi) for k, (lo, hi) in START_PARAM_RANGES.items())),
    Field("forward_from", "str", choices=("digit", "noise"), required=True),
    Field("digit_source", "str", max_len=200),
    Field("digit_label", "int", -1, 9),
    Field("digit", "matrix", -1.0, 1.0, shape=IMAGE_SHAPE, required=True),
)
FORWARD_FIELDS = (Field("t", "int", 0, MAX_T, required=True),)
SAMPLER_FIELDS = (
    Field("sampler", "str", choices=SAMPLERS),
    Field("steps", "optional_int", 1, 100_000),
    Field("seed", "int", 0, SEED_MAX),
    Field("label", "optional_int", 0, 9),
    Field("guidance", "float", 0.0, 20.0),
    Field("source", "str", choices=("noise", "input")),
    Field("t_start", "int", 1, MAX_T),
    Field("compare", "bool"),
    Field("sampler_b", "str", choices=SAMPLERS),
    Field("eta", "float", 0.0, 1.0),
)
TRAINING_FIELDS = (
    Field("dataset", "str", max_len=64),
    Field("batch_size", "int", 1, 4096),
    Field("steps", "int", 1, 10_000_000),
    Field("lr", "float", 1e-6, 0.5),
    Field("conditional", "bool"),
    Field("sample_every_s", "int", 1, 3600),
)
EXPORT_FIELDS = (
    Field("what", "str", max_len=32),
    Field("format", "str", max_len=32),
    Field("fps", "int", 1, 50),
    Field("scale", "int", 1, 12),
    Field("stride", "int", 0, 10_000),
    Field("key_frames", "int", 2, 32),
    Field("histogram", "bool"),
    Field("kl", "bool"),
    Field("folder", "str", max_len=4096),
    Field("path", "str", max_len=4096),
    Field("both_from", "str", max_len=32),
    Field("both_t", "int", 0, 100_000),
)
MODEL_FIELDS = (
    Field("kind", "str", choices=MODEL_KINDS, required=True),
    Field("path", "str", max_len=4096),
    Field("sha256", "str", max_len=64),
    Field("bandwidth", "float", 0.0, 1e6),
)
_TOP_FIELDS = (
    Field("format", "str", max_len=64, required=True),
    Field("version", "int", 1, 10**6, required=True),
    Field("schedule", "object", fields=SCHEDULE_FIELDS, required=True),
    Field("input", "object", fields=INPUT_FIELDS, required=True),
    Field("forward", "object", fields=FORWARD_FIELDS),
    Field("sampler", "object", fields=SAMPLER_FIELDS),
    Field("training", "object", fields=TRAINING_FIELDS),
    Field("export", "object", fields=EXPORT_FIELDS),
    Field("device", "str", choices=("cpu", "cuda")),
)


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ScheduleSnapshot:
    kind: str
    T: int
    beta_start: float
    beta_end: float


@dataclass(frozen=True)
class InputSnapshot:
    """x_0 as float32 pixels (`digit`, C-order bytes of [28, 28]; `digit_array` gives the
    array) with a short description of where it came from; the x_T distribution; the seed."""

    seed: int
    start: str
    start_params: Mapping
    forward_from: str
    digit_source: str
    digit_label: int
    digit: bytes

    @property
    def digit_array(self) -> np.ndarray:
        arr = np.frombuffer(self.digit, dtype="<f4").reshape(IMAGE_SHAPE)
        return arr  # read-only (a view of bytes)

    @staticmethod
    def pack(digit: np.ndarray) -> bytes:
        arr = np.asarray(digit, dtype="<f4")
        if arr.shape != IMAGE_SHAPE:
            raise SchemaError(f"a digit is {IMAGE_SHAPE}, not {arr.shape}")
        return np.ascontiguousarray(arr).tobytes()


@dataclass(frozen=True)
class ModelRef:
    """The network: "bundled" (the one shipped with the app), "file" (`path`, whose content
    had `sha256` when it was loaded), "trained" (trained in the app and not saved), "exact"
    (the perfect denoiser of the training digits, core.exact_denoiser, with its `bandwidth`) or
    a bundled subset model by its name (core.checkpoint.SUBSET_MODELS: "twin-a", ...)."""

    kind: str
    path: str = ""
    sha256: str = ""
    bandwidth: float = 0.0

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "path": self.path, "sha256": self.sha256}
        return {**d, "bandwidth": self.bandwidth} if self.kind == "exact" else d


@dataclass(frozen=True)
class Snapshot:
    """Everything a user set. `sampler`, `training` and `export` are read-only mappings of
    the settings' fields (SAMPLER/TRAINING/EXPORT_FIELDS; fields left out keep the app's
    defaults); `model` None: no model recorded (a version-1 file), keep the current one."""

    schedule: ScheduleSnapshot
    input: InputSnapshot
    forward_t: int
    sampler: Mapping
    training: Mapping
    export: Mapping
    device: str
    model: ModelRef | None = None

    def __post_init__(self) -> None:
        for name in ("sampler", "training", "export"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "input", InputSnapshot(
            **{**self.input.__dict__, "start_params": _frozen(self.input.start_params)}))

    # ------------------------------------------------------------------ dict form
    def to_dict(self) -> dict:
        inp = self.input
        return {
            "format": FORMAT, "version": VERSION,
            "schedule": dict(self.schedule.__dict__),
            "input": {"seed": inp.seed, "start": inp.start,
                      "start_params": dict(inp.start_params), "forward_from": inp.forward_from,
                      "digit_source": inp.digit_source, "digit_label": inp.digit_label,
                      # float32 -> float64 is exact, and JSON keeps every float64 digit
                      "digit": inp.digit_array.astype(np.float64).tolist()},
            "forward": {"t": self.forward_t},
            "sampler": dict(self.sampler), "training": dict(self.training),
            "export": dict(self.export), "device": self.device,
            "model": None if self.model is None else self.model.to_dict(),
        }

    @classmethod
    def from_dict(cls, data) -> "Snapshot":
        """Validate a parsed session completely; SchemaError (one line) for anything wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SchemaError("not a ddpm-desktop session file")
        version = check_value(data.get("version"), Field("version", "int", 1, 10**6))
        if version > VERSION:
            raise SchemaError(f"written by a newer version of ddpm-desktop (format {version}; "
                              f"this one reads up to {VERSION})")
        model_raw = data.get("model")
        v = check_object({k: val for k, val in data.items() if k != "model"}, _TOP_FIELDS)
        model = None
        if version >= 2 and model_raw is not None:
            m = check_object(model_raw, MODEL_FIELDS, "model")
            model = ModelRef(m["kind"], m.get("path", ""), m.get("sha256", ""),
                             float(m.get("bandwidth", 0.0)))
            if model.kind == "file" and not (model.path and _SHA256.fullmatch(model.sha256)):
                raise SchemaError("model: a file model needs its path and sha256 (64 hex digits)")
        inp = v["input"]
        allowed = START_PARAMS.get(inp["start"], {})
        params = inp.get("start_params", {})
        extra = sorted(set(params) - set(allowed))
        if extra:
            raise SchemaError(f"input.start_params.{extra[0]} is not a parameter of "
                              f"start {inp['start']!r}")
        sched = v["schedule"]
        forward_t = v.get("forward", {}).get("t", 0)
        if forward_t > sched["T"]:
            raise SchemaError(f"forward.t = {forward_t} must lie in 0..T = {sched['T']}")
        return cls(
            schedule=ScheduleSnapshot(**sched),
            input=InputSnapshot(
                seed=inp["seed"], start=inp["start"], start_params=params,
                forward_from=inp["forward_from"],
                digit_source=inp.get("digit_source", "session file"),
                digit_label=inp.get("digit_label", -1),
                digit=InputSnapshot.pack(inp["digit"])),
            forward_t=forward_t,
            sampler=v.get("sampler", {}), training=v.get("training", {}),
            export=v.get("export", {}), device=v.get("device", "cpu"), model=model)

    # ------------------------------------------------------------------ text form
    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Snapshot":
        return cls.from_dict(parse_json(text, MAX_BYTES, MAX_DEPTH))


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's content, as 64 hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
