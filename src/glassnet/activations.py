"""Activation functions a = f(z), each beside its derivative f'(z), usable as layers and by name.

``forward`` keeps z (``input``) and a (``output``); ``backward(g)`` returns g * f'(z), in place.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet._blas import ones
from glassnet._checks import lookup
from glassnet.layers import Layer, register
from glassnet.schema import Choice, Field

ACTIVATIONS: dict[str, type[Activation]] = {}
"""Activation classes by name: "sigmoid", "relu", ..."""


def _named(key: str):
    def deco(cls: type[Activation]) -> type[Activation]:
        cls.key = key
        ACTIVATIONS[key] = cls
        return register(cls)

    return deco


def get_activation(spec: str | dict | Layer) -> Layer:
    """An activation layer from a name ("relu"), a saved config dict, or an instance (returned as is)."""
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, dict):
        cfg = dict(spec)
        return lookup(ACTIVATIONS, cfg.pop("activation"), "activation")(**cfg)
    return lookup(ACTIVATIONS, spec, "activation")()


def row_sums(x: np.ndarray) -> np.ndarray:
    """sum_k x_..k over the last axis, as the matrix-vector product x 1 (for rows of ten, as in a
    softmax over digits, several times faster than ``x.sum(axis=-1)``)."""
    return x @ ones(x.shape[-1], x.dtype)


def logistic(z: np.ndarray, slope: float = 1.0) -> np.ndarray:
    """sigma(s z) = 1 / (1 + e^(-s z)), computed as (1 + tanh(s z / 2)) / 2, which cannot overflow."""
    a = np.multiply(z, 0.5 * slope)
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


class Activation(Layer):
    """Elementwise activation; subclasses define ``f(z)`` and ``df(z, a)`` = f'(z) (a = f(z) given)."""

    key = ""

    def f(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        self.output = self.f(x)
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad *= self.df(self.input, self.output)
        return grad

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """f(z) without touching the stored pass."""
        return self.f(np.asarray(z))

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """f'(z) for an array z."""
        z = np.asarray(z)
        return self.df(z, self.f(z))

    def get_config(self) -> dict[str, Any]:
        return {"activation": self.key, **self._params()}

    @classmethod
    def config_fields(cls) -> tuple[dict[str, Field], set[str]]:
        """The constructor's fields plus the required ``"activation"`` key naming this class."""
        fields, required = super().config_fields()
        return {**fields, "activation": Choice([cls.key], "activation")}, required | {"activation"}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**{k: v for k, v in config.items() if k != "activation"})

    def _params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        """The name, with any parameter that differs from its default: "sigmoid(slope=0.5)"."""
        import inspect  # only here: it takes longer to import than the rest of this module

        defaults = inspect.signature(type(self)).parameters
        params = ", ".join(f"{k}={v:g}" for k, v in self._params().items() if v != defaults[k].default)
        return self.key + (f"({params})" if params else "")


@_named("step")
class Step(Activation):
    """Heaviside step  f(z) = 1 if z >= threshold else 0;  f'(z) = 0 (almost everywhere).

    Its derivative carries no signal, so ``fit`` refuses gradient descent through it: use
    :class:`glassnet.Perceptron` (the perceptron rule) or a gradient-free optimiser.
    """

    has_derivative = False

    def __init__(self, threshold: float = 0.0, name: str | None = None) -> None:
        super().__init__(name)
        self.threshold = float(threshold)

    def f(self, z: np.ndarray) -> np.ndarray:
        return (z >= self.threshold).astype(z.dtype)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.zeros_like(z)

    def _params(self) -> dict[str, Any]:
        return {"threshold": self.threshold}


@_named("linear")
class Linear(Activation):
    """Identity  f(z) = z;  f'(z) = 1."""

    def f(self, z: np.ndarray) -> np.ndarray:
        return z

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.ones_like(z)


@_named("sigmoid")
class Sigmoid(Activation):
    """Logistic  f(z) = 1 / (1 + e^(-s z))  with slope s;  f'(z) = s f(z) (1 - f(z)).

    """

    def __init__(self, slope: float = 1.0, name: str | None = None) -> None:
        super().__init__(name)
        self.slope = float(slope)

    def f(self, z: np.ndarray) -> np.ndarray:
        return logistic(z, self.slope)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        self.output = logistic(x, self.slope)
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        d = 1.0 - self.output  # f'(z) = s a (1 - a) needs only a = f(z)
        d *= self.output
        if self.slope != 1.0:
            d *= self.slope
        grad *= d
        return grad

    def df(self, z: np.ndarray | None, a: np.ndarray) -> np.ndarray:
        d = 1.0 - a
        d *= a
        if self.slope != 1.0:
            d *= self.slope
        return d

    def _params(self) -> dict[str, Any]:
        return {"slope": self.slope}


