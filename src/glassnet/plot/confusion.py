"""Which classes are confused with which: counts (pure NumPy) and their picture."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet import metrics
from glassnet.plot._base import as_labels, finish, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def confusion_counts(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class i predicted as class j (rows true, columns predicted).

    Labels are ints in 0..n_classes-1 (``n_classes`` defaults to the largest label + 1); 2-D network outputs
    are turned into labels (argmax, or a >= 0.5 for one column). Returns an int64 (k, k) array.
    """
    t, p = as_labels(y_true, "y_true"), as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}")
    if n_classes is None:
        n_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    elif int(n_classes) != n_classes or n_classes < 1:
        raise ValueError(f"n_classes must be a positive whole number, got {n_classes}")
    return metrics.confusion_matrix(t, p, int(n_classes))


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None,
                     path: str | os.PathLike | None = None, class_names: list[str] | None = None) -> Figure:
    """The confusion matrix as a heat map: true class down, predicted class across, counts in the cells.

    Colour grows with the count on a square-root scale (so the few errors of a good classifier still show
    beside its large diagonal); the title gives the accuracy trace(C) / sum(C).
    """
    from matplotlib.colors import PowerNorm

    C = confusion_counts(y_true, y_pred, n_classes)
    k = C.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names must name {k} classes, got {len(names)}")
    side = min(7.0, 2.0 + 0.45 * k)
    fig = new_figure(side + 0.8, side)
    ax = fig.subplots()
    vmax = max(int(C.max()), 1)
    im = ax.imshow(C, cmap="Blues", norm=PowerNorm(0.5, vmin=0, vmax=vmax), interpolation="nearest")
    if k <= 20:
        for (i, j), c in np.ndenumerate(C):
            ax.text(j, i, str(c), ha="center", va="center", fontsize=8 if k <= 12 else 6,
                    color="white" if c > 0.45 * vmax else "black")
    ax.set_xticks(range(k), names, fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    n = int(C.sum())
    acc = np.trace(C) / n if n else float("nan")
    ax.set_title(f"accuracy {100 * acc:.1f}%  (n = {n:,})", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="count")
    return finish(fig, path)
