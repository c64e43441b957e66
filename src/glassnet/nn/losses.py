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

from glassnet._base.registry import lookup
from glassnet.nn.activations import Activation, Sigmoid, Softmax, row_sums

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

    Label smoothing eps (Szegedy et al., 2016) trains on  y' = (1 - eps) y + eps / K  (K classes) in place
    of y: the cost, with the same formulas, never asks for a probability of exactly one.
    """

    key = "cross_entropy"
    fuses_with = Softmax

    def __init__(self, label_smoothing: float = 0.0) -> None:
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def smoothed(self, y: np.ndarray) -> np.ndarray:
        """y' = (1 - eps) y + eps / K (y itself when eps = 0)."""
        eps = self.label_smoothing
        return y if not eps else (1.0 - eps) * y + eps / y.shape[-1]

    def value(self, a: np.ndarray, y: np.ndarray) -> float:
        return -float(np.sum(self.smoothed(y) * np.log(np.clip(a, _EPS, None)))) / a.shape[0]

    def gradient(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -self.smoothed(y) / (np.clip(a, _EPS, None) * a.shape[0])

    def fused_value(self, z: np.ndarray, a: np.ndarray, y: np.ndarray, act: Activation) -> float:
        lse = act.log_normaliser(z)  # ln sum_k e^(z_ik), kept from the forward pass
        c = float(np.vdot(lse, row_sums(y)) - np.vdot(y, z))
        eps = self.label_smoothing
        if eps:  # with y' in place of y: sum_k y'_ik = (1 - eps) sum_k y_ik + eps, y'.z = (1 - eps) y.z + eps/K sum z
            c = (1.0 - eps) * c + eps * float(np.sum(lse) - np.sum(z) / z.shape[-1])
        return c / z.shape[0]

    def fused_delta(self, a: np.ndarray, y: np.ndarray, act: Activation) -> np.ndarray:
        d = a - y
        eps = self.label_smoothing
        if eps:  # p - y' = (p - y) + eps y - eps / K
            d += eps * y
            d -= eps / y.shape[-1]
        d *= 1.0 / a.shape[0]
        return d

    def __repr__(self) -> str:
        return f"CrossEntropy(label_smoothing={self.label_smoothing:g})" if self.label_smoothing else "CrossEntropy()"


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


def smoothed_loss(name: str | Loss, label_smoothing: float = 0.0) -> Loss:
    """The loss ``name``, with targets smoothed to (1 - eps) y + eps / K when ``label_smoothing`` = eps > 0:
    what a preset or a saved model's compile settings name (only cross-entropy takes smoothing)."""
    loss = get_loss(name)
    if not label_smoothing:
        return loss
    if loss.key != CrossEntropy.key:
        raise ValueError(f"label_smoothing needs the cross_entropy loss, not {loss.key}")
    return CrossEntropy(label_smoothing=label_smoothing)
