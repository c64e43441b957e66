"""How well does a digit recogniser read digits that are not MNIST's? MNIST test digits are distorted the way
people's pictures differ from MNIST (thicker and thinner strokes, tilted up to 20 degrees, shifted or off-centre
in a larger picture, scanned at 8x8, 12x12 or 16x16 and enlarged, blurred, dark ink on grey paper with noise,
redrawn with a round pen as the playground's pad draws), then read through the preprocessing ``glassnet
predict`` uses (``glassnet.images.preprocess_digit``: crop to the ink, scale to 20 px, centre of mass to the
middle).

    python examples/distorted_digits.py model.npz [other.npz ...] --data-dir ../shared/datasets/mnist [--n 2000]
        [--markdown] [--normalise-strokes] [--only NAME,...]

The table gives, for each kind of distortion and each model, the accuracy on the distorted 28x28 images as they
are (where they are 28x28) and after the preprocessing (with ``--normalise-strokes``, also after the
preprocessing with the pen brought to MNIST's width: ``preprocess_digit(img, stroke_width=MNIST_STROKE_WIDTH)``).
Needs Pillow (``pip install 'glassnet[image]'``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

import glassnet as gn
from glassnet.data.images import ImageError, preprocess_digit
from glassnet.data.strokes import MNIST_STROKE_WIDTH, thin
from glassnet.datasets import mnist
from glassnet.nn.augment import blur_matrix


def grey_morphology(images: np.ndarray, size: int, op: Callable[..., np.ndarray]) -> np.ndarray:
    """Grey dilation (op = np.maximum) or erosion (np.minimum) of (n, 28, 28) images by a size x size square:
    each pixel becomes the max (min) of the size x size window whose top-left corner it is, centred."""
    lo = (size - 1) // 2
    pad = np.pad(images, ((0, 0), (lo, size - 1 - lo), (lo, size - 1 - lo)))
    out = pad[:, :28, :28].copy()
    for dy in range(size):
        for dx in range(size):
            op(out, pad[:, dy:dy + 28, dx:dx + 28], out=out)
    return out


def low_resolution(images: np.ndarray, side: int = 8) -> np.ndarray:
    """Each image reduced to side x side (box filter) and enlarged back to 28x28 (bilinear), as a picture
    scanned at a low resolution and blown up."""
    from PIL import Image

    out = np.empty_like(images)
    for i, img in enumerate(images):
        small = Image.fromarray(img).resize((side, side), Image.Resampling.BOX)
        out[i] = np.asarray(small.resize((28, 28), Image.Resampling.BILINEAR))
    return np.clip(out, 0.0, 1.0)


def off_centre(images: np.ndarray, rng: np.random.Generator, canvas: int = 56) -> np.ndarray:
    """Each digit pasted at a random place of a blank canvas x canvas picture (a photo with the digit off to
    one side)."""
    out = np.zeros((images.shape[0], canvas, canvas), images.dtype)
    for i, img in enumerate(images):
        top, left = rng.integers(0, canvas - 28, 2)
        out[i, top:top + 28, left:left + 28] = img
    return out


def paper_photo(images: np.ndarray, rng: np.random.Generator, paper: float = 0.85, ink: float = 0.7,
                noise: float = 0.05) -> np.ndarray:
    """Dark ink on grey paper with noise, as a photograph: paper - ink x + N(0, noise^2)."""
    return np.clip(paper - ink * images + rng.normal(0.0, noise, images.shape).astype(images.dtype), 0, 1)


def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    """Each image convolved with a Gaussian of width sigma pixels (K X K^T, K's rows summing to 1): out of focus."""
    k = blur_matrix(28, sigma).astype(images.dtype)
    return k @ images @ k.T


def round_pen(lines: np.ndarray, width: float, scale: int = 4) -> np.ndarray:
    """Centre lines (n, 28, 28) redrawn with a round pen ``width`` pixels across, as the playground's pad draws
    (a canvas line with round caps): on a grid ``scale`` times finer, every point within width/2 of a line
    point or of a segment between neighbouring points is ink; then each scale x scale block is averaged
    (the pen's soft edge)."""
    n, h, w = lines.shape
    fine = np.zeros((n, h * scale, w * scale), bool)
    centre = scale // 2
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1), (1, -1)):  # each point, and half-way to each neighbour
        if (dy, dx) == (0, 0):
            mid = lines
        else:
            other = np.zeros_like(lines)
            other[:, :h - dy, max(0, -dx):w - max(0, dx)] = lines[:, dy:, max(0, dx):w + min(0, dx)]
            mid = lines & other
        for t in range(1, scale) if (dy, dx) != (0, 0) else (0,):
            ys, xs = np.nonzero(mid.reshape(n * h, w))
            fine[ys // h, (ys % h) * scale + centre + dy * t, xs * scale + centre + dx * t] = True
    r = width * scale / 2
    span = int(np.ceil(r))
    out = np.zeros_like(fine)
    pad = np.pad(fine, ((0, 0), (span, span), (span, span)))
    for oy in range(-span, span + 1):
        for ox in range(-span, span + 1):
            if oy * oy + ox * ox <= r * r:
                out |= pad[:, span + oy:span + oy + h * scale, span + ox:span + ox + w * scale]
    return out.reshape(n, h, scale, w, scale).mean(axis=(2, 4)).astype(np.float32)


def distortions(images: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The distorted versions of (n, 28, 28) images, by the name of the distortion."""
    rng = np.random.default_rng(seed)
    n = images.shape[0]
    sign = rng.choice([-1.0, 1.0], n)
    flat = images.reshape(n, 784)
    rotated = {f"rotated {d} degrees": gn.warp(flat, rotation=d * sign).reshape(n, 28, 28)
               for d in (5, 10, 15, 20)}
    shifted = gn.warp(flat, shift=rng.choice([-1.0, 1.0], (n, 2)) * rng.integers(3, 6, (n, 2))).reshape(n, 28, 28)
    lines = thin(images > 0.5)
    return {
        "none": images,
        "thicker strokes (grey dilation 2x2)": grey_morphology(images, 2, np.maximum),
        "much thicker strokes (grey dilation 3x3)": grey_morphology(images, 3, np.maximum),
        "very much thicker strokes (grey dilation 4x4)": grey_morphology(images, 4, np.maximum),
        "thinner strokes (grey erosion 2x2)": grey_morphology(images, 2, np.minimum),
        "slightly thinner strokes (mean of the digit and its erosion 2x2)":
            (images + grey_morphology(images, 2, np.minimum)) / 2,
        **rotated,
        "shifted 3-5 px in x and y": shifted,
        "off-centre in a 56x56 picture": off_centre(images, rng),
        "small, off-centre in a 112x112 picture": off_centre(images, rng, canvas=112),
        "28x28 reduced to 8x8 and enlarged back": low_resolution(images),
        "28x28 reduced to 12x12 and enlarged back": low_resolution(images, 12),
        "28x28 reduced to 16x16 and enlarged back": low_resolution(images, 16),
        "blurred (Gaussian, sigma 1 px)": blurred(images, 1.0),
        "blurred (Gaussian, sigma 1.5 px)": blurred(images, 1.5),
        "dark on light grey paper, noise": paper_photo(images, rng),
        "dark on mid-grey paper, strong noise": paper_photo(images, rng, paper=0.6, ink=0.45, noise=0.1),
        **{f"redrawn with a round pen {w:g} px wide": round_pen(lines, w) for w in (1.5, 2.5, 3.5, 4.5)},
    }


def preprocessed(images: np.ndarray, stroke_width: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``preprocess_digit`` of each image, (n, 784), and whether it found ink: a picture in which it finds no
    digit (a thin digit erased by a thinner pen) is read as blank and counts as wrong."""
    out = np.zeros((images.shape[0], 784), np.float32)
    found = np.ones(images.shape[0], bool)
    for i, img in enumerate(images):
        try:
            out[i] = preprocess_digit(img, stroke_width=stroke_width)
        except ImageError:
            found[i] = False
    return out, found


def accuracy(model: gn.Sequential, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(X).argmax(axis=1) == y))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="model files written by glassnet train")
    p.add_argument("--data-dir", help="folder with the full MNIST (default: the embedded sample)")
    p.add_argument("--n", type=int, default=2000, help="test digits per distortion (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--normalise-strokes", action="store_true",
                   help=f"a third column per model: preprocessed, the pen brought to MNIST's {MNIST_STROKE_WIDTH} px")
    p.add_argument("--only", help="comma-separated distortion names (default: all)")
    args = p.parse_args()
    models = [gn.load(path) for path in args.models]
    X, y = mnist.load("test", args.data_dir, sample=args.data_dir is None, verbose=False)
    X, y = X[:args.n], y[:args.n]
    kinds = ["as it is", "preprocessed"] + ["preprocessed + strokes normalised"] * args.normalise_strokes
    header = ["distortion"] + [f"{path}: {kind}" for path in args.models for kind in kinds]
    only = None if args.only is None else set(args.only.split(","))
    rows = []
    for name, distorted in distortions(X.reshape(-1, 28, 28), args.seed).items():
        if only is not None and name not in only:
            continue
        pre, found = preprocessed(distorted)
        if args.normalise_strokes:
            pen, pen_found = preprocessed(distorted, MNIST_STROKE_WIDTH)
        row = [name]
        for model in models:
            raw = distorted.shape[1:] == (28, 28)
            row += [f"{100 * accuracy(model, distorted.reshape(len(y), -1), y):.2f}%" if raw else "-",
                    f"{100 * accuracy(model, pre, np.where(found, y, -1)):.2f}%"]
            if args.normalise_strokes:
                row.append(f"{100 * accuracy(model, pen, np.where(pen_found, y, -1)):.2f}%")
        rows.append(row)
    if args.markdown:
        print("| " + " | ".join(header) + " |\n|---|" + "---:|" * (len(header) - 1))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return 0
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(f"{v:<{widths[0]}}" if i == 0 else f"{v:>{widths[i]}}" for i, v in enumerate(row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
