"""What a unit looks for: the input that most excites it, found by gradient ascent (Erhan et al. 2009), with
the regularisers of feature visualisation (Olah, Mordvintsev & Schubert 2017) as objective + transforms:

    h(x)   the unit's pre-activation z_j (a dense unit, an output class's logit); a convolution channel's mean
           activation over its map plus 1% of its largest z (mean z alone is linear in x and asks for a
           uniform image; the largest z gives a silent channel a gradient: its kernel's pattern, where the
           channel came closest to firing); else the layer's output
    step   g = grad h(T(x)) taken at a randomly shifted image T(x) (jitter), shifted back, normalised to unit
           root mean square, smoothed by a Gaussian (blur); then
           x <- clip(x + lr (g - l2 (x - 1/2)), 0, 1)

from a grey image (1/2 plus a little seeded noise). The L2 term pulls unused pixels back to grey, the jitter and
the blur keep the high-frequency patterns that fool a network out of the picture.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.explain._grad import (
    backward,
    check_int,
    check_model,
    check_number,
    explaining,
    forward,
    image_geometry,
    resolve_layer,
)
from glassnet.model import Sequential
from glassnet.nn.layers import Activated
from glassnet.nn.recurrent import LSTM, RNN


def _blur_matrix(m: int, sigma: float, dtype: np.dtype) -> np.ndarray:
    """(m, m) Gaussian smoothing of width ``sigma`` pixels, rows summing to 1 (the edges renormalised)."""
    d = np.arange(m)[:, None] - np.arange(m)[None, :]
    k = np.exp(-0.5 * (d / sigma) ** 2)
    return (k / k.sum(axis=1, keepdims=True)).astype(dtype)


def _units(unit: Any, width: int, name: str) -> np.ndarray:
    arr = np.asarray(unit)
    if arr.dtype.kind not in "iu" or arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"unit must be a unit index or a list of them, got {unit!r}"[:200])
    bad = arr[(arr < 0) | (arr >= width)]
    if bad.size:
        raise ValueError(f"unit must be in 0..{width - 1} for layer {name!r}, got {int(bad.flat[0])}")
    return arr.reshape(-1).astype(np.int64)


def maximize(model: Sequential, layer: Any, unit: Any, steps: int = 200, lr: float = 0.05, l2: float = 1.0,
             blur: float = 1.0, jitter: int = 1, seed: int = 0) -> np.ndarray:
    """The input in [0, 1] that most excites ``unit`` of ``layer`` (an index, a name or the layer): for a unit
    index, one sample of the model's input shape; for a list of units, one per unit, all ascended at once as
    one batch. A unit is an entry of the layer's output's first axis: a dense unit or a class (its z), a
    convolution channel (its mean activation), a recurrent unit (its mean over the steps with
    ``return_sequences``).

    ``steps`` of gradient ascent with step ``lr`` on the normalised gradient, ``l2`` pull towards grey,
    ``blur`` (Gaussian width in pixels of the smoothing of each step, 0: none) and ``jitter`` (random shifts of
    up to that many pixels, 0: none); blur and jitter apply where the input reads as images (see
    :func:`~glassnet.explain.occlusion`). ``seed`` fixes the starting noise and the shifts: the result is the
    same for the same seed.
    """
    model = check_model(model)
    index = resolve_layer(model, layer)
    chosen = model.layers[index]
    out_shape = chosen.output_shape
    axis = len(out_shape) if isinstance(chosen, (RNN, LSTM)) and chosen.return_sequences else 1  # (T, H): units last
    units = _units(unit, int(out_shape[axis - 1]), chosen.name)
    steps = check_int(steps, "steps", 1)
    lr, l2, blur = check_number(lr, "lr"), check_number(l2, "l2"), check_number(blur, "blur")
    jitter = check_int(jitter, "jitter", 0)
    seed = check_int(seed, "seed", 0)
    dtype, shape = model.dtype, model.input_shape
    geometry = image_geometry(model)
    rng = np.random.default_rng(seed)
    k = units.size
    x = np.clip(0.5 + 0.01 * rng.standard_normal((k, *shape)), 0.0, 1.0).astype(dtype)
    into_z = isinstance(chosen, Activated) and chosen.activation is not None
    channels = into_z and len(out_shape) == 3  # mean a + 1% of the largest z of a feature map
    seed_grad = np.zeros((k, *out_shape), dtype)  # d h / d (z or output): 1 / (entries averaged) on the unit
    np.moveaxis(seed_grad, axis, 1)[np.arange(k), units] = 1.0 / (int(np.prod(out_shape)) // out_shape[axis - 1])
    smooth = None
    if geometry is not None:
        c, h, w = geometry
        smooth = (_blur_matrix(h, blur, dtype), _blur_matrix(w, blur, dtype)) if blur > 0 else None
    grey = dtype.type(0.5)
    with explaining(model):
        for _ in range(steps):
            shift = rng.integers(-jitter, jitter + 1, 2) if jitter and geometry is not None else None
            xin = x if shift is None else np.roll(x.reshape(k, c, h, w), tuple(shift), axis=(2, 3)).reshape(x.shape)
            forward(model, xin, upto=index)
            top = seed_grad.copy()
            if channels:
                top = chosen.activation.backward(top)  # d mean(a) / dz
                maps = chosen.z[np.arange(k), units].reshape(k, -1)
                spots = np.unravel_index(maps.argmax(axis=1), out_shape[1:])
                top[(np.arange(k), units, *spots)] += dtype.type(0.01)
            g = backward(model, top, index, into_z)
            g = np.array(g, dtype=dtype).reshape(k, -1)
            if shift is not None:
                g = np.roll(g.reshape(k, c, h, w), tuple(-shift), axis=(2, 3)).reshape(k, -1)
            g /= np.sqrt(np.mean(g * g, axis=1, keepdims=True)) + dtype.type(1e-12)
            if smooth is not None:
                g = (smooth[0] @ g.reshape(k, c, h, w) @ smooth[1].T).reshape(k, -1)
            g -= l2 * (x.reshape(k, -1) - grey)
            x += (lr * g).reshape(x.shape)
            np.clip(x, 0.0, 1.0, out=x)
    return x[0] if np.ndim(unit) == 0 else x
