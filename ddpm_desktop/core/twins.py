"""Two models, one x_T: do models trained on disjoint training sets draw the same digit?

Kadkhodaie et al. 2024 ("Generalization in diffusion models arises from geometry-adaptive
harmonic representations", ICLR) train two networks on disjoint halves of a data set and run
both from the same noise: with enough training images the two samples are nearly the same
image, and each is far from its nearest training image (the networks learned the same density,
not their own images); with few images each network returns an image of its own training set,
so the two differ. `twin_pair` makes that comparison for this project's twin models (twin-a,
twin-b: the two halves, 4,500 digits each) and few-digit models (few-a, few-b: 64 digits each).

For each of n pairs: both models' samples from one x_T (same labels, guidance and sampler; a
stochastic sampler draws the same noise for both), the distance between the two samples, and
each sample's nearest training digit and distance d1 (core.copies; pixels in [0, 1], L2). When
a model's training rows are known (its checkpoint's `subset` metadata, `training_rows`), each
sample also says whether its nearest digit is one the model was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .copies import Nearest, NearestIndex, bundled_index, unit_pixels

# The two pairs the app and `ddpm-desktop twins` compare (core.checkpoint.SUBSET_MODELS).
PAIRS = {"twin": ("twin-a", "twin-b"), "few": ("few-a", "few-b")}
TWIN_SAMPLER = "dpmpp"
TWIN_STEPS = 20


def pixel_distance(a, b) -> np.ndarray:
    """float64 [N]: ||a_i - b_i|| with pixels in [0, 1] (as core.copies compares them)."""
    pa, pb = unit_pixels(a).astype(np.float64), unit_pixels(b).astype(np.float64)
    if pa.shape != pb.shape:
        raise ValueError(f"the two batches differ in shape: {pa.shape} and {pb.shape}")
    return np.sqrt(((pa - pb) ** 2).sum(1))


def training_rows(meta: dict | None, size: int = 9000) -> np.ndarray | None:
    """The rows of the bundled training digits a model was trained on, from its checkpoint's
    `subset` metadata ({"n", "seed", "offset"}, as `train --subset` writes it); None when the
    metadata names no subset (the model saw every training digit, or nobody knows)."""
    from .data import subset_rows

    sub = (meta or {}).get("subset")
    if not isinstance(sub, dict):
        return None
    try:
        return subset_rows(size, int(sub["n"]), int(sub.get("seed", 0)), int(sub.get("offset", 0)))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True, eq=False)
class TwinPairs:
    """n pairs of samples from the same x_T.

    a, b: float32 [n, 28, 28] in [-1, 1], model a's and model b's samples; labels: int64 [n]
    the class asked for (-1: none); distance: float64 [n], ||a_i - b_i|| (pixels in [0, 1]);
    nearest_a, nearest_b: each sample's two nearest training digits (core.copies.Nearest);
    own_a, own_b: bool [n], whether that nearest digit is in the model's own training set
    (None when the set is not known).
    """

    a: np.ndarray
    b: np.ndarray
    labels: np.ndarray
    distance: np.ndarray
    nearest_a: Nearest
    nearest_b: Nearest
    own_a: np.ndarray | None = None
    own_b: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.distance)

    def summary(self) -> dict:
        """The medians of d(a, b), d1(a) and d1(b), and how many of each model's samples copy."""
        return {"n": len(self), "median_d_ab": float(np.median(self.distance)),
                "median_d1_a": float(np.median(self.nearest_a.d1)),
                "median_d1_b": float(np.median(self.nearest_b.d1)),
                "copies_a": int(self.nearest_a.copies.sum()),
                "copies_b": int(self.nearest_b.copies.sum())}

    def rows(self, row_ids=None) -> list[dict]:
        """One dict a pair: d_ab, and for a and b the nearest row (row_ids[k] for training
        row k; default k), d1, ratio, copy and own."""
        out = []
        for i in range(len(self)):
            r = {"label": int(self.labels[i]), "d_ab": float(self.distance[i])}
            for side, nb, own in (("a", self.nearest_a, self.own_a), ("b", self.nearest_b, self.own_b)):
                k = int(nb.nearest[i])
                r[f"nearest_{side}"] = int(k if row_ids is None else row_ids[k])
                r[f"d1_{side}"] = float(nb.d1[i])
                r[f"ratio_{side}"] = float(nb.ratio[i])
                r[f"copy_{side}"] = bool(nb.copies[i])
                r[f"own_{side}"] = None if own is None else bool(own[i])
            out.append(r)
        return out


