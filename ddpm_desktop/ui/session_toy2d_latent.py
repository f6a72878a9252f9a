"""The session's work for the digits' latent map and the 2-D export, a base of Toy2DJobs
(session_toy2d.py): the bundled latent models (core.latent), the class
the latent model samples, decoding a clicked map point or the reverse frame shown, and the
animation export on the worker (render.toy2d, the main export's frame picking and writers).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Slot

from ddpm_desktop.core import toy2d

TOY_EXPORT_JOB = "toy-export"


class Toy2DLatentJobs:
    """Mixin (through Toy2DJobs): needs `self.toy2d`, `self.workers`, `self.schedule`,
    `self.error`, `self.status` and Toy2DJobs.toy_eps_fn."""

    def _toy_latent(self):
        """The bundled latent models (core.latent), or None with `error` when missing."""
        from ddpm_desktop.core.checkpoint import CheckpointError
        from ddpm_desktop.core.latent import bundled_latent

        try:
            return bundled_latent()
        except CheckpointError as exc:
            self.error.emit(f"Digits' latent map: {exc}", "")
            return None

    # -- the digits' latent map ----------------------------------------------------------------
    def set_toy_latent_label(self, label: int) -> None:
        """The class the latent model samples (and its field shows): 0-9, or -1 for all."""
        label = int(label)
        if not -1 <= label <= 9:
            self.error.emit(f"class {label} must be 0-9 (or -1: all)", "")
            return
        self.toy2d.set_latent_label(None if label < 0 else label)
        self.toy2d.model_changed.emit()   # the fields follow the class

    def decode_toy_point(self, x: float, y: float) -> None:
        """Decode the latent-map point (x, y) into a digit (shown where it was clicked)."""
        if not self.toy2d.is_latent:
            return
        models = self._toy_latent()
        if models is None:
            return
        try:
            image = models.decode([[x, y]])[0]
        except ValueError as exc:
            self.error.emit(f"Cannot decode the point: {exc}", "")
            return
        self.toy2d.set_decoded_point((float(x), float(y)), image)

    def show_toy_decoded_frame(self) -> None:
        """The decoded particles of the reverse frame shown (after a scrub)."""
        s = self.toy2d
        i = s.reverse_index()
        if s.reverse_decoded is None or i is None or not len(s.reverse_decoded):
            return
        i = min(i, len(s.reverse_decoded) - 1)
        if s.decoded is not s.reverse_decoded[i]:
            s.set_decoded(s.reverse_decoded[i], int(s.reverse_t[i]))

    # -- export ----------------------------------------------------------------------------------
    def export_toy_animation(self, path: str, chain: str = "reverse", heat: bool = True,
                             arrows: bool = True, fps: float = 20.0) -> bool:
        """Write the 2-D animation (GIF, WebP, APNG; PNG: the last frame) on the worker: the
        reverse chain (`chain` "reverse", when there is one) or the forward chain, with the
        heat map of p_t and the chosen model's arrows as the window shows them."""
        from pathlib import Path

        from ddpm_desktop.render.toy2d import KINDS, Toy2DExportJob, alpha_bars_of, iter_toy_export

        s = self.toy2d
        kind = KINDS.get(Path(path).suffix.lower())
        if kind is None:
            self.error.emit(f"Cannot export '{Path(path).name}': choose a .gif, .webp, .apng or "
                            ".png file", "")
            return False
        use_reverse = chain == "reverse" and s.reverse is not None and len(s.reverse) > 0
        if not use_reverse and s.frames is None:
            self.error.emit("Nothing to export: the 2-D data has not been built", "")
            return False
        if use_reverse:
            frames, ts = s.reverse.copy(), s.reverse_t[: len(s.reverse)].copy()
            labels, role, picked = s.sample_labels, "reverse", tuple(int(i) for i in s.picked)
            title = f"Reverse chain ({s.reverse_sampler}): {toy2d.DATASET_NAMES[s.dataset]}"
        else:
            frames, ts = s.frames, np.arange(len(s.frames))
            labels, role, picked = s.labels, "forward", ()
            title = f"Forward q(x_t|x_0): {toy2d.DATASET_NAMES[s.dataset]}"
        try:
            job = Toy2DExportJob(path=str(path), frames=frames, ts=ts,
                                 alpha_bars=alpha_bars_of(self.schedule, ts), title=title, kind=kind,
                                 role=role, marginal=s.marginal if heat else None,
                                 eps_fn=self.toy_eps_fn() if arrows else None,
                                 labels=None if labels is None or not s.is_latent else labels.copy(),
                                 picked=picked, fps=float(fps))
        except ValueError as exc:
            self.error.emit(f"Cannot export the 2-D animation: {exc}", "")
            return False
        task = self.workers.start(TOY_EXPORT_JOB, lambda cancel: iter_toy_export(job, cancel),
                                  rate_hz=10)
        task.failed.connect(self._on_toy_export_failed)
        task.items.connect(self._on_toy_export_items)
        self.status.emit(f"Exporting the 2-D animation to {path}…")
        return True

    def is_toy_exporting(self) -> bool:
        return self.workers.is_running(TOY_EXPORT_JOB)

    @Slot(list)
    def _on_toy_export_items(self, items: list) -> None:
        done = [it.path for it in items if getattr(it, "path", None)]
        if done:
            self.toy_export_path = done[-1]
            self.status.emit(f"Wrote {done[-1]}")

    @Slot(str, str)
    def _on_toy_export_failed(self, message: str, details: str) -> None:
        self.error.emit(f"2-D export failed: {message}", details)
