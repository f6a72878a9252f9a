"""The export area: the chains on screen as a GIF or a PNG strip.

`Exporter(...)` (built by session.py as `session.exporter`; its `state`, an ExportState, is
`session.export`): `start()`, `cancel()`, `is_running()`, `job(path)`, `chains()`,
`chains_lengths()`, `available()`. The export is `render.export_job.iter_export` (a generator that
composes the frames and writes the file atomically at the end) run by the generic worker under
the job name "export"; one export at a time, and a second request while one runs is refused
with a message, never a silent cancel. The chains are copied from the forward and reverse
states when the export starts, so later edits do not reach a running export.

"Both" is built from one digit unless the user picks the chains on screen
(ExportSettings.both_from): the forward chain x_0 → x_t beside the reverse chain the export job
runs from that same x_t (render.export_job.Reconstruction, the sampler panel's settings, t =
ExportSettings.reconstruct_t), as `ddpm-desktop export --chain both` does.
"""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QObject, SignalInstance, Slot

from ddpm_desktop.core import kl
from ddpm_desktop.render.compose import FORWARD_TITLE, REVERSE_TITLE, ChainView, forward_title
from ddpm_desktop.render.export_job import (ExportJob, ExportProgress, Reconstruction,
                                            check_writable, iter_export)
from ddpm_desktop.ui.export_state import ExportState
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import DeviceState, ForwardState, ModelState, ReverseState, SamplerState

EXPORT_JOB = "export"


