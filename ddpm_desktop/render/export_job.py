"""An export as a job: ``ExportJob`` (everything it needs, as copies) and ``iter_export``.

``ExportJob`` (frozen dataclass: path, chains (ChainView...), kind "gif" | "webp" | "apng" |
"png", fps, scale, stride, n_frames, hold_s, with_histogram, with_kl, key_frames, colors: the theme's PlotColors when the job is
made, unless given) and ``iter_export(job, cancel_event)``, a generator yielding
``ExportProgress(done, total, path)`` (``path`` set on the last item) for the session's
worker to run; ``run_export(job)`` is the blocking form. The frames are composed by
``render.compose``; the file is written once, at the end, by core.imaging.save_gif / save_webp / save_apng / save_png,
which write atomically through core.files (one temp-name pattern, cleaned after a kill), so a
cancel or an error leaves no partial file and an existing file untouched.
``check_writable`` is core.files's.

A one-digit "both" export carries a ``Reconstruction`` (the network, the schedule, the forward
chain's x_t and the sampler settings): ``iter_export`` first runs the reverse chain from that
x_t back to x_0 (yielding progress per step, cancellable), then composes it beside the forward
chain x_0 → x_t, so both halves show the same digit (as ``ddpm-desktop export --chain both``).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np

from ddpm_desktop.core import imaging
from ddpm_desktop.core.files import check_writable
from ddpm_desktop.core.imaging import IMAGE_SHAPE
from ddpm_desktop.render import compose as frames
from ddpm_desktop.render.compose import ChainView
from ddpm_desktop.render.frames import KINDS, count_frames
from ddpm_desktop.render.palette import PlotColors, plot_colors

__all__ = ["ExportJob", "ExportProgress", "Reconstruction", "check_writable", "iter_export",
           "run_export"]


@dataclass(frozen=True)
class Reconstruction:
    """The reverse chain of a one-digit "both" export: `sampler` from the forward chain's
    `x_t` (float32 [28, 28], a copy) at step `t` back to x_0 under `schedule`, with the
    network `model` (on `device`) and the sampler settings `steps` (None: every step; capped
    at t), `seed`, `eta`, `label`, `guidance`."""

    model: object
    schedule: object  # core.schedule.NoiseSchedule
    x_t: np.ndarray
    t: int
    sampler: str = "ddpm"
    steps: int | None = None
    seed: int = 0
    eta: float = 0.0
    label: int | None = None
    guidance: float = 1.0
    device: str = "cpu"
    title: str = ""

    def plan(self):
        """The chain's run plan (core.run.plan_run from x_t at t: the steps capped at t, the
        sampler's own default for None)."""
        from ddpm_desktop.core.run import SamplerSettings, plan_run

        settings = SamplerSettings(sampler=self.sampler, steps=self.steps, label=self.label,
                                   guidance=self.guidance, eta=self.eta)
        return plan_run(settings, self.schedule.T, from_t=self.t)

    def length(self) -> int:
        """Frames of the chain: x_t, then one per reverse step down to x_0."""
        return len(self.plan().timesteps)

    def iter_chain(self, cancel: threading.Event) -> Iterator[tuple[np.ndarray, int]]:
        """(x_s as float32 [28, 28], s) for s = t, ..., 0 (stops early when cancelled)."""
        import torch

        from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn

        eps_fn = make_eps_fn(self.model, self.schedule, labels=self.label,
                             guidance=self.guidance)
        x = torch.from_numpy(np.array(self.x_t, dtype=np.float32)).reshape(1, 1, *IMAGE_SHAPE)
        it = iter_sampler(self.sampler, eps_fn, self.schedule, x.to(self.device),
                          steps=self.plan().steps, t_start=self.t,
                          generator=generator_for(self.seed), eta=self.eta)
        try:
            for step in it:
                if cancel.is_set():
                    return
                yield step.x_t.reshape(IMAGE_SHAPE).numpy().copy(), int(step.t)
        finally:
            it.close()


