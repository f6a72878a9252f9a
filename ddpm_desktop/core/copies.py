"""Does a sample copy its training data? Nearest training digits in pixel space and the copy rule.

Pixels are compared in [0, 1] (uint8 / 255, or (x + 1) / 2 for the model's [-1, 1], clipped),
as 784-vectors under the Euclidean distance. For each sample: the nearest training digit and its
distance d1, the distance d2 of the second nearest, and the ratio d1/d2. A sample *copies* when
its nearest training digit is more than 3x closer than the second nearest, d1/d2 < 1/3 (the rule
of Yoon et al. 2023, "Diffusion probabilistic models generalize when they fail to memorize", that
Gu et al. 2025, "On memorization in diffusion models", count memorisation with). For a batch, the fraction that copies (f_mem) with a seeded
percentile bootstrap interval; held-out digits, which no model saw, give the reference.

Speed: distances come from ||a||^2 + ||b||^2 - 2 a.b with one float32 matrix product against the
training rows (their norms computed once, in `NearestIndex`); the few best candidates per
sample are then recomputed exactly in float64, because the expansion cancels badly when a
sample sits on a training digit (d -> 0).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# A sample copies when d1/d2 < COPY_RATIO.
COPY_RATIO = 1.0 / 3.0
# Candidates per sample recomputed in float64 after the float32 screen: the float32 error of a
# squared distance is ~1e-5 of ||a||^2 + ||b||^2 (~1e-3 here), far below the gaps between the
# 2nd and the 4th nearest digit of any sample.
_CANDIDATES = 4
BOOTSTRAP_RESAMPLES = 2000
CI_LEVEL = 0.95


def unit_pixels(images) -> np.ndarray:
    """Images as float32 [N, D] rows with pixels in [0, 1].

    uint8 (0..255) is divided by 255; floating point is taken as the model's [-1, 1] range,
    mapped by (x + 1) / 2 and clipped to [0, 1] (as `imaging.to_uint8` clips). Any shape
    [N, ...] (e.g. [N, 28, 28] or [N, 1, 28, 28]); a torch tensor is accepted too.
    """
    if hasattr(images, "detach"):  # a torch tensor, without importing torch here
        images = images.detach().cpu().numpy()
    a = np.asarray(images)
    if a.ndim < 2:
        raise ValueError(f"images must be a batch [N, ...], got shape {a.shape}")
    a = a.reshape(len(a), -1)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"images must be uint8 (0-255) or floating point in [-1, 1], got {a.dtype}")
    if not np.isfinite(a).all():
        raise ValueError("images hold NaN or infinite values")
    return np.clip((a.astype(np.float32) + 1.0) * 0.5, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Nearest:
    """The two nearest training rows of each of N samples (pixels in [0, 1], L2).

    nearest, second: int64 [N] row indices into the index's training images; d1 <= d2: float64
    [N] their distances. ratio = d1/d2 (0 where d2 = 0: the sample equals two identical
    training images); copies = ratio < COPY_RATIO.
    """

    nearest: np.ndarray
    second: np.ndarray
    d1: np.ndarray
    d2: np.ndarray

    @property
    def ratio(self) -> np.ndarray:
        return np.divide(self.d1, self.d2, out=np.zeros_like(self.d1), where=self.d2 > 0)

    @property
    def copies(self) -> np.ndarray:
        return self.ratio < COPY_RATIO

    def __len__(self) -> int:
        return len(self.nearest)


class NearestIndex:
    """Training images prepared once (float32 rows and their squared norms, float64 rows for the
    exact recomputation) for nearest-neighbour queries in pixel L2.

    images: uint8 [M, 28, 28] (or anything `unit_pixels` takes), M >= 2.
    """

    def __init__(self, images):
        x = unit_pixels(images)
        if len(x) < 2:
            raise ValueError(f"need at least 2 training images to compare with, got {len(x)}")
        self.rows = np.ascontiguousarray(x)                      # float32 [M, D]
        self.rows64 = self.rows.astype(np.float64)
        self.sq_norms = (self.rows64 ** 2).sum(1).astype(np.float32)  # [M]
        # -2 x^T, laid out for the product: the screen is then one matmul and one add.
        self._minus_two_rows_t = np.ascontiguousarray(-2.0 * self.rows.T)  # [D, M]
        for a in (self.rows, self.rows64, self.sq_norms, self._minus_two_rows_t):
            a.flags.writeable = False

    def __len__(self) -> int:
        return len(self.rows)

    def search(self, samples) -> Nearest:
        """The two nearest training rows of each sample (see `Nearest`)."""
        q = unit_pixels(samples)
        if q.shape[1] != self.rows.shape[1]:
            raise ValueError(f"samples have {q.shape[1]} pixels, the training images {self.rows.shape[1]}")
        # ||q - x||^2 up to the per-sample constant ||q||^2, which does not change the ranking.
        partial = q @ self._minus_two_rows_t
        partial += self.sq_norms
        k = min(_CANDIDATES, len(self.rows))
        cand = np.argpartition(partial, k - 1, axis=1)[:, :k]          # [N, k], unordered
        diff = q.astype(np.float64)[:, None, :] - self.rows64[cand]     # [N, k, D]
        d = np.sqrt(np.einsum("nkd,nkd->nk", diff, diff))
        order = np.argsort(d, axis=1, kind="stable")[:, :2]
        rows = np.arange(len(q))[:, None]
        best, dist = cand[rows, order], d[rows, order]
        return Nearest(best[:, 0].astype(np.int64), best[:, 1].astype(np.int64), dist[:, 0], dist[:, 1])


def bootstrap_ci(flags, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES,
                 level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of a 0/1 vector (Efron & Tibshirani 1993,
    ch. 13): `resamples` draws of N with replacement from a seeded generator.

    A count of 0 (or N) gives the degenerate [0, 0] ([1, 1]): the bootstrap cannot see beyond
    the sample; the rule of three (upper bound 3/N at 95%) is the usual reading there.
    """
    x = np.asarray(flags, dtype=np.float64).ravel()
    if len(x) == 0:
        raise ValueError("no samples to bootstrap")
    rng = np.random.default_rng(seed)
    # Resampling a 0/1 vector: the number of ones drawn is Binomial(N, mean) - the same law,
    # drawn directly instead of indexing N x resamples times.
    means = rng.binomial(len(x), x.mean(), size=resamples) / len(x)
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True, eq=False)
class CopyCheck:
    """The copy check of a batch: per-sample neighbours and the batch's copy fraction."""

    nearest: Nearest
    f_mem: float
    ci: tuple[float, float]

    @property
    def n(self) -> int:
        return len(self.nearest)

    @property
    def n_copies(self) -> int:
        return int(self.nearest.copies.sum())

    def summary(self) -> dict:
        """{f_mem, ci, n, copies, median_d1}: the batch without its per-sample rows."""
        return {"f_mem": self.f_mem, "ci": list(self.ci), "n": self.n, "copies": self.n_copies,
                "median_d1": float(np.median(self.nearest.d1))}

    def to_dict(self, row_ids=None) -> dict:
        """{f_mem, ci, samples: [{nearest, d1, d2, ratio, copy}]} (plus n, copies, median_d1).

        row_ids: what to report as `nearest` for training row k (row_ids[k]; default k), e.g.
        `data.bundled_mnist_rows("train")` for the row of resources/mnist.npz's `images`."""
        nb = self.nearest
        ratio, copies = nb.ratio, nb.copies
        ids = nb.nearest if row_ids is None else np.asarray(row_ids)[nb.nearest]
        rows = [{"nearest": int(ids[i]), "d1": float(nb.d1[i]), "d2": float(nb.d2[i]),
                 "ratio": float(ratio[i]), "copy": bool(copies[i])} for i in range(len(nb))]
        return {**self.summary(), "samples": rows}


def check_copies(samples, index: NearestIndex | None = None, seed: int = 0) -> CopyCheck:
    """The copy check of `samples` (uint8 or [-1, 1], [N, ...]) against `index` (default: the
    bundled training digits, `bundled_index()`); the interval's bootstrap is seeded by `seed`."""
    index = bundled_index() if index is None else index
    nb = index.search(samples)
    copies = nb.copies
    return CopyCheck(nb, float(copies.mean()), bootstrap_ci(copies, seed))


@functools.lru_cache(maxsize=1)
def bundled_index() -> NearestIndex:
    """The bundled MNIST training split (resources/mnist.npz, the rows of `images` whose `split`
    is 0, in file order: row k of this index is row k of `load_bundled_mnist("train")`)."""
    from .data import load_bundled_mnist

    return NearestIndex(load_bundled_mnist("train").images)


def held_out_reference(index: NearestIndex | None = None, seed: int = 0) -> CopyCheck:
    """The copy check of the bundled held-out digits (1,000, never trained on) against the
    training digits: what "not copying" looks like for real data."""
    from .data import load_bundled_mnist

    return check_copies(load_bundled_mnist("test").images, index, seed)
