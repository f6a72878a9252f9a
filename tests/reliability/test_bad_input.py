"""Bad input on every path: pictures, IDX files, checkpoints, schedules, export paths, CLI flags.

Each must end in one readable line (ImageLoadError / ValueError / OSError; CLI exit 2 and one
stderr line), never a traceback, and must leave files that were already saved untouched.
"""
from __future__ import annotations

import builtins
import errno
import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_desktop.core import checkpoint, data
from ddpm_desktop.core.checkpoint import CheckpointError, load_model, load_trainer, save_weights
from ddpm_desktop.core.imaging import ImageLoadError, load_digit, save_gif, save_png
from ddpm_desktop.core.model import ModelConfig
from ddpm_desktop.core.schedule import NoiseSchedule, get_named_beta_schedule

from reliability_helpers import assert_one_line_error, few_digits, run_cli, run_cli_subprocess, tiny_model


# ----------------------------------------------------------------------------- pictures

def _glyph(h: int = 60, w: int = 48) -> np.ndarray:
    """uint8 white-on-black glyph, asymmetric both ways (a bar with a flag to its upper left)."""
    m = np.zeros((h, w), np.uint8)
    m[10:50, 26:32] = 255
    m[10:20, 8:32] = 255
    return m


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    p = tmp_path_factory.mktemp("ref") / "ref.png"
    Image.fromarray(_glyph()).save(p)
    return load_digit(p)


def test_reference_glyph_is_asymmetric(reference):
    # Otherwise "the right way round" below could not fail.
    assert _corr(reference, reference[::-1]) < 0.6
    assert _corr(reference, reference[:, ::-1]) < 0.6
    assert _corr(reference, reference.T) < 0.6


def _write_variant(kind: str, path_dir: Path) -> Path:
    g = _glyph()
    ink_black = 255 - g  # dark ink on white paper
    if kind == "16bit_png":
        p = path_dir / "a.png"
        Image.fromarray(g.astype(np.uint16) * 257).save(p)  # mode I;16
        assert Image.open(p).mode.startswith("I")
    elif kind == "16bit_tiff_bigendian":
        p = path_dir / "a.tif"
        Image.frombytes("I;16B", g.shape[::-1], (g.astype(">u2") * 257).tobytes()).save(p)
    elif kind == "palette_png":
        p = path_dir / "a.png"
        Image.fromarray(np.stack([ink_black] * 3, -1)).convert("P", palette=Image.Palette.ADAPTIVE).save(p)
        assert Image.open(p).mode == "P"
    elif kind == "rgba_dark_ink_on_transparent":
        p = path_dir / "a.png"
        rgba = np.zeros(g.shape + (4,), np.uint8)
        rgba[..., 3] = g  # black ink where alpha is 255, transparent elsewhere
        Image.fromarray(rgba, "RGBA").save(p)
    elif kind == "rgba_white_ink_on_transparent":
        p = path_dir / "a.png"
        rgba = np.full(g.shape + (4,), 255, np.uint8)
        rgba[..., 3] = g
        Image.fromarray(rgba, "RGBA").save(p)
    elif kind == "cmyk_jpeg":
        p = path_dir / "a.jpg"
        Image.fromarray(np.stack([ink_black] * 3, -1)).convert("CMYK").save(p, quality=95)
        assert Image.open(p).mode == "CMYK"
    elif kind == "cmyk_tiff":
        p = path_dir / "a.tiff"
        Image.fromarray(np.stack([ink_black] * 3, -1)).convert("CMYK").save(p)
    elif kind == "animated_gif":
        p = path_dir / "a.gif"
        frames = [Image.fromarray(g), Image.fromarray(g[::-1].copy()), Image.fromarray(g.T.copy())]
        frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
        assert Image.open(p).n_frames == 3
    elif kind == "animated_png":
        p = path_dir / "a.png"
        frames = [Image.fromarray(g), Image.fromarray(g[:, ::-1].copy())]
        frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    elif kind == "exif_rotated_jpeg":
        p = path_dir / "a.jpg"
        stored = Image.fromarray(ink_black).transpose(Image.Transpose.ROTATE_90)  # 90° CCW
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90° CW to display
        stored.save(p, exif=exif, quality=95)
    elif kind == "grey_jpeg_dark_on_light":
        p = path_dir / "a.jpg"
        Image.fromarray(ink_black).save(p, quality=90)
    elif kind == "float_tiff_with_nan":
        p = path_dir / "a.tif"
        f = g.astype(np.float32) / 255
        f[0, 0] = np.nan
        Image.fromarray(f, "F").save(p)
    elif kind == "bilevel_bmp":
        p = path_dir / "a.bmp"
        Image.fromarray(g).convert("1").save(p)
    elif kind == "webp_rgb":
        p = path_dir / "a.webp"
        Image.fromarray(np.stack([ink_black] * 3, -1)).save(p, lossless=True)
    else:
        raise AssertionError(kind)
    return p


