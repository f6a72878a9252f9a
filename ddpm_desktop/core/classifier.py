"""A small MNIST classifier: the judge of sample quality (accuracy and Fréchet distance), and
the reader that says whether a picture is a digit at all.

Trained with this module on the bundled training split (tools/train_classifier.py) and
shipped as resources/classifier.safetensors. Its 128-d penultimate features are the space in
which `evaluation.frechet_distance` compares samples with data (the "FID" of MNIST papers,
with this network in place of Inception).

"Is this a digit?" (`DigitReader`): a softmax gives some class a high probability for any
input, a white blob or pixel noise included, so the probability alone cannot say "not a
digit". The reader also measures how far the picture's activations lie from the training
digits', as a Mahalanobis distance to the nearest class mean under one covariance shared by
the classes (Lee et al. 2018, "A simple unified framework for detecting out-of-distribution
samples", eq. 2), in two places of the network: the 64 channel means and standard deviations
after the first pooling (stroke-level statistics) and the 128 pre-activation outputs of the
penultimate layer (shape-level). Each distance is divided by its 99th percentile on the
training digits, and the score is the log of the larger ratio. A picture is a digit when its
score is at most a threshold set on half of the held-out digits, as they are and as they arrive
from the drawing canvas (tools/calibrate_ood.py writes
the means, precisions and threshold to resources/classifier_ood.json; bench/classify.py
measures the result on the other half and on pictures that are not digits, core/nondigits.py).
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

from .schema import SchemaError, parse_json, refusal

CLASSIFIER_FILE = "classifier.safetensors"
FORMAT = "ddpm-desktop-classifier/1"
FEATURE_DIM = 128


class DigitClassifier(nn.Module):
    """[B,1,28,28] in [-1,1] → logits [B,10]; `features` gives the 128-d penultimate layer."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.bn1, self.bn2 = nn.BatchNorm2d(32), nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 7 * 7, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv1(x))
        h = F.max_pool2d(F.relu(self.bn1(self.conv2(h))), 2)
        h = F.relu(self.conv3(h))
        h = F.max_pool2d(F.relu(self.bn2(self.conv4(h))), 2)
        return F.relu(self.fc(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))

    def ood_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """→ (stroke statistics [B, 64]: the channel means and standard deviations after the
        first pooling; the penultimate layer before its ReLU [B, 128]; logits [B, 10])."""
        h = F.relu(self.conv1(x))
        h1 = F.max_pool2d(F.relu(self.bn1(self.conv2(h))), 2)
        h = F.relu(self.conv3(h1))
        h = F.max_pool2d(F.relu(self.bn2(self.conv4(h))), 2)
        pre = self.fc(h.flatten(1))
        stats = torch.cat([h1.mean((2, 3)), h1.std((2, 3))], 1)
        return stats, pre, self.head(F.relu(pre))


@dataclass(frozen=True)
class ClassifierProgress:
    epoch: int
    step: int
    loss: float
    test_accuracy: float | None  # set at the end of each epoch


