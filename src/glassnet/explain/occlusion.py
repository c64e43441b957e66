"""Occlusion (Zeiler & Fergus, 2014), as Captum's ``Occlusion``: slide a window over the image, set what it covers
to the baseline, and see how much the target's output drops:

    d_w = f_k(x) - f_k(x with window w set to the baseline),    A_p = mean of d_w over the windows w covering p.

No gradient is taken: it works for any network, at the price of one forward pass per window position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.explain._grad import (
    check_model,
    check_output,
    check_x,
    forward,
    head_values,
    image_geometry,
    n_classes,
    targets,
)
from glassnet.model import Sequential
from glassnet.nn.conv import _pair


def _windows(size: tuple[int, int], window: tuple[int, int], stride: tuple[int, int]) -> list[tuple[slice, slice]]:
    """(rows, cols) slices of every window position, row-major: floor((H - h) / s) + 1 per axis."""
    (h, w), (wh, ww), (sh, sw) = size, window, stride
    return [(slice(i, i + wh), slice(j, j + ww)) for i in range(0, h - wh + 1, sh) for j in range(0, w - ww + 1, sw)]


def occlusion(model: Sequential, X: Any, target: Any = None, window: Any = (4, 4), stride: Any = (2, 2),
              baseline: Any = 0.0, output: str = "logit", shape: Any = None) -> np.ndarray:
    """Occlusion attributions shaped like ``X``: each pixel gets the mean drop f_k(x) - f_k(occluded x) over the
    windows of size ``window`` (every ``stride`` pixels; ints or (h, w) pairs) that cover it; pixels no window
    covers get 0. Windows span all channels.

    Images are read as (C, H, W) from ``shape`` ((H, W) or (C, H, W)), else from the model's input shape or its
    first ``Reshape``, else as 28 x 28 for 784 features. ``baseline``: a number, one sample or one per sample.
    ``target`` and ``output`` as for :func:`~glassnet.explain.saliency`.
    """
    model = check_model(model)
    X, output = check_x(model, X), check_output(output)
    n_classes(model)
    geometry = image_geometry(model, shape)
    if geometry is None:
        raise ValueError(f"occlusion needs images: pass shape=(H, W) for inputs of shape {model.input_shape}")
    c, h, w = geometry
    win, step = _pair(window, "window", 1), _pair(stride, "stride", 1)
    if win[0] > h or win[1] > w:
        raise ValueError(f"window {win} must fit the {h}x{w} images")
    b = np.asarray(baseline)
    if b.dtype.kind not in "biuf" or (b.ndim and b.shape not in (X.shape, X.shape[1:])):
        raise ValueError(f"baseline must be a number, one sample of shape {X.shape[1:]} or an array shaped like "
                         f"X {X.shape}, got {baseline!r}"[:200])
    n = X.shape[0]
    images = X.reshape(n, c, h, w)
    base = np.broadcast_to(b.astype(model.dtype), X.shape).reshape(n, c, h, w)
    slices = _windows((h, w), win, step)
    forward(model, X)
    f_x = head_values(model, X, output).copy()
    k = targets(target, f_x)
    count = np.zeros((h, w), model.dtype)
    for rows, cols in slices:
        count[rows, cols] += 1
    attr = np.zeros_like(images)
    per_batch = max(1, model.inference_batch())
    for i in range(n):
        drops = np.empty(len(slices), model.dtype)
        for start in range(0, len(slices), per_batch):
            block = slices[start:start + per_batch]
            batch = np.repeat(images[i:i + 1], len(block), axis=0)
            for r, (rows, cols) in enumerate(block):
                batch[r, :, rows, cols] = base[i, :, rows, cols]
            batch = batch.reshape(len(block), *model.input_shape)
            forward(model, batch)
            drops[start:start + len(block)] = f_x[i, k[i]] - head_values(model, batch, output)[:, k[i]]
        for d, (rows, cols) in zip(drops, slices, strict=True):
            attr[i, :, rows, cols] += d
    np.divide(attr, count, out=attr, where=count > 0)
    return attr.reshape(X.shape)
