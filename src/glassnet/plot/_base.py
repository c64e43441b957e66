"""Shared plumbing: the lazy matplotlib import, figure creation on the Agg canvas, saving, input checks."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet._base.checks import check_labels
from glassnet._base.extras import require_extra
from glassnet.metrics import to_labels

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 90
"""Resolution of every figure (and of the PNG written from it): small files, crisp enough on screen."""

POSITIVE = "#b2182b"  # the red end of "RdBu_r": w > 0
NEGATIVE = "#2166ac"  # the blue end of "RdBu_r": w < 0
WEIGHT_CMAP = "RdBu_r"  # diverging, white at 0


def mpl() -> ModuleType:
    """The ``matplotlib`` module, imported on first use; else a one-line ImportError naming the extra."""
    return require_extra("matplotlib", "plot", "glassnet.plot")


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A Figure of ``width`` x ``height`` inches drawn by the Agg canvas, never registered with pyplot.

    No GUI backend is ever loaded (headless machines work, an interactive session keeps its own backend),
    and no global figure list holds on to it: the figure is freed when the caller drops it. In Jupyter it
    shows itself inline (``glassnet.plot._figure.Figure._repr_png_``).
    """
    mpl()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from glassnet.plot._figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save ``fig`` to ``path`` (format from its suffix, else PNG; parent folders created); return ``fig``."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=fig.dpi, format=path.suffix[1:].lower() or "png")
    return fig


def history_dict(history: Any) -> tuple[dict[str, list[float]], dict[str, int], np.ndarray]:
    """(per-epoch values, events, 1-based epoch numbers) from a History or a plain dict of lists."""
    values = getattr(history, "history", history)
    if not isinstance(values, dict):
        raise ValueError("history must be a History or a dict of per-epoch lists, "
                         f"got {type(history).__name__}")
    events = dict(getattr(history, "events", {}) or {})
    n = max((len(v) for v in values.values()), default=0)
    if n == 0:
        raise ValueError("history is empty: it holds no per-epoch values (train with fit first)")
    epoch = getattr(history, "epoch", None)
    if epoch is not None and len(epoch) == n:
        return values, events, np.asarray(epoch, dtype=float) + 1
    return values, events, np.arange(1.0, n + 1)


def as_labels(y: Any, name: str) -> np.ndarray:
    """Class labels as int64 (n,); 2-D network outputs become labels (argmax, or a >= 0.5 for one column)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.dtype.kind in "biuf":
        y = to_labels(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels (or 2-D network outputs), got shape {y.shape}")
    return check_labels(y, None, name).copy()


def as_images(X: Any, shape: tuple[int, int], name: str) -> np.ndarray:
    """Rows of ``X`` (n, h*w) or images (n, h, w) as a float array (n, h, w)."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {X.dtype}")
    h, w = (int(s) for s in shape)
    if X.ndim >= 2 and int(np.prod(X.shape[1:])) == h * w:
        return X.reshape(X.shape[0], h, w).astype(float, copy=False)
    raise ValueError(f"{name} must hold images of {h}x{w} = {h * w} values each, got shape {X.shape}")


def grid_shape(n: int, max_cols: int | None = None) -> tuple[int, int]:
    """(rows, cols) of a near-square grid for ``n`` tiles."""
    cols = max(1, int(np.ceil(np.sqrt(n))))
    if max_cols is not None:
        cols = min(cols, max_cols)
    return max(1, int(np.ceil(n / cols))), cols


def check_count(value: int, name: str) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value}")
    return int(value)
