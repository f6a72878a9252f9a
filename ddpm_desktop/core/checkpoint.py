"""Checkpoints: safetensors weights with JSON metadata, plus a resumable training state.

- `NAME.safetensors`: the EMA weights (what sampling uses), with the model configuration,
  the training configuration, the step and the default noise schedule as JSON metadata.
  safetensors holds only tensors and text, so loading one never runs code.
- `NAME.state.pt` beside it (only when saved from a Trainer): the raw weights, optimizer,
  EMA, RNG state and step, loaded only with `torch.load(weights_only=True)`, which refuses
  pickles that would run code.

Both are written by `core.files.atomic_write` (a temporary file in the same folder, fsync,
then os.replace), so a process killed mid-write leaves the previous checkpoint intact;
temporary files orphaned by such a kill (of NAME.safetensors or NAME.state.pt) are removed at
the next save of NAME.
"""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import torch

from .files import atomic_write_bytes, clean_orphaned_temps  # noqa: F401 - re-exported
from .model import ModelConfig, UNet
from .schedule import DEFAULT_SCHEDULE

FORMAT = "ddpm-desktop/1"
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
BUNDLED_MODEL = "model.safetensors"


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
    # A writer killed inside save_checkpoint may have left the state's temporary file too.
    clean_orphaned_temps(state_path_for(path))
    atomic_write_bytes(path, save(tensors, metadata=_metadata(model.config, extra)))
    return Path(path)


def save_checkpoint(path: str | os.PathLike, trainer, extra: dict | None = None) -> Path:
    """Save a Trainer: EMA weights to `path` (.safetensors) and its state beside it."""
    import io

    path = Path(path)
    info = {
        "step": trainer.step,
        "train_config": trainer.config.to_dict(),
        "loss_history_tail": trainer.loss_history[-1:],
    }
    info.update(extra or {})
    buf = io.BytesIO()
    torch.save(trainer.state_dict(), buf)
    # State first, then weights: the weights file is what marks the checkpoint as present.
    atomic_write_bytes(state_path_for(path), buf.getvalue())
    save_weights(path, trainer.ema, info)
    return path


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
    meta = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            meta[key] = value
    return meta


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[UNet, dict]:
    """Load a checkpoint's (EMA) weights into a fresh UNet; → (model in eval mode, metadata)."""
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
    model = UNet(config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise CheckpointError(
            f"'{path.name}' holds weights of a different architecture than its configuration says"
        ) from None
    if not all(torch.isfinite(t).all() for t in tensors.values()):
        raise CheckpointError(f"'{path.name}' holds non-finite weights")
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
    cfg, weights = state["config"], state["model"]
    if not isinstance(cfg, dict) or not isinstance(weights, dict) \
            or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"'{state_path.name}' is not a ddpm-desktop training state")
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
    return trainer


def _check_architecture(name: str, config: ModelConfig, tensors: dict) -> None:
    """Refuse weights whose names or shapes differ from what `config` builds, before building it.

    The configuration comes from the file, so it is checked against the file's own tensors on
    the meta device (no memory): a few-hundred-byte file asking for a huge network would
    otherwise allocate gigabytes before load_state_dict noticed the mismatch.
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


def bundled_model_path() -> Path | None:
    """The model shipped in resources/, or None when this build has none."""
    from ddpm_desktop import resources_path

    p = resources_path(BUNDLED_MODEL)
    return p if p.is_file() else None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' is not a file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"checkpoint '{path.name}' is empty")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint '{path.name}' is too large ({size} bytes)")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] or type(exc).__name__
