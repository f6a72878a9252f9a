"""Forward process q: the closed form q(x_t|x_0), the step-by-step Markov chain with its noises,
and the starting distributions a view can put at x_T.

Types: everything computes in torch float32 (images) with float64 coefficients from the schedule.
`q_sample`, `iter_forward_chain` and `forward_chain` accept a torch tensor or a numpy array for
x_0 (any shape: [28, 28], [B, 1, 28, 28], ...) and answer in the same kind (numpy in -> numpy
out, float32).

Randomness: the forward chain of a seed draws its noises z_1..z_T with numpy's Generator
(`forward_noises`), and a noise start from a seed with `draw_start`; the app, `kl`, `reconstruct`
/ `export --noise-seed`, the lessons and the experiments all read these two, so a seed gives
the same chain everywhere. Torch is imported only inside the functions that take or make
tensors, so the numpy-only commands (`kl`) load this module without it. A torch.Generator
still drives `q_sample` and the chain of a caller that shares one stream (`export` without
--noise-seed).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .imaging import IMAGE_SHAPE
from .schedule import NoiseSchedule

if TYPE_CHECKING:
    import torch

STARTS = ("gaussian", "exponential", "uniform", "laplace", "salt_pepper", "shifted_gaussian", "image")

# Parameters of each start and their defaults (see `sample_start`).
START_PARAMS = {
    "gaussian": {},
    "exponential": {"rate": 0.5},
    "uniform": {"a": math.sqrt(3.0)},
    "laplace": {"scale": 1.0 / math.sqrt(2.0)},
    "salt_pepper": {"amount": 1.0, "value": 1.0},
    "shifted_gaussian": {"mean": 1.0, "std": 1.0},
    "image": {"image": None},
}

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

# The app draws a noise start (its x_T, and x_0 when the forward chain starts from noise) from
# the input seed + START_SEED_OFFSET, its own stream, so a Gaussian start is not the forward
# chain's z_1 (drawn from the input seed itself); Copy as command (core.reproduce) and `kl`
# use the same two seeds.
START_SEED_OFFSET = 1_000_003


def forward_noises(seed: int, T: int, shape=IMAGE_SHAPE) -> np.ndarray:
    """z_1..z_T of the forward chain of `seed`: float32 numpy [T, *shape], z_t = [t - 1].

    The one source of the chain's noise for a seed (numpy's PCG64 `default_rng(seed)`, standard
    normal in float32), read by the app (`NoiseCache`), `forward_chain(..., seed=)` and `kl`.
    Draws are sequential, so the noises for a shorter T are the first rows of a longer T's.
    """
    return np.random.default_rng(int(seed)).standard_normal((int(T), *tuple(shape)),
                                                            dtype=np.float32)


def _as_tensor(x) -> tuple[torch.Tensor, bool]:
    """(float32 tensor, was_numpy)."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.to(torch.float32), False
    return torch.from_numpy(np.array(x, dtype=np.float32)), True


def _out(x: torch.Tensor, numpy: bool):
    return x.numpy() if numpy else x


def q_sample_at(x0: torch.Tensor, alpha_bar, noise: torch.Tensor) -> torch.Tensor:
    """x_t = √ᾱ x_0 + √(1-ᾱ) ε (Ho et al. 2020, eq. 4) at noise levels ᾱ given directly, which
    need not be steps of a schedule (training draws ᾱ = sigmoid(λ) from a continuous log-SNR).

    x0, noise: tensors of one shape [B, ...]. alpha_bar: a float, or a tensor [B] of per-item
    levels broadcast over x0's trailing dimensions. √ᾱ and √(1-ᾱ) are taken in alpha_bar's own
    precision (float64 keeps the digits of 1-ᾱ when ᾱ is near 1), then cast to x0's dtype.
    `q_sample` is this at the ᾱ_t of a schedule; the training loop calls it with float32 levels.
    """
    if hasattr(alpha_bar, "detach"):  # a torch.Tensor, without importing torch here
        ab = alpha_bar.reshape((-1,) + (1,) * (x0.dim() - 1))
        a, b = ab.sqrt().to(x0.dtype), (1 - ab).sqrt().to(x0.dtype)
    else:
        a, b = math.sqrt(alpha_bar), math.sqrt(1.0 - alpha_bar)
    return a * x0 + b * noise


