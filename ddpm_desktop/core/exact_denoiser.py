"""The perfect denoiser: the exact minimiser of the training loss for a finite training set.

For training images x_1..x_M (the empirical distribution) and x_t = √ᾱ x_0 + √(1-ᾱ) ε, the
posterior mean is a softmax-weighted average of the training images (Gu et al. 2025, "On
memorization in diffusion models"; Kadkhodaie et al. 2024, "Generalization in diffusion models
arises from geometry-adaptive harmonic representations"):

    x̂_0(x_t) = Σ_i w_i x_i,   w = softmax_i( -||x_t - √ᾱ x_i||² / (2 (1-ᾱ)) ),
    ε̂(x_t)  = (x_t - √ᾱ x̂_0) / √(1-ᾱ)

It is what a network trained to zero loss on the training set computes, and a sampler driven by
it can only land on training images.

The smoothed variant widens the kernel: the weights are computed with the variance
(1-ᾱ) + ᾱ h² in place of 1-ᾱ, as if each training image were a Gaussian blob of per-pixel std h
(model units, [-1, 1]), while x̂_0 stays a weighted average of the images themselves - a
Nadaraya-Watson kernel smoother whose bandwidth never falls below h. At h = 0 it is exact. A
temperature on the weights (variance (1-ᾱ) τ) does not do it: it shrinks with the noise, and at
the last steps the weights still snap to one image (measured: τ = 1.5, 2 and 4 copy 100 of 100,
docs/COPIES.md), while a τ large enough to blend there flattens the early steps to the mean. With h the end points are mean-shift modes of the widened kernel: single
training digits for small h, blends of neighbours as h grows, the mean of all digits as h → ∞ -
the path from copying to averaging (averaging is not generalising either).

`ExactDenoiser` has the network's call signature, `model(x [B,1,28,28], log_snr [B], labels [B]
long | None) -> ε̂`, so `sampling.make_eps_fn` and every sampler take it as they take the U-Net.
A class label restricts the sum to that class's images (the exact class-conditional posterior
mean); the null label `num_classes` (or labels None) uses every image, so classifier-free
guidance ε_u + w (ε_c - ε_u) is defined and works as with the network.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .sampling import eps_from_x0

DEFAULT_BANDWIDTH = 0.0


def posterior_mean(x_t: np.ndarray, alpha_bar: np.ndarray, images: np.ndarray,
                   sq_norms: np.ndarray | None = None, bandwidth: float = 0.0) -> np.ndarray:
    """x̂_0 = E[x_0 | x_t] under the empirical distribution of `images` (module docstring), with
    the kernel widened by `bandwidth` h (0: exact).

    x_t: [B, D]; alpha_bar: [B] (ᾱ of each row, in (0, 1)); images: [M, D] in the model's range;
    sq_norms: ||x_i||² [M] (computed when None). float64 throughout; → [B, D].
    The weights' logits -||x_t - √ᾱ x_i||²/(2v), v = (1-ᾱ) + ᾱh², are expanded as
    (√ᾱ x_t·x_i - ½ ᾱ ||x_i||²)/v plus a per-row constant, and normalised by log-sum-exp (the max
    is subtracted), so even at ᾱ → 1, where they span thousands, nothing overflows.
    """
    x_t = np.asarray(x_t, dtype=np.float64)
    images = np.asarray(images, dtype=np.float64)
    ab = np.asarray(alpha_bar, dtype=np.float64).reshape(-1, 1)
    if sq_norms is None:
        sq_norms = np.einsum("md,md->m", images, images)
    variance = (1.0 - ab) + ab * float(bandwidth) ** 2
    logits = (np.sqrt(ab) * (x_t @ images.T) - 0.5 * ab * sq_norms[None, :]) / variance
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=1, keepdims=True)
    return w @ images


class ExactDenoiser:
    """ε-model of the empirical distribution of a training set (see the module docstring).

    images: uint8 [M, 28, 28] (0 = background) or float in [-1, 1]; labels: int [M] (for
    class-conditional calls) or None; bandwidth h >= 0 (0: exact). Called like the U-Net;
    `null_label` = num_classes means "all images".
    """

    def __init__(self, images, labels=None, bandwidth: float = DEFAULT_BANDWIDTH,
                 num_classes: int = 10):
        h = float(bandwidth)
        if not (math.isfinite(h) and h >= 0):
            raise ValueError(f"bandwidth must be a finite number >= 0, got {bandwidth}")
        a = np.asarray(images)
        if a.ndim < 2 or len(a) < 1:
            raise ValueError(f"images must be a batch [M, ...] with M >= 1, got shape {a.shape}")
        x = a.reshape(len(a), -1).astype(np.float64)
        if a.dtype == np.uint8:
            x = x / 127.5 - 1.0  # the model's range, as imaging.to_model_range
        self.images = x
        self.sq_norms = np.einsum("md,md->m", x, x)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64).reshape(-1)
        if self.labels is not None and len(self.labels) != len(x):
            raise ValueError(f"{len(x)} images but {len(self.labels)} labels")
        self.bandwidth = h
        self.num_classes = int(num_classes)
        # rows of each class, found once
        self._class_rows = {} if self.labels is None else {
            int(c): np.flatnonzero(self.labels == c) for c in np.unique(self.labels) if c >= 0}

    @classmethod
    def bundled(cls, bandwidth: float = DEFAULT_BANDWIDTH) -> "ExactDenoiser":
        """Over the bundled MNIST training split (9,000 digits, with their labels)."""
        from .data import load_bundled_mnist

        train = load_bundled_mnist("train")
        return cls(train.images, train.labels, bandwidth, train.num_classes)

    @property
    def null_label(self) -> int:
        return self.num_classes

    def __len__(self) -> int:
        return len(self.images)

    def rows_for(self, label: int | None) -> np.ndarray | slice:
        """The training rows the posterior runs over for `label` (None or the null label: all)."""
        if label is None or label == self.null_label:
            return slice(None)
        if self.labels is None:
            raise ValueError("this exact denoiser has no labels: call it without a class")
        rows = self._class_rows.get(int(label))
        if rows is None or not len(rows):
            raise ValueError(f"no training image has label {label}")
        return rows

    def x0_prediction(self, x_t: np.ndarray, alpha_bar: np.ndarray, labels=None) -> np.ndarray:
        """x̂_0 [B, D] float64 for x_t [B, D], ᾱ [B] and labels [B] (or None): one posterior mean
        per label present in the batch."""
        if labels is None:
            return posterior_mean(x_t, alpha_bar, self.images, self.sq_norms, self.bandwidth)
        labels = np.asarray(labels).reshape(-1)
        out = np.empty_like(np.asarray(x_t, dtype=np.float64))
        for label in np.unique(labels):
            sel = labels == label
            rows = self.rows_for(int(label))
            out[sel] = posterior_mean(x_t[sel], alpha_bar[sel], self.images[rows], self.sq_norms[rows],
                                      self.bandwidth)
        return out

    def __call__(self, x: torch.Tensor, log_snr, labels: torch.Tensor | None = None) -> torch.Tensor:
        """ε̂ for x [B, ...] at log-SNR λ = log(ᾱ/(1-ᾱ)) ([B] or a scalar), as the U-Net's forward."""
        b = x.shape[0]
        lam = torch.as_tensor(log_snr, dtype=torch.float64).detach().cpu().reshape(-1).numpy()
        lam = np.broadcast_to(lam, (b,)) if lam.size == 1 else lam
        ab = 1.0 / (1.0 + np.exp(-lam))              # ᾱ = sigmoid(λ)
        flat = x.detach().cpu().reshape(b, -1).numpy().astype(np.float64)
        y = None if labels is None else labels.detach().cpu().numpy()
        x0 = self.x0_prediction(flat, ab, y)
        eps = eps_from_x0(flat, x0, np.sqrt(ab)[:, None], np.sqrt(1.0 - ab)[:, None])
        return torch.from_numpy(eps.astype(np.float32)).reshape(x.shape).to(x.device)
