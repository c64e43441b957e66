"""Losses: the empirical cost C, averaged over the n samples of a batch, and its gradient.

    "mse"                   C = 1/n sum_i 1/2 sum_k (y_ik - a_ik)^2               (the quadratic cost)
    "binary_cross_entropy"  C = -1/n sum_i sum_k [y_ik ln a_ik + (1 - y_ik) ln(1 - a_ik)]
    "cross_entropy"         C = -1/n sum_i sum_k y_ik ln p_ik,  p = softmax(z)

``gradient(a, y)`` is dC/da. Where the output activation is the loss's natural partner (softmax for
cross-entropy, sigmoid for binary cross-entropy) the model fuses them: C is computed from z with
log-sum-exp / softplus, and the output delta is simply  dC/dz = (a - y) / n  (times the sigmoid slope),
which never divides by a probability that rounded to zero.
"""

from __future__ import annotations

import numpy as np

from glassnet._checks import lookup
from glassnet.activations import Activation, Sigmoid, Softmax, row_sums

_EPS = 1e-12


class Loss:
    """A cost function by name; ``fuses_with`` names the activation whose delta it can give directly."""

    key = ""
    fuses_with: type[Activation] | None = None

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value_and_gradient(self, a: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(C, dC/da) in one call; losses whose two share work override it."""
        return self.value(a, y), self.gradient(a, y)

    def fused_value(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, act: Activation) -> float:
        """C from the pre-activation z of the partner activation (stable form)."""
        raise NotImplementedError

    def fused_delta(self, a: np.ndarray, y: np.ndarray, act: Activation) -> np.ndarray:
        """delta = dC/dz through the partner activation."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """C = 1/n sum_i 1/2 ||y_i - a_i||^2;  dC/da = (a - y) / n."""

    key = "mse"

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        d = a - y
        return 0.5 * float(np.vdot(d, d)) / a.shape[0]

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        g = a - y
        g *= 1.0 / a.shape[0]
        return g

    def value_and_gradient(self, a: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        g = a - y
        c = 0.5 * float(np.vdot(g, g)) / a.shape[0]
        g *= 1.0 / a.shape[0]
        return c, g


class BinaryCrossEntropy(Loss):
    """C = -1/n sum [y ln a + (1 - y) ln(1 - a)];  dC/da = (a - y) / (a (1 - a) n).

    Fused with ``Sigmoid(slope=s)``: C = 1/n sum [softplus(s z) - y s z],  dC/dz = s (a - y) / n.
    """

    key = "binary_cross_entropy"
    fuses_with = Sigmoid

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        a = np.clip(a, _EPS, 1 - _EPS)
        return -float(np.sum(y * np.log(a) + (1 - y) * np.log1p(-a))) / a.shape[0]

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        a = np.clip(a, _EPS, 1 - _EPS)
        return (a - y) / (a * (1 - a) * a.shape[0])

    def fused_value(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, act: Activation) -> float:
        sz = z * act.slope
        return float(np.sum(np.logaddexp(0.0, sz) - y * sz)) / z.shape[0]

    def fused_delta(self, a: np.ndarray, y: np.ndarray, act: Activation) -> np.ndarray:
        d = a - y
        d *= act.slope / a.shape[0]
        return d


class CrossEntropy(Loss):
    """C = -1/n sum_i sum_k y_ik ln p_ik;  dC/dp = -y / (p n).

    Fused with ``Softmax``: C = 1/n sum_i [logsumexp(z_i) - sum_k y_ik z_ik] (for rows of y summing
    to one),  dC/dz = (p - y) / n.
    """

    key = "cross_entropy"
    fuses_with = Softmax

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        return -float(np.sum(y * np.log(np.clip(a, _EPS, None)))) / a.shape[0]

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -y / (np.clip(a, _EPS, None) * a.shape[0])

    def fused_value(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, act: Activation) -> float:
        lse = act.log_normaliser(z)  # ln sum_k e^(z_ik), kept from the forward pass
        return float(np.vdot(lse, row_sums(y)) - np.vdot(y, z)) / z.shape[0]

    def fused_delta(self, a: np.ndarray, y: np.ndarray, act: Activation) -> np.ndarray:
        d = a - y
        d *= 1.0 / a.shape[0]
        return d


LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "quadratic": MeanSquaredError,
    "binary_cross_entropy": BinaryCrossEntropy,
    "bce": BinaryCrossEntropy,
    "cross_entropy": CrossEntropy,
    "categorical_cross_entropy": CrossEntropy,
}


def get_loss(spec: str | Loss) -> Loss:
    """A loss from its name (see ``LOSSES``) or an instance."""
    return spec if isinstance(spec, Loss) else lookup(LOSSES, spec, "loss")()
