"""Pixels in and out: any picture -> an MNIST-style digit, arrays -> PNG / GIF / grids.

Conventions (docs/DESIGN.md): model images are float32 in [-1, 1]; uint8 images have
0 = background (black) and 255 = ink. Every writer here goes through ``core.files.atomic_write``
(a temporary file in the target folder, fsync, ``os.replace``), so a crash never leaves half a
file behind and an error names the user's file, never the temporary one.

``load_digit`` follows how MNIST itself was made (LeCun, Cortes, Burges): the digit's
bounding box is scaled to fit a 20x20 box keeping its aspect ratio (anti-aliased, so grey
levels appear), then placed in a 28x28 field so that its centre of mass lands on the
centre. The bundled MNIST images have their centre of mass at (14.0, 14.0) in pixel-index
coordinates on average, so that is the target here.
"""
from __future__ import annotations

import io
import math
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import files

IMAGE_SIDE = 28      # every image's side in pixels: the network's input, the datasets, the canvas
IMAGE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE)
BOX = 20             # the digit's bounding box is fitted into BOX x BOX
CENTRE = 14.0        # target centre of mass (row, col), pixel-index coordinates
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Raster formats only, by Pillow's format name ("PPM" covers PBM/PGM/PPM/PNM). Never EPS, PS or
# PDF, whose plugins hand the file to Ghostscript (an interpreter: a file could run code or
# loop forever), nor any other plugin that calls an external program. Pillow picks the
# decoder from the content, not the name, so the list is passed to every ``Image.open``.
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
# Decoding past this many seconds is abandoned (checked each time the decoder reads more of
# the file). At the pixel bound, noise (the worst case) took 0.4-1.9 s as PNG, JPEG or TIFF.
DECODE_SECONDS = 10.0
# WebP decodes in one call that no deadline can interrupt, and 40 Mpx of noise took 11 s: its
# pixel bound is lower, so that its worst case stays under DECODE_SECONDS (10 Mpx: ~3 s).
MAX_PIXELS_BY_FORMAT = {"WEBP": 10_000_000}
# Larger pictures are box-reduced to about this many pixels a side before any analysis:
# the digit ends up 20 pixels tall anyway, and it bounds memory and time on big photos.
WORK_SIDE = 1024
# After contrast normalisation, ink below this is paper texture / JPEG ringing.
NOISE_FLOOR = 0.08
# A picture whose ink never rises this far above its background holds no digit.
MIN_CONTRAST = 0.1
# MNIST's stroke width at 28 px (`stroke_width`): median 1.94 px over 3,000 test digits (5th
# percentile 1.28). A loaded or drawn digit whose strokes would be thinner than THIN_STROKE at
# 28 px (thinner than 95% of MNIST's) is thickened to MNIST's median before it is scaled into
# the box, so a thin pen gives a digit the network reads (a 640x400 "0" drawn with a 2-px pen
# came out a 0.7-px ring); MNIST-like strokes are left as they are.
MNIST_STROKE_WIDTH = 1.94
THIN_STROKE = 1.2


class ImageLoadError(ValueError):
    """A picture could not be turned into a digit; the message is one line naming the file."""


class BlankImageError(ImageLoadError):
    """The picture was read but holds no ink (one level everywhere, or nearly)."""


# ----------------------------------------------------------------------------- ranges


