"""Digits that fool the network: small changes of every pixel, in the direction that raises the loss most.

    FGSM (Goodfellow et al. 2014)   x~ = clip(x + eps sign(grad_x C(x, y)), 0, 1)
    PGD  (Madry et al. 2017)        x_0 = x,  x_(t+1) = clip(P(x_t + s sign(grad_x C(x_t, y))), 0, 1)
                                    with P the projection onto the L-infinity ball |x~ - x| <= eps

untargeted (C raised for the true or predicted class y); targeted with ``target_class`` t, the sign flips
and C(x, t) is lowered instead. C is the model's compiled loss without label smoothing (which would reward
confidence), or cross-entropy for a softmax output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._base.checks import check_labels
from glassnet.explain._grad import (
    backward,
    check_classes,
    check_int,
    check_model,
    check_number,
    check_x,
    explaining,
    forward,
    n_classes,
    one_hot,
)
from glassnet.model import Sequential
from glassnet.nn.activations import Activation, Softmax
from glassnet.nn.layers import Activated
from glassnet.nn.losses import CrossEntropy, Loss

METHODS = ("fgsm", "pgd")


def _attack_loss(model: Sequential) -> Loss:
    last = model.layers[-1]
    act = last.activation if isinstance(last, Activated) else last
    if model.loss is None:
        if not isinstance(act, Softmax):
            raise ValueError("adversarial needs the model's loss: compile the model, or give it a softmax output")
        return CrossEntropy()
    if isinstance(model.loss, CrossEntropy) and model.loss.label_smoothing:
        return CrossEntropy()
    return model.loss


def predictions(model: Sequential, X: np.ndarray) -> np.ndarray:
    """The predicted class of each sample (argmax, or a >= 1/2 for one output)."""
    a = forward(model, X)
    return (a[:, 0] >= 0.5).astype(np.int64) if a.shape[1] == 1 else a.argmax(axis=1)


def loss_gradient(model: Sequential, X: np.ndarray, labels: np.ndarray, loss: Loss) -> np.ndarray:
    """grad_x C(x, y) of every sample, shaped like X (call inside :func:`explaining`)."""
    a = forward(model, X)
    k = a.shape[1]
    Y = labels[:, None].astype(model.dtype) if k == 1 else one_hot(X.shape[0], k, labels, model.dtype)
    layers = model.layers
    last = layers[-1]
    act = last.activation if isinstance(last, Activated) else last
    fused = loss.fuses_with is not None and isinstance(act, loss.fuses_with)
    if fused and isinstance(last, Activated):  # dC/dz of the last layer
        g = backward(model, loss.fused_delta(a, Y, act), len(layers) - 1, into_z=True)
    elif fused and isinstance(last, Activation):  # dC/dz = dC/d(input of the activation layer)
        g = backward(model, loss.fused_delta(a, Y, act), len(layers) - 2)
    else:
        g = backward(model, loss.gradient(a, Y), len(layers) - 1)
    return np.ascontiguousarray(g).reshape(X.shape)


def _labels(model: Sequential, X: np.ndarray, y: Any) -> np.ndarray:
    if y is None:
        return predictions(model, X)
    labels = check_labels(y, max(2, int(model.output_shape[0])), "y")
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"y must hold one label per sample ({X.shape[0]}), got {labels.shape[0]}")
    return labels


def _attack(model: Sequential, X: np.ndarray, labels: np.ndarray, eps: np.ndarray, method: str, steps: int,
            step_size: float | None, sign: float, loss: Loss) -> np.ndarray:
    """The attacked batch for per-sample radii ``eps`` (n,) (inside :func:`explaining`)."""
    r = eps.reshape(-1, *([1] * (X.ndim - 1))).astype(X.dtype)
    if method == "fgsm":
        return np.clip(X + sign * r * np.sign(loss_gradient(model, X, labels, loss)), 0.0, 1.0)
    s = 2.5 * r / steps if step_size is None else X.dtype.type(step_size)
    x = X.copy()
    for _ in range(steps):
        x += sign * s * np.sign(loss_gradient(model, x, labels, loss))
        np.clip(x, X - r, X + r, out=x)
        np.clip(x, 0.0, 1.0, out=x)
    return x


def _check(model: Any, X: Any, method: Any, steps: Any, step_size: Any
           ) -> tuple[Sequential, np.ndarray, str, int, float | None]:
    model = check_model(model)
    X = check_x(model, X)
    n_classes(model)
    if method not in METHODS:
        raise ValueError(f"method must be 'fgsm' or 'pgd', got {method!r}")
    steps = check_int(steps, "steps", 1)
    if step_size is not None and check_number(step_size, "step_size") == 0:
        raise ValueError("step_size must be > 0")
    return model, X, method, steps, None if step_size is None else float(step_size)


def adversarial(model: Sequential, X: Any, y: Any = None, eps: float = 0.1, method: str = "fgsm", steps: int = 10,
                step_size: float | None = None, target_class: Any = None) -> np.ndarray:
    """Adversarial examples of X in [0, 1], shaped like ``X``, within ``eps`` of it in every value.

    ``y``: the true labels (default: the predicted ones); ``method``: "fgsm" (one step of eps) or "pgd"
    (``steps`` steps of ``step_size``, default 2.5 eps / steps, each projected back into the eps-ball);
    ``target_class``: a class index or one per sample to steer towards (default: untargeted).
    """
    model, X, method, steps, step_size = _check(model, X, method, steps, step_size)
    eps = check_number(eps, "eps")
    loss = _attack_loss(model)
    with explaining(model):
        if target_class is not None:
            labels, sign = check_classes(target_class, X.shape[0], max(2, n_classes(model)), "target_class"), -1.0
        else:
            labels, sign = _labels(model, X, y), 1.0
        return _attack(model, X, labels, np.full(X.shape[0], eps), method, steps, step_size, sign, loss)


def minimal_eps(model: Sequential, X: Any, y: Any = None, method: str = "fgsm", max_eps: float = 1.0,
                tol: float = 1e-3, steps: int = 10, step_size: float | None = None) -> np.ndarray:
    """The smallest eps whose attack changes each prediction, by bisection to within ``tol``: shape (n,),
    0 where the prediction already differs from ``y``, inf where even ``max_eps`` does not change it.

    ``y``: the true labels (default: the predicted ones); ``method``, ``steps``, ``step_size`` as for
    :func:`adversarial` (untargeted). FGSM's direction sign(grad) does not depend on eps: it is computed once.
    """
    model, X, method, steps, step_size = _check(model, X, method, steps, step_size)
    max_eps = check_number(max_eps, "max_eps")
    tol = check_number(tol, "tol")
    if tol == 0 or max_eps == 0:
        raise ValueError(f"tol and max_eps must be > 0, got tol={tol}, max_eps={max_eps}")
    loss = _attack_loss(model)
    n = X.shape[0]
    with explaining(model):
        labels = _labels(model, X, y)
        if method == "fgsm":
            direction = np.sign(loss_gradient(model, X, labels, loss))

            def attacked(eps: np.ndarray) -> np.ndarray:
                return np.clip(X + eps.reshape(-1, *([1] * (X.ndim - 1))).astype(X.dtype) * direction, 0.0, 1.0)
        else:
            def attacked(eps: np.ndarray) -> np.ndarray:
                return _attack(model, X, labels, eps, method, steps, step_size, 1.0, loss)

        def flipped(eps: np.ndarray) -> np.ndarray:
            return predictions(model, attacked(eps)) != labels

        already = predictions(model, X) != labels
        lo, hi = np.zeros(n), np.full(n, max_eps)
        reachable = flipped(hi)
        while (hi - lo).max() > tol:
            mid = 0.5 * (lo + hi)
            f = flipped(mid)
            hi = np.where(f, mid, hi)
            lo = np.where(f, lo, mid)
    return np.where(already, 0.0, np.where(reachable, hi, np.inf))
