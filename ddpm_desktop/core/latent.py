"""The digits' latent map: a small autoencoder from 28×28 digits to a 2-D code, and a
class-conditional diffusion model (a ToyMLP) on the codes.

`LatentAutoencoder`: encoder 784 -> 512 -> 256 -> 2, decoder 2 -> 256 -> 512 -> 784 (SiLU, tanh
out: the digits' [-1, 1]). Trained (`iter_train_autoencoder`) on the bundled MNIST train split
with a reconstruction loss (pixels as Bernoulli probabilities, BCE, or ‖x - D(E(x))‖²) plus a
class term: a softmax head on the 2-D code, weight `class_weight`, and a small ‖z‖² penalty
that stops the head from pushing codes outwards without bound. The class term is what makes
the ten digits separate in two dimensions (docs/TOY2D.md measures the map with and without
it). The bundled head is `RingHead`: fixed directions 36° apart, so each class gets an equal
wedge around the origin (a learned linear head squeezed 2, 4 and 8 into small central
clusters whose decoded digits blur into 8s). Decoding needs only the decoder. Codes are
standardised by one scalar (`code_scale`, keeping the map's aspect) and a mean, so the map
has about unit variance per axis like the other 2-D sets.

The diffusion model is core.toy2d_model's ToyMLP with `num_classes=10` (the null class 10 is
the unconditional model): make_eps_fn(model, schedule, labels=k) samples class k.

Both are bundled in one file, resources/latent.safetensors: tensors "ae.*" and "ldm.*", JSON
metadata (format, both configurations, the code normalisation, the training numbers).
`load_latent()` -> `LatentModels` with `encode(images) -> codes [N, 2]`, `decode(codes) ->
images uint8 [N, 28, 28]`, `codes_of_bundled(split)` (cached) and `eps_fn(schedule, label)`.
"""
from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .schema import Field, SchemaError, check_object, check_value, parse_json, refusal
from .imaging import IMAGE_SIDE
from .toy2d_model import ToyMLP

LATENT_FILE = "latent.safetensors"
FORMAT = "ddpm-desktop-latent/1"
NUM_CLASSES = 10
# Classifier-free guidance w of class samples (the window's and the CLI's): measured on the
# bundled models (bench/toy2d.py, DDIM 100 steps, 200 per class), the bundled classifier reads
# 83.6% of class samples as the asked class at w = 1 (worst class 54%), 98.5% at w = 2 (worst
# 92%), 100% at w = 3; w = 2 keeps more of each class's spread than w = 3 (docs/TOY2D.md).
LATENT_GUIDANCE = 2.0


HEADS = ("linear", "ring", "ring-learned")
# The ring heads' fixed logit scale s: logits_k = s u_k·z. With the class weight 0.15 and the
# code penalty 10⁻³ ‖z‖², the bundled run's training codes settle at a raw radius of 4.4
# (median), where the head gives a code's own class p = 0.92 (median).
RING_HEAD_SCALE = 4.0