VARIANTS = ["16bit_png", "16bit_tiff_bigendian", "palette_png", "rgba_dark_ink_on_transparent",
            "rgba_white_ink_on_transparent", "cmyk_jpeg", "cmyk_tiff", "animated_gif",
            "animated_png", "exif_rotated_jpeg", "grey_jpeg_dark_on_light",
            "float_tiff_with_nan", "bilevel_bmp", "webp_rgb"]


@pytest.mark.parametrize("kind", VARIANTS)
def test_image_modes_load_the_right_way_round(kind, tmp_path, reference):
    digit = load_digit(_write_variant(kind, tmp_path))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert np.isfinite(digit).all() and digit.min() >= -1 and digit.max() <= 1
    assert _corr(digit, reference) > 0.9, "wrong content, orientation or polarity"


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".webp", ".ppm"])
def test_empty_file_with_image_extension(ext, tmp_path):
    p = tmp_path / f"empty{ext}"
    p.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_digit(p)


def _valid_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    arr = np.clip(_glyph().astype(np.int16) + rng.integers(0, 40, _glyph().shape), 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,ext", [("PNG", ".png"), ("JPEG", ".jpg"), ("GIF", ".gif"),
                                     ("BMP", ".bmp"), ("TIFF", ".tif"), ("WEBP", ".webp")])
@pytest.mark.parametrize("frac", [0.02, 0.5, 0.9])
def test_truncated_image(fmt, ext, frac, tmp_path):
    raw = _valid_bytes(fmt)
    p = tmp_path / f"cut{ext}"
    p.write_bytes(raw[: max(1, int(len(raw) * frac))])
    with pytest.raises(ImageLoadError) as info:
        load_digit(p)
    assert "cut" + ext in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"hello, not a picture\n", bytes(range(256)) * 8,
                                     b"PK\x03\x04" + b"\0" * 200, b"\x89PNG\r\n\x1a\n"])
@pytest.mark.parametrize("ext", [".png", ".jpg", ".gif"])
def test_non_image_with_image_extension(content, ext, tmp_path):
    p = tmp_path / f"fake{ext}"
    p.write_bytes(content)
    with pytest.raises(ImageLoadError):
        load_digit(p)


def test_folder_and_missing_file(tmp_path):
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageLoadError, match="folder"):
        load_digit(tmp_path / "d.png")
    with pytest.raises(ImageLoadError, match="no such file"):
        load_digit(tmp_path / "nope.png")


def _png_header_only(w: int, h: int) -> bytes:
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("w,h", [(100_000, 100_000), (2**31 - 1, 2**31 - 1), (45_000, 1_000), (1, 41_000_000)])
def test_huge_dimensions_refused_before_decoding(w, h, tmp_path):
    p = tmp_path / "huge.png"
    p.write_bytes(_png_header_only(w, h))
    with pytest.raises(ImageLoadError, match="too (many|large)"):
        load_digit(p)


def test_decompression_bomb_error_is_caught(tmp_path, monkeypatch):
    p = tmp_path / "bomb.png"
    Image.fromarray(_glyph()).save(p)  # 2880 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # > 2x the limit: DecompressionBombError
    assert not issubclass(Image.DecompressionBombError, OSError)
    with pytest.raises(ImageLoadError, match="too many pixels"):
        load_digit(p)


