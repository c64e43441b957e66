"""A picture of a handwritten digit turned into an MNIST input, the way MNIST itself was made.

MNIST digits are light strokes on a 0 background, scaled so the larger side of the ink's bounding box is
20 px (aspect ratio kept, antialiased), then placed in a 28x28 field with their centre of mass at (14, 14).
Pillow is needed (``pip install 'glassnet[image]'``) and imported only when used.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np

from glassnet._base.checks import as_float_array
from glassnet._base.extras import require_extra
from glassnet.data.strokes import checked_width, normalise_strokes

__all__ = ["ImageError", "load_digit", "preprocess_digit"]

SIZE = 28  # side of the MNIST field
BOX = 20  # side of the box the ink is scaled into
INK_THRESHOLD = 0.1  # intensities below this (after background removal) count as noise
MIN_CONTRAST = 0.1  # a picture whose values span less than this has no ink
NOISE_SIGMAS = 4.0  # and so do intensities within this many standard deviations of the background's noise
MAX_PIXELS = 50_000_000
"""Larger pictures are refused from their header, before any decoding (decompression bombs)."""
MAX_SIDE = 2048
"""Pictures are reduced to at most this many pixels on their longer side before anything else."""


class ImageError(ValueError):
    """A picture that cannot be read or holds no digit."""


def _pillow() -> ModuleType:
    require_extra("PIL", "image", "reading digit pictures")
    from PIL import Image

    return Image


def load_digit(path: str | os.PathLike, stroke_width: float | None = None) -> np.ndarray:
    """A picture file of one digit (any size, polarity, colour) as an MNIST row: float32 (784,) in [0, 1];
    ``stroke_width`` as in :func:`preprocess_digit` (None: the pen as drawn).

    Memory stays bounded: a picture of more than ``MAX_PIXELS`` is refused from its header, before it is
    decoded; larger JPEGs are decoded at a reduced size, and every picture is reduced to ``MAX_SIDE``.
    """
    image_mod = _pillow()
    from PIL import ImageOps, UnidentifiedImageError

    if stroke_width is not None:
        stroke_width = checked_width(stroke_width)
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a directory, not a picture")
    if not path.is_file():
        raise ImageError(f"expected a picture file, found no file at {path}")
    if path.stat().st_size == 0:
        raise ImageError(f"expected a picture (PNG, JPEG, ...), {path} is empty (0 bytes)")
    limit = f"more than the {MAX_PIXELS // 10**6} megapixels a digit picture may have (a decompression bomb?)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", image_mod.DecompressionBombWarning)
            with image_mod.open(path) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageError(f"{path}: refused a picture of {w:,} x {h:,} pixels, {limit}")
                if max(w, h) > MAX_SIDE:
                    img.draft(img.mode, (MAX_SIDE, MAX_SIDE))  # JPEG: decode at 1/2, 1/4 or 1/8 of the size
                img = ImageOps.exif_transpose(img)
                img.load()
    except (image_mod.DecompressionBombError, image_mod.DecompressionBombWarning):
        raise ImageError(f"{path}: refused a picture of {limit}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, EOFError, ValueError, struct.error) as e:
        if isinstance(e, ImageError):
            raise
        raise ImageError(f"expected a picture (PNG, JPEG, ...), cannot read {path}: {e}") from None
    if max(img.size) > MAX_SIDE:
        if img.mode not in ("L", "LA", "RGB", "RGBA"):
            img = img.convert("RGBA" if "transparency" in img.info or "A" in img.mode else "L")
        img = img.reduce(math.ceil(max(img.size) / MAX_SIDE))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        alpha = rgba[..., 3]
        # Put transparent parts on a background that contrasts with the opaque strokes.
        ink = float((grey * alpha).sum() / max(alpha.sum(), 1e-6))
        background = 1.0 if ink < 0.5 else 0.0
        grey = grey * alpha + background * (1.0 - alpha)
    else:
        grey = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    try:
        return preprocess_digit(grey, stroke_width=stroke_width)
    except ImageError as e:
        raise ImageError(f"{path}: {e}") from None


def _to_unit(arr: np.ndarray) -> np.ndarray:
    """Values in [0, 1]: bytes divided by 255, wider integers by their type's maximum, others stretched."""
    x = as_float_array(arr, "image")
    if x.size == 0 or (x.min() >= 0 and x.max() <= 1):
        return x
    if arr.dtype.kind in "ui" and x.min() >= 0:
        return x / np.float32(255 if x.max() <= 255 else np.iinfo(arr.dtype).max)
    return (x - x.min()) / max(float(x.max() - x.min()), 1e-12)


def preprocess_digit(img: np.ndarray, stroke_width: float | None = None) -> np.ndarray:
    """A grey picture of one digit (2-D, any size; RGB(A) arrays are turned grey) as float32 (784,) in [0, 1].

    Steps: normalise to [0, 1]; make strokes light on a dark background (inverting when the border is
    light); remove the background level and faint noise (below 0.1, and below 4 sigma of the background's
    grain, sigma = 1.4826 median|b - median b| over the border's pixels b); crop to the ink; with
    ``stroke_width`` (pixels of the 28x28 field, e.g. ``strokes.MNIST_STROKE_WIDTH``), bring the pen to that
    width by grey dilation or erosion (:func:`glassnet.data.strokes.normalise_strokes`); scale the larger side
    to 20 px (Lanczos, aspect kept); paste into 28x28 with the centre of mass at (14, 14).
    """
    if stroke_width is not None:
        stroke_width = checked_width(stroke_width)
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = as_float_array(arr[..., :3], "image") @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"image must be a non-empty 2-D grey array, got shape {arr.shape}")
    x = _to_unit(arr)
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < MIN_CONTRAST:
        raise ImageError(f"expected a digit, found a blank picture (values span only {hi - lo:.3f})")
    x = (x - lo) / (hi - lo)

    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper
        x = 1.0 - x
    background = float(np.median(x))
    # the paper's grain (a photograph's noise): sigma of the border's pixels, from their median absolute deviation
    noise = 1.4826 * float(np.median(np.abs(border - np.median(border))))
    x = np.clip((x - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    x[x < max(INK_THRESHOLD, NOISE_SIGMAS * noise / max(1.0 - background, 1e-6))] = 0.0
    rows, cols = np.flatnonzero(x.any(axis=1)), np.flatnonzero(x.any(axis=0))
    if rows.size == 0:
        raise ImageError("expected a digit, found no ink (no stroke stands out from the background)")
    x = x[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    x /= x.max()
    if stroke_width is not None:
        x = normalise_strokes(x, stroke_width)

    h, w = x.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    image_mod = _pillow()
    resized = image_mod.fromarray(np.ascontiguousarray(x, dtype=np.float32)).resize(
        (new_w, new_h), resample=image_mod.Resampling.LANCZOS
    )
    digit = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)

    mass = digit.sum()
    if mass <= 0:
        raise ImageError("expected a digit, found no ink after scaling")
    cy = float((digit.sum(axis=1) * np.arange(new_h)).sum() / mass)
    cx = float((digit.sum(axis=0) * np.arange(new_w)).sum() / mass)
    top = int(np.clip(round(SIZE / 2 - cy), 0, SIZE - new_h))
    left = int(np.clip(round(SIZE / 2 - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = digit
    return out.reshape(SIZE * SIZE)
