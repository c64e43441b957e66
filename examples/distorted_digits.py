"""How well does a digit recogniser read digits that are not MNIST's? MNIST test digits are distorted the way
people's pictures differ from MNIST (thicker and thinner strokes, tilted, off-centre in a larger picture,
scanned at a low resolution and enlarged), then read through the preprocessing ``glassnet predict`` uses
(``glassnet.images.preprocess_digit``: crop to the ink, scale to 20 px, centre of mass to the middle).

    python examples/distorted_digits.py model.npz [other.npz ...] --data-dir ../shared/datasets/mnist [--n 2000]
        [--markdown]

The table gives, for each kind of distortion and each model, the accuracy on the distorted 28x28 images as they
are (where they are 28x28) and after the preprocessing. Needs Pillow (``pip install 'glassnet[image]'``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

import glassnet as gn
from glassnet.data.images import preprocess_digit
from glassnet.datasets import mnist


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


def paper_photo(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark ink on light grey paper with noise, as a photograph: 0.85 - 0.7 x + N(0, 0.05)."""
    return np.clip(0.85 - 0.7 * images + rng.normal(0.0, 0.05, images.shape).astype(images.dtype), 0, 1)


def distortions(images: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The distorted versions of (n, 28, 28) images, by the name of the distortion."""
    rng = np.random.default_rng(seed)
    n = images.shape[0]
    sign = rng.choice([-1.0, 1.0], n)
    flat = images.reshape(n, 784)
    rotated = {f"rotated {d} degrees": gn.warp(flat, rotation=d * sign).reshape(n, 28, 28) for d in (5, 10, 15)}
    shifted = gn.warp(flat, shift=rng.choice([-1.0, 1.0], (n, 2)) * rng.integers(3, 6, (n, 2))).reshape(n, 28, 28)
    return {
        "none": images,
        "thicker strokes (grey dilation 2x2)": grey_morphology(images, 2, np.maximum),
        "much thicker strokes (grey dilation 3x3)": grey_morphology(images, 3, np.maximum),
        "thinner strokes (grey erosion 2x2)": grey_morphology(images, 2, np.minimum),
        **rotated,
        "shifted 3-5 px in x and y": shifted,
        "off-centre in a 56x56 picture": off_centre(images, rng),
        "28x28 reduced to 8x8 and enlarged back": low_resolution(images),
        "dark on light grey paper, noise": paper_photo(images, rng),
    }


def accuracy(model: gn.Sequential, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(model.predict(X).argmax(axis=1) == y))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="model files written by glassnet train")
    p.add_argument("--data-dir", help="folder with the full MNIST (default: the embedded sample)")
    p.add_argument("--n", type=int, default=2000, help="test digits per distortion (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args()
    models = [gn.load(path) for path in args.models]
    X, y = mnist.load("test", args.data_dir, sample=args.data_dir is None, verbose=False)
    X, y = X[:args.n], y[:args.n]
    header = ["distortion"] + [f"{path}: {kind}" for path in args.models for kind in ("as it is", "preprocessed")]
    rows = []
    for name, distorted in distortions(X.reshape(-1, 28, 28), args.seed).items():
        pre = np.stack([preprocess_digit(img) for img in distorted])
        row = [name]
        for model in models:
            raw = distorted.shape[1:] == (28, 28)
            row += [f"{100 * accuracy(model, distorted.reshape(len(y), -1), y):.2f}%" if raw else "-",
                    f"{100 * accuracy(model, pre, y):.2f}%"]
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
