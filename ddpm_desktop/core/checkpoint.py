"""Checkpoints: safetensors weights with JSON metadata, plus a resumable training state.

- `NAME.safetensors`: the EMA weights (what sampling uses), with the model configuration,
  the training configuration, the step and the default noise schedule as JSON metadata.
  safetensors holds only tensors and text, so loading one never runs code.
- `NAME.state.pt` beside it (only when saved from a Trainer): the raw weights, optimizer,
  EMA, RNG state and step, loaded only with `torch.load(weights_only=True)`, which refuses
  pickles that would run code.
- The two files of one save are a pair: both carry `pair = {"run_id", "step"}` (the run id is
  drawn at a run's first save and kept across resumes). Two files cannot be replaced in one
  atomic step, so `save_checkpoint` keeps the state it replaces as `NAME.state.pt.prev` until
  the new weights are in place: a kill between the two leaves the new state beside the old
  weights and the old state beside them too, and `load_trainer` resumes from the old pair.
  A mismatch it cannot resolve (other weights saved under the name) is refused, saying why.

`load_model` validates before it returns: every configuration field's type and range
(`ModelConfig.validate`), the tensors' names and shapes against the architecture built on the
meta device (no memory), then one forward pass on a [1, 1, 28, 28] input that must give a
finite [1, 1, 28, 28]; any failure is a one-line CheckpointError and nothing is replaced.

Both are written by `core.files.atomic_write` (a temporary file in the same folder, fsync,
then os.replace), so a process killed mid-write leaves the previous checkpoint intact;
temporary files orphaned by such a kill (of NAME.safetensors or NAME.state.pt) are removed at
the next save of NAME.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import uuid
import weakref
import zipfile
from enum import Enum
from pathlib import Path

import torch

from .files import atomic_write_bytes, clean_orphaned_temps, unreadable_reason  # noqa: F401 - re-exported
from .imaging import IMAGE_SHAPE
from .model import ModelConfig, UNet
from .schedule import DEFAULT_SCHEDULE
from .schema import Field, SchemaError, check_object, parse_json, refusal
from .snapshot import SCHEDULE_FIELDS


class ModelSource(str, Enum):
    """Where the app's model came from when it is not a file: the bundled model, one trained
    in this session, the perfect denoiser of the training digits (core.exact_denoiser), or one
    of the bundled subset models (SUBSET_MODELS, named by their own names). A
    model loaded from a file has its file name as its source (a plain str); `model_file(source)`
    tells the cases apart. Members are their strings (equal, hashed, shown
    and written to JSON as the value), so a status line or a saved session reads the same."""

    BUNDLED = "bundled model"
    TRAINED = "trained here"
    EXACT = "perfect denoiser"
    TWIN_A = "twin-a"
    TWIN_B = "twin-b"
    FEW_A = "few-a"
    FEW_B = "few-b"

    __str__ = str.__str__
    __format__ = str.__format__


def model_file(source) -> str | None:
    """The file a model source names, or None (the bundled model, one trained here, the perfect
    denoiser, no model)."""
    name = str(source or "")
    return None if name in ("", *(m.value for m in ModelSource)) else name


FORMAT = "ddpm-desktop/1"
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
BUNDLED_MODEL = "model.safetensors"
# Models trained on parts of the training digits (docs/COPIES.md has the recipe; the subset is
# in each file's metadata): twin-a and twin-b on the two disjoint halves (4,500 digits each),
# few-a and few-b on two disjoint sets of 64 digits, trained until they copy. Bundled as
# resources/NAME.safetensors.
SUBSET_MODELS = ("twin-a", "twin-b", "few-a", "few-b")


def subset_model_path(name: str) -> Path:
    """The bundled file of a subset model (one of SUBSET_MODELS)."""
    if name not in SUBSET_MODELS:
        raise ValueError(f"unknown model '{name}'; choose one of {', '.join(SUBSET_MODELS)}")
    from ddpm_desktop import resources_path

    return Path(resources_path(f"{name}.safetensors"))


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, truncated, corrupt or foreign."""


