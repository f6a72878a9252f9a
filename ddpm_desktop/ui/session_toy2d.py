"""The 2-D area: the particles' forward chain, p_t and its KL, training the MLP, the reverse
chain of the particles, the ε fields the view draws, the digits' latent map and the 2-D
animation export.

`Toy2D(jobs, schedule_state, sampler, status, error)` (built by session.py as `session.toy`;
its `state`, a Toy2DState, is `session.toy2d`, what the 2-D window shows). It uses the
session's schedule and sampler settings (sampler, steps, η, seed; core.run plans the run).
Work: the forward chain, p_t and the KL curve are recomputed synchronously on a data or
schedule change (tens of ms: one cumulative sum over [T, N, 2], the KL on a coarse grid);
training ("toy-train"), the reverse chain ("toy-sample") and the export ("toy-export", through
render.toy2d, the main export's frame picking and writers) run on the generic worker. The
digits' latent map uses the bundled latent models (core.latent): the class the latent model
samples, decoding a clicked map point or the reverse frame shown.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, SignalInstance, Slot

from ddpm_desktop.core import toy2d
from ddpm_desktop.core.forward import forward_frames
from ddpm_desktop.core.latent import LATENT_GUIDANCE
from ddpm_desktop.core.run import plan_run
from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn
from ddpm_desktop.core.toy2d_model import DEFAULT_STEPS, ToyTrainProgress, iter_toy_training
from ddpm_desktop.ui.session_jobs import Jobs
from ddpm_desktop.ui.state import SamplerState, ScheduleState
from ddpm_desktop.ui.toy2d_state import Toy2DState

TOY_TRAIN_JOB = "toy-train"
TOY_SAMPLE_JOB = "toy-sample"
TOY_EXPORT_JOB = "toy-export"
TOY_TRAIN_STEPS = DEFAULT_STEPS
TOY_TRAIN_POINTS = 20_000
# The KL curve's points along t and its (coarser) grid: the midpoint rule on smooth densities
# converges fast, so 80² cells keep the quadrature far below a milli-nat for the mixtures.
KL_CURVE_POINTS = 60
KL_GRID = toy2d.Grid(n=80)
FIELD_GRID = 17
TOY_DECODED = 10   # latent particles decoded live beside the plot (one of each class for "all")
TOY_SCHEDULE_DEBOUNCE_MS = 150
# Stream offsets of one seed: the particles, their forward noise, the training and KDE points.
_NOISE_OFFSET, _POINTS_OFFSET = 7_919, 104_729


@dataclass(frozen=True)
class ToyFrame:
    """One reverse frame of the particles: lane 0 or 1 (compare), x_t float32 [N, 2]; on the
    latent map, lane 0 also carries the first particles decoded into digits (float32
    [k, 28, 28]) and the step t they are at."""

    lane: int
    x_t: np.ndarray
    decoded: np.ndarray | None = None
    t: int | None = None


def eps_field(eps_fn, t: int, extent: float, n: int = FIELD_GRID,
              center: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """(points [n², 2], ε̂ [n², 2]) of `eps_fn` at step t on an n×n grid over the square of
    half-width `extent` around `center`."""
    c = np.linspace(-extent, extent, n)
    xx, yy = np.meshgrid(center[0] + c, center[1] + c)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    with torch.inference_mode():
        eps = eps_fn(torch.from_numpy(pts), int(t)).detach().cpu().numpy().astype(np.float64)
    return pts, eps


class Toy2D(QObject):
    def __init__(self, jobs: Jobs, schedule_state: ScheduleState, sampler: SamplerState,
                 status: SignalInstance, error: SignalInstance,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.schedule_state, self.sampler = jobs, schedule_state, sampler
        self.status, self.error = status, error
        self.state = Toy2DState(parent=self)
        self._points: np.ndarray | None = None
        self._point_labels: np.ndarray | None = None   # classes of the latent codes
        self._train_dataset = ""
        self.export_path = ""   # the last 2-D animation written
        self._active = False   # the window was opened: keep the 2-D data current
        self._noise_key, self._noises = None, None
        # A schedule drag changes the schedule many times a second; the 2-D data (~0.1-0.3 s)
        # follows once the drag pauses.
        self._schedule_timer = QTimer(self)
        self._schedule_timer.setSingleShot(True)
        self._schedule_timer.setInterval(TOY_SCHEDULE_DEBOUNCE_MS)
        self._schedule_timer.timeout.connect(self.recompute)
        schedule_state.changed.connect(self._on_schedule_changed)

    @property
    def schedule(self):
        return self.schedule_state.schedule

    @property
    def recompute_pending(self) -> bool:
        """Whether a schedule change queued a recompute of the 2-D data (it runs once the
        schedule drag pauses)."""
        return self._schedule_timer.isActive()

    # -- data and forward ----------------------------------------------------------------------
    def activate(self) -> None:
        """Build the 2-D data the first time the window opens (nothing is computed before)."""
        if not self._active:
            self._active = True
            self.recompute()

    def _sample_data(self, n: int, offset: int) -> np.ndarray:
        s = self.state
        return toy2d.sample_data(s.dataset, n, generator_for(s.seed + offset),
                                 mixture=s.mixture, points=s.painted)

    def recompute(self) -> bool:
        """Particles, their forward chain, p_t and the KL curve for the current data and
        schedule. False (with `error`) when the data set cannot be sampled (nothing painted)."""
        s = self.state
        schedule = self.schedule
        labels = point_labels = None
        try:
            if s.is_latent:
                from ddpm_desktop.core.latent import sample_codes

                models = self._latent()
                if models is None:
                    return False
                x0, labels = sample_codes(s.n_particles, generator_for(s.seed), models=models)
                points, point_labels = models.codes_of_bundled("train")
                if s.learned_for != s.dataset:   # the bundled model until one is trained here
                    s.set_learned(models.diffusion, s.dataset)
            else:
                x0 = self._sample_data(s.n_particles, 0)
                points = self._sample_data(TOY_TRAIN_POINTS, _POINTS_OFFSET)
        except ValueError as exc:
            self.error.emit(f"2-D data: {exc}", "")
            return False
        s.labels, self._point_labels = labels, point_labels
        key = (s.seed, schedule.T, len(x0))
        if key != self._noise_key:   # the forward noise z_1..z_T depends on these only
            gen = generator_for(s.seed + _NOISE_OFFSET)
            self._noises = torch.randn((schedule.T, len(x0), 2), generator=gen).numpy()
            self._noise_key = key
        frames = forward_frames(schedule, x0, self._noises)
        mixture = s.current_mixture()
        if mixture is not None:
            marginal = toy2d.Marginal(mixture=mixture)
            kl_marginal = toy2d.Marginal(mixture=mixture, grid=KL_GRID)
        else:
            marginal = toy2d.Marginal(points=points)
            kl_marginal = toy2d.Marginal(points=points, grid=KL_GRID)
        kl_t, kl_values = kl_marginal.kl_curve(schedule, KL_CURVE_POINTS)
        self._schedule_timer.stop()
        self.jobs.cancel(TOY_SAMPLE_JOB)   # its particles belong to the old data/schedule
        self._points = points
        if self.state.model == "exact" and mixture is None:
            self.state.set_model("learned")
        s.clear_reverse()
        s.set_data(x0, frames, marginal, kl_t, kl_values)
        return True

    @Slot(object)
    def _on_schedule_changed(self, _schedule) -> None:
        s = self.state
        if self._active and not (s.dataset == "painted" and not len(s.painted)):
            self._schedule_timer.start()   # (an empty painting has nothing to follow it)

    def set_dataset(self, name: str) -> None:
        if name not in toy2d.DATASETS:
            self.error.emit(f"unknown 2-D data set {name!r}", "")
            return
        if name == self.state.dataset:
            return
        self.state.dataset = name
        if name == "painted" and not len(self.state.painted):
            self.status.emit("Painted points: drag on the plot to paint the data")
            self.state.set_model("learned")   # a painting has no exact denoiser
            self.state.clear_reverse()
            self.state.mixture_changed.emit()
            return
        self.recompute()
        self.state.mixture_changed.emit()

    def set_seed(self, seed: int) -> None:
        if int(seed) != self.state.seed:
            self.state.seed = int(seed)
            self.recompute()

    def set_frame(self, t: int) -> None:
        self.state.set_frame(t)
        self.show_decoded_frame()

    def add_component(self, x: float, y: float, std: float) -> None:
        """Add an isotropic component at (x, y) to the editable mixture (and show that set)."""
        s = self.state
        m = s.mixture
        try:
            comp = toy2d.GaussianMixture.make([[x, y]], std)
        except ValueError as exc:
            self.error.emit(f"Cannot add the component: {exc}", "")
            return
        k = m.K
        weights = np.append(m.weights * k, 1.0)
        s.mixture = toy2d.GaussianMixture(weights / weights.sum(), np.vstack([m.means, comp.means]),
                                          np.concatenate([m.covs, comp.covs]))
        s.dataset = "gmm"
        self.recompute()
        s.mixture_changed.emit()

    def reset_mixture(self) -> None:
        self.state.mixture = toy2d.DEFAULT_GMM
        if self.state.dataset == "gmm":
            self.recompute()
        self.state.mixture_changed.emit()

    def paint_points(self, points: np.ndarray) -> None:
        """Append painted points [M, 2] (and show the painted set)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if not len(pts):
            return
        s = self.state
        s.painted = np.vstack([s.painted, pts])
        s.dataset = "painted"
        self.recompute()
        s.mixture_changed.emit()

    def clear_paint(self) -> None:
        self.state.painted = np.zeros((0, 2))
        self.state.mixture_changed.emit()

    # -- models --------------------------------------------------------------------------------
    def set_model(self, choice: str) -> None:
        if choice == "exact" and not self.state.exact_available:
            self.error.emit("The exact denoiser exists only for the Gaussian mixtures "
                            "(8 Gaussians, the edited mixture).", "")
            self.state.model_changed.emit()  # the view shows the model in use again
            return
        self.state.set_model(choice)

    def eps_fn(self, which: str | None = None):
        """The EpsFn of `which` ("exact", "learned"; default: the chosen model), or None."""
        s = self.state
        which = which or s.model
        if which == "exact":
            mixture = s.current_mixture()
            return None if mixture is None else toy2d.exact_eps_fn(mixture, self.schedule)
        if s.learned is None or s.learned_for != s.dataset:
            return None
        if s.is_latent:   # the class asked (None: the unconditional model, null class)
            return make_eps_fn(s.learned, self.schedule, labels=s.latent_label,
                               guidance=LATENT_GUIDANCE)
        return make_eps_fn(s.learned, self.schedule)

    def fields(self, t: int, extent: float, n: int = FIELD_GRID,
                   center: tuple[float, float] = (0.0, 0.0)) -> dict:
        """{"exact": (points, ε), "learned": (points, ε)} at step t >= 1, for those that exist,
        on the n×n grid of half-width `extent` around `center`."""
        out = {}
        if t < 1:
            return out
        for which in ("exact", "learned"):
            fn = self.eps_fn(which)
            if fn is not None:
                out[which] = eps_field(fn, t, extent, n, center)
        return out

    def is_training(self) -> bool:
        return self.jobs.is_running(TOY_TRAIN_JOB)

    def start_training(self, steps: int = TOY_TRAIN_STEPS) -> bool:
        """Train the MLP on the current data set in the background (a fresh network)."""
        if self._points is None and not self.recompute():
            return False
        points, schedule, dataset = self._points, self.schedule, self.state.dataset
        seed = self.state.seed
        # the latent map trains a class-conditional MLP (with the null class), like the bundled
        labels = self._point_labels if self.state.is_latent else None

        def job(cancel: threading.Event):
            return iter_toy_training(points, schedule, steps=int(steps), seed=seed, labels=labels,
                                     num_classes=0 if labels is None else 10)

        s = self.state
        s.clear_loss()
        self._train_dataset = dataset
        if self.jobs.start(TOY_TRAIN_JOB, job, rate_hz=15, items=self._on_train_items,
                           finished=self._on_train_finished,
                           failure="2-D training stopped") is None:
            return False
        s.set_training_phase("running")
        self.status.emit(f"Training the 2-D MLP on {toy2d.DATASET_NAMES[dataset]}…")
        return True

    def stop_training(self) -> None:
        self.jobs.stop(TOY_TRAIN_JOB)

    @Slot(list)
    def _on_train_items(self, items: list) -> None:
        progress = [it for it in items if isinstance(it, ToyTrainProgress)]
        if not progress:
            return
        self.state.add_loss([p.step for p in progress], [p.loss for p in progress],
                            progress[-1].elapsed_s)
        snaps = [p.model for p in progress if p.model is not None]
        if snaps:
            self.state.set_learned(snaps[-1], self._train_dataset)

    @Slot(bool)
    def _on_train_finished(self, completed: bool) -> None:
        s = self.state
        s.set_training_phase("idle")
        steps = s.loss_steps[-1] if s.loss_steps else 0
        self.status.emit(f"2-D MLP: {'trained' if completed else 'stopped at'} {steps} steps "
                         f"in {s.train_seconds:.1f} s")

    # -- reverse -------------------------------------------------------------------------------
    def is_sampling(self) -> bool:
        return self.jobs.is_running(TOY_SAMPLE_JOB)

    def request_sampling(self) -> bool:
        """Move N(0, I) particles with the session's sampler and the chosen model."""
        s = self.state
        if s.frames is None and not self.recompute():
            return False
        if s.dataset == "painted" and not len(s.painted):
            self.error.emit("Cannot sample the 2-D chain: paint some points first (Mouse: "
                            "Paint points, then drag on the plot).", "")
            return False
        eps_fn = self.eps_fn()
        if eps_fn is None:
            what = ("train the MLP first (Train)" if s.model == "learned"
                    else "this data set has no exact denoiser")
            self.error.emit(f"Cannot sample the 2-D chain: {what}.", "")
            return False
        settings, schedule = self.sampler.settings, self.schedule
        # The same steps for every lane (equal network calls), as core.run plans the run
        plan = plan_run(settings, schedule.T, from_t=schedule.T)
        ts = plan.timesteps
        n = s.n_particles
        x_T = torch.randn((n, 2), generator=generator_for(settings.seed))
        names = settings.lane_names()
        decoder = None
        s.sample_labels = None
        if s.is_latent:
            models = self._latent()
            if models is None:
                return False
            labels = (np.arange(n, dtype=np.int64) % 10 if s.latent_label is None
                      else np.full(n, s.latent_label, dtype=np.int64))
            s.sample_labels = labels
            eps_fn = make_eps_fn(s.learned, schedule, labels=torch.from_numpy(labels),
                                 guidance=LATENT_GUIDANCE)
            decoder = models.decode
            s.set_decoded(None)
        shown = np.arange(min(n, TOY_DECODED))

        def job(cancel: threading.Event):
            # one generator per lane, the same x_T and noise seed, interleaved step by step
            iters = [iter_sampler(lane.sampler, eps_fn, schedule, x_T, steps=lane.steps,
                                  generator=generator_for(settings.seed + 1), eta=settings.eta,
                                  clip_x0=False) for lane in plan.lanes]
            try:
                active = list(enumerate(iters))
                while active and not cancel.is_set():
                    for lane, it in list(active):
                        step = next(it, None)
                        if step is None:
                            active.remove((lane, it))
                            continue
                        x = step.x_t.numpy().copy()
                        if decoder is not None and lane == 0:   # the digits, live (~0.1 ms)
                            yield ToyFrame(lane, x, decoder(x[shown]), int(step.t))
                        else:
                            yield ToyFrame(lane, x)
            finally:
                for it in iters:
                    it.close()

        s.start_reverse(names[0], ts, n, names[1] if len(names) > 1 else None)
        self.jobs.start(TOY_SAMPLE_JOB, job, items=self._on_sample_items,
                        finished=self._on_sample_finished, failure="2-D sampling failed")
        return True

    def pick_particle(self, x: float, y: float, add: bool = True) -> None:
        """Pick the particle nearest (x, y) in what is shown (reverse chain if any)."""
        s = self.state
        i = s.reverse_index()
        pts = s.reverse[i] if i is not None else s.particles()
        if pts is None or not len(pts):
            return
        k = int(np.argmin(((pts - [x, y]) ** 2).sum(1)))
        picked = list(s.picked) if add else []
        if k not in picked:
            picked.append(k)
        s.set_picked(picked)

    @Slot(list)
    def _on_sample_items(self, items: list) -> None:
        self.state.add_reverse([(it.lane, it.x_t) for it in items])
        decoded = [it for it in items if it.decoded is not None]
        if decoded:
            s = self.state
            stack = np.stack([it.decoded for it in decoded])
            s.reverse_decoded = (stack if s.reverse_decoded is None
                                 else np.concatenate([s.reverse_decoded, stack]))
            s.set_decoded(decoded[-1].decoded, decoded[-1].t)

    @Slot(bool)
    def _on_sample_finished(self, completed: bool) -> None:
        self.state.finish_reverse()

    def _latent(self):
        """The bundled latent models (core.latent), or None with `error` when missing."""
        from ddpm_desktop.core.checkpoint import CheckpointError
        from ddpm_desktop.core.latent import bundled_latent

        try:
            return bundled_latent()
        except CheckpointError as exc:
            self.error.emit(f"Digits' latent map: {exc}", "")
            return None

    # -- the digits' latent map ----------------------------------------------------------------
    def set_latent_label(self, label: int) -> None:
        """The class the latent model samples (and its field shows): 0-9, or -1 for all."""
        label = int(label)
        if not -1 <= label <= 9:
            self.error.emit(f"class {label} must be 0-9 (or -1: all)", "")
            return
        self.state.set_latent_label(None if label < 0 else label)
        self.state.model_changed.emit()   # the fields follow the class

    def decode_point(self, x: float, y: float) -> None:
        """Decode the latent-map point (x, y) into a digit (shown where it was clicked)."""
        if not self.state.is_latent:
            return
        models = self._latent()
        if models is None:
            return
        try:
            image = models.decode([[x, y]])[0]
        except ValueError as exc:
            self.error.emit(f"Cannot decode the point: {exc}", "")
            return
        self.state.set_decoded_point((float(x), float(y)), image)

    def show_decoded_frame(self) -> None:
        """The decoded particles of the reverse frame shown (after a scrub)."""
        s = self.state
        i = s.reverse_index()
        if s.reverse_decoded is None or i is None or not len(s.reverse_decoded):
            return
        i = min(i, len(s.reverse_decoded) - 1)
        if s.decoded is not s.reverse_decoded[i]:
            s.set_decoded(s.reverse_decoded[i], int(s.reverse_t[i]))

    # -- export ----------------------------------------------------------------------------------
    def export_animation(self, path: str, chain: str = "reverse", heat: bool = True,
                             arrows: bool = True, fps: float = 20.0) -> bool:
        """Write the 2-D animation (GIF, WebP, APNG; PNG: the last frame) on the worker: the
        reverse chain (`chain` "reverse", when there is one) or the forward chain, with the
        heat map of p_t and the chosen model's arrows as the window shows them."""
        from pathlib import Path

        from ddpm_desktop.render.toy2d import KINDS, Toy2DExportJob, alpha_bars_of, iter_toy_export

        s = self.state
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
                                 eps_fn=self.eps_fn() if arrows else None,
                                 labels=None if labels is None or not s.is_latent else labels.copy(),
                                 picked=picked, fps=float(fps))
        except ValueError as exc:
            self.error.emit(f"Cannot export the 2-D animation: {exc}", "")
            return False
        if self.jobs.start(TOY_EXPORT_JOB, lambda cancel: iter_toy_export(job, cancel),
                           rate_hz=10, items=self._on_export_items,
                           failure="2-D export failed") is None:
            return False
        self.status.emit(f"Exporting the 2-D animation to {path}…")
        return True

    def is_exporting(self) -> bool:
        return self.jobs.is_running(TOY_EXPORT_JOB)

    @Slot(list)
    def _on_export_items(self, items: list) -> None:
        done = [it.path for it in items if getattr(it, "path", None)]
        if done:
            self.export_path = done[-1]
            self.status.emit(f"Wrote {done[-1]}")

