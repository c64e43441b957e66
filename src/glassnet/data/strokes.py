"""The pen a digit was written with: its centre line, its stroke width, and that width brought to MNIST's.

A digit's pen width is estimated as w = A / L: its ink area A (the sum of its grey values, peak 1) over the length
L of its centre line (Zhang & Suen's thinning of the ink > 0.5, each 8-connected link counted 1 or sqrt(2)). Widths
are given in pixels of MNIST's frame, where the larger side of the ink's box is 20 px, so that a picture of any
size is measured alike. NumPy only (Pillow resizes, as in :mod:`glassnet.data.images`).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = ["MNIST_STROKE_WIDTH", "checked_width", "grey_dilation", "grey_erosion", "normalise_strokes", "stroke_width",
           "thin"]

BOX = 20  # MNIST's ink box, in pixels of its 28x28 field
FINE = 60  # the ink box's side while the pen is measured and changed (3x MNIST's)
MAX_CHANGE = 24  # the most the pen is widened or narrowed at that scale (8 px of MNIST's frame): a blob stays a blob
MNIST_STROKE_WIDTH = 2.33
"""Median pen width of MNIST's 60,000 training digits, in pixels of their 28x28 field, by ``stroke_width``
(quartiles 1.94 and 2.84, 5th and 95th percentiles 1.52 and 3.88; by digit from 2.00 for 8s to 2.70 for 1s)."""


def thin(ink: np.ndarray) -> np.ndarray:
    """The one-pixel-wide centre lines of boolean pictures (..., H, W), by Zhang & Suen's thinning (1984): a border
    pixel with 2..6 ink neighbours and one 0-to-1 transition around it is peeled, in two sub-steps that alternate
    the sides, until nothing changes."""
    ink = np.pad(np.asarray(ink, bool), [(0, 0)] * (np.ndim(ink) - 2) + [(1, 1), (1, 1)])
    h, w = ink.shape[-2:]
    while True:
        changed = False
        for step in (0, 1):
            c = ink[..., 1:h - 1, 1:w - 1]
            p = [ink[..., 1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx] for dy, dx in
                 ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))]  # P2..P9, clockwise
            count = sum(q.astype(np.int8) for q in p)
            turns = sum((~p[k] & p[(k + 1) % 8]).astype(np.int8) for k in range(8))
            a, b = (p[0] & p[2] & p[4], p[2] & p[4] & p[6]) if step == 0 else (p[0] & p[2] & p[6], p[0] & p[4] & p[6])
            peel = c & (count >= 2) & (count <= 6) & (turns == 1) & ~a & ~b
            if peel.any():
                changed = True
                ink[..., 1:h - 1, 1:w - 1] = c & ~peel
        if not changed:
            return ink[..., 1:h - 1, 1:w - 1]


def _line_length(line: np.ndarray) -> float:
    """Length of a 2-D centre line: horizontal and vertical neighbour links count 1, diagonal links sqrt(2)
    where no horizontal-vertical path of two links joins the same pixels."""
    s = np.pad(line, 1)
    c = s[1:-1, 1:-1]
    right, down = c & s[1:-1, 2:], c & s[2:, 1:-1]
    down_right = c & s[2:, 2:] & ~s[1:-1, 2:] & ~s[2:, 1:-1]
    down_left = c & s[2:, :-2] & ~s[1:-1, :-2] & ~s[2:, 1:-1]
    return float(right.sum() + down.sum()) + math.sqrt(2) * float(down_right.sum() + down_left.sum())


def _disk(r: int) -> list[tuple[int, int]]:
    """Offsets of a disk of whole radius r (within r + 0.5 of the centre, so that B_1 is the 3x3 cross and corners)."""
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= (r + 0.5) ** 2]


def _morphology(x: np.ndarray, radius: int, op: np.ufunc) -> np.ndarray:
    pad = np.pad(x, radius)
    out = x.copy()
    h, w = x.shape
    for dy, dx in _disk(radius):
        op(out, pad[radius + dy:radius + dy + h, radius + dx:radius + dx + w], out=out)
    return out


def _graded(x: np.ndarray, radius: float, op: np.ufunc) -> np.ndarray:
    """Morphology by a disk of a fractional radius r: (1 - f) (x o B_floor(r)) + f (x o B_floor(r)+1), f = r - floor(r),
    so that the pen changes by 2 r on average (a whole-pixel disk would change it in steps of 2)."""
    x = np.asarray(x, dtype=np.float32)
    r0 = int(math.floor(max(radius, 0.0)))
    f = np.float32(max(radius, 0.0) - r0)
    low = _morphology(x, r0, op) if r0 > 0 else x.copy()
    if f == 0:
        return low
    return (1 - f) * low + f * _morphology(x, r0 + 1, op)


def grey_dilation(x: np.ndarray, radius: float) -> np.ndarray:
    """Grey dilation by a flat disk: (x (+) B_r)[p] = max of x over the disk of radius r around p, graded between
    whole radii (the pen widened by 2 r)."""
    return _graded(x, radius, np.maximum)


def grey_erosion(x: np.ndarray, radius: float) -> np.ndarray:
    """Grey erosion by a flat disk: (x (-) B_r)[p] = min of x over the disk of radius r around p, outside the
    picture counting as 0, graded between whole radii (the pen narrowed by 2 r)."""
    return _graded(x, radius, np.minimum)


def _fine(x: np.ndarray) -> np.ndarray:
    """A cropped ink picture (peak 1) resized so that its larger side is ``FINE`` pixels (Lanczos, aspect kept)."""
    from PIL import Image

    h, w = x.shape
    scale = FINE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = Image.fromarray(np.ascontiguousarray(x, dtype=np.float32)).resize(size, resample=Image.Resampling.LANCZOS)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def _crop(x: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    rows, cols = np.flatnonzero((x > threshold).any(axis=1)), np.flatnonzero((x > threshold).any(axis=0))
    if rows.size == 0:
        return x[:0, :0]
    return x[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _width(fine: np.ndarray) -> float:
    """Pen width A / L of a picture whose ink box has its larger side ``FINE``, in pixels of that picture."""
    peak = float(fine.max())
    if peak <= 0:
        return 0.0
    length = _line_length(thin(fine > 0.5 * peak))
    return float(fine.sum() / peak) / max(length, 1.0)


def stroke_width(image: np.ndarray) -> float:
    """The pen width of one digit picture (2-D, light ink on a dark background) in pixels of MNIST's frame:
    w = A / L at a scale where the ink's box has its larger side 60 px, times 20/60.

    Raises ValueError for a picture without ink."""
    x = np.asarray(image, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"image must be a 2-D grey array, got shape {x.shape}")
    x = _crop(np.nan_to_num(x))
    if x.size == 0 or x.max() <= 0:
        raise ValueError("expected a picture with ink (values above 0), found none")
    return _width(_fine(x / x.max())) * BOX / FINE


def checked_width(width: object) -> float:
    """``width`` as a float, or a one-line error: a pen width must be a number of pixels in (0, 10)."""
    if isinstance(width, bool) or not isinstance(width, Real):
        raise TypeError(f"stroke width must be a number of pixels, got {type(width).__name__}")
    if not (math.isfinite(width) and 0 < width < BOX / 2):
        raise ValueError(f"stroke width must be a number of pixels in (0, {BOX // 2}), got {width!r}")
    return float(width)


def _changed(fine: np.ndarray, d: float) -> tuple[np.ndarray, float]:
    """The picture with its pen widened by d (narrowed for d < 0), cropped, and the pen it then has in MNIST's frame."""
    out = _crop(grey_dilation(fine, d / 2) if d > 0 else grey_erosion(fine, -d / 2))
    if out.size == 0 or out.max() <= 0:
        return out, 0.0
    return out, _width(out) * BOX / max(out.shape)


