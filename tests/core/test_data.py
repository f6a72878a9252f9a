"""Bundled MNIST, the converter, IDX reading, Fashion-MNIST and image folders."""
import gzip
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ddpm_desktop import resources_path
from ddpm_desktop.core import data
from ddpm_desktop.core.data import (
    FASHION_CLASS_NAMES,
    Dataset,
    load_bundled_mnist,
    load_dataset,
    load_idx_dir,
    load_image_dir,
    read_idx,
    read_idx_images,
    read_idx_labels,
    to_model_range,
    to_uint8,
)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import convert_mnist  # noqa: E402

NPZ_SHA256 = "d33de1ad07d7d2c062ba72f74cdac1d4bdd2ba6816ac3a6728d2f67129ef4430"


# ----------------------------------------------------------------------------- bundled MNIST


def test_bundled_npz_matches_data_md():
    path = resources_path("mnist.npz")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == NPZ_SHA256
    assert NPZ_SHA256 in (REPO / "resources" / "DATA.md").read_text()


def test_bundled_arrays_layout():
    with np.load(resources_path("mnist.npz")) as npz:
        images, labels, split = npz["images"], npz["labels"], npz["split"]
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and split.shape == (10000,)
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 10000 and counts.min() > 800 and counts.max() < 1200
    # Split: the last 100 of each class, in file order.
    for digit in range(10):
        s = split[labels == digit]
        assert s[-100:].all() and not s[:-100].any()
    assert images[:, 0, :].max() == 0  # black background, MNIST polarity


def test_splits_are_fixed_disjoint_and_cover_all():
    train, test, everything = (load_bundled_mnist(s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(everything)) == (9000, 1000, 10000)
    assert np.bincount(test.labels).tolist() == [100] * 10
    rows = {img.tobytes() for img in train.images}
    # MNIST holds a few exact duplicates; only count distinct test images seen in train.
    assert sum(img.tobytes() in rows for img in test.images) <= 2
    assert load_bundled_mnist("train") is train  # cached
    assert train.labels.dtype == np.int64 and not train.images.flags.writeable
    assert load_dataset("mnist") is train and load_dataset("mnist-test") is test


def test_as_tensor():
    d = load_bundled_mnist("test")
    x, y = d.as_tensor()
    assert tuple(x.shape) == (1000, 1, 28, 28) and str(x.dtype) == "torch.float32"
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert y.tolist() == d.labels.tolist()
    assert np.array_equal(to_uint8(x[:, 0]), d.images)


def test_converter_round_trips_json(tmp_path):
    # A tiny fake package: 3 images per class, values stored as round(k/255, 3).
    rng = np.random.default_rng(0)
    pkg = tmp_path / "package" / "src" / "digits"
    pkg.mkdir(parents=True)
    truth = {}
    for digit in range(10):
        k = rng.integers(0, 256, size=(3, 784))
        truth[digit] = k
        (pkg / f"{digit}.json").write_text(json.dumps({"data": [round(v / 255, 3) for v in k.ravel()]}))
    out = tmp_path / "m.npz"
    assert convert_mnist.main([str(tmp_path / "package"), str(out), "--test-per-class", "1"]) == 0
    with np.load(out) as npz:
        assert npz["images"].shape == (30, 28, 28)
        assert np.array_equal(npz["images"][3:6].reshape(3, 784), truth[1])
        assert npz["split"].tolist() == [0, 0, 1] * 10
        assert npz["labels"].tolist() == sorted(list(range(10)) * 3)


def test_converter_rejects_ragged_rows(tmp_path):
    pkg = tmp_path / "src" / "digits"
    pkg.mkdir(parents=True)
    (pkg / "0.json").write_text(json.dumps({"data": [0.0] * 785}))
    with pytest.raises(ValueError, match="multiple of 784"):
        convert_mnist.convert_class(pkg / "0.json")


# ----------------------------------------------------------------------------- ranges


def test_range_conversions_round_trip():
    u = np.arange(256, dtype=np.uint8)
    f = to_model_range(u)
    assert f.dtype == np.float32 and f[0] == -1.0 and f[-1] == 1.0
    assert np.array_equal(to_uint8(f), u)
    assert to_uint8(np.array([-3.0, np.nan, 7.0])).tolist() == [0, 0, 255]
    with pytest.raises(ValueError, match="uint8"):
        to_model_range(f)


# ----------------------------------------------------------------------------- IDX


def _idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape) + arr.tobytes()


