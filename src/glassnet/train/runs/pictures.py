"""The first layer's weights as pictures: one 2-D array per unit, and a grid of them for TensorBoard."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from glassnet.model import Sequential


def first_layer_pictures(model: Sequential, n: int = 32) -> tuple[str, list[np.ndarray]] | None:
    """(layer name, the incoming weights of its first ``n`` units as 2-D arrays) of the first layer with
    weights: a 28x28 picture per unit of a dense layer reading 784 pixels, a column of kernels per
    convolution channel, a (gates, inputs) block per recurrent unit; None for other layers."""
    layer = next((layer for layer in model.layers if layer.params), None)
    if layer is None:
        return None
    if hasattr(layer, "W_x"):  # RNN / LSTM: per unit one row of input weights per gate
        h = layer.n_hidden
        pics = [layer.W_x.value[:, [g * h + j for g in range(layer.n_gates)]].T for j in range(min(n, h))]
    elif getattr(layer, "W", None) is None:
        return None
    elif layer.W.value.ndim == 4:  # Conv2D (C', C, kh, kw): the input channels stacked
        pics = [w.reshape(-1, w.shape[-1]) for w in layer.W.value[:n]]
    elif layer.W.value.ndim == 2:
        W = layer.W.value
        side = math.isqrt(W.shape[0])
        shape = (side, side) if side * side == W.shape[0] else (1, W.shape[0])
        pics = [W[:, j].reshape(shape) for j in range(min(n, W.shape[1]))]
    else:
        return None
    return layer.name, [np.asarray(p, np.float64) for p in pics]


def tile(pictures: list[np.ndarray], columns: int = 8, gap: int = 1) -> np.ndarray:
    """The pictures in a grid, each scaled on its own to [0, 1] with 0.5 for a zero weight
    (0.5 + 0.5 w / max|w|), a grey gap between them."""
    h, w = pictures[0].shape
    columns = min(columns, len(pictures))
    rows = -(-len(pictures) // columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), 0.5, np.float32)
    for k, p in enumerate(pictures):
        m = float(np.abs(p).max())
        r, c = divmod(k, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = 0.5 + 0.5 * p / m if m else 0.5
    return out
