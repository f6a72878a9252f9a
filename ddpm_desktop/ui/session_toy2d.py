"""The session's 2-D diffusion work: the particles' forward chain, p_t and its KL, training the
MLP, the reverse chain of the particles, and the ε fields the view draws.

A mixin of `Session` (session.py), like session_training.py: the session stays the one owner of
every job. It uses the session's schedule (ScheduleState) and sampler settings (SamplerState:
sampler, steps, η, seed); what the 2-D window shows lives in `self.toy2d` (a Toy2DState).
Work: the forward chain, p_t and the KL curve are recomputed synchronously on a data or
schedule change (tens of ms: one cumulative sum over [T, N, 2], the KL on a coarse grid);
training ("toy-train") and the reverse chain ("toy-sample") run on the generic worker.
"""
from __future__ import annotations

import threading

import numpy as np
import torch
from PySide6.QtCore import QTimer, Slot

from ddpm_desktop.core import toy2d
from ddpm_desktop.core.forward import forward_frames
from ddpm_desktop.core.latent import LATENT_GUIDANCE
from ddpm_desktop.core.run import plan_run
from ddpm_desktop.core.sampling import generator_for, iter_sampler, make_eps_fn
from ddpm_desktop.core.toy2d_model import DEFAULT_STEPS, ToyTrainProgress, iter_toy_training
from ddpm_desktop.ui.session_toy2d_latent import TOY_EXPORT_JOB, Toy2DLatentJobs  # noqa: F401
from ddpm_desktop.ui.toy2d_state import Toy2DState

TOY_TRAIN_JOB = "toy-train"
TOY_SAMPLE_JOB = "toy-sample"
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


