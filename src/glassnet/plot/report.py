"""The set of pictures written after training (``glassnet train --plots DIR``)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.metrics import to_labels
from glassnet.plot.confusion import confusion_matrix
from glassnet.plot.curves import gradient_norms, training_curves
from glassnet.plot.network import MAX_UNITS, _dense_groups, network_diagram
from glassnet.plot.pictures import first_weights, misclassified, weights_as_images


def image_shape(n_inputs: int) -> tuple[int, int] | None:
    """(side, side) when ``n_inputs`` is a square of at least 16 pixels (784 -> (28, 28)), else None."""
    side = math.isqrt(int(n_inputs))
    return (side, side) if side >= 4 and side * side == n_inputs else None


def is_small_dense(model: Any) -> bool:
    """True when ``network_diagram`` can draw the model."""
    try:
        groups = _dense_groups(model)
    except ValueError:
        return False
    return max([groups[0][0].n_in] + [d.n_out for d, _ in groups]) <= MAX_UNITS


def write_training_plots(model: Any, history: Any, X_test: Any = None, y_test: Any = None,
                         out_dir: str | os.PathLike = "plots") -> list[Path]:
    """Write the pictures of a finished training run into ``out_dir`` and return their paths.

    Always ``training_curves.png``; ``gradient_norms.png`` when the run recorded "grad_norm"; the first layer
    as ``weights.png`` when its input is a square image (784 -> 28x28), a first Conv2D's kernels as
    ``filters.png``, or the whole net as ``network.png`` when it is small; with test data, ``confusion.png``
    and, for images, ``misclassified.png``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def keep(name: str, draw: Any, *args: Any, **kwargs: Any) -> None:
        draw(*args, path=out / name, **kwargs)
        written.append(out / name)

    keep("training_curves.png", training_curves, history)
    values = getattr(history, "history", history)
    if any(k.startswith("grad_norm/") for k in values):
        keep("gradient_norms.png", gradient_norms, history)
    n_in = int(np.prod(model.input_shape))
    shape = image_shape(n_in)
    try:
        W, _ = first_weights(model)
    except ValueError:
        W = None
    if shape is not None and W is not None and W.ndim == 2 and W.shape[0] == n_in:
        keep("weights.png", weights_as_images, model, shape=shape)
    elif W is not None and W.ndim == 4 and W.shape[1] == 1:  # first Conv2D on a grey image: its filters
        keep("filters.png", weights_as_images, model)
    elif is_small_dense(model):
        keep("network.png", network_diagram, model)
    if X_test is not None and y_test is not None:
        X_test = np.asarray(X_test)
        out_pred = model.predict(X_test.reshape(X_test.shape[0], *model.input_shape))
        y_pred = to_labels(out_pred)
        y_true = np.asarray(y_test)
        if y_true.ndim == 2:
            y_true = to_labels(y_true)
        n_classes = max(out_pred.shape[-1], 2)
        keep("confusion.png", confusion_matrix, y_true, y_pred, n_classes=n_classes)
        if shape is not None:
            keep("misclassified.png", misclassified, X_test.reshape(X_test.shape[0], -1), y_true, y_pred,
                 shape=shape)
    return written
