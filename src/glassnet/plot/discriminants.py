"""What the labels buy: the leading discriminant directions of LDA beside the leading principal components."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet.plot._base import WEIGHT_CMAP, as_images, as_labels, check_count, finish, new_figure
from glassnet.plot.pictures import class_scatter

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def centroid_accuracy(Z: np.ndarray, y: np.ndarray) -> float:
    """Share of the points ``Z`` nearer (Euclidean) to their own class's mean than to any other's."""
    classes = np.unique(y)
    means = np.stack([Z[y == c].mean(axis=0) for c in classes])
    d2 = ((Z[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    return float(np.mean(classes[d2.argmin(axis=1)] == y))


def _robust_limits(ax: Any, Z: np.ndarray) -> int:
    """Axis limits around the middle 99.6% of ``Z`` on each axis (a few outliers would squeeze the rest into a
    corner, as a held-out digit inking a pixel LDA saw blank can); returns how many points fall outside."""
    lo, hi = np.percentile(Z, [0.2, 99.8], axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-12)
    lo, hi = lo - pad, hi + pad
    outside = int(np.sum(np.any((Z < lo) | (Z > hi), axis=1)))
    if outside:
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
    return outside


def discriminants(X: Any, y: Any, path: str | os.PathLike | None = None, shape: tuple[int, int] = (28, 28),
                  max_points: int = 2000, X_test: Any = None, y_test: Any = None) -> Figure:
    """LDA's two leading discriminant directions, their patterns, and PCA's two leading components as images
    (top), and the samples projected on each pair of axes (bottom).

    Both are fitted on ``X`` (n, h*w) with labels ``y``. LDA's directions are the columns ``w`` of
    ``scalings_``, those of largest between-class to within-class variance ``w^T S_B w / w^T S_W w`` (titled
    with their share of the between-class variance): they weigh most the pixels that hardly vary within a
    class, so their colour scale stops at the 99th percentile of ``|w|``. Their patterns ``Sigma_W w``
    (``Sigma_W`` the within-class covariance; Haufe et al., 2014) show how the pixels move with each
    discriminant coordinate, the picture to set beside PCA's components ``v``, for which ``Sigma v = lambda v``
    is the pattern itself (titled with their share of the total variance). Each image has its own scale,
    symmetric about 0 (red > 0, blue < 0; a direction's sign and length are arbitrary). The scatters show the
    first ``max_points`` samples of ``X_test`` (held-out samples with labels ``y_test``; default ``X`` itself),
    titled with the share of them nearer to their own class's mean than to any other's in that plane; the axes
    hold the middle 99.6% of the points on each, and the title counts those left outside.
    """
    from glassnet.decomposition import LDA, PCA

    images = as_images(X, shape, "X")
    h, w = images.shape[1:]
    labels = as_labels(y, "y")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"X and y must have the same length, got {images.shape[0]} and {labels.shape[0]}")
    if np.unique(labels).size < 3:
        raise ValueError(f"two discriminant axes need at least 3 classes, got {np.unique(labels).size}")
    A = images.reshape(images.shape[0], h * w)
    lda, pca = LDA(n_components=2).fit(A, labels), PCA(2, svd="full").fit(A)
    L = lda.scalings_[:, :2].astype(float)
    if L.shape[1] < 2:
        raise ValueError(f"X has {L.shape[1]} discriminant direction(s); two are needed")
    index = np.searchsorted(lda.classes_, labels)
    Xc = A - lda.means_.astype(float)[index]
    pattern = Xc.T @ (Xc @ L) / A.shape[0]  # Sigma_W w, without forming the d x d Sigma_W
    between, total = lda.explained_variance_ratio_, pca.explained_variance_ratio_
    tiles = [(f"LDA $w_{i + 1}$", L[:, i], f"{100 * between[i]:.1f}% of between", 99.0) for i in range(2)]
    tiles += [(f"LDA $\\Sigma_W w_{i + 1}$", pattern[:, i], "its pattern", 100.0) for i in range(2)]
    tiles += [(f"PC {i + 1}", pca.components_[i], f"{100 * total[i]:.1f}% of total", 100.0) for i in range(2)]
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test go together: pass both or neither")
    held_out = X_test is not None
    T, t = (as_images(X_test, shape, "X_test").reshape(-1, h * w), as_labels(y_test, "y_test")) if held_out else (
        A, labels)
    if t.shape[0] != T.shape[0]:
        raise ValueError(f"X_test and y_test must have the same length, got {T.shape[0]} and {t.shape[0]}")
    m = min(T.shape[0], check_count(max_points, "max_points"))
    shown = [("LDA-2", lda.transform(T[:m])), ("PCA-2", pca.transform(T[:m]))]

    fig = new_figure(9.0, 7.0)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 2.4])
    for ax, (title, v, note, q) in zip(top.subplots(1, len(tiles)), tiles, strict=True):
        image = np.asarray(v, dtype=float).reshape(h, w)
        vmax = float(np.percentile(np.abs(image), q)) or float(np.abs(image).max()) or 1.0
        ax.imshow(image, cmap=WEIGHT_CMAP, vmin=-vmax, vmax=vmax, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{title}\n{note}", fontsize=8)
    top.suptitle("directions as images (red > 0, blue < 0, each on its own scale; w clipped at its 99th "
                 "percentile)", fontsize=9)
    for ax, (name, Z) in zip(bottom.subplots(1, 2), shown, strict=True):
        Z = np.asarray(Z, dtype=float)
        class_scatter(ax, Z, t[:m])
        ax.set_xlabel(f"{name}: axis 1")
        ax.set_ylabel(f"{name}: axis 2")
        outside = _robust_limits(ax, Z)
        note = f"; {outside} off the axes" if outside else ""
        ax.set_title(f"{name}: {100 * centroid_accuracy(Z, t[:m]):.1f}% nearest their class mean{note}",
                     fontsize=9)
    what = "held-out samples" if held_out else "samples"
    bottom.suptitle(f"{m:,} {what} projected (LDA and PCA fitted on {A.shape[0]:,})", fontsize=10)
    return finish(fig, path)
