"""A small MNIST classifier: the judge of sample quality (accuracy and Fréchet distance).

Trained with this module on the bundled training split (tools/train_classifier.py) and
shipped as resources/classifier.safetensors. Its 128-d penultimate features are the space in
which `evaluation.frechet_distance` compares samples with data (the "FID" of MNIST papers,
with this network in place of Inception).
"""
from __future__ import annotations

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
def predict(model: DigitClassifier, images: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """→ (predicted labels [N], features [N, 128]) for images [N,1,28,28] in [-1,1]."""
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
    return model.eval().requires_grad_(False), json.loads(meta.get("info", "{}"))


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
