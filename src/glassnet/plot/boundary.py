"""Decision boundaries of 2-D classifiers, and how they move while the network trains."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet.plot._base import (
    NEGATIVE,
    POSITIVE,
    WEIGHT_CMAP,
    as_labels,
    check_count,
    finish,
    grid_shape,
    new_figure,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def class_probabilities(model: Any, P: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """(m, k) class probabilities, k >= 2, of any classifier at the points P (m, d).

    A glassnet model's ``predict``: one sigmoid output p gives [1 - p, p]; k outputs are taken as
    probabilities when they lie in [0, 1] (rows renormalised), else as scores turned into softmax
    probabilities. Other objects: ``predict_proba`` when they have one, else ``predict``, whose integer
    labels become one-hot rows.
    """
    if not hasattr(model, "layers") and hasattr(model, "predict_proba"):
        out = np.asarray(model.predict_proba(P), dtype=float)
    elif hasattr(model, "predict"):
        out = np.asarray(model.predict(P))
    else:
        raise ValueError(f"expected a model with predict(X), got {type(model).__name__}")
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        out = out.reshape(-1)
        if out.dtype.kind in "biu":
            k = max(n_classes, int(out.max(initial=0)) + 1)
            return np.eye(k)[as_labels(out, "predicted labels")]
        p = np.clip(out.astype(float), 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)
    if out.ndim != 2:
        raise ValueError(f"predict must return (m,) or (m, k) outputs, got shape {out.shape}")
    out = out.astype(float)
    if out.min() >= 0.0 and out.max() <= 1.0:
        return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
    e = np.exp(out - out.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _check_xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must hold 2-D points, shape (n, 2), got shape {X.shape}")
    y = as_labels(y, "y")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y must have the same length, got {X.shape[0]} and {y.shape[0]}")
    return X, y


def _grid(X: np.ndarray, resolution: int, margin: float = 0.25) -> tuple[np.ndarray, list[float]]:
    """Points of a resolution x resolution grid over the data (plus ``margin`` of its span), and extent."""
    resolution = check_count(resolution, "resolution")
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    lo, hi = lo - pad, hi + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    return np.column_stack([gx.ravel(), gy.ravel()]), [lo[0], hi[0], lo[1], hi[1]]


LEVELS = 10
"""Probability shading comes in flat bands of 1/LEVELS: easy to read off, and small files."""


def _point_colours(k: int) -> list[str]:
    return [NEGATIVE, POSITIVE] if k == 2 else [f"C{c % 10}" for c in range(k)]


def _draw(ax: Axes, probs: np.ndarray, extent: list[float], X: np.ndarray, y: np.ndarray, point_size: float):
    """Shade ``probs`` (r, r, k) over ``extent``, draw boundary lines and points; return the shading."""
    from matplotlib.colors import to_rgb

    k = probs.shape[-1]
    colours = _point_colours(k)
    if k == 2:
        gx = np.linspace(extent[0], extent[1], probs.shape[1])
        gy = np.linspace(extent[2], extent[3], probs.shape[0])
        im = ax.contourf(gx, gy, probs[..., 1], levels=np.linspace(0.0, 1.0, LEVELS + 1), cmap=WEIGHT_CMAP,
                         vmin=0.0, vmax=1.0, alpha=0.7)
        ax.contour(gx, gy, probs[..., 1], levels=[0.5], colors="k", linewidths=1.2)
    else:
        winner = probs.argmax(axis=-1)
        conf = (probs.max(axis=-1) - 1.0 / k) / (1.0 - 1.0 / k)
        conf = np.minimum(np.floor(conf * LEVELS / 2), LEVELS / 2 - 1) / (LEVELS / 2 - 1)  # flat bands
        base = np.array([to_rgb(c) for c in colours])[winner]
        rgb = 1.0 + (base - 1.0) * (0.15 + 0.5 * conf[..., None])
        im = ax.imshow(rgb, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
        ax.contour(winner, levels=np.arange(k - 1) + 0.5, origin="lower", extent=extent, colors="k",
                   linewidths=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=[colours[c] for c in y], s=point_size, edgecolors="k", linewidths=0.5)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    return im


def _point_size(n: int) -> float:
    return 60.0 if n <= 20 else 22.0 if n <= 300 else 8.0


def decision_boundary(model: Any, X: Any, y: Any, path: str | os.PathLike | None = None,
                      resolution: int = 200) -> Figure:
    """A 2-D classifier's regions: the plane shaded by predicted probability, the boundary drawn in black,
    and the samples (X, y) on top.

    Two classes (one sigmoid output, or two outputs): colour shows P(class 1) from blue (0) to red (1) and the
    line is P = 1/2. k classes (softmax): each region takes its class colour, paler where the network is less
    sure. ``model`` is a glassnet model or anything with ``predict`` (or ``predict_proba``).
    """
    X, y = _check_xy(X, y)
    P, extent = _grid(X, resolution)
    n_classes = max(2, int(y.max(initial=1)) + 1)
    probs = class_probabilities(model, P, n_classes)
    k = probs.shape[1]
    if k < n_classes:
        raise ValueError(f"y has labels up to {n_classes - 1} but the model predicts only {k} classes")
    acc = float(np.mean(class_probabilities(model, X, n_classes).argmax(axis=1) == y))
    fig = new_figure(5.0 if k == 2 else 4.4, 4.0)
    ax = fig.subplots()
    im = _draw(ax, probs.reshape(resolution, resolution, k), extent, X, y, _point_size(X.shape[0]))
    if k == 2:
        fig.colorbar(im, ax=ax, label="P(class 1)", shrink=0.85)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(f"decision boundary, {k} classes\naccuracy {100 * acc:.1f}% on the points shown", fontsize=9)
    return finish(fig, path)


def boundary_evolution(build_or_model: Any, X: Any, y: Any, epochs: int, fit_kwargs: dict | None = None,
                       path: str | os.PathLike | None = None, frames: int = 12, resolution: int = 100,
                       fps: float = 3.0) -> Figure:
    """Train a model on (X, y) and snapshot its decision boundary at ``frames`` evenly spaced epochs,
    from the untrained network (epoch 0) to the end of training.

    ``build_or_model`` is a compiled model or a function returning one; the model is trained in place by a
    single ``fit(X, y, epochs=epochs, **fit_kwargs)`` (``verbose`` defaults to 0; callbacks such as
    EarlyStopping may be passed), so its ``history`` is that run's. A ``path`` ending in ".gif" gets an
    animation (one frame per snapshot, ``fps`` frames a second, the last held for a second); any other path
    (or none) gets one PNG grid of the snapshots. Returns the grid, or for a GIF the figure of its last frame.
    """
    from glassnet.train.callbacks import Callback

    X, y = _check_xy(X, y)
    epochs, frames = check_count(epochs, "epochs"), check_count(frames, "frames")
    model = build_or_model
    if callable(model) and not hasattr(model, "fit"):
        model = model()
    if not hasattr(model, "fit"):
        raise ValueError("build_or_model must be a model with fit or a function returning one, "
                         f"got {type(model).__name__}")
    P, extent = _grid(X, resolution)
    n_classes = max(2, int(y.max(initial=1)) + 1)
    wanted = set(np.unique(np.round(np.linspace(0, epochs, frames)).astype(int)).tolist())
    shots: list[tuple[int, np.ndarray, dict[str, float]]] = []

    def snap(epoch: int, logs: dict[str, float]) -> None:
        probs = class_probabilities(model, P, n_classes).reshape(resolution, resolution, -1)
        shots.append((epoch, probs, dict(logs)))

    class _Snapshot(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
            if epoch + 1 in wanted:
                snap(epoch + 1, logs)

    snap(0, {})
    kwargs = {"verbose": 0, **(fit_kwargs or {})}
    kwargs["callbacks"] = [*kwargs.get("callbacks", ()), _Snapshot()]
    history = model.fit(X, y, epochs=epochs, **kwargs)
    ran = len(getattr(history, "epoch", [])) or epochs
    last_logs = {k: v[-1] for k, v in getattr(history, "history", {}).items() if v}
    if shots[-1][0] == ran:
        shots.pop()
    snap(ran, last_logs)  # the final weights (EarlyStopping may have restored its best ones)

    def title(epoch: int, logs: dict[str, float]) -> str:
        text = f"epoch {epoch}"
        if "loss" in logs:
            text += f"  loss {logs['loss']:.3f}"
        if "accuracy" in logs:
            text += f"  acc {logs['accuracy']:.2f}"
        return text

    size = _point_size(X.shape[0])
    if path is not None and Path(path).suffix.lower() == ".gif":
        return _animate(shots, extent, X, y, size, title, Path(path), fps)
    rows, cols = grid_shape(len(shots), max_cols=4)
    fig = new_figure(2.3 * cols, 2.3 * rows + 0.3)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (epoch, probs, logs) in zip(axes.flat, shots, strict=False):
        _draw(ax, probs, extent, X, y, size * 0.5)
        ax.set_title(title(epoch, logs), fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.flat[len(shots):]:
        ax.set_axis_off()
    fig.suptitle("decision boundary during training", fontsize=10)
    return finish(fig, path)


def _animate(shots: list, extent: list[float], X: np.ndarray, y: np.ndarray, size: float,
             title: Callable[[int, dict[str, float]], str], path: Path, fps: float) -> Figure:
    from matplotlib.animation import PillowWriter

    fig = new_figure(4.0, 4.0, layout=None)
    fig.subplots_adjust(left=0.12, right=0.96, bottom=0.1, top=0.92)
    ax = fig.subplots()
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi=fig.dpi):
        for epoch, probs, logs in shots:
            ax.clear()
            _draw(ax, probs, extent, X, y, size)
            ax.set_title(title(epoch, logs), fontsize=9)
            writer.grab_frame()
        for _ in range(max(0, int(round(fps)) - 1)):  # hold the final picture for about a second
            writer.grab_frame()
    return fig
