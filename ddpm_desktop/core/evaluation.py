"""Sample quality: classifier accuracy on class-conditional samples, the Fréchet distance, and
the fraction of samples that copy a training digit (core.copies).

The Fréchet distance (Heusel et al. 2017, eq. 6) between Gaussians fitted to two feature sets,
‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½), is computed on the bundled classifier's 128-d
penultimate features. It is biased upward for small sample counts, so numbers are comparable
only at equal n: every result carries its n, and `data_floor` gives the distance the data
itself reaches (held-out digits against the training digits).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import torch

from .classifier import DigitClassifier, predict
from .copies import check_copies
from .forward import q_sample
from .imaging import IMAGE_SHAPE
from .sampling import iter_sampler, make_eps_fn
from .schedule import NoiseSchedule


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """FD between Gaussian fits of two [N, D] feature sets.

    ValueError for features or covariances that are not finite: scipy's sqrtm never returns
    on a matrix holding NaN (a classifier with NaN weights hung `evaluate`), so it is never
    called on one.
    """
    feats_a, feats_b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    for name, f in (("samples", feats_a), ("reference", feats_b)):
        if not np.isfinite(f).all():
            raise ValueError(f"the classifier's features of the {name} are not finite "
                             "(non-finite weights or images); no Fréchet distance")
    with np.errstate(over="ignore", invalid="ignore"):
        mu_a, mu_b = feats_a.mean(0), feats_b.mean(0)
        cov_a = np.cov(feats_a, rowvar=False)
        cov_b = np.cov(feats_b, rowvar=False)
        product = cov_a @ cov_b
    if not (np.isfinite(cov_a).all() and np.isfinite(cov_b).all() and np.isfinite(product).all()):
        raise ValueError("the features' covariances overflow; no Fréchet distance")
    with warnings.catch_warnings():  # small n: singular covariances, handled just below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean, _ = scipy.linalg.sqrtm(product, disp=False)
    if not np.isfinite(covmean).all():  # near-singular product: regularise (as pytorch-fid does)
        eps = 1e-6 * np.eye(len(cov_a))
        covmean = scipy.linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


@dataclass(frozen=True)
class SamplerResult:
    sampler: str
    steps: int
    nfe: int
    n: int
    guidance: float
    accuracy: float
    fd: float
    fd_matched: float | None  # FD of the first `matched_n` samples (to compare with a smaller run)
    matched_n: int | None
    seconds: float
    # the copy check (core.copies): fraction of samples whose nearest training digit is > 3x
    # closer than the second nearest, with its bootstrap 95% interval
    f_mem: float | None = None
    f_mem_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def generate(model, schedule: NoiseSchedule, sampler: str, steps: int | None, n: int, guidance: float,
             seed: int = 0, batch_size: int = 125, labels: torch.Tensor | None = None,
             progress: Callable[[int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Class-conditional samples (labels cycle 0..9 unless given) from a fixed seed.

    The same seed gives the same x_T and labels for every sampler, so samplers are compared
    on identical starting noise. → (images [n,1,28,28] in [-1,1], labels [n], NFE).
    """
    device = next(model.parameters()).device
    labels = torch.arange(n) % 10 if labels is None else labels
    gen = torch.Generator().manual_seed(seed)
    x_all = torch.randn((n, 1, *IMAGE_SHAPE), generator=gen)
    noise_gen = torch.Generator().manual_seed(seed + 1)
    out, nfe = [], 0
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        eps_fn = make_eps_fn(model, schedule, labels[lo:hi].to(device), guidance)
        last = None
        for last in iter_sampler(sampler, eps_fn, schedule, x_all[lo:hi].to(device), steps=steps,
                                 generator=noise_gen):
            pass
        out.append(last.x_t)
        nfe = last.nfe
        if progress:
            progress(hi)
    return torch.cat(out), labels, nfe


def data_features(classifier: DigitClassifier) -> dict[str, np.ndarray]:
    """Classifier features of the bundled training and held-out digits."""
    from .data import load_bundled_mnist

    train_x, _ = load_bundled_mnist("train").as_tensor()
    test_x, _ = load_bundled_mnist("test").as_tensor()
    return {"train": predict(classifier, train_x)[1], "test": predict(classifier, test_x)[1]}


def data_floor(feats: dict[str, np.ndarray], n: int | None = None) -> tuple[float, int]:
    """FD of (up to n) held-out digits against the training digits: the best a model can do.

    With n, n digits evenly spaced through the held-out set (which is stored by class, so its
    first n would be a few classes only and score far above any model)."""
    test = feats["test"]
    if n is not None and n < len(test):
        test = test[np.linspace(0, len(test) - 1, n).round().astype(int)]
    return frechet_distance(test, feats["train"]), len(test)


def legible_fraction(model, classifier: DigitClassifier, schedule: NoiseSchedule, n: int,
                     guidance: float, sampler: str = "dpmpp", steps: int | None = 20,
                     seed: int = 0) -> float:
    """Share of n class-conditional samples (labels cycling 0..9) the classifier reads as
    their label: the accuracy the time-to-quality bench and tools/recipe_search.py track."""
    images, labels, _ = generate(model, schedule, sampler, steps, n, guidance, seed=seed)
    pred, _ = predict(classifier, images)
    return float((pred == labels.numpy()).mean())