def pair_labels(labels, n: int) -> np.ndarray:
    """int64 [n] of the class each pair asks for: None -> all -1 (unconditional); "all" -> 0..9
    cycling; an int -> that class; a sequence of n ints -> them."""
    if labels is None:
        return np.full(n, -1, dtype=np.int64)
    if isinstance(labels, str):
        if labels != "all":
            raise ValueError(f"labels must be None, 'all', a class or a list, got {labels!r}")
        return np.arange(n, dtype=np.int64) % 10
    arr = np.asarray(labels, dtype=np.int64).reshape(-1)
    if arr.size == 1:
        arr = np.full(n, int(arr[0]), dtype=np.int64)
    if len(arr) != n:
        raise ValueError(f"{len(arr)} labels for {n} pairs")
    if ((arr < -1) | (arr > 9)).any():
        raise ValueError("a label must be a class 0-9 (or -1 for none)")
    return arr


def twin_pair(model_a, model_b, n: int = 8, seed: int = 0, labels=None, guidance: float = 1.5,
              sampler: str = TWIN_SAMPLER, steps: int | None = TWIN_STEPS, eta: float = 0.0,
              schedule=None, index: NearestIndex | None = None, rows_a=None,
              rows_b=None) -> TwinPairs:
    """Run `model_a` and `model_b` (ε-models with the U-Net's call) from the same x_T.

    x_T: n draws of N(0, I) from `sampling.generator_for(seed)`; labels: see `pair_labels`
    (guidance w applies only to labelled pairs); sampler, steps, eta: as core.sampling's
    `iter_sampler`; a stochastic sampler gets a generator seeded `seed + 1` for each model, so
    both draw the same per-step noise. index: the training digits to search (default: the
    bundled 9,000); rows_a, rows_b: each model's training rows in that index (e.g.
    `training_rows(meta)`), to say whether a nearest digit is the model's own.
    """
    import torch

    from . import sampling
    from .imaging import IMAGE_SHAPE
    from .schedule import NoiseSchedule

    if int(n) < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    n = int(n)
    schedule = schedule if schedule is not None else NoiseSchedule.default()
    index = index if index is not None else bundled_index()
    asked = pair_labels(labels, n)
    x_T = torch.randn((n, 1, *IMAGE_SHAPE), generator=sampling.generator_for(seed))
    conditional = bool((asked >= 0).all())
    if (asked >= 0).any() and not conditional:
        raise ValueError("either every pair asks for a class or none does")

    def run(model) -> np.ndarray:
        lab = torch.as_tensor(asked) if conditional else None
        eps_fn = sampling.make_eps_fn(model, schedule, labels=lab,
                                      guidance=guidance if conditional else 1.0)
        with torch.inference_mode():
            x0 = sampling.sample(sampler, eps_fn, schedule, x_T.clone(), steps=steps, eta=eta,
                                 generator=sampling.generator_for(seed + 1))
        return x0[:, 0].detach().cpu().numpy().astype(np.float32).copy()

    a, b = run(model_a), run(model_b)
    na, nb = index.search(a), index.search(b)

    def own(nearest: Nearest, rows) -> np.ndarray | None:
        return None if rows is None else np.isin(nearest.nearest, np.asarray(rows))

    return TwinPairs(a, b, asked, pixel_distance(a, b), na, nb, own(na, rows_a), own(nb, rows_b))


def load_subset_model(name: str, device="cpu"):
    """(model, metadata) of a bundled subset model (core.checkpoint.SUBSET_MODELS); a missing
    or unusable file is a one-line ValueError (CheckpointError)."""
    from .checkpoint import CheckpointError, load_model, subset_model_path

    path = subset_model_path(name)
    if not path.is_file():
        raise CheckpointError(f"the model '{name}' is not installed ({path.name} is missing "
                              "from the app's resources)")
    return load_model(path, device=device)


def pair_models(pair: str) -> tuple[str, str]:
    """The two model names of a pair ("twin" or "few")."""
    if pair not in PAIRS:
        raise ValueError(f"unknown pair '{pair}'; choose one of {', '.join(PAIRS)}")
    return PAIRS[pair]