def _write_idx_dir(folder: Path, n: int, compress: bool, prefix: str = "train", seed: int = 0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=n, dtype=np.uint8)
    for kind, arr, magic in (("images-idx3", x, 0x803), ("labels-idx1", y, 0x801)):
        name = f"{prefix}-{kind}-ubyte"
        blob = _idx_bytes(arr, magic)
        if compress:
            (folder / (name + ".gz")).write_bytes(gzip.compress(blob))
        else:
            (folder / name).write_bytes(blob)
    return x, y


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    x, y = _write_idx_dir(tmp_path / "set", 7, compress)
    xt, yt = _write_idx_dir(tmp_path / "set", 3, compress, prefix="t10k", seed=1)
    d = load_idx_dir(tmp_path / "set")
    assert np.array_equal(d.images, x) and np.array_equal(d.labels, y) and d.labels.dtype == np.int64
    assert np.array_equal(load_idx_dir(tmp_path / "set", "test").images, xt)
    assert len(load_idx_dir(tmp_path / "set", "all")) == 10
    assert np.array_equal(load_dataset(str(tmp_path / "set")).images, x)


def test_idx_wrong_magic(tmp_path):
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(_idx_bytes(np.zeros((2, 28, 28), np.uint8), 0x801))
    with pytest.raises(ValueError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx_images(f)
    f.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(f)


def test_idx_short_and_long_data(tmp_path):
    blob = _idx_bytes(np.zeros((5,), np.uint8), 0x801)
    f = tmp_path / "l.gz"
    f.write_bytes(gzip.compress(blob[:-2]))
    with pytest.raises(ValueError, match="cut short: 3 of 5"):
        read_idx_labels(f)
    f.write_bytes(blob + b"\0")
    with pytest.raises(ValueError, match="more data"):
        read_idx_labels(f)
    f.write_bytes(blob[:6])
    with pytest.raises(ValueError, match="header"):
        read_idx_labels(f)


def test_idx_huge_dims_refused_before_reading(tmp_path):
    f = tmp_path / "x"
    f.write_bytes((0x803).to_bytes(4, "big") + b"\xff\xff\xff\xff" * 3)
    with pytest.raises(ValueError, match="too large"):
        read_idx_images(f)


def test_idx_dir_errors(tmp_path):
    _write_idx_dir(tmp_path, 2, False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(3, np.uint8), 0x801))
    with pytest.raises(ValueError, match="2 train images but 3 labels"):
        load_idx_dir(tmp_path)
    with pytest.raises(ValueError, match="no t10k-images"):
        load_idx_dir(tmp_path, "test")


# ----------------------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist():
    if data.fashion_mnist_dir() is None:
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    test = load_dataset("fashion-test")
    assert len(test) == 10000 and test.class_names == FASHION_CLASS_NAMES
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert test.images[:, 0, 0].mean() < 5  # dark background (corners), like MNIST


def test_fashion_missing_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "FASHION_DIRS", (tmp_path / "nowhere",))
    monkeypatch.delenv("DDPM_DESKTOP_FASHION_DIR", raising=False)
    with pytest.raises(OSError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion")


# ----------------------------------------------------------------------------- image folders


def _digit_png(path: Path, light_background: bool = False):
    arr = np.zeros((40, 30), np.uint8)
    arr[8:32, 12:18] = 255
    if light_background:
        arr = 255 - arr
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_image_dir_labels_and_skips(tmp_path):
    _digit_png(tmp_path / "3" / "a.png")
    _digit_png(tmp_path / "7_b.jpg", light_background=True)
    _digit_png(tmp_path / "c.png")
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden.png").write_bytes(b"")
    d = load_image_dir(tmp_path)
    assert len(d) == 3 and d.images.dtype == np.uint8
    assert sorted(d.labels.tolist()) == [-1, 3, 7]
    assert len(d.skipped) == 1 and "broken.png" in d.skipped[0]
    assert load_dataset(tmp_path).skipped == d.skipped
    with pytest.raises(ValueError, match="broken.png"):
        load_image_dir(tmp_path, errors="raise")


def test_load_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="no image files"):
        load_dataset(tmp_path)
    with pytest.raises(ValueError, match="uint8"):
        Dataset(np.zeros((2, 28, 28), np.float32), np.zeros(2, np.int64), "x")
