"""Curves over the epochs of ``fit``: loss and accuracy, and per-layer statistics such as gradient norms."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet.plot._base import finish, history_dict, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_STAT_LABELS = {
    "grad_norm": "||dC/dW||",
    "weight_norm": "||W||",
    "delta_norm": "||delta||",
    "activation_mean": "mean a",
    "activation_std": "std a",
    "dead_fraction": "dead units",
}


def training_curves(history: Any, path: str | os.PathLike | None = None) -> Figure:
    """Loss and accuracy per epoch, training (solid) vs validation (dashed).

    ``history`` is the History returned by ``fit`` (or its ``.history`` dict). When EarlyStopping ran, its
    best epoch (``history.events["best_epoch"]``, 0-based) is marked with a star and a dotted line, and the
    epoch where it stopped is named in the title. A third panel shows the learning rate eta when it changed.
    """
    from matplotlib.ticker import MaxNLocator

    values, events, epochs = history_dict(history)
    panels = [k for k in ("loss", "accuracy") if k in values or f"val_{k}" in values]
    lr = values.get("lr")
    if lr is not None and len(set(lr)) > 1:
        panels.append("lr")
    if not panels:
        raise ValueError(f"history has no loss or accuracy; it has {', '.join(sorted(values))}")
    fig = new_figure(3.6 * len(panels), 3.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    best = events.get("best_epoch")
    best_x = None if best is None or best < 0 else float(best) + 1
    for ax, key in zip(axes, panels, strict=True):
        if key == "lr":
            ax.plot(epochs[:len(lr)], lr, color="0.3")
            if min(lr) > 0 and max(lr) / min(lr) > 10:
                ax.set_yscale("log")
            ax.set_title("learning rate eta")
        else:
            for prefix, style, label in (("", "-", "training"), ("val_", "--", "validation")):
                if prefix + key in values:
                    v = values[prefix + key]
                    ax.plot(epochs[:len(v)], v, style, color="C0" if not prefix else "C1", label=label,
                            marker="o" if len(v) <= 20 else None, markersize=3)
            ax.set_title(key)
        if best_x is not None:
            ax.axvline(best_x, color="0.4", linestyle=":", linewidth=1)
            monitored = values.get(f"val_{key}", values.get(key))
            if key != "lr" and monitored is not None and best < len(monitored):
                ax.plot([best_x], [monitored[best]], "*", color="C3", markersize=11,
                        label=f"best epoch {best_x:.0f}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    stopped = events.get("stopped_epoch")
    if stopped is not None:
        best_text = "" if best_x is None else f", best epoch {best_x:.0f}"
        fig.suptitle(f"early stopping at epoch {stopped + 1}{best_text}", fontsize=10)
    return finish(fig, path)


def gradient_norms(history: Any, path: str | os.PathLike | None = None, stat: str = "grad_norm") -> Figure:
    """Per-layer ``stat`` over the epochs, one line per layer from first (dark) to last (light).

    With the default ``stat="grad_norm"`` this is ||dC/dW^l|| on a log scale, from History keys
    ``"grad_norm/<layer>"`` (train with ``fit(..., record=["grad_norm"])``): in a deep sigmoid network the
    first layers' norms sit orders of magnitude below the last ones' -- the vanishing gradient.
    """
    values, _, epochs = history_dict(history)
    keys = [k for k in values if k.startswith(f"{stat}/")]
    if not keys:
        raise ValueError(f"history has no {stat!r}/<layer> entries; train with fit(..., record=[{stat!r}])")
    from matplotlib import colormaps
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(5.0, 3.4)
    ax = fig.subplots()
    colours = colormaps["viridis"](np.linspace(0.0, 0.85, len(keys)))
    log = stat.endswith("norm")
    for key, colour in zip(keys, colours, strict=True):
        v = np.asarray(values[key], dtype=float)
        if log:
            v = np.where(v > 0, v, np.nan)
        ax.plot(epochs[:len(v)], v, marker="o" if len(v) < 30 else None, markersize=3, color=colour,
                label=key.split("/", 1)[1])
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(_STAT_LABELS.get(stat, stat))
    ax.set_title(f"{_STAT_LABELS.get(stat, stat)} per layer (mean over each epoch's batches)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, title="layer", title_fontsize=8)
    return finish(fig, path)