@pytest.mark.parametrize("global_filter", ["default", "ignore"])
def test_decompression_bomb_warning_at_the_limit_is_an_error(tmp_path, monkeypatch, global_filter):
    p = tmp_path / "bomb.png"
    Image.fromarray(_glyph()).save(p)  # 2880 pixels: above the limit, below twice it
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    with warnings.catch_warnings():
        warnings.simplefilter(global_filter)
        with pytest.raises(ImageLoadError, match="too many pixels"):
            load_digit(p)


def test_image_folder_with_bad_files_keeps_the_good_ones(tmp_path):
    good = _glyph()
    for i in range(3):
        Image.fromarray(good).save(tmp_path / f"{i}_ok.png")
    (tmp_path / "5_empty.png").write_bytes(b"")
    (tmp_path / "6_text.jpg").write_text("not an image")
    (tmp_path / "7_cut.png").write_bytes(_valid_bytes("PNG")[:40])
    (tmp_path / "8_huge.png").write_bytes(_png_header_only(100_000, 100_000))
    ds = data.load_image_dir(tmp_path)
    assert len(ds) == 3 and list(ds.labels) == [0, 1, 2]
    assert len(ds.skipped) == 4 and all("\n" not in s for s in ds.skipped)
    with pytest.raises(ImageLoadError):
        data.load_image_dir(tmp_path, errors="raise")


# ----------------------------------------------------------------------------- IDX files

