"""Distilling the guided teacher into a student that samples in 1-4 network calls.

The student is the teacher's own `UNet` class (it loads with `core.checkpoint`), initialised
from the teacher, conditioned on the class with classifier-free guidance at w baked in
(Meng et al. 2023, "On distillation of guided diffusion models": the student takes the class
and the null label, and its conditional output already is the guided one). Its raw output is
read as v = α ε − σ x_0 (Salimans & Ho 2022, §4 and App. D), α = √ᾱ, σ = √(1-ᾱ): at t = T
the ε parametrisation would divide the network's error by α_T ≈ 0.006, while x̂_0 = α x_t − σ v
does not. `StudentNet` turns that output back into ε̂ = σ x_t + α v, so the student plugs into
`make_eps_fn` and the sampler `distilled` is DDIM (η = 0) along the trailing steps.

Two published ways to train it, both as a generator of progress events (like core.training):
- "direct" (Luhman & Luhman 2021, "Knowledge distillation in iterative generative models"):
  run the teacher's DPM-Solver++ from x_T once per pair, keep every state x_{t_k} of its
  trajectory and its end x_0*, and regress the student's x̂_0(x_{t_k}, t_k) on x_0*. Every
  trajectory point is a training example, so the student also starts from any t (the trailing
  steps of 1-4 calls from T, and a noised digit in reconstruct).
- "progressive" (Salimans & Ho 2022, Algorithm 2): rounds N -> N/2; in a round the target of
  one student DDIM step t -> t'' is x̃ = (x_t'' − (σ_t''/σ_t) x_t)/(α_t'' − (σ_t''/σ_t) α_t),
  where x_t'' is two DDIM steps of the teacher (the guided teacher in round one, the previous
  round's student after it) from x_t = q(x_t | x_0) of a real digit.
Both minimise ‖v_θ − v*‖², v* = (α x_t − x̃)/σ the v of the target, i.e. the x_0 error
weighted by 1 + SNR (Salimans & Ho's "SNR + 1" weighting).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Iterator

import numpy as np
import torch
from torch import nn

from .forward import q_sample_at
from .imaging import IMAGE_SHAPE
from .sampling import ddim_step, iter_sampler, make_eps_fn, timesteps_for
from .schedule import NoiseSchedule

METHODS = ("direct", "progressive")
PREDICTIONS = ("eps", "v")
STUDENT_FILE = "distilled.safetensors"
# The distilled sampler takes 1..MAX_STUDENT_STEPS network calls.
MAX_STUDENT_STEPS = 4


@dataclass(frozen=True)
class DistillConfig:
    """What a distillation run does (saved in the student's metadata as `distill`)."""

    method: str = "direct"
    # Classifier-free guidance w of the teacher, baked into the student's conditional output.
    guidance: float = 1.5
    prediction: str = "v"
    # Share of examples with the null label (the student's unconditional output, guidance 0).
    p_uncond: float = 0.1
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-4
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    # direct: teacher trajectories (DPM-Solver++ of teacher_steps calls; its 12 trailing steps
    # hold the trailing steps of 1, 2, 3 and 4 calls from T = 1000)
    pairs: int = 8192
    pair_batch: int = 128
    teacher_steps: int = 12
    # progressive: the first teacher takes pd_start_steps DDIM steps; each round halves them
    pd_start_steps: int = 8
    pd_round_steps: int = 300

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DistillConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown distillation config keys: {', '.join(unknown)}")
        return cls(**d).validated()

    def validated(self) -> "DistillConfig":
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {self.prediction!r}")
        if not (math.isfinite(self.guidance) and -1e3 < self.guidance < 1e3):
            raise ValueError(f"guidance must be a finite number, got {self.guidance!r}")
        if not 0.0 <= self.p_uncond <= 1.0:
            raise ValueError(f"p_uncond must be in [0, 1], got {self.p_uncond!r}")
        for name in ("steps", "batch_size", "pairs", "pair_batch", "teacher_steps", "pd_round_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        s = self.pd_start_steps
        if isinstance(s, bool) or not isinstance(s, int) or s < 2 or s & (s - 1):
            raise ValueError(f"pd_start_steps must be a power of two >= 2, got {s!r}")
        return self


def alpha_sigma(log_snr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(α, σ) = (√ᾱ, √(1-ᾱ)) from λ = log(ᾱ/(1-ᾱ)): ᾱ = sigmoid(λ), 1-ᾱ = sigmoid(-λ)."""
    lam = log_snr.double()
    return torch.sigmoid(lam).sqrt().float(), torch.sigmoid(-lam).sqrt().float()


class StudentNet(nn.Module):
    """A UNet whose output is read as `prediction` ("v" or "eps"), returning ε̂ like the teacher.

    forward(x [B,1,28,28], log_snr [B], labels [B] | None) -> ε̂ = σ x + α v (v) or the
    output itself (eps). `config` and `null_label` are the UNet's, so `make_eps_fn` wraps it.
    """

    def __init__(self, unet: nn.Module, prediction: str = "v", guidance: float | None = None):
        super().__init__()
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {', '.join(PREDICTIONS)}, got {prediction!r}")
        self.unet = unet
        self.prediction = prediction
        self.guidance = guidance  # the w baked in (for reports); None when unknown

    @property
    def config(self):
        return self.unet.config

    @property
    def null_label(self) -> int:
        return self.unet.config.num_classes

    def forward(self, x: torch.Tensor, log_snr, labels: torch.Tensor | None = None) -> torch.Tensor:
        out = self.unet(x, log_snr, labels)
        if self.prediction == "eps":
            return out
        lam = torch.as_tensor(log_snr, dtype=torch.float32, device=x.device)
        if lam.ndim == 0:
            lam = lam.expand(x.shape[0])
        alpha, sigma = (c.to(x.device)[:, None, None, None] for c in alpha_sigma(lam))
        return sigma * x + alpha * out


def raw_target(prediction: str, x_t: torch.Tensor, x0: torch.Tensor, alpha: torch.Tensor,
               sigma: torch.Tensor) -> torch.Tensor:
    """The raw network output that gives x̂_0 = x0 at x_t: v* = (α x_t − x0)/σ, ε* = (x_t − α x0)/σ.

    alpha, sigma: [B] (or broadcastable [B,1,1,1])."""
    if alpha.dim() == 1:
        alpha, sigma = alpha[:, None, None, None], sigma[:, None, None, None]
    if prediction == "v":
        return (alpha * x_t - x0) / sigma
    return (x_t - alpha * x0) / sigma


def distill_loss(unet: nn.Module, prediction: str, x_t: torch.Tensor, log_snr: torch.Tensor,
                 labels: torch.Tensor | None, x0_target: torch.Tensor) -> torch.Tensor:
    """Mean ‖out_θ(x_t, λ, y) − out*‖² with out* = `raw_target(prediction, x_t, x0_target, α, σ)`.

    For v this is the x_0 error weighted by 1 + SNR (Salimans & Ho 2022, §4); zero exactly
    when the student's x̂_0 is the target."""
    alpha, sigma = alpha_sigma(log_snr)
    target = raw_target(prediction, x_t, x0_target, alpha.to(x_t.device), sigma.to(x_t.device))
    return (unet(x_t, log_snr, labels) - target).square().mean()


def progressive_target(schedule: NoiseSchedule, x_t: torch.Tensor, x_end: torch.Tensor,
                       t: int, t_end: int) -> torch.Tensor:
    """x̃ such that one DDIM step t -> t_end with x̂_0 = x̃ lands on x_end (Salimans & Ho 2022,
    Algorithm 2): x̃ = (x_end − (σ_e/σ_t) x_t)/(α_e − (σ_e/σ_t) α_t)."""
    ab_t, ab_e = schedule.alpha_bar(t), schedule.alpha_bar(t_end)
    a_t, s_t = math.sqrt(ab_t), math.sqrt(1.0 - ab_t)
    a_e, s_e = math.sqrt(ab_e), math.sqrt(1.0 - ab_e)
    r = s_e / s_t
    return (x_end - r * x_t) / (a_e - r * a_t)


@dataclass(frozen=True)
class DistillProgress:
    """One report of a run (plain values): phase "pairs" (teacher trajectories) or "train"."""

    phase: str
    step: int
    total_steps: int
    loss: float
    pairs: int
    round: int
    student_steps: int
    elapsed_s: float


def _labels_for(n: int, p_uncond: float, null: int, g: torch.Generator) -> torch.Tensor:
    y = torch.randint(0, null, (n,), generator=g)
    drop = torch.rand(n, generator=g) < p_uncond
    return torch.where(drop, torch.full_like(y, null), y)


def _teacher_eps_fn(teacher, schedule, labels: torch.Tensor, guidance: float):
    """ε of the guided teacher for a batch that mixes classes and the null label: a null row's
    "conditional" ε is ε_u, so ε_u + w (ε_c − ε_u) is ε_u there (guidance 0) with no extra call."""
    return make_eps_fn(teacher, schedule, labels, guidance)


class Distiller:
    """Holds the student, its EMA, the optimizer, the RNG, the teacher's trajectories and the step.

    teacher: an ε model (UNet); data: (images [N,1,28,28] in [-1,1], labels) for the
    progressive method (direct needs none). `state_dict` / `load_state_dict` resume a run.
    init: a student to start from instead of the teacher's weights (the same UNet config), so
    a new teacher's student can start from the previous teacher's (a warm start).
    """

    def __init__(self, config: DistillConfig, teacher: nn.Module, schedule: NoiseSchedule, data=None,
                 init: nn.Module | None = None):
        self.config = config.validated()
        self.schedule = schedule
        self.teacher = teacher.eval().requires_grad_(False)
        self.null = int(teacher.config.num_classes)
        torch.manual_seed(config.seed)
        start = teacher
        if init is not None:
            if init.config != teacher.config:
                raise ValueError("the initial student's architecture differs from the teacher's")
            start = init
        self.student = copy.deepcopy(start).train().requires_grad_(True)
        self.ema = copy.deepcopy(start).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.student.parameters(), lr=config.lr, weight_decay=0.0)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.loss_history: list[tuple[int, float]] = []
        self.data = data
        # direct: the teacher's trajectories, stored half precision (x_t) to fit in memory
        self.pair_ts = timesteps_for(schedule.T, config.teacher_steps)[:-1]   # t of every kept state
        self.pair_x = torch.zeros((0, len(self.pair_ts), 1, *IMAGE_SHAPE), dtype=torch.float16)
        self.pair_x0 = torch.zeros((0, 1, *IMAGE_SHAPE))
        self.pair_y = torch.zeros((0,), dtype=torch.long)
        self.round = 0
        self.round_teacher = None
        if config.method == "progressive" and data is None:
            raise ValueError("progressive distillation needs training digits (data)")

    # -- the student as the app uses it ------------------------------------------------------
    def student_net(self) -> StudentNet:
        return StudentNet(self.ema, self.config.prediction, self.config.guidance)

    def metadata(self) -> dict:
        return {"distill": self.config.to_dict(), "step": self.step, "prediction": self.config.prediction,
                "guidance": self.config.guidance}

    # -- direct: the teacher's trajectories ----------------------------------------------------
    def _pair_chunk(self, index: int) -> None:
        c = self.config
        g = torch.Generator().manual_seed(c.seed * 1_000_003 + 17 + index)  # same pairs on resume
        n = min(c.pair_batch, c.pairs - len(self.pair_y))
        y = _labels_for(n, c.p_uncond, self.null, g)
        x_T = torch.randn((n, 1, *IMAGE_SHAPE), generator=g)
        eps_fn = _teacher_eps_fn(self.teacher, self.schedule, y, c.guidance)
        states = []
        last = None
        for last in iter_sampler("dpmpp", eps_fn, self.schedule, x_T, steps=c.teacher_steps):
            if last.t > 0:
                states.append(last.x_t.half())
        self.pair_x = torch.cat([self.pair_x, torch.stack(states, dim=1)])
        self.pair_x0 = torch.cat([self.pair_x0, last.x_t.clamp(-1.0, 1.0)])
        self.pair_y = torch.cat([self.pair_y, y])

    def _direct_batch(self):
        c = self.config
        n = len(self.pair_y)
        i = torch.randint(0, n, (c.batch_size,), generator=self.generator)
        k = torch.randint(0, len(self.pair_ts), (c.batch_size,), generator=self.generator)
        x_t = self.pair_x[i, k].float()
        t = torch.as_tensor(self.pair_ts)[k]
        lam = torch.from_numpy(np.array(self.schedule.log_snr, dtype=np.float32))[t - 1]
        return x_t, lam, self.pair_y[i], self.pair_x0[i]

    # -- progressive: one round's targets --------------------------------------------------------
    def _round_of(self, step: int) -> int:
        rounds = int(math.log2(self.config.pd_start_steps))
        return min(step // self.config.pd_round_steps, rounds - 1)

    def _start_round(self, r: int) -> None:
        """Round r's teacher: the guided teacher first, then a frozen copy of the student so far."""
        self.round = r
        if r == 0:
            self.round_teacher = None
        else:
            self.round_teacher = StudentNet(copy.deepcopy(self.ema), self.config.prediction).eval()
            self.student.load_state_dict(self.ema.state_dict())

    def _progressive_batch(self):
        c = self.config
        n_student = c.pd_start_steps >> (self.round + 1)
        grid = timesteps_for(self.schedule.T, 2 * n_student)    # the teacher's steps
        images, labels = self.data
        idx = torch.randint(0, len(images), (c.batch_size,), generator=self.generator)
        x0 = images[idx]
        y = labels[idx].clone()
        drop = torch.rand(c.batch_size, generator=self.generator) < c.p_uncond
        y[drop] = self.null
        # one student step from grid[2i] to grid[2i + 2]; all items of the batch share i
        i = int(torch.randint(0, n_student, (1,), generator=self.generator))
        t, t_mid, t_end = int(grid[2 * i]), int(grid[2 * i + 1]), int(grid[2 * i + 2])
        noise = torch.randn(x0.shape, generator=self.generator)
        x_t = q_sample_at(x0, self.schedule.alpha_bar(t), noise)
        if self.round_teacher is None:
            eps_fn = _teacher_eps_fn(self.teacher, self.schedule, y, c.guidance)
        else:
            eps_fn = make_eps_fn(self.round_teacher, self.schedule, y, 1.0)
        with torch.inference_mode():
            x_mid, _ = ddim_step(eps_fn, self.schedule, x_t, t, t_mid)
            x_end, _ = ddim_step(eps_fn, self.schedule, x_mid, t_mid, t_end)
        target = progressive_target(self.schedule, x_t, x_end.clone(), t, t_end)
        if t_end == 0:
            target = target.clamp(-1.0, 1.0)
        lam = torch.full((c.batch_size,), float(self.schedule.log_snr[t - 1]))
        return x_t, lam, y, target, n_student

    # -- the loop --------------------------------------------------------------------------------
    def iter_distill(self, stop=None) -> Iterator[DistillProgress]:
        c = self.config
        started = time.perf_counter()
        if c.method == "direct":
            chunk = len(self.pair_y) // c.pair_batch
            while len(self.pair_y) < c.pairs:
                if stop is not None and stop.is_set():
                    return
                self._pair_chunk(chunk)
                chunk += 1
                yield DistillProgress("pairs", self.step, c.steps, float("nan"), len(self.pair_y), 0,
                                      MAX_STUDENT_STEPS, time.perf_counter() - started)
        elif self.round_teacher is None and self._round_of(self.step) > 0:
            self._start_round(self._round_of(self.step))   # resumed inside a later round
        while self.step < c.steps:
            if stop is not None and stop.is_set():
                return
            n_student = MAX_STUDENT_STEPS
            if c.method == "direct":
                x_t, lam, y, target = self._direct_batch()
            else:
                r = self._round_of(self.step)
                if r != self.round:
                    self._start_round(r)
                x_t, lam, y, target, n_student = self._progressive_batch()
            loss = distill_loss(self.student, c.prediction, x_t, lam, y, target)
            if not torch.isfinite(loss):
                raise ValueError(f"distillation diverged at step {self.step} (loss {float(loss)})")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.student.parameters(), c.grad_clip)
            self.optimizer.step()
            self.step += 1
            decay = min(c.ema_decay, (1 + self.step) / (10 + self.step))
            with torch.no_grad():
                for pe, ps in zip(self.ema.parameters(), self.student.parameters()):
                    pe.lerp_(ps, 1.0 - decay)
            value = loss.item()
            self.loss_history.append((self.step, value))
            yield DistillProgress("train", self.step, c.steps, value, len(self.pair_y), self.round,
                                  n_student, time.perf_counter() - started)

    # -- resume ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"config": self.config.to_dict(), "student": self.student.state_dict(),
                "ema": self.ema.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "step": self.step, "round": self.round,
                "pair_x": self.pair_x, "pair_x0": self.pair_x0, "pair_y": self.pair_y,
                "loss_history": torch.tensor(self.loss_history, dtype=torch.float64).reshape(-1, 2)}

    def load_state_dict(self, state: dict) -> None:
        self.student.load_state_dict(state["student"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:   # a resumed run may change the rate
            group["lr"] = self.config.lr
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
        self.pair_x, self.pair_x0, self.pair_y = state["pair_x"], state["pair_x0"], state["pair_y"]
        self.loss_history = [(int(s), float(v)) for s, v in state["loss_history"].tolist()]
        if self.config.method == "progressive" and self._round_of(self.step) > 0:
            self._start_round(self._round_of(self.step))
            self.student.load_state_dict(state["student"])


def load_student(path, device="cpu") -> tuple[StudentNet, dict]:
    """A distilled student saved by tools/distill.py: (StudentNet in eval mode, metadata).

    Raises checkpoint.CheckpointError (one line) for a missing or bad file, one that is not
    a student (no `distill` record), or one whose network does not predict what its metadata
    says (`noise_correlation`: a v student read as ε scored 10 %)."""
    from .checkpoint import CheckpointError, load_network

    unet, meta = load_network(path, device=device)
    name = getattr(path, "name", path)
    rec = meta.get("distill")
    if not isinstance(rec, dict) or meta.get("prediction") not in PREDICTIONS:
        raise CheckpointError(f"'{name}' is not a distilled student (no distill record)")
    r = noise_correlation(unet)
    if r is not None and (r < 0.3 if meta["prediction"] == "eps" else r > 0.9):
        said, does = ("ε", "not the noise") if meta["prediction"] == "eps" else ("v", "the noise itself")
        raise CheckpointError(f"'{name}' says it predicts {said}, but at pure noise its output is "
                              f"{does} (correlation {r:.2f}): its metadata does not fit the network")
    guidance = rec.get("guidance")
    return StudentNet(unet, meta["prediction"], guidance).eval(), meta


def noise_correlation(unet: nn.Module, log_snr: float = -9.0, n: int = 8) -> float | None:
    """Correlation of a network's raw output with x_t at almost pure noise (λ = -9, α ≈ 0.01),
    seeded; None when the output is constant (a fresh network: its last layer starts at 0).

    An ε-predictor returns about x_t there (ε = (x_t − α x_0)/σ): the bundled teacher gives
    1.00. A v-predictor returns about −x̂_0 (v = α ε − σ x_0), nearly independent of x_t: the
    bundled student gives −0.20. So the number tells which of the two a network is.
    """
    g = torch.Generator().manual_seed(0)
    p = next(unet.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    x = torch.randn(n, 1, 28, 28, generator=g)
    with torch.inference_mode():
        out = unet(x.to(device), torch.full((n,), float(log_snr), device=device), None).float().cpu()
    a, b = out.flatten().double(), x.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    if float(a.norm()) < 1e-9:
        return None
    return float((a @ b) / (a.norm() * b.norm()))


def bundled_student_path():
    """The student shipped in resources/, or None when this build has none."""
    from ddpm_desktop import resources_path

    p = resources_path(STUDENT_FILE)
    return p if p.is_file() else None