def q_sample(schedule: NoiseSchedule, x0, t, noise=None, generator: torch.Generator | None = None):
    """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε (Ho et al. 2020, eq. 4), the closed form of q(x_t|x_0)
    (`q_sample_at` with the schedule's float64 ᾱ_t).

    t: an int in 0..T (t = 0 returns x_0), or an integer tensor/array [B] of per-item steps
    (broadcast over the trailing dimensions of x0, as in training). noise: ε like x0; drawn from
    `generator` (CPU) when None. Coefficients are float32 on x0's device.
    """
    import torch

    x, was_numpy = _as_tensor(x0)
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x.device)
    else:
        noise, _ = _as_tensor(noise)
        noise = noise.to(x.device)
    if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
        t = int(t)
        if not 0 <= t <= schedule.T:
            raise ValueError(f"t = {t} is out of range: need 0 <= t <= T = {schedule.T}")
        if t == 0:
            return _out(x.clone(), was_numpy)
        return _out(q_sample_at(x, schedule.alpha_bar(t), noise), was_numpy)
    t = torch.as_tensor(t, dtype=torch.long, device=x.device)
    if t.numel() and (int(t.min()) < 1 or int(t.max()) > schedule.T):
        raise ValueError(f"t must lie in 1..T = {schedule.T} for a batch of steps")
    alpha_bar = schedule.tensor("alphas_cumprod", x.device, torch.float64)[t - 1]
    return _out(q_sample_at(x, alpha_bar, noise), was_numpy)


@dataclass(frozen=True)
class ForwardStep:
    """One link of the forward chain: x_t = √α_t x_{t-1} + √(1-α_t) noise (noise None at t = 0)."""

    t: int
    x_t: torch.Tensor | np.ndarray
    noise: torch.Tensor | np.ndarray | None


@dataclass(frozen=True)
class ForwardChain:
    """x: [T+1, *shape] with x[0] = x_0; noises: [T, *shape], noises[t-1] is the z_t that made x_t."""

    x: torch.Tensor | np.ndarray
    noises: torch.Tensor | np.ndarray


def _draw_noises(schedule: NoiseSchedule, shape, generator, seed: int | None) -> torch.Tensor:
    """All T steps' noise in one draw, so the same seed or generator state gives the same chain
    from either function: `forward_noises(seed)` when a seed is given, else torch's
    randn((T, *shape)) from `generator`."""
    import torch

    if seed is not None:
        return torch.from_numpy(forward_noises(seed, schedule.T, shape))
    return torch.randn((schedule.T, *shape), generator=generator, dtype=torch.float32)


def iter_forward_chain(schedule: NoiseSchedule, x0, generator: torch.Generator | None = None, *,
                       seed: int | None = None) -> Iterator[ForwardStep]:
    """The Markov chain q(x_t|x_{t-1}) = N(√α_t x_{t-1}, β_t I) (Ho et al. 2020, eq. 2), one
    `ForwardStep` per t = 0..T; the noise z_t of each step is the training label for x_t.

    seed: the chain of that seed (`forward_noises`, as the app draws it); else the noises come
    from `generator`. Draws the same noises as `forward_chain` for the same seed or generator
    state, so both give the same chain (up to float rounding).
    """
    x, was_numpy = _as_tensor(x0)
    x = x.cpu()
    noises = _draw_noises(schedule, tuple(x.shape), generator, seed)
    sqrt_a = np.sqrt(schedule.alphas)
    sqrt_b = np.sqrt(schedule.betas)
    yield ForwardStep(0, _out(x.clone(), was_numpy), None)
    for t in range(1, schedule.T + 1):
        z = noises[t - 1]
        x = float(sqrt_a[t - 1]) * x + float(sqrt_b[t - 1]) * z
        yield ForwardStep(t, _out(x, was_numpy), _out(z, was_numpy))


_FORWARD_BLOCK_COLUMNS = 56


def forward_frames(schedule: NoiseSchedule, x0, noises) -> np.ndarray:
    """Every frame x_0..x_T of the forward chain (Ho et al. 2020, eq. 2) driven by `noises`.

    x0: float [*shape]; noises: float32 [T, *shape] (z_t = noises[t-1]). Returns float32
    numpy [T+1, *shape]. Unrolling eq. 2 gives x_t = √ᾱ_t (x_0 + Σ_{s<=t} √(β_s/ᾱ_s) z_s), so
    one cumulative sum makes every frame. The sum runs in float64: its terms grow like 1/√ᾱ_s
    (~1e4 for T = 1000), and float64 keeps x_t = √α_t x_{t-1} + √β_t z_t to float32 rounding.
    In blocks of columns, so the float64 work buffer stays in cache (the same arithmetic as one
    whole-array pass, about twice as fast at T = 1000: a schedule drag recomputes this).
    """
    T = schedule.T
    noises = np.asarray(noises, dtype=np.float32)
    x0 = np.asarray(x0)
    if noises.shape != (T, *x0.shape):
        raise ValueError(f"need noises of shape {(T, *x0.shape)} for T = {T}, got {noises.shape}")
    flat = noises.reshape(T, -1)
    d = flat.shape[1]
    c = np.sqrt(schedule.betas / schedule.alphas_cumprod)[:, None]
    scale = schedule.sqrt_alphas_cumprod[:, None]
    x0_flat = np.asarray(x0, dtype=np.float64).reshape(-1)
    frames = np.empty((T + 1, d), dtype=np.float32)
    frames[0] = np.asarray(x0, dtype=np.float32).reshape(-1)
    width = _FORWARD_BLOCK_COLUMNS
    buf = np.empty((T, min(width, d)), dtype=np.float64)
    for j in range(0, d, width):
        block = buf[:, :min(width, d - j)]
        np.multiply(flat[:, j:j + width], c, out=block)
        np.cumsum(block, axis=0, out=block)
        block += x0_flat[j:j + width]
        block *= scale
        frames[1:, j:j + width] = block
    return frames.reshape((T + 1, *x0.shape))


