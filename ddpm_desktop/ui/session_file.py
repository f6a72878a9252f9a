"""The persistence area: a whole session as one readable, versioned JSON file, the session's
snapshot (core/snapshot.py has the format).

`SessionFiles(...)` (built by session.py as `session.files` from the states a snapshot
describes and the session operations it calls): `take_snapshot()` describes everything the
user set (the session file and the QSettings persistence are both written from it);
`save(path)` writes it (atomically, through core.files). `read_session(path)` reads and
validates a file completely (bounded, strictly typed: core.schema) and `prepare(snapshot)`
turns it into the app's settings objects, so a bad file, or one written by a newer version,
raises a one-line ValueError naming the file and the field before anything in the session
changes; `open(path)` reads it so and then `apply_snapshot(prepared)` applies all of it (the
forward frame included), and restores the model: the bundled one, or the file by its path
when its content hash still matches (else a message, and the current model stays).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from PySide6.QtCore import QObject, SignalInstance

from ddpm_desktop.core import files
from ddpm_desktop.core.checkpoint import SUBSET_MODELS, ModelSource
from ddpm_desktop.core.forward import sample_start
from ddpm_desktop.core.schedule import NoiseSchedule
from ddpm_desktop.core.schema import SchemaError, parse_json, refusal
from ddpm_desktop.core.snapshot import (
    MAX_BYTES,
    MAX_DEPTH,
    InputSnapshot,
    ModelRef,
    ScheduleSnapshot,
    Snapshot,
)
from ddpm_desktop.ui.export_state import ExportSettings, ExportState
from ddpm_desktop.ui.state import (DeviceState, ForwardState, InputState, ModelState,
                                   SamplerSettings, SamplerState, ScheduleState)
from ddpm_desktop.ui.training_state import TrainingSettings, TrainingState

def model_ref(model_state) -> ModelRef | None:
    """How a snapshot names the network in use (None: no model)."""
    if model_state.model is None:
        return None
    if model_state.source == ModelSource.BUNDLED:
        return ModelRef("bundled")
    if model_state.source == ModelSource.EXACT:
        return ModelRef("exact", bandwidth=float(model_state.meta.get("bandwidth", 0.0)))
    if model_state.source in SUBSET_MODELS:
        return ModelRef(str(model_state.source))
    path, sha = getattr(model_state, "path", ""), getattr(model_state, "sha256", "")
    if path and sha:
        return ModelRef("file", str(path), sha)
    return ModelRef("trained")


@dataclass(frozen=True)
class Prepared:
    """A snapshot turned into the app's validated settings objects (nothing applied yet)."""

    snapshot: Snapshot
    sampler: SamplerSettings
    training: TrainingSettings
    export: ExportSettings


def _settings(cls, values, what: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SchemaError(f"unknown {what} setting(s): {', '.join(unknown)}")
    try:
        return cls(**{**asdict(cls()), **values}).validated()
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{what}: {' '.join(str(exc).split())}") from None


def prepare(snapshot: Snapshot) -> Prepared:
    """Check what the schema cannot (a schedule's betas, the settings' own rules); SchemaError."""
    s = snapshot.schedule
    try:
        NoiseSchedule.named(s.kind, s.T, s.beta_start, s.beta_end)
        sample_start(snapshot.input.start, (1,), None, **snapshot.input.start_params)
    except ValueError as exc:
        raise SchemaError(" ".join(str(exc).split())) from None
    return Prepared(snapshot, _settings(SamplerSettings, snapshot.sampler, "sampler"),
                    _settings(TrainingSettings, snapshot.training, "training"),
                    _settings(ExportSettings, snapshot.export, "export"))


def read_session(path) -> Prepared:
    """The file's snapshot, fully validated; ValueError/OSError of one line naming the file."""
    path = Path(path)
    reason = files.unreadable_reason(path)
    if reason:
        raise OSError(f"cannot open '{path}': {reason}")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"'{path.name}' is too large to be a session file")
    with open(path, "rb") as f:
        text = f.read(MAX_BYTES + 1)
    try:
        data = parse_json(text, MAX_BYTES, MAX_DEPTH)
    except SchemaError as exc:
        raise ValueError(f"'{path.name}' is not a session file ({exc})") from None
    try:
        return prepare(Snapshot.from_dict(data))
    except SchemaError as exc:
        raise ValueError(refusal(path.name, exc)) from None


