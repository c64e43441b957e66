"""Pictures made of pictures: first-layer weights as images, wrong digits, reconstructions, 2-D codes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet.plot._base import WEIGHT_CMAP, as_images, as_labels, check_count, finish, grid_shape, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GAP = 1  # pixels between weight tiles


def first_weights(model_or_W: Any) -> tuple[np.ndarray, str]:
    """The first weights W of a model (or an Autoencoder), a layer, or W itself, with a name for titles:
    (n_in, n_out) for Dense, (C', C, kh, kw) for Conv2D."""
    model = getattr(model_or_W, "model", model_or_W)  # an Autoencoder holds its Sequential in .model
    if hasattr(model, "layers"):
        for layer in model.layers:
            W = getattr(layer, "W", None)
            if W is not None:
                return np.asarray(W.value), layer.name
        raise ValueError("the model has no layer with a weight matrix W (Dense, Maxout or Conv2D)")
    W = getattr(model_or_W, "W", None)
    if W is not None:
        return np.asarray(W.value), str(model_or_W.name)
    W = np.asarray(model_or_W)
    if W.ndim not in (2, 4) or W.dtype.kind not in "biuf":
        raise ValueError(f"expected a model, a layer or a weight array, got {type(model_or_W).__name__} "
                         f"of shape {getattr(W, 'shape', None)}")
    return W, "W"


def weights_as_images(model_or_W: Any, shape: tuple[int, int] = (28, 28),
                      path: str | os.PathLike | None = None, max_tiles: int = 64) -> Figure:
    """One tile per hidden unit j: its incoming weights W[:, j] as an image of ``shape`` -- what the unit
    looks for in the input.

    Red is w > 0 (ink there excites the unit), blue w < 0 (ink there inhibits it), white w = 0, on one colour
    scale symmetric about zero (vmin = -vmax, vmax = max :math:`|w|` over the shown tiles). Units go left to right,
    top to bottom; at most ``max_tiles`` (the first ones) are shown. ``W`` has shape (n_in, n_out) as in a
    Dense layer; a matrix given as (n_out, n_in) is transposed. Conv2D filters W (C', C, kh, kw) on one input
    channel show as kh x kw tiles (``shape`` is then not used).
    """
    from matplotlib import colormaps

    W, name = first_weights(model_or_W)
    what = "filters" if W.ndim == 4 else "weights into units"
    if W.ndim == 4:
        if W.shape[1] != 1:
            raise ValueError(f"filters with {W.shape[1]} input channels cannot be shown as images; pass "
                             f"W[:, c] of one channel c (W has shape {W.shape})")
        shape = W.shape[2:]
        W = W.reshape(W.shape[0], -1).T
    h, w = (int(s) for s in shape)
    if W.ndim != 2:
        raise ValueError(f"expected a 2-D weight matrix (n_in, n_out), got shape {W.shape}")
    if W.shape[0] != h * w and W.shape[1] == h * w:
        W = W.T
    if W.shape[0] != h * w:
        raise ValueError(f"shape {h}x{w} needs {h * w} inputs per unit, got W of shape {W.shape}")
    k = min(W.shape[1], check_count(max_tiles, "max_tiles"))
    tiles = W[:, :k].T.reshape(k, h, w).astype(float)
    rows, cols = grid_shape(k)
    mosaic = np.full((rows * (h + GAP) - GAP, cols * (w + GAP) - GAP), np.nan)
    for j in range(k):
        r, c = divmod(j, cols)
        mosaic[r * (h + GAP):r * (h + GAP) + h, c * (w + GAP):c * (w + GAP) + w] = tiles[j]
    vmax = float(np.abs(tiles).max()) or 1.0
    cmap = colormaps[WEIGHT_CMAP].with_extremes(bad="0.6")
    width = min(9.0, max(3.0, 0.75 * cols + 1.4))
    fig = new_figure(width, max(2.2, (width - 1.1) * mosaic.shape[0] / mosaic.shape[1] + 0.6))
    ax = fig.subplots()
    im = ax.imshow(mosaic, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{name}: {what} 1-{k} of {W.shape[1]}", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="w")
    return finish(fig, path)


def _image_grid(fig: Figure, images: np.ndarray, cols: int, titles: list[str] | None = None,
                row_labels: list[str] | None = None, scale_from: np.ndarray | None = None) -> None:
    """Draw ``images`` (n, h, w) row by row in a grid of ``cols`` columns on one shared grey scale:
    [0, 1] when the values of ``scale_from`` (default: the images) lie in it, else their range."""
    n = images.shape[0]
    rows = int(np.ceil(n / cols))
    ref = images if scale_from is None else scale_from
    lo, hi = float(ref.min()), float(ref.max())
    vmin, vmax = (0.0, 1.0) if lo >= 0.0 and hi <= 1.0 else (lo, hi)
    axes = fig.subplots(rows, cols, squeeze=False,
                        gridspec_kw={"wspace": 0.08, "hspace": 0.45 if titles else 0.08})
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        ax.imshow(images[i], cmap="gray_r", vmin=vmin, vmax=vmax, interpolation="nearest")
        if titles:
            ax.set_title(titles[i], fontsize=8, pad=2)
    if row_labels:
        for r, label in enumerate(row_labels):
            axes[r, 0].set_ylabel(label, fontsize=8)


def misclassified(X: Any, y_true: Any, y_pred: Any, path: str | os.PathLike | None = None,
                  shape: tuple[int, int] = (28, 28), max_images: int = 36) -> Figure:
    """The first ``max_images`` samples the network got wrong, each titled "true -> predicted".

    ``y_pred`` may be labels or the network's outputs (argmax is taken).
    """
    images = as_images(X, shape, "X")
    t, p = as_labels(y_true, "y_true"), as_labels(y_pred, "y_pred")
    if not images.shape[0] == t.shape[0] == p.shape[0]:
        raise ValueError(f"X, y_true and y_pred must have the same length, got {images.shape[0]}, "
                         f"{t.shape[0]} and {p.shape[0]}")
    wrong = np.flatnonzero(t != p)
    shown = wrong[:check_count(max_images, "max_images")]
    if shown.size == 0:
        fig = new_figure(3.0, 1.2)
        fig.text(0.5, 0.5, f"no misclassified samples among {t.shape[0]:,}", ha="center", va="center")
        return finish(fig, path)
    rows, cols = grid_shape(shown.size, max_cols=9)
    fig = new_figure(0.85 * cols + 0.2, 0.95 * rows + 0.45, layout=None)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.45 / (0.95 * rows + 0.45))
    _image_grid(fig, images[shown], cols, [f"{t[i]} \u2192 {p[i]}" for i in shown])
    fig.suptitle(f"{wrong.size:,} of {t.shape[0]:,} misclassified ({100 * wrong.size / t.shape[0]:.1f}%), "
                 "true \u2192 predicted", fontsize=9, y=0.995, va="top")
    return finish(fig, path)


def autoencoder_pictures(originals: Any, reconstructions: Any, path: str | os.PathLike | None = None,
                         shape: tuple[int, int] = (28, 28), max_images: int = 10) -> Figure:
    """Originals x (top row) over the autoencoder's reconstructions x_hat (bottom row), with each
    reconstruction's mean squared error (1/d) ||x - x_hat||^2. Both rows share the originals' grey scale
    (reconstructed values outside it are clipped in the picture, not in the error)."""
    x = as_images(originals, shape, "originals")
    xh = as_images(reconstructions, shape, "reconstructions")
    if x.shape != xh.shape:
        raise ValueError(f"originals and reconstructions must have the same shape, got {x.shape} "
                         f"and {xh.shape}")
    n = min(x.shape[0], check_count(max_images, "max_images"))
    if n == 0:
        raise ValueError("originals holds no images")
    mse = ((x[:n] - xh[:n]) ** 2).mean(axis=(1, 2))
    fig = new_figure(0.85 * n + 0.5, 2.25, layout=None)
    fig.subplots_adjust(left=0.06 if n > 3 else 0.15, right=0.98, bottom=0.02, top=0.86)
    _image_grid(fig, np.concatenate([x[:n], xh[:n]]), n,
                ["" for _ in range(n)] + [f"{e:.3f}" for e in mse], row_labels=["original", "reconstructed"],
                scale_from=x[:n])
    fig.suptitle("originals over reconstructions (per-image mean squared error)", fontsize=9)
    return finish(fig, path)


def codes_2d(Z: Any, y: Any, path: str | os.PathLike | None = None) -> Figure:
    """A 2-D code (an autoencoder's bottleneck, or two principal components) as points coloured by class,
    each class's label written at the median of its codes."""
    Z = np.asarray(Z, dtype=float)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"Z must be 2-D codes of shape (n, 2), got shape {Z.shape}")
    y = as_labels(y, "y")
    if y.shape[0] != Z.shape[0]:
        raise ValueError(f"Z and y must have the same length, got {Z.shape[0]} and {y.shape[0]}")
    fig = new_figure(5.2, 4.4)
    ax = fig.subplots()
    classes = class_scatter(ax, Z, y)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(f"2-D codes of {Z.shape[0]:,} samples by class", fontsize=10)
    if len(classes) <= 10:
        ax.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return finish(fig, path)


def class_scatter(ax: Any, Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Points ``Z`` (n, 2) on ``ax`` coloured by class ``y``, each class's label at the median of its points;
    returns the classes."""
    classes = np.unique(y)
    size = 14 if Z.shape[0] <= 1000 else 4
    for c in classes:
        pts = Z[y == c]
        colour = f"C{c % 10}"
        ax.scatter(pts[:, 0], pts[:, 1], s=size, color=colour, alpha=0.6, linewidths=0, label=str(c))
        mx, my = np.median(pts, axis=0)
        ax.text(mx, my, str(c), fontsize=12, weight="bold", ha="center", va="center", color=colour,
                bbox={"boxstyle": "circle,pad=0.15", "fc": "white", "ec": colour, "alpha": 0.85})
    return classes