def forward_chain(schedule: NoiseSchedule, x0, generator: torch.Generator | None = None, *,
                  seed: int | None = None) -> ForwardChain:
    """All T + 1 frames of the forward chain at once, with the noises that made them.

    seed: the chain of that seed, as the app shows it (`forward_noises`); else the noises come
    from `generator`. The noises are drawn as `iter_forward_chain` draws them, and the frames
    are `forward_frames` of them. CPU; numpy in -> numpy out, float32.
    """
    import torch

    x, was_numpy = _as_tensor(x0)
    x = x.cpu()
    noises = _draw_noises(schedule, tuple(x.shape), generator, seed)
    frames = torch.from_numpy(forward_frames(schedule, x.numpy(), noises.numpy()))
    return ForwardChain(_out(frames, was_numpy), _out(noises, was_numpy))


class NoiseCache:
    """z_1..z_T of the forward chain per (seed, shape), as read-only float32 numpy [T, *shape].

    `forward_noises(seed, T, shape)`, so `forward_frames(schedule, x0, cache.get(seed, T))`
    equals `forward_chain(schedule, x0, seed=seed).x`. A shorter T's noises are the first rows
    of a longer T's, so one draw per (seed, shape) at the longest T asked serves every shorter T
    as a view: dragging T redraws only when it passes the longest so far. Keeps a few keys.
    """

    def __init__(self, capacity: int = 4) -> None:
        self._cache: OrderedDict = OrderedDict()
        self._capacity = capacity

    def get(self, seed: int, T: int, shape=IMAGE_SHAPE) -> np.ndarray:
        key, T = (int(seed), tuple(shape)), int(T)
        hit = self._cache.get(key)
        if hit is not None and len(hit) >= T:
            self._cache.move_to_end(key)
            return hit[:T]
        noises = forward_noises(seed, T, shape)
        noises.setflags(write=False)
        self._cache[key] = noises
        self._cache.move_to_end(key)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return noises


# -- starting distributions for x_T -------------------------------------------------------------

def checked_start_params(name: str, params: dict) -> dict:
    """The parameters of start `name`: START_PARAMS' defaults updated with `params` (None keeps
    a default), each checked; ValueError (one line) for an unknown start, name or value."""
    if name not in STARTS:
        raise ValueError(f"unknown start {name!r}: choose one of {', '.join(STARTS)}")
    defaults = START_PARAMS[name]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise ValueError(f"unknown parameter {unknown[0]!r} for start {name!r} (allowed: {allowed})")
    merged = {**defaults, **{k: v for k, v in params.items() if v is not None}}
    for key, value in merged.items():
        if key == "image":
            continue
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{key} = {value} for start {name!r} must be finite")
        positive = key in ("rate", "a", "scale", "std", "value")
        if positive and value <= 0:
            raise ValueError(f"{key} = {value:g} for start {name!r} must be > 0")
        if key == "amount" and not 0 <= value <= 1:
            raise ValueError(f"amount = {value:g} for start {name!r} must lie in [0, 1]")
        merged[key] = value
    return merged


def _from_uniform(name: str, u: np.ndarray, p: dict) -> np.ndarray:
    """A start's pixels from U[0, 1) draws `u` (float64) by its inverse CDF: the one formula
    of each non-Gaussian start, whichever generator drew `u`."""
    if name == "exponential":  # -log(1 - U), never inf
        return -np.log1p(-u) / p["rate"]
    if name == "uniform":
        return (2.0 * u - 1.0) * p["a"]
    if name == "laplace":  # v = u - ½ ∈ [-½, ½), x = -b sign(v) ln(1 - 2|v|)
        v = u - 0.5
        return -p["scale"] * np.sign(v) * np.log1p(-2.0 * np.abs(v))
    amount, value = p["amount"], p["value"]  # salt_pepper
    return np.where(u < amount / 2, value, np.where(u < amount, -value, 0.0))