class Exporter(QObject):
    def __init__(self, jobs: Jobs, forward: ForwardState, reverse: ReverseState,
                 sampler: SamplerState, model_state: ModelState, device_state: DeviceState,
                 status: SignalInstance, error: SignalInstance, exported: SignalInstance,
                 parent: QObject | None = None) -> None:
        """exported(str): the session's signal, emitted with the path of each file written."""
        super().__init__(parent)
        self.jobs, self.forward, self.reverse, self.sampler = jobs, forward, reverse, sampler
        self.model_state, self.device_state = model_state, device_state
        self.status, self.error, self.exported = status, error, exported
        self.state = ExportState(parent=self)
        self._task = None
        self._path: str | None = None

    def chains(self) -> dict[str, ChainView | None]:
        """The chains on screen now, as copies: "forward" and "reverse" (None when empty)."""
        f = self.forward
        forward = None
        if f.frames is not None:
            # the KL overlay: the estimate the app shows (computed now if it has not arrived)
            curve = f.kl_estimate if f.kl_estimate is not None else \
                kl.estimated_kl_batch(f.frames.reshape(len(f.frames), -1))
            forward = ChainView(np.array(f.frames, copy=True), FORWARD_TITLE,
                                np.array(curve, copy=True),
                                tuple(f"t = {t}" for t in range(f.T + 1)))
        reverse = None
        lanes = self.reverse.lanes
        if lanes and len(lanes[0]) > 1:
            lane = lanes[0]
            reverse = ChainView(np.stack(lane.x_t), REVERSE_TITLE, np.asarray(lane.kl),
                                tuple(f"t = {t}" for t in lane.t))
        return {"forward": forward, "reverse": reverse}

    def available(self) -> set[str]:
        lengths = self.chains_lengths()
        have = {k for k in ("forward", "reverse") if lengths[k]}
        if lengths["both_forward"] and lengths["both_reverse"]:
            have.add("both")
        return have

    def chains_lengths(self) -> dict[str, int]:
        """Frames per chain without copying them (for the dialog's info line): "forward",
        "reverse" (on screen), and "both_forward" / "both_reverse", the two halves of a "both"
        export (0 when it cannot be made: no model for a one-digit one)."""
        lanes = self.reverse.lanes
        n_rev = len(lanes[0]) if lanes and len(lanes[0]) > 1 else 0
        n_fwd = 0 if self.forward.frames is None else self.forward.T + 1
        out = {"forward": n_fwd, "reverse": n_rev, "both_forward": n_fwd, "both_reverse": n_rev}
        if self.state.settings.both_from == "digit":
            rec = self._reconstruction() if n_fwd and self.model_state.available else None
            out["both_forward"] = rec.t + 1 if rec is not None else 0
            out["both_reverse"] = rec.length() if rec is not None else 0
        return out

    def _reconstruction(self) -> Reconstruction:
        """The reverse chain a one-digit "both" export runs: the sampler panel's settings from
        the forward chain's x_t (t = ExportSettings.reconstruct_t), on the current device."""
        f, st = self.forward, self.sampler.settings
        t = self.state.settings.reconstruct_t(f.T)
        return Reconstruction(model=self.model_state.model, schedule=f.schedule,
                              x_t=np.array(f.frames[t], dtype=np.float32, copy=True), t=t,
                              sampler=st.sampler, steps=st.steps, seed=st.seed, eta=st.eta,
                              label=st.label, guidance=st.guidance,
                              device=self.device_state.device, title=f"Reverse  x_{t} → x₀")

    def job(self, path: str | None = None) -> ExportJob:
        """The job the current settings describe; ValueError/OSError (one line) if impossible."""
        s = self.state.settings
        chains = self.chains()
        reconstruct = None
        if s.what == "both" and s.both_from == "digit":
            if chains["forward"] is None:
                raise ValueError("nothing to export yet")
            if not self.model_state.available:
                raise ValueError("'both' from one digit runs the reverse chain: load or train a "
                                 "model first, or export the chains on screen")
            reconstruct = self._reconstruction()
            fwd, t = chains["forward"], reconstruct.t
            title = forward_title(t, self.forward.T)
            picked = (ChainView(fwd.frames[:t + 1], title, fwd.kl[:t + 1], fwd.captions[:t + 1]),)
            longest = max(t + 1, reconstruct.length())
        else:
            keys = ("forward", "reverse") if s.what == "both" else (s.what,)
            picked = tuple(chains[k] for k in keys if chains[k] is not None)
            if len(picked) != len(keys):
                raise ValueError("nothing to export yet: run the reverse chain first"
                                 if "reverse" in keys else "nothing to export yet")
            longest = max(len(c) for c in picked)
        gif = s.format != "png"  # an animation: GIF, WebP or APNG
        target = path if path is not None else str(s.target())
        return ExportJob(path=target, chains=picked, kind=s.format, fps=float(s.fps),
                         scale=s.scale, stride=s.stride_for(longest),
                         with_histogram=gif and s.histogram, with_kl=gif and s.kl,
                         key_frames=s.key_frames, reconstruct=reconstruct)

    def is_running(self) -> bool:
        return self._task is not None

    def start(self) -> bool:
        """Start exporting to the settings' file; False (with `error`) if refused."""
        if self.jobs.closing:
            return False
        if self._task is not None:
            self.error.emit("An export is already running: wait for it or cancel it.", "")
            return False
        if self.state.destination_from_file:
            self.error.emit(f"Export: '{self.state.settings.target()}' was named by a session "
                            "or settings file; choose or confirm it in the Export dialog first.",
                            "")
            return False
        existing = self.state.needs_confirmation()
        if existing is not None:
            self.error.emit(f"Export refused: '{existing}' already exists and was not written "
                            "in this run; confirm replacing it in the Export dialog.", "")
            return False
        try:
            path = check_writable(os.path.expanduser(str(self.state.settings.target())))
            job = self.job(str(path))
        except (OSError, ValueError) as exc:
            self.error.emit(f"Export failed: {' '.join(str(exc).split())}", "")
            return False
        self._task = self.jobs.start(EXPORT_JOB, lambda cancel: iter_export(job, cancel),
                                     rate_hz=20.0, items=self._on_items,
                                     finished=self._on_finished, failure="Export failed")
        self._path = None
        self.state.set_progress(True, 0, job.progress_total(), "Exporting…")
        return True

    def cancel(self) -> None:
        if self._task is None:
            return
        self.jobs.cancel(EXPORT_JOB)  # goes quiet; its thread ends on its own, writing nothing
        self._task = None
        self.state.set_progress(False, message="Cancelled; nothing was written.")
        self.state.finished.emit("")

    @Slot(list)
    def _on_items(self, items: list) -> None:
        last: ExportProgress = items[-1]
        for item in items:
            if item.path:
                self._path = item.path
        self.state.set_progress(True, last.done, last.total, "Exporting…")

    @Slot(bool)
    def _on_finished(self, completed: bool) -> None:
        self._task = None
        path = self._path if completed else None
        if path:
            self.state.allow_replacing(path)
            self.state.update(folder=os.path.dirname(path) or ".")
            self.state.set_progress(False, message=f"Saved {path}")
            self.status.emit(f"Saved {path}")
            self.exported.emit(path)
            self.state.finished.emit(path)
        else:
            self.state.set_progress(False, message="Export failed." if not completed else "")
            self.state.finished.emit("")