class RingHead(nn.Module):
    """Class logits of a 2-D code by direction: logits_k = s u_k·z, u_k = (cos θ_k, sin θ_k),
    θ_k = 2πk/10 (fixed, or learned from there with `learn_angles`). Linear, of one norm and
    without a bias, so class k wins on the wedge of angles nearer θ_k than any other: wedges
    around the origin, and no class can be squeezed into the middle (the learned linear head
    put 2, 4 and 8 in small central clusters whose decoded digits blur; docs/TOY2D.md)."""

    def __init__(self, scale: float = RING_HEAD_SCALE, learn_angles: bool = False) -> None:
        super().__init__()
        self.scale = float(scale)
        angles = 2 * math.pi * torch.arange(NUM_CLASSES, dtype=torch.float32) / NUM_CLASSES
        if learn_angles:
            self.angles = nn.Parameter(angles)
        else:
            self.register_buffer("angles", angles, persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = torch.stack([self.angles.cos(), self.angles.sin()], 1)
        return self.scale * (z @ u.T)


class LatentAutoencoder(nn.Module):
    """encode: [B, 1, 28, 28] or [B, 784] in [-1, 1] -> raw code [B, 2]; decode: the reverse
    (images in [-1, 1], [B, 1, 28, 28]); `head` the class logits of a code (training only):
    "linear" (learned weights and biases), "ring" (`RingHead`, fixed equal wedges) or
    "ring-learned" (`RingHead` with learned angles)."""

    def __init__(self, hidden: int = 512, hidden2: int = 256, latent_dim: int = 2,
                 head: str = "linear") -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head {head!r}: choose one of {', '.join(HEADS)}")
        if head != "linear" and latent_dim != 2:
            raise ValueError("the ring head needs a 2-D code")
        self.config = {"hidden": int(hidden), "hidden2": int(hidden2), "latent_dim": int(latent_dim),
                       "head": head}
        self.encoder = nn.Sequential(nn.Linear(IMAGE_SIDE * IMAGE_SIDE, hidden), nn.SiLU(),
                                     nn.Linear(hidden, hidden2), nn.SiLU(),
                                     nn.Linear(hidden2, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden2), nn.SiLU(),
                                     nn.Linear(hidden2, hidden), nn.SiLU(),
                                     nn.Linear(hidden, IMAGE_SIDE * IMAGE_SIDE))   # tanh in decode
        self.head = (nn.Linear(latent_dim, NUM_CLASSES) if head == "linear"
                     else RingHead(learn_angles=head == "ring-learned"))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.decoder(z)).reshape(z.shape[0], 1, IMAGE_SIDE, IMAGE_SIDE)


@dataclass(frozen=True)
class AutoencoderProgress:
    """One epoch: its mean reconstruction loss (MSE per pixel, [-1, 1] units), class loss,
    the code-head accuracy on the training batch, seconds since the start."""

    epoch: int
    epochs: int
    recon: float
    class_loss: float
    head_accuracy: float
    elapsed_s: float