def _start_image(p: dict, shape: tuple) -> np.ndarray:
    if p["image"] is None:
        raise ValueError("start 'image' needs an image")
    img = np.asarray(p["image"].detach().cpu().numpy() if hasattr(p["image"], "detach") else p["image"],
                     dtype=np.float32)
    try:
        return np.broadcast_to(img, shape).copy()
    except ValueError:
        raise ValueError(f"image of shape {tuple(img.shape)} does not fit shape {shape}") from None


def sample_start(name: str, shape, generator: torch.Generator | None = None, **params) -> torch.Tensor:
    """A float32 CPU tensor of `shape` drawn i.i.d. per pixel from a starting distribution:

    - "gaussian": N(0, 1).
    - "exponential" (rate λ = 0.5): -log(U)/λ with U ~ U(0, 1], as the poster wrote it (drawn as
      -log(1 - U') with U' ~ U[0, 1) so it is never inf). Mean 1/λ, not centred.
    - "uniform" (a = √3): U[-a, a]; the default has unit variance.
    - "laplace" (scale b = 1/√2): density e^{-|x|/b}/(2b); the default has unit variance.
    - "salt_pepper" (amount p = 1, value v = 1): each pixel is +v with probability p/2, -v with
      probability p/2 and 0 otherwise; the default is ±1 coin flips (mean 0, variance 1).
    - "shifted_gaussian" (mean μ = 1, std s = 1): N(μ, s²).
    - "image" (image = array broadcastable to shape): that image, no randomness.
    Bad parameters raise ValueError. The draws come from the torch `generator` (the reverse
    run's x_T); `draw_start` is the same distribution drawn with numpy from a seed.
    """
    import torch

    p = checked_start_params(name, params)
    shape = tuple(int(n) for n in shape)
    if name == "image":
        return torch.from_numpy(_start_image(p, shape))
    if name in ("gaussian", "shifted_gaussian"):
        z = torch.randn(shape, generator=generator, dtype=torch.float32)
        return z if name == "gaussian" else p["mean"] + p["std"] * z
    u = torch.rand(shape, generator=generator, dtype=torch.float64).numpy()
    return torch.from_numpy(_from_uniform(name, u, p).astype(np.float32))


def draw_start(name: str, shape, seed: int, **params) -> np.ndarray:
    """`sample_start`'s distribution drawn with numpy's Generator from `seed`: float32 numpy of
    `shape`. What `kl` draws its noise start with, so it needs no torch."""
    p = checked_start_params(name, params)
    shape = tuple(int(n) for n in shape)
    if name == "image":
        return _start_image(p, shape)
    rng = np.random.default_rng(int(seed))
    if name in ("gaussian", "shifted_gaussian"):
        z = rng.standard_normal(shape, dtype=np.float32)
        return z if name == "gaussian" else (p["mean"] + p["std"] * z).astype(np.float32)
    return _from_uniform(name, rng.random(shape), p).astype(np.float32)


def start_analytic_kl(name: str, **params) -> float | None:
    """Exact KL(p ‖ N(0, 1)) per pixel, in nats, of a starting distribution; None when p has no
    density (salt_pepper, image: the KL of a discrete distribution to a density is infinite).

    KL(p ‖ N(0,1)) = -H(p) + ½ ln 2π + ½ E[x²]:
      exponential(λ): H = 1 - ln λ, E[x²] = 2/λ²  ->  ln λ - 1 + ½ ln 2π + 1/λ²  (λ = 0.5: 3.226)
      uniform[-a, a]: H = ln 2a, E[x²] = a²/3      ->  -ln 2a + ½ ln 2π + a²/6
      laplace(b):     H = 1 + ln 2b, E[x²] = 2b²   ->  -1 - ln 2b + ½ ln 2π + b²
      N(μ, s²):       -ln s + (s² + μ²)/2 - ½      (gaussian: 0)
    """
    p = checked_start_params(name, params)
    if name == "gaussian":
        return 0.0
    if name == "exponential":
        lam = p["rate"]
        return math.log(lam) - 1.0 + _HALF_LOG_2PI + 1.0 / lam ** 2
    if name == "uniform":
        a = p["a"]
        return -math.log(2.0 * a) + _HALF_LOG_2PI + a * a / 6.0
    if name == "laplace":
        b = p["scale"]
        return -1.0 - math.log(2.0 * b) + _HALF_LOG_2PI + b * b
    if name == "shifted_gaussian":
        from .kl import normal_kl

        return float(normal_kl(p["mean"], 2.0 * math.log(p["std"]), 0.0, 0.0))
    return None
