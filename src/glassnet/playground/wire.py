"""What travels to the browser: rounded numbers, pictures packed as bytes, and one-line errors."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from glassnet.nn.layers import Layer


class ApiError(Exception):
    """A request the server refuses: an HTTP status and a one-line message for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def rounded(a: np.ndarray, digits: int) -> Any:
    """``a`` as nested lists of floats rounded to ``digits`` decimals (a tenth of the JSON of full floats)."""
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def pack_unit(a: np.ndarray) -> str:
    """Values in [0, 1] as base64 bytes 0..255 (row-major), the compact form of a picture."""
    return base64.b64encode(np.clip(np.rint(np.asarray(a) * 255.0), 0, 255).astype(np.uint8).tobytes()).decode()


def pack_signed(a: np.ndarray) -> tuple[str, float]:
    """Values of either sign as bytes with 128 = 0 and 0 / 255 = -m / +m, m = max |a|; returns (bytes, m)."""
    a = np.asarray(a, dtype=np.float64)
    m = float(np.abs(a).max()) if a.size else 0.0
    return pack_unit(0.5 + 0.5 * a / m if m > 0 else np.full(a.shape, 0.5)), m


def unit_picture(layer: Layer, unit: int, image_shape: tuple[int, ...] | None) -> dict[str, Any]:
    """Bias and incoming weights of one unit, shaped to be drawn: a 28x28 picture for units that read
    the pixels, (C, kh, kw) for a convolution channel, (gates, n_in) for a recurrent unit."""
    kind = type(layer).__name__
    if hasattr(layer, "W_x"):  # RNN / LSTM: unit j has one column per gate
        h = layer.n_hidden
        cols = [g * h + unit for g in range(layer.n_gates)]
        w = layer.W_x.value[:, cols].T
        bias: Any = rounded(layer.b.value[cols], 4)
        shape = list(w.shape)
    elif kind == "Maxout":
        cols = slice(unit * layer.pieces, (unit + 1) * layer.pieces)
        w = layer.W.value[:, cols].T
        bias = rounded(layer.b.value[cols], 4)
        shape = [layer.pieces, *(image_shape or (w.shape[1],))]
    elif kind == "DenseTied":  # z = x W_t^T + b: unit j reads row j of its target's W
        w = layer.target.W.value[unit]
        bias = round(float(layer.b.value[unit]), 4)
        shape = list(image_shape or w.shape)
    elif layer.W.value.ndim == 4:  # Conv2D: W (C', C, kh, kw)
        w = layer.W.value[unit]
        bias = round(float(layer.b.value[unit]), 4)
        shape = list(w.shape)
    else:  # Dense (and tied dense layers): column j of W
        w = layer.W.value[:, unit]
        bias = round(float(layer.b.value[unit]), 4)
        shape = list(image_shape or w.shape)
    return {"unit": unit, "bias": bias, "shape": shape, "weights": rounded(np.ravel(w), 4)}
