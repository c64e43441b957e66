"""Finite-difference checks of backpropagation.

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)        (central differences, error O(eps^2))

The relative error between an analytic gradient g and a numerical one n is
||g - n|| / (||g|| + ||n||); in float64 a correct backward pass gives about 1e-8 or less.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from glassnet.model.sequential import Sequential


def numerical_gradient(f: Callable[[np.ndarray], float], x: Any, eps: float = 1e-6,
                       indices: np.ndarray | None = None) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored; pass a float ndarray to have
    ``f`` see its own buffers change (as ``gradcheck`` does with weights), or any array-like.
    ``indices`` (flat) limits the entries evaluated; the others are left at 0.
    """
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.flags.c_contiguous):
        x = np.array(x, dtype=np.float64)
    flat = x.reshape(-1)
    grad = np.zeros(x.shape, dtype=np.float64)
    gflat = grad.reshape(-1)
    for i in range(flat.size) if indices is None else indices:
        old = flat[i]
        flat[i] = old + eps
        f_plus = float(f(x))
        flat[i] = old - eps
        f_minus = float(f(x))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(g: np.ndarray, n: np.ndarray) -> float:
    """||g - n|| / (||g|| + ||n||), 0 when both vanish."""
    den = float(np.linalg.norm(g) + np.linalg.norm(n))
    return 0.0 if den == 0 else float(np.linalg.norm(g - n)) / den


@dataclass
class GradcheckResult:
    """Per-parameter relative errors ("dense_1.W": 3e-10, ...) and their maximum."""

    errors: dict[str, float] = field(default_factory=dict)
    tol: float = 1e-6

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error < self.tol

    def __str__(self) -> str:
        rows = [f"{k:<24} {v:.2e}" for k, v in self.errors.items()]
        verdict = "passed" if self.passed else "FAILED"
        return "\n".join([*rows, f"max relative error {self.max_error:.2e} ({verdict}, tol {self.tol:g})"])


def gradcheck(model: Sequential, X: Any, Y: Any, eps: float = 1e-6, tol: float = 1e-6,
              max_entries: int | None = None, seed: int = 0) -> GradcheckResult:
    r"""Compare ``model.backprop`` with central differences of the loss for every parameter.

    Use a float64 model: float32 rounding alone gives errors near 1e-3. Dropout masks drawn by the
    analytic pass are frozen for the numerical one. ``max_entries`` samples that many entries of
    each parameter (all by default). The model's buffers (running statistics) are left as they were.
    The relative error of each parameter is :math:`\|g - \hat g\| / (\|g\| + \|\hat g\|)`, with the central
    difference :math:`\hat g_i = (C(w + \epsilon e_i) - C(w - \epsilon e_i)) / 2 \epsilon` for each entry.

    Examples
    --------
    >>> import numpy as np
    >>> import glassnet as gn
    >>> model = gn.Sequential([gn.Dense(2, 3, "tanh"), gn.Dense(3, 1, "sigmoid")], dtype=np.float64, seed=0)
    >>> model = model.compile("mse", gn.SGD(lr=0.1))
    >>> gn.gradcheck(model, np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1.0, 0.0])).passed
    True
    """
    X = model.as_inputs(X)
    Y = model.as_targets(Y, X.shape[0])
    with model.keeping_buffers():
        return _gradcheck(model, X, Y, eps, tol, max_entries, seed)


def _gradcheck(model: Sequential, X: np.ndarray, Y: np.ndarray, eps: float, tol: float, max_entries: int | None,
               seed: int) -> GradcheckResult:
    model.backprop(X, Y)
    analytic = [p.grad.copy() for p in model.parameters()]
    frozen = [(layer, layer.frozen) for layer in model.layers if hasattr(layer, "frozen")]
    for layer, _ in frozen:
        layer.frozen = True
    rng = np.random.default_rng(seed)
    result = GradcheckResult(tol=tol)
    try:
        for layer in model.layers:
            for p in layer.params:
                g = analytic[len(result.errors)]
                idx = None
                if max_entries is not None and p.value.size > max_entries:
                    idx = rng.choice(p.value.size, size=max_entries, replace=False)
                n = numerical_gradient(lambda _: model.loss_value(X, Y, training=True), p.value, eps, idx)
                if idx is not None:
                    g, n = g.reshape(-1)[idx], n.reshape(-1)[idx]
                result.errors[f"{layer.name}.{p.name}"] = relative_error(g, n)
    finally:
        for layer, was in frozen:
            layer.frozen = was
    return result
