"""The network itself: its activation functions, and small Dense networks drawn neuron by neuron."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from glassnet.plot._base import NEGATIVE, POSITIVE, WEIGHT_CMAP, finish, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_UNITS = 32
"""network_diagram draws networks whose every layer (the input included) has at most this many units."""


def activation_functions(names: Sequence[Any] | None = None, path: str | os.PathLike | None = None,
                         z_range: tuple[float, float] = (-4.0, 4.0)) -> Figure:
    """Each activation a = f(z) (left) beside its derivative f'(z) (right), two activations per row.

    ``names``: names from ``glassnet.ACTIVATIONS`` or activation instances (e.g. ``LeakyReLU(0.1)``);
    by default every registered activation but softmax and log-softmax. Softmax, when asked for, is shown on the
    two-class slice p_1 = softmax(z, 0)_1 = sigma(z) with dp_1/dz_1 = p_1 (1 - p_1).
    """
    from glassnet.nn.activations import ACTIVATIONS, Softmax, get_activation

    specs = [k for k in ACTIVATIONS if k not in ("softmax", "log_softmax")] if names is None else list(names)
    if not specs:
        raise ValueError("names must list at least one activation")
    acts = [get_activation(s) for s in specs]
    z = np.linspace(float(z_range[0]), float(z_range[1]), 401)
    per_row = 2 if len(acts) > 1 else 1
    rows = int(np.ceil(len(acts) / per_row))
    width, height = 4.2 * per_row, 1.55 * rows + 0.2
    fig = new_figure(width, height, layout=None)  # a fixed grid: many axes make "constrained" slow
    fig.subplots_adjust(left=0.35 / width, right=1 - 0.08 / width, bottom=0.3 / height, top=1 - 0.22 / height,
                        wspace=0.32, hspace=0.42)
    axes = fig.subplots(rows, 2 * per_row, squeeze=False)
    for i, act in enumerate(acts):
        ax_f, ax_d = axes[i // per_row, 2 * (i % per_row)], axes[i // per_row, 2 * (i % per_row) + 1]
        if isinstance(act, Softmax):
            zz = np.column_stack([z, np.zeros_like(z)])
            f = act(zz)[:, 0]
            d, label = f * (1.0 - f), "softmax(z, 0)_1"
        else:
            f, d, label = act(z), act.derivative(z), act.describe()
        ax_f.plot(z, f, color="C0", linewidth=1.6)
        ax_d.plot(z, d, color="C1", linewidth=1.6)
        ax_f.set_title(f"{label}: f(z)", fontsize=8, pad=2)
        ax_d.set_title(f"{label}: f'(z)" + ("  (zero a.e.)" if not act.has_derivative else ""), fontsize=8,
                       pad=2)
        for ax in (ax_f, ax_d):
            ax.axhline(0.0, color="0.75", linewidth=0.6, zorder=0)
            ax.axvline(0.0, color="0.75", linewidth=0.6, zorder=0)
            ax.tick_params(labelsize=6)
            ax.margins(x=0)
    for j in range(len(acts), rows * per_row):
        axes[j // per_row, 2 * (j % per_row)].set_axis_off()
        axes[j // per_row, 2 * (j % per_row) + 1].set_axis_off()
    return finish(fig, path)


def _dense_groups(model: Any) -> list[tuple[Any, Any]]:
    """(Dense layer, last layer before the next Dense) pairs: the second's output is that layer's a (a
    BatchNorm after a Dense layer belongs to it: it normalises the units' z, one value per unit)."""
    from glassnet.nn.layers import Dense
    from glassnet.nn.normalization import BatchNorm

    groups: list[list[Any]] = []
    for layer in getattr(model, "layers", None) or []:
        if isinstance(layer, Dense):
            groups.append([layer, layer])
        elif layer.params and not (groups and isinstance(layer, BatchNorm)):
            raise ValueError(f"network_diagram draws Dense layers only, got {type(layer).__name__}")
        elif groups:
            groups[-1][1] = layer
    if not groups:
        raise ValueError("network_diagram needs a model with Dense layers")
    return [(g[0], g[1]) for g in groups]


def network_diagram(model: Any, x: Any = None, path: str | os.PathLike | None = None) -> Figure:
    """A small Dense network neuron by neuron: edges red for w > 0 and blue for w < 0, their width
    proportional to :math:`|w|`; each neuron's bias b below it (when there is room).

    With an input ``x`` (one sample), ``model.forward(x[None])`` is run and each neuron shows its
    activation a = f(z) for that input, shaded by value. For networks of at most ``MAX_UNITS`` units a layer.
    """
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    groups = _dense_groups(model)
    sizes = [groups[0][0].n_in] + [d.n_out for d, _ in groups]
    if max(sizes) > MAX_UNITS:
        raise ValueError(f"network_diagram is for small networks (at most {MAX_UNITS} units a layer), got "
                         f"layer sizes {sizes}")
    values: list[np.ndarray] | None = None
    if x is not None:
        x = np.asarray(x, dtype=getattr(model, "dtype", np.float64)).reshape(-1)
        if x.shape[0] != sizes[0]:
            raise ValueError(f"x must be one sample of {sizes[0]} values, got {x.shape[0]}")
        model.forward(x[None])
        values = [x.astype(float)] + [np.asarray(last.output, dtype=float)[0] for _, last in groups]

    # Coordinates are inches: layers 1.3 apart, units at most 0.95 apart (less in tall layers).
    tall = max(sizes)
    dx, dy = 1.3, min(0.95, 7.5 / tall)
    r = min(0.25, 0.4 * dy)
    fs = max(4.0, 7.0 * r / 0.25)
    ys = [dy * ((n - 1) / 2.0 - np.arange(n)) for n in sizes]
    wmax = max(float(np.abs(d.W.value).max()) for d, _ in groups) or 1.0
    segments, colours, widths = [], [], []
    for i, (dense, _) in enumerate(groups):
        W = np.asarray(dense.W.value, dtype=float)
        for a, b in np.ndindex(W.shape):
            segments.append([(i * dx, ys[i][a]), ((i + 1) * dx, ys[i + 1][b])])
            colours.append(POSITIVE if W[a, b] > 0 else NEGATIVE)
            widths.append(0.3 + 4.0 * abs(W[a, b]) / wmax * min(1.0, dy / 0.6))
    top = dy * (tall - 1) / 2.0 + r
    xlim, ylim = (-0.65, (len(sizes) - 1) * dx + 0.65), (-top - 0.3, top + 0.75)
    width, height = xlim[1] - xlim[0], ylim[1] - ylim[0]
    fig_w, fig_h = max(3.4, width + 0.2), height + 0.75
    fig = new_figure(fig_w, fig_h, layout=None)
    ax = fig.add_axes((0.5 - width / fig_w / 2, 0.35 / fig_h, width / fig_w, height / fig_h))
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=widths, alpha=0.75, zorder=1))
    vmax = max(float(np.abs(np.concatenate(values)).max()), 1e-12) if values else 1.0
    norm = Normalize(-vmax, vmax)
    cmap = colormaps[WEIGHT_CMAP]
    for i, n in enumerate(sizes):
        for j in range(n):
            centre = (i * dx, ys[i][j])
            face = "white" if values is None else cmap(0.5 + 0.6 * (norm(values[i][j]) - 0.5))
            ax.add_patch(Circle(centre, r, facecolor=face, edgecolor="0.2", linewidth=1.0, zorder=3))
            if values is not None and r >= 0.12:
                ax.text(*centre, f"{values[i][j]:.2f}", ha="center", va="center", fontsize=fs, zorder=4)
            if i > 0 and dy >= 0.6:
                b = float(groups[i - 1][0].b.value[j])
                ax.text(centre[0], centre[1] - r - 0.04, f"b={b:+.2f}", ha="center", va="top",
                        fontsize=fs - 1, color="0.35", zorder=4,
                        bbox={"fc": "white", "ec": "none", "pad": 0.3, "alpha": 0.8})
    heads = ["input"] + [_header(dense, last) for dense, last in groups]
    for i, head in enumerate(heads):
        ax.text(i * dx, top + 0.1, f"{head}\n({sizes[i]})", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_axis_off()
    handles = [Line2D([], [], color=POSITIVE, linewidth=2, label="w > 0"),
               Line2D([], [], color=NEGATIVE, linewidth=2, label="w < 0")]
    fig.legend(handles=handles, loc="lower center", fontsize=7, frameon=False, ncols=2)
    title = f"width ~ |w| (max {wmax:.2f})"
    if values is not None:
        shown = ", ".join(f"{v:.3g}" for v in values[0][:6]) + (", ..." if sizes[0] > 6 else "")
        title = f"activations a for x = [{shown}]\n" + title
    fig.suptitle(title, fontsize=8, y=0.985)
    return finish(fig, path)


def _header(dense: Any, last: Any) -> str:
    act = dense.activation.describe() if dense.activation is not None else ""
    if last is not dense and hasattr(last, "describe"):
        act = last.describe() if not act else f"{act}, {last.describe()}"
    return f"{dense.name}\n{act or 'linear'}"