def to_model_range(images):
    """uint8 (0..255) -> float32 in [-1, 1]; numpy in, numpy out (torch in, torch out)."""
    if hasattr(images, "detach"):  # torch.Tensor, without importing torch here
        import torch

        if images.dtype != torch.uint8:
            raise ValueError(f"to_model_range expects uint8 pixels, got {images.dtype}")
        return images.to(torch.float32) / 127.5 - 1.0
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ValueError(f"to_model_range expects uint8 pixels, got {arr.dtype}")
    return (arr.astype(np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)


def to_uint8(images) -> np.ndarray:
    """float in [-1, 1] (numpy or torch, any shape) -> uint8 numpy: clipped, rounded.

    NaN counts as background (-1). Exact inverse of ``to_model_range`` on its outputs.
    """
    if hasattr(images, "detach"):
        images = images.detach().to("cpu").float().numpy()
    arr = np.asarray(images, dtype=np.float32)
    arr = np.nan_to_num(arr, nan=-1.0, posinf=1.0, neginf=-1.0)
    return np.rint((np.clip(arr, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


# ----------------------------------------------------------------------------- reading


def _fail(path: Path, why: str) -> ImageLoadError:
    return ImageLoadError(f"cannot read '{path}': {why}")


class _DecodeTimeout(Exception):
    pass


class _DeadlineBytes(io.BytesIO):
    """The file's bytes, refusing to hand out more once the decoding deadline has passed."""

    def __init__(self, data: bytes, deadline: float):
        super().__init__(data)
        self._deadline = deadline

    def read(self, *args):
        if time.monotonic() > self._deadline:
            raise _DecodeTimeout
        return super().read(*args)

    def readinto(self, *args):
        if time.monotonic() > self._deadline:
            raise _DecodeTimeout
        return super().readinto(*args)


def image_extensions() -> frozenset[str]:
    """File name extensions (lower case, with the dot) of the formats `open_image` reads."""
    Image.init()
    return frozenset(ext.lower() for ext, fmt in Image.registered_extensions().items()
                     if fmt in IMAGE_FORMATS)


def open_image(path) -> Image.Image:
    """The one reader for every picture opened (digit, mask, folder, drop, CLI ``--image``).

    Reads at most MAX_FILE_BYTES of a regular file, lets Pillow pick only among
    IMAGE_FORMATS (whatever the name says), refuses more than MAX_PIXELS, stops decoding after
    DECODE_SECONDS, and returns the first frame decoded, EXIF orientation applied. Every
    failure is an ImageLoadError naming the file in one line.
    """
    path = Path(path)
    why = files.unreadable_reason(path)  # missing, permission, folder, FIFO/device, empty
    if why is not None:
        raise _fail(path, why)
    try:
        data = files.read_regular(path, MAX_FILE_BYTES)
    except files.FileTooLarge:
        size = path.stat().st_size
        raise _fail(path, f"the file is {size / 2**20:.0f} MB (limit {MAX_FILE_BYTES // 2**20} MB)") from None
    except OSError as exc:
        raise _fail(path, str(exc).rpartition("': ")[2]) from None
    try:
        with warnings.catch_warnings():
            # At Pillow's own limit it only warns; past twice that it raises
            # DecompressionBombError, which is not an OSError. Both end up below. Plugins'
            # chatter about damaged files ("Corrupt EXIF data") is dropped: the file
            # either decodes or raises.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            fp = _DeadlineBytes(data, time.monotonic() + DECODE_SECONDS)
            with Image.open(fp, formats=IMAGE_FORMATS) as im:
                w, h = im.size
                limit = MAX_PIXELS_BY_FORMAT.get(im.format, MAX_PIXELS)
                if w * h > limit:
                    raise _fail(path, f"{w}x{h} pixels is too large (limit {limit // 10**6} Mpx)")
                im.seek(0)  # animated: first frame
                im.load()
                # A phone photo stores its pixels sideways plus an Orientation tag.
                return ImageOps.exif_transpose(im)  # a transposed copy (or a plain copy)
    except ImageLoadError:
        raise
    except _DecodeTimeout:
        raise _fail(path, f"decoding took longer than {DECODE_SECONDS:g} s") from None
    except UnidentifiedImageError:
        raise _fail(path, "not an image file (readable formats: PNG, JPEG, BMP, GIF, TIFF, "
                          "WebP, PBM/PGM/PPM)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _fail(path, f"too many pixels (limit {MAX_PIXELS // 10**6} Mpx)") from None
    except MemoryError:
        raise _fail(path, "not enough memory to decode it") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise anything on damaged files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(path, f"damaged or unsupported image ({reason})") from None


def grey_levels(im: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1] (1 = white) at the picture's own depth; alpha ignored.

    16-bit and 32-bit pictures are scaled by their own range (a 16-bit white is 65535, not
    255: converting to 8 bits first would clip every non-black pixel to white).
    """
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im, dtype=np.float32) / np.float32(65535.0)
    if mode in ("I", "F"):
        # Float TIFFs may hold NaN/inf: no data, drawn as 0 (NaN reached round() further on).
        arr = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = arr.max(initial=0.0)
        # 32-bit modes carry 16-bit PNGs (older Pillow), 8-bit data, or floats in [0, 1].
        scale = 65535.0 if top > 255.0 else 255.0 if top > 1.0 else 1.0
        return np.clip(arr / np.float32(scale), 0.0, 1.0)
    return np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0)


def _luminance(im: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1] (1 = white); alpha composited onto the colour opposite the ink."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return grey_levels(im)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("PA", "La", "RGBa"):
        im = im.convert("RGBA")
    elif mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("RGBA")
    elif mode == "LA":
        pass
    elif mode not in ("L", "RGB", "RGBA", "1"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
    if im.mode in ("RGBA", "LA"):
        alpha = np.asarray(im.getchannel("A"), dtype=np.float32) / np.float32(255.0)
        grey = np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0)
        covered = float(alpha.sum(dtype=np.float64))
        if covered <= 0.0:
            return np.zeros_like(grey)  # fully transparent: blank
        ink_grey = float((grey * alpha).sum(dtype=np.float64)) / covered
        background = np.float32(1.0 if ink_grey < 0.5 else 0.0)
        return grey * alpha + background * (np.float32(1.0) - alpha)
    return np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0)


def _shrink(grey: np.ndarray) -> np.ndarray:
    """Box-average a big picture down to at most ~WORK_SIDE pixels a side."""
    factor = max(grey.shape) // WORK_SIDE
    if factor < 2:
        return grey
    return np.asarray(Image.fromarray(np.ascontiguousarray(grey, np.float32)).reduce(factor))


def _border(arr: np.ndarray) -> np.ndarray:
    h, w = arr.shape
    k = max(1, min(h, w) // 50)
    return np.concatenate([arr[:k].ravel(), arr[-k:].ravel(), arr[:, :k].ravel(), arr[:, -k:].ravel()])


def stroke_width(ink: np.ndarray, threshold: float = 0.5) -> float:
    """Mean stroke width in pixels of the ink above `threshold`: 2 x area / boundary length
    (for a stroke of width w and length L, area wL and boundary ~2L), boundary counted as the
    pixel edges between ink and background. 0 when there is no ink."""
    m = np.pad(np.asarray(ink) > threshold, 1).astype(np.int8)
    edges = int(np.abs(np.diff(m, axis=0)).sum() + np.abs(np.diff(m, axis=1)).sum())
    return 2.0 * float(m.sum()) / edges if edges else 0.0


def thicken(crop: np.ndarray, scale: float) -> np.ndarray:
    """Dilate strokes thinner than MNIST's (measured in the crop's pixels, whose 28-px size
    is `scale` times smaller) with a disc, so they come out MNIST-wide after scaling."""
    # 1.35x: the Lanczos scaling into the box and the 0.5 threshold of `stroke_width` take
    # about a quarter off a stroke's measured width (calibrated on pens of 1-20 px: the
    # results measure 1.8-2.1 px at 28 px, MNIST's median 1.94).
    width = stroke_width(crop)
    if width <= 0.0 or width * scale >= THIN_STROKE:
        return crop
    target = MNIST_STROKE_WIDTH * 1.35 / scale
    radius = (target - width) / 2.0
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disc = (yy * yy + xx * xx) <= radius * radius + 0.25
    from scipy import ndimage

    padded = np.pad(crop, r)  # room for the thicker strokes at the crop's edges
    return ndimage.grey_dilation(padded, footprint=disc).astype(np.float32)


def _fit_and_centre(ink: np.ndarray, background: float, what: str) -> np.ndarray:
    """ink: float [H, W], larger = more ink, ``background`` its background level.

    Returns float32 [28, 28] in [-1, 1]: contrast-normalised, bbox fitted to 20x20 with the
    aspect ratio kept (Lanczos, anti-aliased), centre of mass moved to (14, 14).
    """
    top = float(ink.max(initial=background))
    if top - background < MIN_CONTRAST:
        raise BlankImageError(f"{what}: no digit found (the picture is blank)")
    ink = np.clip((ink - background) / (top - background), 0.0, 1.0)
    ink[ink < NOISE_FLOOR] = 0.0
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    crop = thicken(crop, BOX / max(crop.shape))
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) != (w, h):
        img = Image.fromarray(crop)  # mode "F"
        # reducing_gap: box-reduce big photos first (fast), then Lanczos the last 3x.
        crop = np.asarray(img.resize((new_w, new_h), Image.Resampling.LANCZOS, reducing_gap=3.0))
        crop = np.clip(crop, 0.0, 1.0)
        # Downscaling thin strokes dims them; MNIST digits always peak at full ink.
        peak = crop.max(initial=0.0)
        if peak > 0.0:
            crop = crop / peak
    mass = crop.sum()
    if mass <= 0.0:
        raise BlankImageError(f"{what}: no digit found (the picture is blank)")
    yy, xx = np.indices(crop.shape)
    com_y, com_x = (crop * yy).sum() / mass, (crop * xx).sum() / mass
    # Integer translation (no resampling blur), kept inside the field.
    top_row = int(np.clip(round(CENTRE - com_y), 0, IMAGE_SIDE - new_h))
    left_col = int(np.clip(round(CENTRE - com_x), 0, IMAGE_SIDE - new_w))
    out = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32)
    out[top_row:top_row + new_h, left_col:left_col + new_w] = crop
    return out * 2.0 - 1.0


def load_digit(path) -> np.ndarray:
    """A PNG, JPEG, BMP, GIF, TIFF, WebP or PBM/PGM/PPM picture (read by `open_image`) ->
    float32 [28, 28] in [-1, 1], MNIST-style.

    First frame of animations; EXIF orientation applied; 16-bit, palette, alpha and CMYK
    handled; a light background (border median above mid-grey) is inverted so ink is white.
    Raises ImageLoadError (one line, naming the file) for anything else, including empty,
    truncated, oversized (> 50 MB or > 40 Mpx) and blank pictures.
    """
    path = Path(path)
    grey = _luminance(open_image(path))
    if grey.size == 0:
        raise _fail(path, "the image has no pixels")
    grey = _shrink(grey)
    if np.median(_border(grey)) > 0.5:
        grey = 1.0 - grey
    background = float(np.median(_border(grey)))
    return _fit_and_centre(grey, background, f"'{path.name}'")


def preprocess_digit(array) -> np.ndarray:
    """A drawing (white ink on black, any size) -> float32 [28, 28] in [-1, 1], MNIST-style.

    ``array``: [H, W] (or [H, W, C], averaged) uint8 0..255, or float: [0, 1] if it lies
    there, [-1, 1] if it has negatives, 0..255 otherwise. Raises ImageLoadError if blank.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
        arr = arr[..., :3].mean(axis=-1) if arr.shape[-1] != 1 else arr[..., 0]
    if arr.ndim != 2 or arr.size == 0:
        raise ImageLoadError(f"the drawing must be a 2-D array, got shape {np.shape(array)}")
    if arr.dtype == np.uint8:
        ink = arr.astype(np.float64) / 255.0
    else:
        ink = np.nan_to_num(arr.astype(np.float64))
        if ink.min() < 0.0:
            ink = (ink + 1.0) / 2.0
        elif ink.max() > 1.0:
            ink = ink / 255.0
        ink = np.clip(ink, 0.0, 1.0)
    return _fit_and_centre(_shrink(ink.astype(np.float32)), 0.0, "the drawing")


# ----------------------------------------------------------------------------- arrays


def make_grid(images, nrow: int = 8, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """uint8 [N, H, W] (or [N, H, W, C]) -> one uint8 [rows*(H+pad)+pad, nrow*(W+pad)+pad] image.

    ``nrow`` images per row, as in torchvision; padding also frames the outside. Float input
    in [-1, 1] is converted with ``to_uint8``.
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        arr = to_uint8(arr)
    if arr.ndim not in (3, 4) or arr.shape[0] == 0:
        raise ValueError(f"make_grid expects a non-empty [N, H, W] array, got shape {arr.shape}")
    if nrow < 1 or pad < 0:
        raise ValueError(f"make_grid needs nrow >= 1 and pad >= 0, got nrow={nrow}, pad={pad}")
    n, h, w = arr.shape[:3]
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    grid = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad) + arr.shape[3:],
                   pad_value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = arr[i]
    return grid


def upscale(img, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of [H, W] or [H, W, C] by an integer factor."""
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"upscale factor must be >= 1, got {factor}")
    arr = np.asarray(img)
    return arr.repeat(factor, axis=0).repeat(factor, axis=1)


def _as_pil(array) -> Image.Image:
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        arr = to_uint8(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(arr))  # "L"
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        return Image.fromarray(np.ascontiguousarray(arr))  # "RGB" / "RGBA"
    raise ValueError(f"expected an [H, W] or [H, W, 3] image, got shape {arr.shape}")


def save_png(array, path) -> Path:
    """Write an [H, W] grey or [H, W, 3|4] colour uint8 image (float: [-1, 1]) as PNG, atomically."""
    im = _as_pil(array)
    return files.atomic_write(path, lambda tmp: im.save(tmp, format="PNG"))


def save_strip(frames: Sequence, path, pad: int = 2, pad_value: int = 0) -> Path:
    """Frames (same-shape [H, W] or [H, W, 3]) side by side in one PNG, ``pad`` pixels apart."""
    if len(frames) == 0:
        raise ValueError("save_strip needs at least one frame")
    stacked = np.stack([np.asarray(f) for f in frames])
    return save_png(make_grid(stacked, nrow=len(frames), pad=pad, pad_value=pad_value), path)


def _gif_frames(frames: Sequence) -> list[Image.Image]:
    arrays = [np.asarray(f) for f in frames]
    arrays = [a if a.dtype == np.uint8 else to_uint8(a) for a in arrays]
    shape = arrays[0].shape[:2]
    for i, a in enumerate(arrays):
        if a.ndim not in (2, 3) or a.shape[:2] != shape or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
            raise ValueError(f"GIF frame {i} has shape {a.shape}; every frame must be {shape} "
                             "grey [H, W] or colour [H, W, 3]")
    colour = any(a.ndim == 3 and a.shape[2] >= 3 for a in arrays)
    if not colour:
        # Grey frames go in as mode "L": Pillow writes a grey palette, lossless.
        return [Image.fromarray(np.ascontiguousarray(a if a.ndim == 2 else a[..., 0])) for a in arrays]
    rgb = [np.ascontiguousarray(np.repeat(a[..., None], 3, -1) if a.ndim == 2 else
                                (a[..., :3] if a.shape[2] >= 3 else np.repeat(a, 3, -1)))
           for a in arrays]
    # One palette for the whole animation, built from a sample of frames: no flicker between
    # frames, and mapping each frame onto a fixed palette is far faster than quantising each.
    step = max(1, len(rgb) // 16)
    sample = np.concatenate(rgb[::step], axis=0)
    palette = Image.fromarray(sample).quantize(256, method=Image.Quantize.MEDIANCUT)
    return [Image.fromarray(a).quantize(palette=palette, dither=Image.Dither.NONE) for a in rgb]


def frame_durations(n: int, fps: float, hold_last_s: float = 0.0, unit_ms: int = 1) -> list[int]:
    """Milliseconds per frame: 1000/fps each (rounded to `unit_ms`), the last held at least
    `hold_last_s` seconds."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    d = unit_ms * max(1, round(1000.0 / fps / unit_ms))
    last = max(d, unit_ms * math.ceil(1000.0 * float(hold_last_s) / unit_ms))
    return [d] * (n - 1) + [last]


def save_gif(frames: Sequence, path, fps: float = 10.0, loop: int = 0,
             hold_last_s: float = 0.0) -> Path:
    """Write an animated GIF atomically. ``frames``: uint8 [H, W] or [H, W, 3] (float: [-1, 1]).

    Each frame shows for round(100 / fps) hundredths of a second (GIF's unit), at least 2:
    browsers replace shorter delays with 100 ms; the last at least ``hold_last_s`` seconds.
    ``loop=0`` repeats forever. Consecutive identical frames are merged by Pillow into one
    longer frame.
    """
    if len(frames) == 0:
        raise ValueError("save_gif needs at least one frame")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    durations = frame_durations(len(frames), min(fps, 50.0), hold_last_s, unit_ms=10)
    images = _gif_frames(frames)

    def write(tmp: str) -> None:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations if len(images) > 1 else durations[0],
                       loop=int(loop), optimize=False, disposal=1)

    return files.atomic_write(path, write)


def _rgb_frames(frames: Sequence) -> list[Image.Image]:
    if len(frames) == 0:
        raise ValueError("an animation needs at least one frame")
    images = [_as_pil(f) for f in frames]
    size = images[0].size
    for i, im in enumerate(images):
        if im.size != size:
            raise ValueError(f"frame {i} is {im.size[0]}x{im.size[1]}; every frame must be "
                             f"{size[0]}x{size[1]}")
    return [im.convert("RGB") for im in images]


def save_webp(frames: Sequence, path, fps: float = 10.0, loop: int = 0,
              hold_last_s: float = 0.0) -> Path:
    """Write an animated, lossless WebP atomically (frames as for ``save_gif``; the last held
    at least ``hold_last_s`` seconds)."""
    images = _rgb_frames(frames)
    durations = frame_durations(len(images), fps, hold_last_s)

    def write(tmp: str) -> None:
        images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:],
                       duration=durations, loop=int(loop), lossless=True, quality=80, method=4)

    return files.atomic_write(path, write)


def save_apng(frames: Sequence, path, fps: float = 10.0, loop: int = 0,
              hold_last_s: float = 0.0) -> Path:
    """Write an animated PNG (APNG) atomically (frames as for ``save_gif``; the last held at
    least ``hold_last_s`` seconds). Pillow merges consecutive identical frames, as in a GIF."""
    images = _rgb_frames(frames)
    durations = frame_durations(len(images), fps, hold_last_s)

    def write(tmp: str) -> None:
        images[0].save(tmp, format="PNG", save_all=True, append_images=images[1:],
                       duration=durations if len(images) > 1 else durations[0],
                       loop=int(loop), disposal=0, blend=0)

    return files.atomic_write(path, write)