def _shift(x: torch.Tensor, g: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translation by up to ±max_shift pixels (padding with background −1)."""
    b = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=g)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=g)
    rows = (dy[:, None] + torch.arange(28)[None, :])  # [B, 28]
    cols = (dx[:, None] + torch.arange(28)[None, :])
    idx_b = torch.arange(b)[:, None, None]
    return padded[idx_b, 0, rows[:, :, None], cols[:, None, :]][:, None]


def iter_train_classifier(model: DigitClassifier, train, test, epochs: int = 6, batch_size: int = 128,
                          lr: float = 2e-3, seed: int = 0) -> Iterator[ClassifierProgress]:
    """Adam + one-cycle cosine schedule with ±2 px shifts; yields every step and each epoch end."""
    x_train, y_train = train
    x_test, y_test = test
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    total = epochs * steps_per_epoch
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=g)
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            x = _shift(x_train[idx], g)
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            loss = F.cross_entropy(model(x), y_train[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            yield ClassifierProgress(epoch, step, loss.item(), None)
        yield ClassifierProgress(epoch, step, loss.item(), accuracy(model, x_test, y_test))


@torch.inference_mode()
def predict(model: DigitClassifier, images: torch.Tensor, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """→ (predicted labels [N], features [N, 128]) for images [N,1,28,28] in [-1,1].

    Batches of 128: on one CPU thread 3,000 digits took 2.0-2.3 s of CPU in batches of 32 or
    128 and 3.6-3.9 s in batches of 500 (whose activations outgrow the cache)."""
    model.eval()
    labels, feats = [], []
    for lo in range(0, len(images), batch_size):
        f = model.features(images[lo:lo + batch_size].float())
        feats.append(f.numpy())
        labels.append(model.head(f).argmax(1).numpy())
    return np.concatenate(labels), np.concatenate(feats).astype(np.float64)


def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    pred, _ = predict(model, images)
    return float((pred == labels.numpy()).mean())


def save_classifier(path, model: DigitClassifier, info: dict) -> Path:
    from safetensors.torch import save

    from .checkpoint import atomic_write_bytes

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "info": json.dumps(info)}
    atomic_write_bytes(path, save(tensors, metadata=meta))
    return Path(path)


def load_classifier(path=None) -> tuple[DigitClassifier, dict]:
    """Load the bundled classifier (or `path`); CheckpointError when missing or foreign."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ddpm_desktop import resources_path

    from .checkpoint import CheckpointError, check_finite_weights

    path = Path(path) if path is not None else resources_path(CLASSIFIER_FILE)
    if not path.is_file():
        raise CheckpointError(f"classifier '{path}' does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"'{path.name}' is not a valid safetensors file ({' '.join(str(exc).split())[:120]})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"'{path.name}' is not a ddpm-desktop classifier")
    check_finite_weights(path.name, tensors)
    model = DigitClassifier()
    try:
        model.load_state_dict(tensors)
    except RuntimeError:
        raise CheckpointError(f"'{path.name}' holds a different classifier architecture") from None
    try:
        info = parse_json(meta.get("info", "{}"), 1_000_000, 4)
    except SchemaError as exc:
        raise CheckpointError(refusal(path.name, f"metadata info: {exc}")) from None
    if not isinstance(info, dict):
        raise CheckpointError(f"'{path.name}': metadata.info must be an object")
    return model.eval().requires_grad_(False), info


def train_and_save(path, epochs: int = 6, seed: int = 0, log=print) -> dict:
    """Train on the bundled MNIST train split, test on the held-out split, save; → info."""
    from .data import load_bundled_mnist

    torch.manual_seed(seed)
    train_ds, test_ds = load_bundled_mnist("train"), load_bundled_mnist("test")
    train = train_ds.as_tensor()
    test = test_ds.as_tensor()
    model = DigitClassifier()
    started = time.perf_counter()
    acc = None
    for p in iter_train_classifier(model, train, test, epochs=epochs, seed=seed):
        if p.test_accuracy is not None:
            acc = p.test_accuracy
            log(f"epoch {p.epoch}: loss {p.loss:.4f}, held-out accuracy {acc:.4f}")
    info = {"epochs": epochs, "seed": seed, "held_out_accuracy": acc, "train_images": len(train_ds.images),
            "held_out_images": len(test_ds.images), "seconds": round(time.perf_counter() - started, 1)}
    save_classifier(path, model, info)
    return info


# ----------------------------------------------------------------------------- is it a digit?

OOD_FILE = "classifier_ood.json"
OOD_FORMAT = "ddpm-desktop-classifier-ood/1"
OOD_LAYERS = ("stroke_stats", "penultimate")  # the order of `ood_features`' first two outputs
# Each layer's squared distance is divided by this percentile of the training digits' own.
OOD_NORM_PERCENTILE = 99.0
# The threshold keeps at least this share of each calibration set (held-out half A, as is and
# as drawn).
OOD_KEEP = 0.985
# Ridge added to each shared covariance, as a share of its mean variance (it keeps the
# precision finite along directions the training digits never vary in).
OOD_RIDGE = 1e-3


@dataclass(frozen=True)
class ClassGaussians:
    """One layer's class means [10, D] and shared precision (inverse covariance) [D, D], and
    `norm`: the training digits' `OOD_NORM_PERCENTILE` of the squared distance."""

    means: np.ndarray
    precision: np.ndarray
    norm: float

    def sq_distance(self, f: np.ndarray) -> np.ndarray:
        """min over classes of (f − μ_k)ᵀ Σ⁻¹ (f − μ_k): [N, D] → [N]."""
        d = f[:, None, :] - self.means[None]
        return np.einsum("nkd,nkd->nk", d @ self.precision, d).min(axis=1)  # the product by BLAS

    @classmethod
    def fit(cls, f: np.ndarray, labels: np.ndarray, ridge: float = OOD_RIDGE) -> "ClassGaussians":
        classes = np.unique(labels)
        means = np.stack([f[labels == k].mean(axis=0) for k in classes])
        centred = f - means[np.searchsorted(classes, labels)]
        cov = centred.T @ centred / len(f)
        cov += ridge * np.trace(cov) / len(cov) * np.eye(len(cov))
        g = cls(means, np.linalg.inv(cov), 1.0)
        return cls(means, g.precision, float(np.percentile(g.sq_distance(f), OOD_NORM_PERCENTILE)))


@dataclass(frozen=True)
class OodModel:
    """The layers' Gaussians (in `OOD_LAYERS` order) and the digit threshold on the score."""

    layers: tuple[ClassGaussians, ...]
    threshold: float
    info: dict

    def score(self, layer_features) -> np.ndarray:
        """log max_layer (d²_layer / norm_layer): [N]. 0 is a training digit at its 99th
        percentile; larger is further from every digit."""
        ratios = [g.sq_distance(np.asarray(f, np.float64)) / g.norm for g, f in zip(self.layers, layer_features)]
        return np.log(np.maximum(np.max(ratios, axis=0), 1e-300))

    def to_json(self) -> dict:
        def num(a):
            return np.round(np.asarray(a, np.float64), 8).tolist() if np.ndim(a) else float(a)
        return {"format": OOD_FORMAT, "threshold": self.threshold, "info": self.info,
                "layers": {name: {"means": num(g.means), "precision": num(g.precision), "norm": g.norm}
                           for name, g in zip(OOD_LAYERS, self.layers)}}

    @classmethod
    def from_json(cls, d: dict) -> "OodModel":
        if d.get("format") != OOD_FORMAT:
            raise ValueError(f"not a {OOD_FORMAT} file")
        layers = tuple(ClassGaussians(np.asarray(d["layers"][n]["means"], np.float64),
                                      np.asarray(d["layers"][n]["precision"], np.float64),
                                      float(d["layers"][n]["norm"])) for n in OOD_LAYERS)
        return cls(layers, float(d["threshold"]), dict(d.get("info", {})))


def load_ood(path=None) -> OodModel:
    """The bundled calibration (or `path`); CheckpointError when missing or malformed."""
    from ddpm_desktop import resources_path

    from .checkpoint import CheckpointError

    path = Path(path) if path is not None else resources_path(OOD_FILE)
    try:
        return OodModel.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CheckpointError(f"classifier calibration '{path}' does not exist "
                              "(run: python tools/calibrate_ood.py)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"'{path}' is not a classifier calibration ({exc})") from None


# A reading of a digit with p below this is shown as unsure ("8? (p = 0.53, unsure)"). Set on
# held-out half A (tools/calibrate_ood.CALIBRATION_HALF): its wrong readings all have p < 0.77,
# and below 0.8 lie 5.9% of its correct ones; on half B (bench/classify.py) 9 of its 9 wrong
# readings and 4.9% of the correct ones fall below, and at or above 0.8 every reading of both
# halves is right. Below it a reading is right about three times in four (A 78%, B 73%).
UNSURE_P = 0.8


def reading_text(top: int, p: float, digit: bool) -> str:
    """How a reading reads wherever one is shown: '7 (p = 0.98)', '8? (p = 0.53, unsure)' when
    p < UNSURE_P, or 'not a digit'. top: the most probable class; p: its probability."""
    if not digit:
        return "not a digit"
    if p < UNSURE_P:
        return f"{int(top)}? (p = {p:.2f}, unsure)"
    return f"{int(top)} (p = {p:.2f})"


@dataclass(frozen=True)
class Reading:
    """The classifier's reading of one picture: `label` its most probable class, or None when
    the picture is not a digit; `p` the softmax probability of the most probable class `top`
    (both given either way); `digit` whether `score` (`OodModel.score`) is within the
    threshold."""

    label: int | None
    p: float
    digit: bool
    score: float
    top: int

    def as_dict(self) -> dict:
        return {"label": self.label, "p": round(self.p, 4), "digit": self.digit}

    @property
    def unsure(self) -> bool:
        """A digit whose p is below UNSURE_P: the top class may well be wrong."""
        return self.digit and self.p < UNSURE_P

    @property
    def text(self) -> str:
        """'7 (p = 0.98)', '8? (p = 0.53, unsure)', or 'not a digit' (`reading_text`)."""
        return reading_text(self.top, self.p, self.digit)


def readings(probs: np.ndarray, scores: np.ndarray, threshold: float) -> list[Reading]:
    out = []
    for pr, s in zip(np.asarray(probs), np.asarray(scores)):
        k, digit = int(np.argmax(pr)), bool(s <= threshold)
        out.append(Reading(k if digit else None, float(pr[k]), digit, float(s), k))
    return out


class DigitReader:
    """The classifier and its calibration: images → `Reading`s (and the arrays behind them)."""

    def __init__(self, classifier: DigitClassifier, ood: OodModel) -> None:
        if classifier.training:
            raise ValueError("the classifier is in training mode (dropout on): call .eval() first")
        self.classifier, self.ood = classifier, ood

    @torch.inference_mode()
    def probs_and_scores(self, images, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """images [N, 28, 28] or [N, 1, 28, 28] in [-1, 1] (numpy or torch) → (softmax
        probabilities float64 [N, 10], scores float64 [N])."""
        x = images.detach().cpu() if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
        x = x.reshape(-1, 1, 28, 28).to(torch.float32)
        probs, scores = [], []
        for lo in range(0, len(x), batch_size):
            stats, pre, logits = self.classifier.ood_features(x[lo:lo + batch_size])
            probs.append(torch.softmax(logits.double(), 1).numpy())
            scores.append(self.ood.score([stats.double().numpy(), pre.double().numpy()]))
        if not probs:
            return np.empty((0, 10)), np.empty(0)
        return np.concatenate(probs), np.concatenate(scores)

    def read(self, images) -> list[Reading]:
        probs, scores = self.probs_and_scores(images)
        return readings(probs, scores, self.ood.threshold)


@functools.lru_cache(maxsize=1)
def bundled_ood() -> OodModel:
    """The bundled calibration, loaded once per process (read-only)."""
    return load_ood()


def as_reader(classifier) -> DigitReader:
    """A DigitReader as is; a DigitClassifier with the bundled calibration."""
    return classifier if isinstance(classifier, DigitReader) else DigitReader(classifier, bundled_ood())


@functools.lru_cache(maxsize=1)
def bundled_reader() -> DigitReader:
    """The bundled classifier with its bundled calibration, loaded once per process.

    Read-only from here on: inference from several threads at once is safe in torch."""
    model, _info = load_classifier()
    return DigitReader(model, bundled_ood())


def fit_ood(classifier: DigitClassifier, train_images: torch.Tensor, train_labels: np.ndarray,
            calibration_sets: dict, info: dict | None = None) -> OodModel:
    """Fit each layer's class Gaussians on the training digits, then set the threshold so that
    at least `OOD_KEEP` of every calibration set reads as digits: the largest of the sets'
    `OOD_KEEP` quantiles of the score (images [N, 1, 28, 28] in [-1, 1])."""
    with torch.inference_mode():
        classifier.eval()
        stats, pre, _ = zip(*(classifier.ood_features(train_images[lo:lo + 500].float())
                              for lo in range(0, len(train_images), 500)))
    feats = [torch.cat(stats).double().numpy(), torch.cat(pre).double().numpy()]
    layers = tuple(ClassGaussians.fit(f, np.asarray(train_labels)) for f in feats)
    reader = DigitReader(classifier, OodModel(layers, math.inf, {}))
    quantiles = {name: float(np.quantile(reader.probs_and_scores(images)[1], OOD_KEEP))
                 for name, images in calibration_sets.items()}
    return OodModel(layers, max(quantiles.values()),
                    dict(info or {}, keep=OOD_KEEP, ridge=OOD_RIDGE, norm_percentile=OOD_NORM_PERCENTILE,
                         quantiles=quantiles))


def expected_calibration_error(p: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE = Σ_b (n_b / N) |mean p in b − accuracy in b| over `bins` equal-width bins of p
    (Guo et al. 2017, "On calibration of modern neural networks", eq. 3)."""
    p, correct = np.asarray(p, np.float64), np.asarray(correct, np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.mean() * abs(p[sel].mean() - correct[sel].mean())
    return float(total)
