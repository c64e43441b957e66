"""Weight penalties: C_total = C + l1 sum|w| + l2/2 sum w^2 over the penalised parameters (weights, not biases),
and their gradient l1 sign(w) + l2 w, for a list of (parameter, l1, l2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from glassnet.nn.layers import Parameter

Terms = Sequence[tuple[Parameter, float, float]]


def value(terms: Terms) -> float:
    """l1 sum|w| + l2/2 sum w^2."""
    total = 0.0
    for p, l1, l2 in terms:
        if l1:
            total += l1 * float(np.abs(p.value).sum())
        if l2:
            total += 0.5 * l2 * float(np.vdot(p.value, p.value))
    return total


def add_grad(terms: Terms) -> None:
    """p.grad += l1 sign(w) + l2 w, in place."""
    for p, l1, l2 in terms:
        if l1:
            p.grad += l1 * np.sign(p.value)
        if l2:
            p.grad += l2 * p.value