def normalise_strokes(x: np.ndarray, width: float = MNIST_STROKE_WIDTH) -> np.ndarray:
    """A cropped ink picture (2-D, ink in (0, 1], peak 1) redrawn with a pen ``width`` pixels wide in MNIST's
    frame, returned cropped to its ink, peak 1, with its larger side about ``FINE`` (60) pixels.

    At that scale the pen is w = A / L and the ink's box B = 60; grey dilation (erosion) by a disk of radius d/2
    widens (narrows) both by d, so after the box is scaled to 20 px the pen is 20 (w + d) / (B + d), which equals
    ``width`` for d = (width B - 20 w) / (20 - width). The box of a slanted or short stroke changes by less than
    d, so d is then corrected twice, d += (width - w_d) (B + d) / 20, with w_d the pen measured after the change;
    the d whose pen comes closest is kept; abs(d) <= 24. An erosion that would leave less than half the centre
    line is not made (the picture is returned as it is, at the fine scale)."""
    width = checked_width(width)
    fine = _fine(x)
    w = _width(fine)
    if w <= 0:
        return fine
    b = float(max(fine.shape))
    line = _line_length(thin(fine > 0.5))
    d = float(np.clip((width * b - BOX * w) / (BOX - width), -MAX_CHANGE, MAX_CHANGE))
    best, best_error = fine, abs(w * BOX / b - width)
    for _ in range(3):
        out, got = _changed(fine, d)
        if got <= 0 or (d < 0 and _line_length(thin(out > 0.5 * out.max())) < 0.5 * line):
            break  # the pen cannot be narrowed that far: the digit would fall apart
        if abs(got - width) < best_error:
            best, best_error = out, abs(got - width)
        if best_error < 0.05:
            break
        d = float(np.clip(d + (width - got) * max(out.shape) / BOX, -MAX_CHANGE, MAX_CHANGE))
    return best / best.max()