class Toy2DJobs(Toy2DLatentJobs):
    """Mixin: needs `self.workers`, `self.schedule`, `self.schedule_state`, `self.sampler`,
    `self.error` and `self.status` from Session."""

    def _init_toy2d(self) -> None:
        self.toy2d = Toy2DState(parent=self)
        self._toy_points: np.ndarray | None = None
        self._toy_point_labels: np.ndarray | None = None   # classes of the latent codes
        self.toy_export_path = ""   # the last 2-D animation written
        self._toy_active = False   # the window was opened: keep the 2-D data current
        self._toy_noise_key, self._toy_noises = None, None
        # A schedule drag changes the schedule many times a second; the 2-D data (~0.1-0.3 s)
        # follows once the drag pauses.
        self._toy_schedule_timer = QTimer(self)
        self._toy_schedule_timer.setSingleShot(True)
        self._toy_schedule_timer.setInterval(TOY_SCHEDULE_DEBOUNCE_MS)
        self._toy_schedule_timer.timeout.connect(self.recompute_toy)
        self.schedule_state.changed.connect(self._on_toy_schedule_changed)

    # -- data and forward ----------------------------------------------------------------------
    def activate_toy2d(self) -> None:
        """Build the 2-D data the first time the window opens (nothing is computed before)."""
        if not self._toy_active:
            self._toy_active = True
            self.recompute_toy()

    def _toy_sample(self, n: int, offset: int) -> np.ndarray:
        s = self.toy2d
        return toy2d.sample_data(s.dataset, n, generator_for(s.seed + offset),
                                 mixture=s.mixture, points=s.painted)

    def recompute_toy(self) -> bool:
        """Particles, their forward chain, p_t and the KL curve for the current data and
        schedule. False (with `error`) when the data set cannot be sampled (nothing painted)."""
        s = self.toy2d
        schedule = self.schedule
        labels = point_labels = None
        try:
            if s.is_latent:
                from ddpm_desktop.core.latent import sample_codes

                models = self._toy_latent()
                if models is None:
                    return False
                x0, labels = sample_codes(s.n_particles, generator_for(s.seed), models=models)
                points, point_labels = models.codes_of_bundled("train")
                if s.learned_for != s.dataset:   # the bundled model until one is trained here
                    s.set_learned(models.diffusion, s.dataset)
            else:
                x0 = self._toy_sample(s.n_particles, 0)
                points = self._toy_sample(TOY_TRAIN_POINTS, _POINTS_OFFSET)
        except ValueError as exc:
            self.error.emit(f"2-D data: {exc}", "")
            return False
        s.labels, self._toy_point_labels = labels, point_labels
        key = (s.seed, schedule.T, len(x0))
        if key != self._toy_noise_key:   # the forward noise z_1..z_T depends on these only
            gen = generator_for(s.seed + _NOISE_OFFSET)
            self._toy_noises = torch.randn((schedule.T, len(x0), 2), generator=gen).numpy()
            self._toy_noise_key = key
        frames = forward_frames(schedule, x0, self._toy_noises)
        mixture = s.current_mixture()
        if mixture is not None:
            marginal = toy2d.Marginal(mixture=mixture)
            kl_marginal = toy2d.Marginal(mixture=mixture, grid=KL_GRID)
        else:
            marginal = toy2d.Marginal(points=points)
            kl_marginal = toy2d.Marginal(points=points, grid=KL_GRID)
        kl_t, kl_values = kl_marginal.kl_curve(schedule, KL_CURVE_POINTS)
        self._toy_schedule_timer.stop()
        self.workers.cancel(TOY_SAMPLE_JOB)   # its particles belong to the old data/schedule
        self._toy_points = points
        if self.toy2d.model == "exact" and mixture is None:
            self.toy2d.set_model("learned")
        s.clear_reverse()
        s.set_data(x0, frames, marginal, kl_t, kl_values)
        return True

    @Slot(object)
    def _on_toy_schedule_changed(self, _schedule) -> None:
        s = self.toy2d
        if self._toy_active and not (s.dataset == "painted" and not len(s.painted)):
            self._toy_schedule_timer.start()   # (an empty painting has nothing to follow it)

    def set_toy_dataset(self, name: str) -> None:
        if name not in toy2d.DATASETS:
            self.error.emit(f"unknown 2-D data set {name!r}", "")
            return
        if name == self.toy2d.dataset:
            return
        self.toy2d.dataset = name
        if name == "painted" and not len(self.toy2d.painted):
            self.status.emit("Painted points: drag on the plot to paint the data")
            self.toy2d.set_model("learned")   # a painting has no exact denoiser
            self.toy2d.clear_reverse()
            self.toy2d.mixture_changed.emit()
            return
        self.recompute_toy()
        self.toy2d.mixture_changed.emit()

    def set_toy_seed(self, seed: int) -> None:
        if int(seed) != self.toy2d.seed:
            self.toy2d.seed = int(seed)
            self.recompute_toy()

    def set_toy_frame(self, t: int) -> None:
        self.toy2d.set_frame(t)
        self.show_toy_decoded_frame()

    def add_toy_component(self, x: float, y: float, std: float) -> None:
        """Add an isotropic component at (x, y) to the editable mixture (and show that set)."""
        s = self.toy2d
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
        self.recompute_toy()
        s.mixture_changed.emit()

    def reset_toy_mixture(self) -> None:
        self.toy2d.mixture = toy2d.DEFAULT_GMM
        if self.toy2d.dataset == "gmm":
            self.recompute_toy()
        self.toy2d.mixture_changed.emit()

    def paint_toy_points(self, points: np.ndarray) -> None:
        """Append painted points [M, 2] (and show the painted set)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if not len(pts):
            return
        s = self.toy2d
        s.painted = np.vstack([s.painted, pts])
        s.dataset = "painted"
        self.recompute_toy()
        s.mixture_changed.emit()

    def clear_toy_paint(self) -> None:
        self.toy2d.painted = np.zeros((0, 2))
        self.toy2d.mixture_changed.emit()

    # -- models --------------------------------------------------------------------------------
    def set_toy_model(self, choice: str) -> None:
        if choice == "exact" and not self.toy2d.exact_available:
            self.error.emit("The exact denoiser exists only for the Gaussian mixtures "
                            "(8 Gaussians, the edited mixture).", "")
            self.toy2d.model_changed.emit()  # the view shows the model in use again
            return
        self.toy2d.set_model(choice)

    def toy_eps_fn(self, which: str | None = None):
        """The EpsFn of `which` ("exact", "learned"; default: the chosen model), or None."""
        s = self.toy2d
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

    def toy_fields(self, t: int, extent: float, n: int = FIELD_GRID,
                   center: tuple[float, float] = (0.0, 0.0)) -> dict:
        """{"exact": (points, ε), "learned": (points, ε)} at step t >= 1, for those that exist,
        on the n×n grid of half-width `extent` around `center`."""
        out = {}
        if t < 1:
            return out
        for which in ("exact", "learned"):
            fn = self.toy_eps_fn(which)
            if fn is not None:
                out[which] = eps_field(fn, t, extent, n, center)
        return out

    def is_toy_training(self) -> bool:
        return self.workers.is_running(TOY_TRAIN_JOB)

    def start_toy_training(self, steps: int = TOY_TRAIN_STEPS) -> bool:
        """Train the MLP on the current data set in the background (a fresh network)."""
        if self._toy_points is None and not self.recompute_toy():
            return False
        points, schedule, dataset = self._toy_points, self.schedule, self.toy2d.dataset
        seed = self.toy2d.seed
        # the latent map trains a class-conditional MLP (with the null class), like the bundled
        labels = self._toy_point_labels if self.toy2d.is_latent else None

        def job(cancel: threading.Event):
            return iter_toy_training(points, schedule, steps=int(steps), seed=seed, labels=labels,
                                     num_classes=0 if labels is None else 10)

        s = self.toy2d
        s.clear_loss()
        self._toy_train_dataset = dataset
        task = self.workers.start(TOY_TRAIN_JOB, job, rate_hz=15)
        task.items.connect(self._on_toy_train_items)
        task.failed.connect(self._on_toy_train_failed)
        task.finished.connect(self._on_toy_train_finished)
        s.set_training_phase("running")
        self.status.emit(f"Training the 2-D MLP on {toy2d.DATASET_NAMES[dataset]}…")
        return True

    def stop_toy_training(self) -> None:
        self.workers.stop(TOY_TRAIN_JOB)

    @Slot(list)
    def _on_toy_train_items(self, items: list) -> None:
        progress = [it for it in items if isinstance(it, ToyTrainProgress)]
        if not progress:
            return
        self.toy2d.add_loss([p.step for p in progress], [p.loss for p in progress],
                            progress[-1].elapsed_s)
        snaps = [p.model for p in progress if p.model is not None]
        if snaps:
            self.toy2d.set_learned(snaps[-1], self._toy_train_dataset)

    @Slot(str, str)
    def _on_toy_train_failed(self, message: str, details: str) -> None:
        self.error.emit(f"2-D training stopped: {message}", details)

    @Slot(bool)
    def _on_toy_train_finished(self, completed: bool) -> None:
        s = self.toy2d
        s.set_training_phase("idle")
        steps = s.loss_steps[-1] if s.loss_steps else 0
        self.status.emit(f"2-D MLP: {'trained' if completed else 'stopped at'} {steps} steps "
                         f"in {s.train_seconds:.1f} s")

    # -- reverse -------------------------------------------------------------------------------
    def is_toy_sampling(self) -> bool:
        return self.workers.is_running(TOY_SAMPLE_JOB)

    def request_toy_sampling(self) -> bool:
        """Move N(0, I) particles with the session's sampler and the chosen model."""
        s = self.toy2d
        if s.frames is None and not self.recompute_toy():
            return False
        if s.dataset == "painted" and not len(s.painted):
            self.error.emit("Cannot sample the 2-D chain: paint some points first (Mouse: "
                            "Paint points, then drag on the plot).", "")
            return False
        eps_fn = self.toy_eps_fn()
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
            models = self._toy_latent()
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
                            yield lane, x, decoder(x[shown]), int(step.t)
                        else:
                            yield lane, x
            finally:
                for it in iters:
                    it.close()

        s.start_reverse(names[0], ts, n, names[1] if len(names) > 1 else None)
        task = self.workers.start(TOY_SAMPLE_JOB, job, rate_hz=30)
        task.items.connect(self._on_toy_sample_items)
        task.failed.connect(self._on_toy_sample_failed)
        task.finished.connect(self._on_toy_sample_finished)
        return True

    def pick_toy_particle(self, x: float, y: float, add: bool = True) -> None:
        """Pick the particle nearest (x, y) in what is shown (reverse chain if any)."""
        s = self.toy2d
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
    def _on_toy_sample_items(self, items: list) -> None:
        self.toy2d.add_reverse([it[:2] for it in items])
        decoded = [it for it in items if len(it) == 4]
        if decoded:
            s = self.toy2d
            stack = np.stack([it[2] for it in decoded])
            s.reverse_decoded = (stack if s.reverse_decoded is None
                                 else np.concatenate([s.reverse_decoded, stack]))
            s.set_decoded(decoded[-1][2], decoded[-1][3])

    @Slot(str, str)
    def _on_toy_sample_failed(self, message: str, details: str) -> None:
        self.error.emit(f"2-D sampling failed: {message}", details)

    @Slot(bool)
    def _on_toy_sample_finished(self, completed: bool) -> None:
        self.toy2d.finish_reverse()