@_named("tanh")
class Tanh(Activation):
    """f(z) = tanh z;  f'(z) = 1 - tanh^2 z."""

    def f(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d = np.square(a)
        np.subtract(1.0, d, out=d)
        return d


@_named("relu")
class ReLU(Activation):
    """f(z) = max(0, z);  f'(z) = 1 if z > 0 else 0."""

    def f(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        self.output = np.maximum(x, 0.0)
        return self.output

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad *= self.output > 0
        return grad

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return (z > 0).astype(z.dtype)


@_named("leaky_relu")
class LeakyReLU(Activation):
    """f(z) = z if z > 0 else alpha z;  f'(z) = 1 if z > 0 else alpha."""

    def __init__(self, alpha: float = 0.01, name: str | None = None) -> None:
        super().__init__(name)
        self.alpha = float(alpha)

    def f(self, z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, z * self.alpha)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.where(z > 0, 1.0, self.alpha).astype(z.dtype)

    def _params(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


@_named("softplus")
class Softplus(Activation):
    """f(z) = ln(1 + e^z) (a smooth ReLU);  f'(z) = 1 / (1 + e^(-z)), the logistic sigmoid."""

    def f(self, z: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, z).astype(z.dtype, copy=False)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        return logistic(z)


@_named("softsign")
class Softsign(Activation):
    """f(z) = z / (1 + |z|);  f'(z) = 1 / (1 + |z|)^2."""

    def f(self, z: np.ndarray) -> np.ndarray:
        return z / (1.0 + np.abs(z))

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d = np.abs(z)
        d += 1.0
        np.square(d, out=d)
        np.reciprocal(d, out=d)
        return d


@_named("swish")
class Swish(Activation):
    """Swish / SiLU  f(z) = z sigma(beta z);  f'(z) = sigma(beta z) + beta f(z) (1 - sigma(beta z))."""

    def __init__(self, beta: float = 1.0, name: str | None = None) -> None:
        super().__init__(name)
        self.beta = float(beta)

    def f(self, z: np.ndarray) -> np.ndarray:
        return z * logistic(z, self.beta)

    def df(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        s = logistic(z, self.beta)
        return s + self.beta * a * (1.0 - s)

    def _params(self) -> dict[str, Any]:
        return {"beta": self.beta}


@_named("softmax")
class Softmax(Activation):
    """p_k = e^(z_k) / sum_j e^(z_j) over the last axis (shifted for stability).

    Backward is the Jacobian-vector product  dC/dz = p * (g - sum_k g_k p_k).  With the
    "cross_entropy" loss the model skips it and uses the fused delta p - y instead, and takes the
    log normaliser ln sum_j e^(z_j) that the forward pass already computed.
    """

    _norm: tuple[np.ndarray, Any, np.ndarray] | None = None

    def f(self, z: np.ndarray) -> np.ndarray:
        return self._normalise(z)[0]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        self.output, shift, sums = self._normalise(x)
        self._norm = (x, shift, sums)
        return self.output

    def log_normaliser(self, z: np.ndarray) -> np.ndarray:
        """ln sum_j e^(z_j) over the last axis; free when z is the input of the last forward pass."""
        norm = self._norm
        if norm is None or norm[0] is not z:
            norm = (z, *self._normalise(z)[1:])
        return np.log(norm[2]) + norm[1]

    @staticmethod
    def _normalise(z: np.ndarray) -> tuple[np.ndarray, Any, np.ndarray]:
        """(p, m, s) with  s = sum_j e^(z_j - m)  and  p = e^(z - m) / s.

        m is the largest z of the whole batch (one cheap reduction); should a row lie so far below
        it that its sum falls under 1e-20, every row is shifted by its own maximum instead.
        """
        e = np.empty_like(z)
        ok = False
        if z.size:
            shift = z.max()
            np.subtract(z, shift, out=e)
            np.exp(e, out=e)
            sums = row_sums(e)
            ok = sums.min() >= 1e-20
        if not ok:
            shift = z.max(axis=-1, keepdims=True)
            np.subtract(z, shift, out=e)
            np.exp(e, out=e)
            sums = row_sums(e)
            shift = shift[..., 0]
        e /= sums[..., None]
        return e, shift, sums

    def backward(self, grad: np.ndarray) -> np.ndarray:
        p = self.output
        grad -= row_sums(grad * p)[..., None]
        grad *= p
        return grad

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """The Jacobian dp_i/dz_j = p_i (delta_ij - p_j), shape (..., k, k)."""
        p = self.f(np.asarray(z, dtype=float))
        return p[..., :, None] * (np.eye(p.shape[-1]) - p[..., None, :])


@_named("log_softmax")
class LogSoftmax(Activation):
    """log p_k = z_k - ln sum_j e^(z_j) over the last axis (shifted by the row maximum for stability).

    Backward:  dC/dz = g - p * sum_k g_k,  with p = e^(log p) the softmax.
    """

    def f(self, z: np.ndarray) -> np.ndarray:
        shifted = z - z.max(axis=-1, keepdims=True)
        return shifted - np.log(row_sums(np.exp(shifted)))[..., None]

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad -= np.exp(self.output) * row_sums(grad)[..., None]
        return grad

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """The Jacobian d(log p_i)/dz_j = delta_ij - p_j, shape (..., k, k)."""
        p = np.exp(self.f(np.asarray(z, dtype=float)))
        return np.eye(p.shape[-1]) - p[..., None, :]


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