def evaluate_sampler(model, classifier, schedule, feats, sampler: str, steps: int | None, n: int,
                     guidance: float = 2.0, seed: int = 0, matched_n: int | None = None,
                     progress=None, keep: int = 0) -> SamplerResult | tuple[SamplerResult, torch.Tensor]:
    """Sample n digits and judge them; with keep > 0 also return the first `keep` images."""
    started = time.perf_counter()
    images, labels, nfe = generate(model, schedule, sampler, steps, n, guidance, seed, progress=progress)
    seconds = time.perf_counter() - started
    pred, f = predict(classifier, images.cpu())
    copy_check = check_copies(images.cpu(), seed=seed)
    fd_matched = None
    if matched_n is not None and matched_n < n:
        fd_matched = frechet_distance(f[:matched_n], feats["train"])
    result = SamplerResult(sampler=sampler, steps=nfe if steps is None else steps, nfe=nfe, n=n,
                           guidance=guidance, accuracy=float((pred == labels.numpy()).mean()),
                           fd=frechet_distance(f, feats["train"]), fd_matched=fd_matched,
                           matched_n=matched_n if fd_matched is not None else None,
                           seconds=round(seconds, 2), f_mem=copy_check.f_mem, f_mem_ci=copy_check.ci)
    return (result, images[:keep]) if keep else result


@dataclass(frozen=True)
class ReconstructionPoint:
    t: int
    n: int
    label_agreement: float  # classifier(reconstruction) == original label
    mse: float              # mean over digits of the per-pixel MSE in [-1, 1]
    noised_agreement: float  # classifier(x_t) == label: how much the noise alone destroys

    def to_dict(self) -> dict:
        return asdict(self)


def reconstruction_curve(model, classifier, schedule, ts, n: int = 200, sampler: str = "dpmpp",
                         steps: int | None = 20, seed: int = 0, batch_size: int = 250) -> list[ReconstructionPoint]:
    """Held-out digits noised to each t and reconstructed (no label given to the model)."""
    from .data import load_bundled_mnist

    test = load_bundled_mnist("test")
    idx = np.linspace(0, len(test.images) - 1, n).round().astype(int)
    x0_all = torch.from_numpy(test.images[idx].astype(np.float32) / 127.5 - 1.0)[:, None]
    y = test.labels[idx]
    device = next(model.parameters()).device
    points = []
    for t in ts:
        gen = torch.Generator().manual_seed(seed + int(t))
        recon, noised = [], []
        for lo in range(0, n, batch_size):
            x0 = x0_all[lo:lo + batch_size]
            x_t = q_sample(schedule, x0, int(t), generator=gen)
            eps_fn = make_eps_fn(model, schedule, None, 1.0)
            last = None
            for last in iter_sampler(sampler, eps_fn, schedule, x_t.to(device), steps=steps,
                                     t_start=int(t), generator=gen):
                pass
            recon.append(last.x_t.cpu())
            noised.append(x_t)
        recon_t = torch.cat(recon)
        pred, _ = predict(classifier, recon_t)
        pred_noised, _ = predict(classifier, torch.cat(noised).clamp(-1, 1))
        mse = float(((recon_t - x0_all) ** 2).mean())
        points.append(ReconstructionPoint(int(t), n, float((pred == y).mean()), mse,
                                          float((pred_noised == y).mean())))
    return points


@dataclass(frozen=True)
class GuidancePoint:
    """One guidance scale w of a sweep: legibility, Fréchet distance (against the data floor at
    the same n, since FD is biased upward at small n) and, from the classifier's readings, the
    fraction of samples read as each class (for w = 0, the unconditional model: its class
    balance)."""

    guidance: float
    n: int
    accuracy: float
    fd: float
    floor: float          # held-out digits' FD at the same n
    fd_ratio: float       # fd / floor
    class_fractions: tuple[float, ...]
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def guidance_sweep(model, classifier, schedule, feats, guidances, n: int = 500, sampler: str = "dpmpp",
                   steps: int | None = 20, seed: int = 0, progress: Callable[[float], None] | None = None
                   ) -> list[GuidancePoint]:
    """Class-conditional samples at each guidance w, from the same seeds (so only w differs).

    w = 0 is the unconditional model (ε̃ = ε_u): its accuracy is chance, its class fractions
    are the model's class balance. FD is compared with the held-out digits' FD at the same n.
    """
    floor, _ = data_floor(feats, n)
    points = []
    for w in guidances:
        started = time.perf_counter()
        images, labels, _ = generate(model, schedule, sampler, steps, n, float(w), seed)
        pred, f = predict(classifier, images.cpu())
        fd = frechet_distance(f, feats["train"])
        fractions = np.bincount(pred, minlength=10)[:10] / len(pred)
        points.append(GuidancePoint(float(w), n, float((pred == labels.numpy()).mean()), fd, floor,
                                    fd / floor, tuple(round(float(v), 4) for v in fractions),
                                    round(time.perf_counter() - started, 1)))
        if progress:
            progress(float(w))
    return points


GUIDANCE_SWEEP_FILE = "guidance_sweep.json"


def load_guidance_sweep(path=None) -> list[GuidancePoint]:
    """The bundled guidance measurements (resources/guidance_sweep.json, written from
    `ddpm-desktop evaluate --guidance-sweep ... --json`), sorted by w; [] when absent."""
    import json
    from pathlib import Path

    if path is None:
        from ddpm_desktop import resources_path

        path = resources_path(GUIDANCE_SWEEP_FILE)
    path = Path(path)
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    fields = GuidancePoint.__dataclass_fields__
    points = [GuidancePoint(**{k: (tuple(v) if k == "class_fractions" else v)
                               for k, v in p.items() if k in fields}) for p in data["sweep"]]
    return sorted(points, key=lambda p: p.guidance)