def state_path_for(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.with_name(p.name[: -len(p.suffix)] + ".state.pt" if p.suffix else p.name + ".state.pt")


def _metadata(model_config: ModelConfig, extra: dict | None) -> dict[str, str]:
    meta = {"format": FORMAT, "model_config": json.dumps(model_config.to_dict())}
    extra = dict(extra or {})
    extra.setdefault("schedule", DEFAULT_SCHEDULE)
    for key, value in extra.items():
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    return meta


def save_weights(path: str | os.PathLike, model: UNet, extra: dict | None = None) -> Path:
    """Write a model's weights and configuration (safetensors, atomic)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # A writer killed inside save_checkpoint may have left the state's temporary files too.
    clean_orphaned_temps(state_path_for(path))
    clean_orphaned_temps(previous_state_path_for(path))
    atomic_write_bytes(path, save(tensors, metadata=_metadata(model.config, extra)))
    return Path(path)


# A run's id, drawn at its first save and inherited by a trainer resumed from it; kept beside
# the Trainer (not on it) so training stays unaware of files.
_RUN_IDS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def run_id(trainer) -> str:
    """The id this trainer's saves share (a fresh one at its first save; kept on resume)."""
    rid = _RUN_IDS.get(trainer)
    if rid is None:
        rid = _RUN_IDS[trainer] = uuid.uuid4().hex[:12]
    return rid


def save_checkpoint(path: str | os.PathLike, trainer, extra: dict | None = None) -> Path:
    """Save a Trainer: EMA weights to `path` (.safetensors) and its state beside it."""
    import io

    path = Path(path)
    pair = {"run_id": run_id(trainer), "step": int(trainer.step)}
    info = {
        "step": trainer.step,
        "train_config": trainer.config.to_dict(),
        "loss_history_tail": trainer.loss_history[-1:],
    }
    info.update(extra or {})
    info["pair"] = pair
    state = trainer.state_dict()
    state["pair"] = pair
    buf = io.BytesIO()
    torch.save(state, buf)
    # State first, then weights: the weights file is what marks the checkpoint as present. The
    # state being replaced stays as .prev until the weights are written, so whenever a kill
    # lands, one whole pair (the previous or the new) is on disk.
    state_path = state_path_for(path)
    _keep_previous_state(path, state_path)
    atomic_write_bytes(state_path, buf.getvalue())
    save_weights(path, trainer.ema, info)
    _drop_previous_state(state_path)
    return path


def previous_state_path_for(path: str | os.PathLike) -> Path:
    """Where `save_checkpoint` keeps the state it is replacing until the new pair is complete."""
    s = state_path_for(path)
    return s.with_name(s.name + ".prev")


def _keep_previous_state(path: Path, state_path: Path) -> None:
    """Keep the state on disk as .prev, if it pairs with the weights on disk: a state left one
    save ahead by an interrupted save does not, and then the .prev already there is the one
    that pairs (replacing it would leave no whole pair if this save were killed too)."""
    prev = state_path.with_name(state_path.name + ".prev")
    if not state_path.is_file():
        return
    try:
        weights_pair = read_metadata(path).get("pair") if path.is_file() else None
    except CheckpointError:
        weights_pair = None
    if weights_pair is not None and _state_pair(state_path) != weights_pair:
        return
    clean_orphaned_temps(prev)
    tmp = prev.with_name(f".{prev.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        os.link(state_path, tmp)  # the same bytes under a second name: no copy
        os.replace(tmp, prev)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        atomic_write_bytes(prev, state_path.read_bytes())  # no hard links on this file system


def _state_pair(state_path: Path):
    """The pair record of a state file (memory-mapped: its tensors are not read), or None."""
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - any unreadable state simply has no usable pair
        return None
    return state.get("pair") if isinstance(state, dict) else None


def _drop_previous_state(state_path: Path) -> None:
    try:
        os.unlink(state_path.with_name(state_path.name + ".prev"))
    except OSError:
        pass


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata of a checkpoint (values decoded), validating the file as we go."""
    from safetensors import safe_open

    path = Path(path)
    _check_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"'{path.name}' is not a valid safetensors checkpoint ({_short(exc)})") from None
    if raw.get("format") != FORMAT:
        raise CheckpointError(f"'{path.name}' is a safetensors file but not a ddpm-desktop checkpoint")
    try:
        return decode_metadata(raw)
    except SchemaError as exc:
        raise CheckpointError(refusal(path.name, exc)) from None


# The metadata a checkpoint may carry, each value JSON text within these bounds; a key the app
# reads must have its type (other keys are kept, parsed with the same bounds).
MAX_METADATA_CHARS = 16_000_000
MAX_METADATA_DEPTH = 8
MAX_HISTORY = 10_000_000
METADATA_FIELDS = {
    "format": Field("format", "str", max_len=64),
    "step": Field("step", "int", 0, 10**12),
    "dataset": Field("dataset", "str", max_len=4096),
    "world_size": Field("world_size", "int", 1, 1_000_000),
    "prediction": Field("prediction", "str", max_len=64),
    "pair": Field("pair", "object", fields=(Field("run_id", "str", max_len=64, required=True),
                                            Field("step", "int", 0, 10**12, required=True))),
    "schedule": Field("schedule", "object", fields=SCHEDULE_FIELDS),
    "guidance": Field("guidance", "float", 0.0, 20.0),
}
# The distillation record: the fields a student's loader and sampler read (others are kept).
DISTILL_FIELDS = (Field("guidance", "float", 0.0, 20.0), Field("prediction", "str", max_len=64),
                  Field("steps", "int", 0, 10**9))
_OBJECTS = ("model_config", "train_config", "distill")
_PAIR_LISTS = ("loss_history", "loss_history_tail")


def decode_metadata(raw: dict) -> dict:
    """A checkpoint's metadata (safetensors' str -> str) with each value decoded from bounded
    JSON (text that is not JSON stays text) and the keys the app reads type-checked:
    `METADATA_FIELDS`, objects for model_config/train_config/distill, lists of [step, loss]
    pairs for the loss histories, a list of strings for class_names. SchemaError (one line,
    naming the key) otherwise."""
    meta = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise SchemaError(f"metadata {str(key)[:40]} is not text")
        try:
            meta[key] = parse_json(value, MAX_METADATA_CHARS, MAX_METADATA_DEPTH)
        except SchemaError as exc:
            if str(exc).startswith("not JSON"):
                meta[key] = value  # plain text (the format tag, a name)
            else:
                raise SchemaError(f"metadata {key}: {exc}") from None
    for key, f in METADATA_FIELDS.items():
        if key in meta:
            check_object({key: meta[key]}, (f,), "metadata", allow_unknown=True)
    for key in _OBJECTS:
        if key in meta and not isinstance(meta[key], dict):
            raise SchemaError(f"metadata.{key} must be an object")
    if isinstance(meta.get("distill"), dict):
        rec = {k: v for k, v in meta["distill"].items() if not (k == "guidance" and v is None)}
        check_object(rec, DISTILL_FIELDS, "metadata.distill", allow_unknown=True)
    for key in _PAIR_LISTS:
        if key in meta:
            meta[key] = _pairs(meta[key], f"metadata.{key}")
    names = meta.get("class_names")
    if names is not None and not (isinstance(names, list) and len(names) <= 1000
                                  and all(isinstance(n, str) and len(n) <= 256 for n in names)):
        raise SchemaError("metadata.class_names must be a list of names")
    return meta


def _pairs(value, what: str) -> list:
    """A loss history: a list of [step, loss] with an integer step and a finite loss."""
    if not isinstance(value, list) or len(value) > MAX_HISTORY:
        raise SchemaError(f"{what} must be a list of [step, loss] pairs")
    for item in value:
        if not (isinstance(item, (list, tuple)) and len(item) == 2
                and isinstance(item[0], int) and not isinstance(item[0], bool)
                and isinstance(item[1], (int, float)) and not isinstance(item[1], bool)
                and math.isfinite(item[1])):
            raise SchemaError(f"{what} must be a list of [step, loss] pairs with finite losses")
    return value


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[UNet, dict]:
    """Load and validate a DDPM teacher's (EMA) weights; → (model in eval mode, metadata).

    Raises CheckpointError (a ValueError, one line naming the file) for anything it would not
    sample with (see the module docstring), including a distilled student (`check_teacher`).
    """
    model, meta = load_network(path, device)
    check_teacher(Path(path).name, meta)
    return model, meta


def check_teacher(name: str, meta: dict) -> None:
    """Refuse a distilled student where a teacher (an ε-predicting DDPM) is expected.

    A student carries a `distill` record (core.distill) and predicts v or x_0 for a handful of
    large steps; sampled as a teacher it gives blurred digits with no warning (FD 63.7 against
    the teacher's 16.9 for the bundled one). `load_student` checks the reverse.
    """
    if "distill" in meta:
        prediction = meta.get("prediction")
        what = f" (it predicts {prediction})" if isinstance(prediction, str) and len(prediction) < 20 else ""
        raise CheckpointError(f"'{name}' is a distilled student{what}, not a DDPM model: "
                              "use it with the distilled sampler")


def load_network(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[UNet, dict]:
    """Load and validate the U-Net of any checkpoint, teacher or student; → (network in eval
    mode, metadata). `load_model` (teachers) and `core.distill.load_student` decide which."""
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(meta["model_config"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"'{path.name}' has a bad model configuration: {_short(exc)}") from None
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"'{path.name}' is truncated or corrupt ({_short(exc)})") from None
    _check_architecture(path.name, config, tensors)
    check_finite_weights(path.name, tensors)
    model = UNet(config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise CheckpointError(
            f"'{path.name}' holds weights of a different architecture than its configuration says"
        ) from None
    _check_forward(path.name, model.eval())
    model = model.to(device).eval().requires_grad_(False)
    if torch.device(device).type == "cpu":
        # oneDNN's channels_last convolutions are markedly faster on CPU for this network.
        model = model.to(memory_format=torch.channels_last)
    return model, meta


def load_trainer(path: str | os.PathLike, data, device="auto", steps: int | None = None, **overrides):
    """Rebuild a Trainer from a checkpoint's resumable state, to continue training.

    `steps` sets a new total; other TrainConfig fields may be overridden (lr, batch_size...).
    """
    from .training import TrainConfig, Trainer

    path = Path(path)
    state_path = state_path_for(path)
    if not state_path.is_file():
        raise CheckpointError(
            f"cannot resume from '{path.name}': its training state '{state_path.name}' is missing"
        )
    state = _read_state(state_path)
    try:
        _check_pair(path, state_path, state)
    except CheckpointError:
        # A save killed between its two files: the state it replaced pairs with the weights.
        prev = previous_state_path_for(path)
        if not prev.is_file():
            raise
        try:
            prev_state = _read_state(prev)
            _check_pair(path, prev, prev_state)
        except CheckpointError:
            raise CheckpointError(f"cannot resume: neither '{state_path.name}' nor '{prev.name}' "
                                  f"was saved together with '{path.name}'") from None
        state, state_path = prev_state, prev
    cfg, weights = state["config"], state["model"]
    if not isinstance(cfg, dict) or not isinstance(weights, dict) \
            or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"'{state_path.name}' is not a ddpm-desktop training state")
    check_finite_weights(state_path.name, weights)
    if isinstance(state.get("ema"), dict):
        check_finite_weights(state_path.name, state["ema"])
    cfg = {**cfg, **({} if steps is None else {"steps": int(steps)}), **overrides}
    try:
        config = TrainConfig.from_dict(cfg)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"'{state_path.name}' has a bad training configuration: {_short(exc)}") from None
    _check_architecture(state_path.name, config.model, weights)
    trainer = Trainer(config, data, device=device)
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"'{state_path.name}' does not match its configuration ({_short(exc)})") from None
    _check_forward(state_path.name, trainer.model)
    if isinstance(state.get("pair"), dict):
        _RUN_IDS[trainer] = str(state["pair"].get("run_id"))  # the resumed run keeps its id
    return trainer


def check_finite_weights(name: str, tensors: dict) -> None:
    """Refuse weights that are not floating point or hold NaN or ±inf, naming the first such
    tensor: every model file (teacher, student, latent, classifier) goes through here, since a
    network with one NaN weight gives NaN everywhere (and scipy's sqrtm never returns on NaN)."""
    for key, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"'{name}' holds a non-tensor where the weight '{key}' should be")
        if not t.is_floating_point():
            if t.dtype in (torch.int64, torch.int32, torch.long) and key.endswith("num_batches_tracked"):
                continue  # a BatchNorm counter
            raise CheckpointError(f"'{name}' holds non-float weights ('{key}')")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"'{name}' holds non-finite weights ('{key}')")


def _read_state(state_path: Path) -> dict:
    """A training state file, loaded with weights_only (no code runs); CheckpointError else."""
    _check_file(state_path)
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"'{state_path.name}' holds objects other than tensors and plain values; refused to load it"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CheckpointError(f"'{state_path.name}' is truncated or corrupt ({_short(exc)})") from None
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise CheckpointError(f"'{state_path.name}' is not a ddpm-desktop training state")
    return state


def _check_pair(path: Path, state_path: Path, state: dict) -> None:
    """Refuse a training state that is not the one saved with the weights beside it."""
    if not path.is_file():
        return  # only the state: nothing to disagree with
    weights_pair = read_metadata(path).get("pair")
    state_pair = state.get("pair")
    if weights_pair is None and state_pair is None:
        return  # both saved before files carried a pair
    if state_pair is not None and (not isinstance(state_pair, dict)
                                   or state_pair.get("step") != state.get("step")):
        raise CheckpointError(f"'{state_path.name}' is not a ddpm-desktop training state (bad pair record)")

    def say(p):
        return "no run record" if not isinstance(p, dict) else f"step {p.get('step')} of run {p.get('run_id')}"

    if weights_pair != state_pair:
        raise CheckpointError(
            f"cannot resume: '{state_path.name}' ({say(state_pair)}) and '{path.name}' ({say(weights_pair)}) "
            "were not saved together (a save was interrupted, or other weights were saved under this name)")


def _check_architecture(name: str, config: ModelConfig, tensors: dict) -> None:
    """Refuse weights whose names or shapes differ from what `config` builds, before building it.

    The configuration comes from the file, so it is checked against the file's own tensors on
    the meta device (no memory): a few-hundred-byte file asking for a huge network would
    otherwise allocate gigabytes before load_state_dict noticed the mismatch. Once the shapes
    match, the network is no larger than the tensors already read, and the caller runs it once
    on the CPU (`_check_forward`); a forward pass on the meta device is not made here: it costs
    1.5 s of lazy imports in the first call of a process, on a worker thread in the app.
    """
    # Every residual block owns tensors: a config asking for more blocks than the file holds
    # tensors cannot match, and would take long to build even on the meta device.
    if len(config.channel_mults) * config.num_res_blocks > len(tensors):
        raise CheckpointError(f"'{name}' holds weights of a different architecture than its configuration says")
    with torch.device("meta"):
        skeleton = UNet(config)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    if expected != {k: tuple(v.shape) for k, v in tensors.items()}:
        raise CheckpointError(f"'{name}' holds weights of a different architecture than its configuration says")


def _check_forward(name: str, model: UNet) -> None:
    """Run `model` once on a [1, 1, 28, 28] input (with and without a label), on the device
    its weights are on: the output must be [1, 1, 28, 28] and finite."""
    device = next(model.parameters()).device
    try:
        with torch.inference_mode():
            x = torch.zeros(1, 1, *IMAGE_SHAPE, device=device)
            lam = torch.zeros(1, device=device)
            outs = [model(x, lam, None), model(x, lam, torch.zeros(1, dtype=torch.long, device=device))]
    except Exception as exc:  # noqa: BLE001 - whatever a crafted architecture makes torch raise
        raise CheckpointError(f"'{name}' builds a network that does not run on a 1×28×28 image "
                              f"({_short(exc)})") from None
    for out in outs:
        if tuple(out.shape) != (1, 1, *IMAGE_SHAPE):
            raise CheckpointError(f"'{name}' builds a network whose output is {tuple(out.shape)}, "
                                  "not [1, 1, 28, 28]")
        if not torch.isfinite(out).all():
            raise CheckpointError(f"'{name}' gives non-finite output on a blank image")


def bundled_model_path() -> Path | None:
    """The model shipped in resources/, or None when this build has none."""
    from ddpm_desktop import resources_path

    p = resources_path(BUNDLED_MODEL)
    return p if p.is_file() else None


def _check_file(path: Path) -> None:
    why = unreadable_reason(path)
    if why == "no such file":
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    if why is not None:
        raise CheckpointError(f"cannot read checkpoint '{path}': {why}")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint '{path.name}' is too large ({size} bytes)")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__