def _idx(dims, data_bytes=None, type_byte=8) -> bytes:
    head = bytes([0, 0, type_byte, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    n = int(np.prod(dims)) if data_bytes is None else None
    return head + (bytes(n) if data_bytes is None else data_bytes)


@pytest.mark.parametrize("name,content,match", [
    ("empty", b"", "too short"),
    ("wrong_magic", b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc", "not an IDX file"),
    ("float_type", _idx([3], b"abc", type_byte=0x0D), "not an IDX file"),
    ("zero_dims", b"\0\0\x08\x00", "not an IDX file"),
    ("header_cut", _idx([10, 28, 28])[:9], "cut short inside its header"),
    ("short_data", _idx([10, 28, 28], bytes(100)), "cut short"),
    ("long_data", _idx([2, 2], bytes(5)), "more data"),
    ("huge_claim", _idx([60000, 28000, 28000], b""), "too large"),
    ("int64_wrap", _idx([2**16] * 4, b""), "too large"),
    ("text", b"hello world, this is no IDX file", "not an IDX file"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "")
@pytest.mark.parametrize("gz", [False, True])
def test_bad_idx_files(name, content, match, gz, tmp_path):
    p = tmp_path / (name + (".gz" if gz else ""))
    p.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match=match) as info:
        data.read_idx(p)
    assert p.name in str(info.value) and "\n" not in str(info.value)


def test_idx_wrong_kind_and_corrupt_gzip(tmp_path):
    p = tmp_path / "labels"
    p.write_bytes(_idx([5]))
    with pytest.raises(ValueError, match="expected 0x00000803"):
        data.read_idx_images(p)
    gz = bytearray(gzip.compress(_idx([40, 28, 28], bytes(range(256)) * 122 + bytes(range(128)))))
    gz[20] ^= 0xFF  # corrupt deflate stream: zlib.error ("invalid distance"), not an OSError
    p.write_bytes(bytes(gz))
    with pytest.raises(ValueError, match="cannot read"):
        data.read_idx(p)
    p.write_bytes(gzip.compress(_idx([40, 28, 28]))[:30])  # gzip cut short
    with pytest.raises(ValueError):
        data.read_idx(p)


def test_idx_folder_with_mismatched_pair(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx([4, 28, 28]))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx([3]))
    with pytest.raises(ValueError, match="4 train images but 3 labels"):
        data.load_dataset(str(tmp_path))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(_idx([3, 20, 20]))
    with pytest.raises(ValueError, match="expected 28x28"):
        data.load_idx_dir(tmp_path)


# ----------------------------------------------------------------------------- checkpoints

@pytest.fixture
def good_ckpt(tmp_path):
    p = tmp_path / "good.safetensors"
    save_weights(p, tiny_model())
    return p


@pytest.mark.parametrize("cut", [0, 1, 7, 8, 100, -1000, -1])
def test_truncated_checkpoint(cut, good_ckpt, tmp_path):
    raw = good_ckpt.read_bytes()
    p = tmp_path / "cut.safetensors"
    p.write_bytes(raw[:cut] if cut >= 0 else raw[:len(raw) + cut])
    with pytest.raises(CheckpointError) as info:
        load_model(p)
    assert "\n" not in str(info.value)


def test_checkpoint_of_another_architecture(tmp_path):
    from safetensors.torch import save

    other = tiny_model()
    other_cfg = ModelConfig(base_channels=16, channel_mults=(1, 2), attention=True, emb_dim=32, groups=4)
    meta = {"format": checkpoint.FORMAT, "model_config": json.dumps(other_cfg.to_dict())}
    p = tmp_path / "other.safetensors"
    p.write_bytes(save({k: v.contiguous() for k, v in other.state_dict().items()}, metadata=meta))
    with pytest.raises(CheckpointError, match="different architecture"):
        load_model(p)
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(save({"w": torch.zeros(3)}, metadata={"format": "someone-else/3"}))
    with pytest.raises(CheckpointError, match="not a ddpm-desktop checkpoint"):
        load_model(foreign)
    bad_cfg = tmp_path / "badcfg.safetensors"
    bad_cfg.write_bytes(save({"w": torch.zeros(3)}, metadata={"format": checkpoint.FORMAT,
                                                             "model_config": '{"channel_mults": 5}'}))
    with pytest.raises(CheckpointError, match="bad model configuration"):
        load_model(bad_cfg)


def test_checkpoint_with_non_finite_weights(tmp_path):
    m = tiny_model()
    with torch.no_grad():
        next(m.parameters()).view(-1)[0] = float("nan")
    p = tmp_path / "nan.safetensors"
    save_weights(p, m)
    with pytest.raises(CheckpointError, match="non-finite"):
        load_model(p)


def test_checkpoint_not_a_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="not a file"):
        load_model(tmp_path)
    (tmp_path / "e.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_model(tmp_path / "e.safetensors")


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("container", ["torch_zip", "raw_pickle", "pickle_as_safetensors"])
def test_pickle_that_runs_code_is_refused_and_never_runs(container, tmp_path, good_ckpt):
    marker = tmp_path / "PWNED"
    payload = {"config": {}, "model": _Evil(marker), "step": 1}
    state = checkpoint.state_path_for(good_ckpt)
    if container == "torch_zip":
        buf = io.BytesIO()
        torch.save(payload, buf)
        state.write_bytes(buf.getvalue())
    else:
        state.write_bytes(pickle.dumps(payload))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if container == "pickle_as_safetensors":
            good_ckpt.write_bytes(pickle.dumps(payload))
            with pytest.raises(CheckpointError):
                load_model(good_ckpt)
        with pytest.raises(CheckpointError):
            load_trainer(good_ckpt, few_digits(), device="cpu")
    assert not marker.exists(), "the pickle ran code"


@pytest.mark.parametrize("state", [
    {"config": 5, "model": {}},
    {"config": {"lr": "fast"}, "model": {}},
    {"config": {"model": {"channel_mults": 5}}, "model": {}},
    {"config": {}, "model": [1, 2]},
    [1, 2, 3],
])
def test_training_state_with_bad_values(state, tmp_path, good_ckpt):
    buf = io.BytesIO()
    torch.save(state, buf)
    checkpoint.state_path_for(good_ckpt).write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError):
        load_trainer(good_ckpt, few_digits(), device="cpu", steps=5)


BOMB_SCRIPT = r"""
import io, json, resource, sys, torch
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from safetensors.torch import save
from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.model import ModelConfig, UNet
small = UNet(ModelConfig(base_channels=8, channel_mults=(1, 2, 2), emb_dim=16, groups=4))
# The file holds the small model's tensors; its config, within every field's range, asks for
# billions of parameters (8192 channels at 7x7 and 14x14).
huge = {**small.config.to_dict(), "base_channels": 512, "channel_mults": [1, 16, 16], "emb_dim": 4096}
meta = {"format": checkpoint.FORMAT, "model_config": json.dumps(huge)}
d = sys.argv[1]
open(d + "/bomb.safetensors", "wb").write(save(small.state_dict(), metadata=meta))
for what in ("load_model", "load_trainer"):
    try:
        if what == "load_model":
            checkpoint.load_model(d + "/bomb.safetensors")
        else:
            sd = {k: v for k, v in small.state_dict().items()}
            buf = io.BytesIO()
            torch.save({"config": {"model": huge, "batch_size": 4}, "model": sd, "ema": sd, "step": 0}, buf)
            open(d + "/bomb.state.pt", "wb").write(buf.getvalue())
            checkpoint.load_trainer(d + "/bomb.safetensors", (torch.zeros(2, 1, 28, 28), torch.zeros(2).long()), device="cpu")
        print(what, "LOADED")
    except checkpoint.CheckpointError as exc:
        print(what, "REFUSED", exc)
    except BaseException as exc:
        print(what, "CRASHED", type(exc).__name__, exc)
"""


def test_tiny_checkpoint_asking_for_a_huge_network_is_refused_cheaply(tmp_path):
    """A few-KB file whose JSON config asks for a 64 GiB network must fail fast in 3 GB of memory."""
    r = subprocess.run([sys.executable, "-c", BOMB_SCRIPT, str(tmp_path)],
                       capture_output=True, text=True, timeout=600,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "load_model REFUSED" in r.stdout and "different architecture" in r.stdout, r.stdout
    assert "load_trainer REFUSED" in r.stdout, r.stdout


# ----------------------------------------------------------------------------- schedules

@pytest.mark.parametrize("betas,match", [
    ([0.1, 1.0], "outside"), ([0.1, 0.0], "outside"), ([-0.1, 0.2], "outside"), ([0.1, 1.5], "outside"),
    ([0.1, float("nan")], "not finite"), ([float("inf")], "not finite"), ([float("-inf")], "not finite"),
    ([], "T = 0"), ([[0.1, 0.2]], "one-dimensional"), (["a", "b"], "numbers"), ([0.1, 1e-18], "too small"),
    ([0.5] * 60, "underflows"), (np.full(100_001, 1e-4), "out of range"),
])
def test_bad_betas(betas, match):
    with pytest.raises(ValueError, match=match):
        NoiseSchedule.from_betas(betas)


def test_non_decreasing_alpha_bar_refused():
    # ᾱ non-decreasing means some β_t <= 0 (ᾱ_t = ᾱ_{t-1}(1 - β_t)).
    for betas in ([0.01, 0.0, 0.02], [0.01, -0.01, 0.02]):
        with pytest.raises(ValueError):
            NoiseSchedule.from_betas(betas)


@pytest.mark.parametrize("kwargs", [dict(T=0), dict(T=-3), dict(T=True), dict(T=2.5), dict(T=10**6),
                                    dict(beta_start=float("nan")), dict(beta_end=1.0), dict(beta_start=0.0)])
def test_bad_named_schedule(kwargs):
    args = dict(kind="linear", T=100, beta_start=1e-4, beta_end=0.02, **{})
    args.update(kwargs)
    with pytest.raises(ValueError):
        NoiseSchedule.named(**args)


def test_unknown_schedule_kind():
    with pytest.raises(ValueError, match="unknown schedule"):
        get_named_beta_schedule("exponential", 10)


# ----------------------------------------------------------------------------- export paths

def _writers():
    img = np.zeros((28, 28), np.uint8)
    img[5:20, 10:14] = 255
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)  # incompressible
    return {
        "png": (".png", lambda p, big=False: save_png(noise if big else img, p)),
        "gif": (".gif", lambda p, big=False: save_gif([noise, noise[::-1]] if big else [img, img[::-1]], p)),
        "weights": (".safetensors", lambda p, big=False: save_weights(p, tiny_model(1) if not big else
                                                                      _bigger_model())),
    }


def _bigger_model():
    from ddpm_desktop.core.model import UNet

    torch.manual_seed(0)
    return UNet(ModelConfig(base_channels=8, channel_mults=(1, 2), emb_dim=16, groups=4))  # ~160 KB


WRITERS = ["png", "gif", "weights"]


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("kind", WRITERS)
def test_export_to_missing_folder_or_folder_path(kind, tmp_path):
    ext, write = _writers()[kind]
    with pytest.raises((OSError, ValueError)) as info:
        write(tmp_path / "no" / "such" / f"x{ext}")
    assert "\n" not in str(info.value)
    (tmp_path / "afile").write_text("x")
    with pytest.raises((OSError, ValueError)):
        write(tmp_path / "afile" / f"x{ext}")
    (tmp_path / f"dir{ext}").mkdir()
    with pytest.raises((OSError, ValueError)):
        write(tmp_path / f"dir{ext}")
    assert (tmp_path / f"dir{ext}").is_dir() and _no_temp_files(tmp_path)


@pytest.mark.parametrize("kind", WRITERS)
def test_export_to_full_disk_keeps_previous_file(kind, small_tmpfs):
    ext, write = _writers()[kind]
    target = small_tmpfs / f"out{ext}"
    write(target)  # the previous, good file
    before = target.read_bytes()
    with pytest.raises(OSError) as info:
        write(target, big=True)
    assert info.value.errno == errno.ENOSPC or "No space" in str(info.value)
    assert "\n" not in str(info.value)
    assert target.read_bytes() == before
    assert _no_temp_files(small_tmpfs)


@pytest.mark.parametrize("kind", WRITERS)
def test_export_to_read_only_folder_keeps_previous_file(kind, small_tmpfs):
    ext, write = _writers()[kind]
    target = small_tmpfs / f"out{ext}"
    write(target)
    before = target.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    with pytest.raises(OSError) as info:
        write(target)
    assert "\n" not in str(info.value)
    assert target.read_bytes() == before


@pytest.mark.parametrize("kind", WRITERS)
def test_export_when_write_raises_enospc_keeps_previous_file(kind, tmp_path, monkeypatch):
    """Same as the tmpfs test without root: every write() into tmp_path fails with ENOSPC."""
    ext, write = _writers()[kind]
    target = tmp_path / f"out{ext}"
    write(target)
    before = target.read_bytes()
    real_open = builtins.open

    class Full:
        def __init__(self, f):
            self._f = f

        def write(self, b):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    def full_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if str(tmp_path) in str(file) and any(c in mode for c in "wa+"):
            return Full(f)
        return f

    monkeypatch.setattr(builtins, "open", full_open)
    with pytest.raises(OSError) as info:
        write(target)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC or "No space" in str(info.value)
    assert target.read_bytes() == before
    assert _no_temp_files(tmp_path)


# ----------------------------------------------------------------------------- CLI

@pytest.fixture
def cli_files(tmp_path):
    ck = tmp_path / "tiny.safetensors"
    save_weights(ck, tiny_model())
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("no picture")
    (tmp_path / "cut.safetensors").write_bytes(ck.read_bytes()[:500])
    (tmp_path / "pickle.safetensors").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "afile").write_text("x")
    return tmp_path


CLI_CASES = [
    # parse errors
    ["nosuch"], ["schedule", "--steps", "abc"], ["schedule", "--schedule", "foo"], ["kl", "--start", "zz"],
    ["train", "--steps"], ["sample"], ["reconstruct", "--out", "x.png"],
    # schedule values
    ["schedule", "--steps", "0"], ["schedule", "--steps", "-1"], ["schedule", "--steps", "100001"],
    ["schedule", "--beta-start", "nan"], ["schedule", "--beta-start", "0"], ["schedule", "--beta-end", "1"],
    ["schedule", "--beta-end", "-inf"], ["schedule", "--steps", "5000"],
    ["kl", "--steps", "0"], ["kl", "--beta-start", "1.5"],
    # kl
    ["kl", "--bins", "1"], ["kl", "--start", "image"], ["kl", "--rate", "-1", "--start", "exponential"],
    ["kl", "--rate", "nan", "--start", "exponential"], ["kl", "--start", "image", "--image", "{d}/empty.png"],
    ["kl", "--start", "image", "--image", "{d}/text.png"], ["kl", "--start", "image", "--image", "{d}/nope.png"],
    ["kl", "--image", "{d}/empty.png"],
    # train
    ["train", "--steps", "0"], ["train", "--out", "{d}/x.pt"], ["train", "--out", "{d}/no/x.safetensors"],
    ["train", "--threads", "0"], ["train", "--threads", "many"], ["train", "--data", "{d}/nope"],
    ["train", "--data", "{d}/afile", "--threads", "1"], ["train", "--device", "tpu", "--threads", "1"],
    ["train", "--resume", "{d}/cut.safetensors", "--threads", "1", "--out", "{d}/o.safetensors"],
    ["train", "--resume", "{d}/tiny.safetensors", "--threads", "1", "--out", "{d}/o.safetensors"],
    ["train", "--lr", "nan", "--threads", "1", "--out", "{d}/o.safetensors"],
    ["train", "--batch-size", "0", "--threads", "1", "--out", "{d}/o.safetensors"],
    ["train", "--p-uncond", "1.5", "--threads", "1", "--out", "{d}/o.safetensors"],
    ["train", "--recipe", "slow", "--threads", "1", "--out", "{d}/o.safetensors"],
    ["train", "--base-channels", "3", "--threads", "1", "--out", "{d}/o.safetensors"],
    ["train", "--save-every", "-1"], ["train", "--log-every", "0"],
    # sample
    ["sample", "--checkpoint", "{d}/cut.safetensors", "--out", "{d}/s.png"],
    ["sample", "--checkpoint", "{d}/pickle.safetensors", "--out", "{d}/s.png"],
    ["sample", "--checkpoint", "{d}/nope.safetensors", "--out", "{d}/s.png"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.bmp"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/no/s.png"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.png", "--n", "0"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.png", "--steps", "0"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.png", "--guidance", "nan"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.png", "--eta", "2"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.png", "--label", "11"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.png", "--schedule-steps", "0"],
    ["sample", "--checkpoint", "{d}/tiny.safetensors", "--out", "{d}/s.gif", "--fps", "0", "--n", "1",
     "--steps", "2"],
    # reconstruct
    ["reconstruct", "--checkpoint", "{d}/tiny.safetensors", "--image", "{d}/empty.png", "--t", "10",
     "--out", "{d}/r.png"],
    ["reconstruct", "--checkpoint", "{d}/tiny.safetensors", "--image", "{d}/text.png", "--t", "10",
     "--out", "{d}/r.png"],
    ["reconstruct", "--checkpoint", "{d}/tiny.safetensors", "--index", "5000", "--t", "10", "--out", "{d}/r.png"],
    ["reconstruct", "--checkpoint", "{d}/tiny.safetensors", "--index", "0", "--t", "0", "--out", "{d}/r.png"],
    ["reconstruct", "--checkpoint", "{d}/tiny.safetensors", "--index", "0", "--t", "1001", "--out", "{d}/r.png"],
    ["reconstruct", "--checkpoint", "{d}/tiny.safetensors", "--index", "0", "--t", "10", "--out", "{d}/r.txt"],
    # evaluate
    ["evaluate", "--checkpoint", "{d}/cut.safetensors", "--samples", "10"],
    ["evaluate", "--checkpoint", "{d}/tiny.safetensors", "--classifier", "{d}/pickle.safetensors", "--samples", "10"],
    ["evaluate", "--checkpoint", "{d}/tiny.safetensors", "--configs", "foo:3"],
    ["evaluate", "--checkpoint", "{d}/tiny.safetensors", "--samples", "0"],
    ["evaluate", "--checkpoint", "{d}/tiny.safetensors", "--recon-t", "a,b", "--reconstruction"],
    ["evaluate", "--checkpoint", "{d}/tiny.safetensors", "--grid-dir", "{d}/afile", "--samples", "10"],
]


@pytest.mark.parametrize("argv", CLI_CASES, ids=lambda a: " ".join(a)[:70])
def test_cli_bad_input_exits_2_with_one_line(argv, cli_files):
    rc, out, err = run_cli([a.replace("{d}", str(cli_files)) for a in argv])
    assert_one_line_error(rc, out, err)
    assert not list(cli_files.glob("o.safetensors")) and not list(cli_files.glob("*.tmp"))


def test_cli_export_to_full_disk_keeps_previous_file(cli_files, small_tmpfs):
    target = small_tmpfs / "s.png"
    np_img = np.zeros((8, 8), np.uint8)
    save_png(np_img, target)
    before = target.read_bytes()
    # Fill the rest of the tmpfs so the new grid cannot be written (unbuffered: no error at close).
    fd = os.open(small_tmpfs / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\xff" * 1024):
            pass
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    rc, out, err = run_cli(["sample", "--checkpoint", str(cli_files / "tiny.safetensors"), "--out", str(target),
                            "--n", "4", "--sampler", "ddim", "--steps", "2"])
    assert_one_line_error(rc, out, err)
    assert target.read_bytes() == before


def test_cli_real_subprocesses(cli_files):
    """A few real `python -m ddpm_desktop` runs: exit 2, one line, no traceback, no code run."""
    marker = cli_files / "PWNED"
    buf = io.BytesIO()
    torch.save({"config": {}, "model": _Evil(marker)}, buf)
    (cli_files / "tiny.state.pt").write_bytes(buf.getvalue())
    for argv in (["schedule", "--steps", "0"],
                 ["kl", "--start", "image", "--image", str(cli_files / "empty.png")],
                 ["train", "--resume", str(cli_files / "tiny.safetensors"), "--threads", "1",
                  "--out", str(cli_files / "o.safetensors")]):
        r = run_cli_subprocess(argv)
        assert_one_line_error(r.returncode, r.stdout, r.stderr)
    assert not marker.exists()


def test_cli_memory_error_is_one_line(monkeypatch):
    from ddpm_desktop.commands import schedule

    def boom(args):
        raise MemoryError()

    monkeypatch.setattr(schedule, "run", boom)
    rc, out, err = run_cli(["schedule"])
    assert_one_line_error(rc, out, err)
    assert "memory" in err


def test_cli_app_without_qt_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ddpm_desktop.ui.app", None)  # import raises ImportError
    rc, out, err = run_cli([])
    assert_one_line_error(rc, out, err)


# ----------------------------------------------------------------------------- the app

def test_app_shows_one_line_messages_for_bad_files_and_keeps_its_model(qtbot, tmp_path, good_ckpt):
    """Bad pictures and checkpoints opened in the app: a message each, no crash, model kept."""
    from PySide6.QtCore import QSettings

    from ddpm_desktop.ui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     load_model=False, load_dataset=False)
    qtbot.addWidget(win)
    model = tiny_model()
    win.session.set_model(model, "tiny")
    bad_images = {"empty.png": b"", "text.jpg": b"not a picture", "cut.png": _valid_bytes("PNG")[:60],
                  "huge.png": _png_header_only(100_000, 100_000)}
    for name, content in bad_images.items():
        (tmp_path / name).write_bytes(content)
        win.last_error = ""
        assert win.input_panel.open_image(tmp_path / name) is False
        assert name in win.last_error and "\n" not in win.last_error and "Traceback" not in win.last_error
    raw = good_ckpt.read_bytes()
    bad_ckpts = {"cut.safetensors": raw[:len(raw) // 2], "pickle.safetensors": pickle.dumps({"a": 1}),
                 "empty.safetensors": b""}
    for name, content in bad_ckpts.items():
        (tmp_path / name).write_bytes(content)
        win.last_error = ""
        win.session.load_model_file(tmp_path / name)
        qtbot.waitUntil(lambda: win.last_error != "", timeout=10_000)
        assert "\n" not in win.last_error and "Traceback" not in win.last_error
        assert win.session.model_state.model is model
    win.close()
