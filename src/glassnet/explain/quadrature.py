"""Quadrature rules for the path integral of integrated gradients, as data: each rule gives the nodes
alpha_i in [0, 1] and the weights w_i of

    int_0^1 g(alpha) d alpha  ~  sum_i w_i g(alpha_i)

for m nodes, with the names and nodes of Captum's ``approximation_methods``:

    riemann_left       alpha_i = i / m,              w_i = 1 / m                    (i = 0..m-1)
    riemann_right      alpha_i = (i + 1) / m,        w_i = 1 / m
    riemann_middle     alpha_i = (i + 1/2) / m,      w_i = 1 / m
    riemann_trapezoid  alpha_i = i / (m - 1),        w_i = 1 / (m - 1), halved at both ends   (m >= 2)
    gausslegendre      alpha_i = (1 + x_i) / 2,      w_i = v_i / 2    (x_i, v_i: the m-point Gauss-Legendre rule)

Every rule's weights sum to 1. (Captum's trapezoid weights are 1/m, halved at both ends: they sum to 1 - 1/m,
so its trapezoid attributions are (m - 1)/m of these and miss completeness by about 1/m.) Gauss-Legendre is
exact for polynomials of degree 2m - 1: on smooth networks (sigmoid, tanh, LSTM) 50 nodes leave a gap far
below 1e-3 of f(x) - f(x'). Through ReLU and max-pooling the integrand is piecewise constant along the path,
and every rule's error falls only as about 1/m.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

Rule = Callable[[int], tuple[np.ndarray, np.ndarray]]


def _riemann(offset: float) -> Rule:
    """Nodes at (i + offset) / m with equal weights 1/m."""
    return lambda m: ((np.arange(m) + offset) / m, np.full(m, 1.0 / m))


def _trapezoid(m: int) -> tuple[np.ndarray, np.ndarray]:
    w = np.full(m, 1.0 / (m - 1))
    w[[0, -1]] /= 2
    return np.linspace(0.0, 1.0, m), w


def _gauss_legendre(m: int) -> tuple[np.ndarray, np.ndarray]:
    x, v = np.polynomial.legendre.leggauss(m)
    return 0.5 * (1.0 + x), 0.5 * v


QUADRATURES: dict[str, tuple[Rule, int]] = {
    "gausslegendre": (_gauss_legendre, 1),
    "riemann_left": (_riemann(0.0), 1),
    "riemann_right": (_riemann(1.0), 1),
    "riemann_middle": (_riemann(0.5), 1),
    "riemann_trapezoid": (_trapezoid, 2),
}
"""Each rule by name: (function of m giving (alphas, weights), the least m it takes)."""


def quadrature(method: Any, steps: Any) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, weights), float64 (steps,) and read-only, of the rule ``method`` with ``steps`` nodes."""
    if not isinstance(method, str) or method not in QUADRATURES:
        raise ValueError(f"method must be one of {', '.join(QUADRATURES)}, got {method!r}")
    least = QUADRATURES[method][1]
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < least:
        raise ValueError(f"steps must be an integer >= {least} for {method}, got {steps!r}")
    return _nodes(method, int(steps))


@functools.lru_cache(maxsize=32)
def _nodes(method: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The rule's arrays, computed once per (method, steps)."""
    alphas, weights = QUADRATURES[method][0](steps)
    alphas.flags.writeable = weights.flags.writeable = False
    return alphas, weights
