"""The activations of deeper networks, after ReLU: ELU (Clevert et al. 2015), SELU (Klambauer et al. 2017), GELU
(Hendrycks & Gimpel 2016; exact and tanh forms) and the hard sigmoid, each f(z) beside f'(z), registered by name
with the others in :mod:`glassnet.nn.activations` (the package ``glassnet.nn`` imports both).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet._base.schema import Choice
from glassnet.nn.activations import Activation, _named


@_named("elu")
class ELU(Activation):
    """Exponential linear unit (Clevert et al., 2015):  f(z) = z if z > 0 else alpha (e^z - 1);
    f'(z) = 1 if z > 0 else f(z) + alpha."""

    def __init__(self, alpha: float = 1.0, name: str | None = None) -> None:
        super().__init__(name)
        self.alpha = float(alpha)

    def f(self, z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0.0))).astype(z.dtype, copy=False)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.where(z > 0, 1.0, a + self.alpha).astype(z.dtype, copy=False)

    def _params(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
"""The constants of the self-normalising ELU (Klambauer et al., 2017)."""


@_named("selu")
class SELU(Activation):
    """Scaled ELU:  f(z) = lambda z if z > 0 else lambda alpha (e^z - 1),  lambda = 1.0507, alpha = 1.6733;
    f'(z) = lambda if z > 0 else f(z) + lambda alpha."""

    def f(self, z: np.ndarray) -> np.ndarray:
        return (SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))).astype(z.dtype, copy=False)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.where(z > 0, SELU_SCALE, a + SELU_SCALE * SELU_ALPHA).astype(z.dtype, copy=False)


_erf = np.frompyfunc(math.erf, 1, 1)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@_named("gelu")
class GELU(Activation):
    """Gaussian error linear unit (Hendrycks & Gimpel, 2016):  f(z) = z Phi(z),  Phi(z) = (1 + erf(z / sqrt 2)) / 2;
    f'(z) = Phi(z) + z phi(z),  phi(z) = e^(-z^2 / 2) / sqrt(2 pi).

    ``approximate="tanh"``:  f(z) = z (1 + tanh u) / 2,  u = sqrt(2 / pi) (z + 0.044715 z^3);
    f'(z) = (1 + tanh u) / 2 + z (1 - tanh^2 u) sqrt(2 / pi) (1 + 3 0.044715 z^2) / 2.
    The exact form evaluates erf element by element (``math.erf``): correct to the last bit, not fast.
    """

    config_schema = {"approximate": Choice(("none", "tanh"), "approximation")}

    def __init__(self, approximate: str = "none", name: str | None = None) -> None:
        super().__init__(name)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def _cdf(self, z: np.ndarray) -> np.ndarray:
        """Phi(z), or (1 + tanh u) / 2 for the tanh approximation."""
        if self.approximate == "tanh":
            return 0.5 * (1.0 + np.tanh(_SQRT_2_OVER_PI * (z + 0.044715 * z ** 3)))
        return (0.5 * (1.0 + _erf(z * (1.0 / math.sqrt(2.0))).astype(z.dtype))).astype(z.dtype, copy=False)

    def f(self, z: np.ndarray) -> np.ndarray:
        return z * self._cdf(z)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        cdf = self._cdf(z)
        if self.approximate == "tanh":
            t = 2.0 * cdf - 1.0
            return cdf + 0.5 * z * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * z * z)
        return cdf + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)

    def _params(self) -> dict[str, Any]:
        return {"approximate": self.approximate}

    def describe(self) -> str:
        return "gelu" + ("(tanh)" if self.approximate == "tanh" else "")


@_named("hard_sigmoid")
class HardSigmoid(Activation):
    """f(z) = max(0, min(1, alpha z + beta))  (ONNX's defaults alpha = 0.2, beta = 0.5; PyTorch's is alpha = 1/6);
    f'(z) = alpha where 0 < alpha z + beta < 1, else 0."""

    def __init__(self, alpha: float = 0.2, beta: float = 0.5, name: str | None = None) -> None:
        super().__init__(name)
        self.alpha, self.beta = float(alpha), float(beta)

    def f(self, z: np.ndarray) -> np.ndarray:
        return np.clip(self.alpha * z + self.beta, 0.0, 1.0).astype(z.dtype, copy=False)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        u = self.alpha * z + self.beta
        return np.where((u > 0) & (u < 1), self.alpha, 0.0).astype(z.dtype, copy=False)

    def _params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta}