@dataclass(frozen=True)
class ExportJob:
    """Everything an export needs, as copies owned by the job (safe to hand to a thread)."""

    path: str
    chains: tuple[ChainView, ...]
    kind: str = "gif"  # "gif" | "webp" | "apng" (animations) | "png" (a strip of key frames)
    fps: float = 20.0
    scale: int = 4
    stride: int = 0  # 0: frames picked along the chain (render.frames.output_indices)
    n_frames: int | None = None  # that many frames picked along the chain
    hold_s: float = frames.HOLD_LAST_S  # the last frame of an animation shows this long
    with_histogram: bool = False
    with_kl: bool = False
    key_frames: int = 8
    colors: PlotColors | None = None  # None: the current theme's, taken when the job is made
    reconstruct: Reconstruction | None = None  # a reverse chain to run first, drawn last

    def __post_init__(self):
        if self.colors is None:
            # read here, in the thread that builds the job (the GUI thread): the worker that
            # paints the frames never touches the application palette
            object.__setattr__(self, "colors", plot_colors())
        if self.kind not in KINDS:
            raise ValueError(f"unknown export kind {self.kind!r}")
        if not self.chains:
            raise ValueError("nothing to export: no chain")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "chains", tuple(self.chains))

    def frame_count(self) -> int:
        if self.kind == "png":
            return 1
        lengths = [len(c) for c in self.chains]
        if self.reconstruct is not None:
            lengths.append(self.reconstruct.length())
        return count_frames(lengths, self.stride, self.n_frames)

    def progress_total(self) -> int:
        """The steps `iter_export` reports: reverse steps to run, frames, writing the file."""
        run = 0 if self.reconstruct is None else self.reconstruct.length()
        return run + (1 if self.kind == "png" else self.frame_count() + 1)

    def views(self) -> list[ChainView]:
        """The chains to draw; with_kl fills a missing KL curve with the histogram KL of
        each frame (core.kl.estimated_kl_batch, the estimate the app shows), without it the curves are dropped."""
        out = []
        for c in self.chains:
            kl = None
            if self.with_kl:
                kl = c.kl
                if kl is None:
                    from ddpm_desktop.core.kl import estimated_kl_batch

                    kl = estimated_kl_batch(c.frames.reshape(len(c), -1))
            out.append(ChainView(c.frames, c.title, kl, c.captions))
        return out


@dataclass(frozen=True)
class ExportProgress:
    """One item of ``iter_export``: ``done`` of ``total`` steps; ``path`` set on the last."""

    done: int
    total: int
    path: str | None = None


def iter_export(job: ExportJob, cancel: threading.Event | None = None) -> Iterator[ExportProgress]:
    """Compose and write ``job``, yielding progress after each frame (a generator, so a
    worker can cancel between items). The file is written once, atomically, after the last
    frame: a cancel or error at any point leaves no partial file and an existing one as it
    was."""
    cancel = cancel or threading.Event()
    path = check_writable(job.path)
    total, done = job.progress_total(), 0
    if job.reconstruct is not None:
        rec = job.reconstruct
        xs, labels = [], []
        for x, s in rec.iter_chain(cancel):
            xs.append(x)
            labels.append(f"t = {s}")
            done += 1
            yield ExportProgress(done, total)
        if cancel.is_set():
            return
        chain = ChainView(np.stack(xs), rec.title or f"Reverse  x_{rec.t} → x₀", None,
                          tuple(labels))
        job = replace(job, chains=job.chains + (chain,), reconstruct=None)
    if job.kind == "png":
        strip = frames.compose_strip(job.views(), scale=job.scale, n_frames=job.key_frames,
                              colors=job.colors)
        if cancel.is_set():
            return
        imaging.save_png(strip, path)
        yield ExportProgress(total, total, str(path))
        return
    composed = []
    for frame in frames.iter_frames(job.views(), scale=job.scale,
                                    with_histogram=job.with_histogram, stride=job.stride,
                                    colors=job.colors, n_frames=job.n_frames):
        if cancel.is_set():
            return
        composed.append(frame)
        yield ExportProgress(done + len(composed), total)
    if cancel.is_set():
        return
    save_animation(job.kind, composed, path, job.fps, job.hold_s)
    yield ExportProgress(total, total, str(path))


def save_animation(kind: str, frames: list[np.ndarray], path, fps: float, hold_s: float) -> None:
    """Write uint8 [H, W, 3] `frames` as a `kind` animation (gif, webp, apng) once, atomically,
    the last frame held `hold_s` seconds (core.imaging's writers)."""
    save = {"gif": imaging.save_gif, "webp": imaging.save_webp, "apng": imaging.save_apng}[kind]
    save(frames, path, fps=fps, hold_last_s=hold_s)


def run_export(job: ExportJob, cancel: threading.Event | None = None,
               progress: Callable[[int, int], None] | None = None) -> str | None:
    """Headless ``iter_export`` to the end; returns the path, or None when cancelled."""
    path = None
    for item in iter_export(job, cancel):
        if progress is not None:
            progress(item.done, item.total)
        path = item.path or path
    return path