class SessionFiles(QObject):
    """File > Save / Open session, and the snapshot the settings file is written from."""

    def __init__(self, schedule_state: ScheduleState, input_state: InputState,
                 forward: ForwardState, sampler: SamplerState, training: TrainingState,
                 export: ExportState, model_state: ModelState, device_state: DeviceState,
                 cancel_sampling: Callable[[], None], recompute_forward: Callable[[], None],
                 load_bundled_model: Callable[[], bool],
                 load_model_file: Callable[..., None], status: SignalInstance,
                 error: SignalInstance, parent: QObject | None = None,
                 use_exact_denoiser: Callable[[float], None] | None = None,
                 use_subset_model: Callable[[str], bool] | None = None) -> None:
        """The states a snapshot describes, and the session's own operations it calls when one
        is applied (cancel the reverse run, recompute the forward chain, load a model, build
        the perfect denoiser with a bandwidth, load a bundled subset model by name)."""
        super().__init__(parent)
        self.schedule_state, self.input_state, self.forward = schedule_state, input_state, forward
        self.sampler, self.training, self.export = sampler, training, export
        self.model_state, self.device_state = model_state, device_state
        self.cancel_sampling, self.recompute_forward = cancel_sampling, recompute_forward
        self.load_bundled_model, self.load_model_file = load_bundled_model, load_model_file
        self.use_exact_denoiser = use_exact_denoiser
        self.use_subset_model = use_subset_model
        self.status, self.error = status, error

    def take_snapshot(self) -> Snapshot:
        """Everything the user set, as one frozen value."""
        inp = self.input_state
        return Snapshot(
            schedule=ScheduleSnapshot(**self.schedule_state.params),
            input=InputSnapshot(seed=inp.seed, start=inp.start_name,
                                start_params=dict(inp.start_params),
                                forward_from=inp.forward_from, digit_source=inp.digit_source,
                                digit_label=inp.digit_label, digit=InputSnapshot.pack(inp.digit)),
            forward_t=int(self.forward.t),
            sampler=asdict(self.sampler.settings),
            training=asdict(self.training.settings),
            export=asdict(self.export.settings),
            device=self.device_state.device,
            model=model_ref(self.model_state),
        )

    def save(self, path) -> bool:
        """Write the snapshot as JSON (atomically, through core.files); False with `error`."""
        try:
            text = self.take_snapshot().to_json()
            written = files.atomic_write_bytes(Path(path), text.encode("utf-8"))
        except (OSError, ValueError) as exc:
            self.error.emit(f"Could not save the session: {' '.join(str(exc).split())}", "")
            return False
        self.status.emit(f"Session saved: {written}")
        return True

    def open(self, path) -> bool:
        """Apply a session file; a bad or newer one changes nothing (False, with `error`)."""
        try:
            ready = read_session(path)
        except (OSError, ValueError) as exc:
            self.error.emit(f"Could not open the session: {' '.join(str(exc).split())}", "")
            return False
        self.apply_snapshot(ready)
        self.status.emit(f"Session opened: {Path(path).name}")
        return True

    def apply_snapshot(self, ready: Prepared) -> None:
        """Apply what `read_session` returned: every setting, then the forward frame, then the
        model (loaded in the background; a changed or missing file keeps the current model,
        with a message). Nothing in here can fail any more, except a device this machine lacks,
        which keeps the current one."""
        snap = ready.snapshot
        self.cancel_sampling()
        self.schedule_state.set_params(**snap.schedule.__dict__)
        inp = self.input_state
        inp.set_digit(snap.input.digit_array, snap.input.digit_source, snap.input.digit_label)
        inp.set_start(snap.input.start, **snap.input.start_params)
        inp.set_seed(snap.input.seed)
        inp.set_forward_from(snap.input.forward_from)
        self.sampler.set_settings(ready.sampler)
        self.training.set_settings(ready.training)
        self.export.set_settings(ready.export, from_file=True)  # its path: a suggestion
        if snap.device in self.device_state.available:
            self.device_state.set_device(snap.device)
        self.recompute_forward()  # at once, even while a live drawing debounces its updates
        self.forward.set_frame(snap.forward_t)
        self.restore_model(snap.model)

    def restore_model(self, ref: ModelRef | None) -> None:
        """Load the snapshot's model unless it is the one in use; say why when it cannot be."""
        current = model_ref(self.model_state)
        if ref is None or ref == current:
            return
        if ref.kind == "bundled":
            self.load_bundled_model()
        elif ref.kind == "exact" and self.use_exact_denoiser is not None:
            self.use_exact_denoiser(ref.bandwidth)
        elif ref.kind in SUBSET_MODELS and self.use_subset_model is not None:
            self.use_subset_model(ref.kind)
        elif ref.kind == "file":
            path = Path(ref.path)
            if not path.is_file():
                self.error.emit(f"The session's model '{path}' is not there any more (or is not "
                                "a regular file); keeping the current model.", "")
            else:
                self.load_model_file(path, expect_sha256=ref.sha256)
        else:
            self.error.emit("The session's model was trained in the app and never saved; "
                            "keeping the current model.", "")