def iter_train_autoencoder(model: LatentAutoencoder, images: torch.Tensor, labels: torch.Tensor,
                           epochs: int = 30, batch_size: int = 128, lr: float = 2e-3,
                           class_weight: float = 0.05, code_weight: float = 1e-3,
                           seed: int = 0, loss: str = "bce") -> Iterator[AutoencoderProgress]:
    """Adam with a cosine decay; images [N, 1, 28, 28] in [-1, 1], labels [N] long. Yields an
    AutoencoderProgress per epoch (module docstring for the loss). loss "bce" fits the pixels
    as Bernoulli probabilities (sharper digits than "mse"); `recon` reports the MSE either way."""
    g = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=float(lr))
    n = len(images)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    flat = images.reshape(n, -1)
    step = 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=g)
        sums = np.zeros(3)
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            x, y = flat[idx], labels[idx]
            for group in opt.param_groups:
                group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / total)))
            z = model.encoder(x)
            a = model.decoder(z)
            recon = F.mse_loss(torch.tanh(a), x)
            if loss == "bce":
                # pixels as Bernoulli: p = (x + 1)/2 and tanh(a) = 2σ(2a) - 1, so logits 2a
                fit = F.binary_cross_entropy_with_logits(2 * a, (x + 1) / 2)
            else:
                fit = recon
            logits = model.head(z)
            ce = F.cross_entropy(logits, y)
            total_loss = fit + class_weight * ce + code_weight * (z ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            total_loss.backward()
            opt.step()
            step += 1
            sums += [recon.item(), ce.item(), (logits.argmax(1) == y).float().mean().item()]
        sums /= steps_per_epoch
        yield AutoencoderProgress(epoch, epochs, float(sums[0]), float(sums[1]), float(sums[2]),
                                  time.perf_counter() - start)


@torch.inference_mode()
def raw_codes(model: LatentAutoencoder, images: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
    model.eval()
    return np.concatenate([model.encode(images[i:i + batch_size].float()).numpy()
                           for i in range(0, len(images), batch_size)]).astype(np.float64)


class LatentModels:
    """The bundled autoencoder and latent diffusion model (module docstring).

    Codes are standardised: code = (E(x) - code_mean) / code_scale."""

    def __init__(self, autoencoder: LatentAutoencoder, diffusion: ToyMLP, code_mean, code_scale: float,
                 info: dict | None = None) -> None:
        self.autoencoder = autoencoder.eval().requires_grad_(False)
        self.diffusion = diffusion.eval().requires_grad_(False)
        self.code_mean = np.asarray(code_mean, dtype=np.float64).reshape(2)
        self.code_scale = float(code_scale)
        self.info = dict(info or {})
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def encode(self, images) -> np.ndarray:
        """Codes [N, 2] float32 of images: uint8 [N, 28, 28] (0..255) or float in [-1, 1]
        ([N, 28, 28] or [N, 1, 28, 28])."""
        x = _as_model_images(images)
        z = raw_codes(self.autoencoder, x)
        return ((z - self.code_mean) / self.code_scale).astype(np.float32)

    @torch.inference_mode()
    def decode(self, codes) -> np.ndarray:
        """Images uint8 [N, 28, 28] of codes [N, 2] (or one code [2])."""
        z = np.asarray(codes, dtype=np.float64).reshape(-1, 2) * self.code_scale + self.code_mean
        if not np.all(np.isfinite(z)):
            raise ValueError("codes must be finite numbers")
        out = self.autoencoder.decode(torch.from_numpy(z.astype(np.float32)))[:, 0]
        return np.round((out.clamp(-1, 1).numpy() + 1.0) * 127.5).astype(np.uint8)

    def decode_float(self, codes) -> np.ndarray:
        """Images float32 [N, 1, 28, 28] in [-1, 1] (for the classifier)."""
        return self.decode(codes).astype(np.float32)[:, None] / 127.5 - 1.0

    def codes_of_bundled(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """(codes [N, 2] float32, labels [N] int64) of the bundled MNIST split (cached)."""
        if split not in self._codes:
            from .data import load_bundled_mnist

            ds = load_bundled_mnist(split)
            self._codes[split] = (self.encode(ds.images), np.array(ds.labels, dtype=np.int64))
        return self._codes[split]

    def eps_fn(self, schedule, label: int | None = None, guidance: float = LATENT_GUIDANCE):
        """The latent diffusion model as a core.sampling EpsFn (label None: unconditional)."""
        from .sampling import make_eps_fn

        if label is not None and not 0 <= int(label) < NUM_CLASSES:
            raise ValueError(f"label {label} must lie in 0..{NUM_CLASSES - 1}")
        return make_eps_fn(self.diffusion, schedule, labels=None if label is None else int(label),
                           guidance=guidance)


def _as_model_images(images) -> torch.Tensor:
    a = np.asarray(images)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 4:
        a = a[:, 0]
    if a.ndim != 3 or a.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(f"images must be [N, 28, 28], got {a.shape}")
    if a.dtype == np.uint8:
        x = a.astype(np.float32) / 127.5 - 1.0
    else:
        x = a.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x))[:, None]


# ----------------------------------------------------------------------------------- files
def save_latent(path, models: LatentModels) -> Path:
    """Both networks and their configuration in one safetensors file (atomic)."""
    from safetensors.torch import save

    from .checkpoint import atomic_write_bytes

    tensors = {f"ae.{k}": v.detach().cpu().contiguous()
               for k, v in models.autoencoder.state_dict().items() if not k.startswith("head.")}
    tensors.update({f"ldm.{k}": v.detach().cpu().contiguous()
                    for k, v in models.diffusion.state_dict().items()})
    d = models.diffusion
    ldm_config = {"hidden": d.net[0].out_features, "depth": sum(isinstance(m, nn.Linear) for m in d.net) - 1,
                  "n_freq": d.n_freq, "num_classes": d.num_classes,
                  "class_dim": d.label_embedding.embedding_dim}
    meta = {"format": FORMAT, "ae_config": json.dumps(models.autoencoder.config),
            "ldm_config": json.dumps(ldm_config),
            "code_mean": json.dumps([float(v) for v in models.code_mean]),
            "code_scale": json.dumps(models.code_scale), "info": json.dumps(models.info)}
    atomic_write_bytes(path, save(tensors, metadata=meta))
    return Path(path)


def load_latent(path=None) -> LatentModels:
    """The bundled latent models (or those at `path`); CheckpointError (one line) when the
    file is missing, corrupt or not a ddpm-desktop latent file."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ddpm_desktop import resources_path

    from .checkpoint import CheckpointError, check_finite_weights

    path = Path(path) if path is not None else resources_path(LATENT_FILE)
    if not path.is_file():
        raise CheckpointError(f"latent model '{path}' does not exist "
                              "(python tools/train_autoencoder.py makes it)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"'{path.name}' is not a valid safetensors file "
                              f"({' '.join(str(exc).split())[:120]})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"'{path.name}' is not a ddpm-desktop latent model")
    check_finite_weights(path.name, tensors)
    try:
        m = decode_latent_metadata(meta)
    except SchemaError as exc:
        raise CheckpointError(refusal(path.name, exc)) from None
    try:
        ae = LatentAutoencoder(**m["ae_config"])
        ldm = ToyMLP(**m["ldm_config"])
        ae.load_state_dict({k[3:]: v for k, v in tensors.items() if k.startswith("ae.")},
                           strict=False)
        ldm.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ldm.")})
        models = LatentModels(ae, ldm, m["code_mean"], m["code_scale"], m.get("info", {}))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"'{path.name}' holds a different latent model "
                              f"({' '.join(str(exc).split())[:120]})") from None
    missing = [k for k in ae.state_dict() if not k.startswith("head.") and f"ae.{k}" not in tensors]
    if missing:
        raise CheckpointError(f"'{path.name}' lacks the autoencoder weights {missing[:3]}")
    if not (np.isfinite(models.code_mean).all() and math.isfinite(models.code_scale)
            and models.code_scale > 0):
        raise CheckpointError(f"'{path.name}' holds a code mean or scale that is not a finite number")
    return models


@functools.lru_cache(maxsize=1)
def bundled_latent() -> LatentModels:
    """The bundled latent models, loaded once per process (read-only use)."""
    return load_latent()


def sample_codes(n: int, generator: torch.Generator | None = None, label: int | None = None,
                 models: LatentModels | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n codes [n, 2] float32 of bundled training digits (drawn with replacement; of class
    `label` only, if given) and their labels [n] int64: the "mnist-latent" data set."""
    models = models or bundled_latent()
    codes, labels = models.codes_of_bundled("train")
    pool = np.arange(len(labels)) if label is None else np.flatnonzero(labels == int(label))
    if not len(pool):
        raise ValueError(f"no bundled digit has the label {label}")
    idx = pool[torch.randint(len(pool), (int(n),), generator=generator).numpy()]
    return codes[idx].copy(), labels[idx].copy()


# The metadata of a latent model file, each value bounded JSON; the sizes bound the networks a
# file can ask for (the bundled one: hidden 512/256, a 128-wide MLP of depth 3).
_AE_FIELDS = (Field("hidden", "int", 1, 4096, required=True),
              Field("hidden2", "int", 1, 4096, required=True),
              Field("latent_dim", "int", 1, 64, required=True),
              Field("head", "str", choices=HEADS))
_LDM_FIELDS = (Field("hidden", "int", 1, 1024, required=True),
               Field("depth", "int", 1, 8, required=True),
               Field("n_freq", "int", 0, 32),
               Field("num_classes", "int", 0, 100),
               Field("class_dim", "int", 1, 256))


def decode_latent_metadata(meta: dict) -> dict:
    """ae_config, ldm_config, code_mean (2 finite numbers), code_scale (> 0) and info (an
    object), decoded with core.schema's bounds; SchemaError (one line, naming the key)."""
    out = {}
    for key in ("ae_config", "ldm_config", "code_mean", "code_scale", "info"):
        if key not in meta:
            if key == "info":
                continue
            raise SchemaError(f"metadata {key} is missing")
        try:
            out[key] = parse_json(meta[key], 1_000_000, 4)
        except SchemaError as exc:
            raise SchemaError(f"metadata {key}: {exc}") from None
    out["ae_config"] = check_object(out["ae_config"], _AE_FIELDS, "metadata.ae_config")
    out["ldm_config"] = check_object(out["ldm_config"], _LDM_FIELDS, "metadata.ldm_config")
    mean = out["code_mean"]
    if not (isinstance(mean, list) and len(mean) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in mean)):
        raise SchemaError("metadata.code_mean must be a list of 2 numbers")
    out["code_scale"] = check_value(out["code_scale"],
                                    Field("code_scale", "float", 1e-6, 1e6), "metadata")
    if not isinstance(out.get("info", {}), dict):
        raise SchemaError("metadata.info must be an object")
    return out
