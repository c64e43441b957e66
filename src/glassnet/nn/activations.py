"""Activation functions a = f(z), each beside its derivative f'(z), usable as layers and by name.

``forward`` keeps z (``input``) and a (``output``); ``backward(g)`` returns g * f'(z), in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._base.blas import in_parts, ones
from glassnet._base.registry import lookup
from glassnet._base.schema import Choice, Field
from glassnet.nn.layers import Layer, register

SPLIT_MIN = 1 << 18
"""Arrays of at least this many entries (a convolution's maps, 1 MiB in float32) are computed by ReLU in blocks
of the batch side by side (``in_parts``); the same values, on every core."""



def _split(a: np.ndarray) -> bool:
    """Whether ``a`` is a batch large enough for ReLU to compute in blocks side by side."""
    return a.ndim >= 2 and a.size >= SPLIT_MIN


ACTIVATIONS: dict[str, type[Activation]] = {}
"""Activation classes by name: "sigmoid", "relu", ..."""


def _named(key: str):
    def deco(cls: type[Activation]) -> type[Activation]:
        cls.key = key
        ACTIVATIONS[key] = cls
        return register(cls)

    return deco


def get_activation(spec: str | dict | Layer) -> Layer:
    """An activation layer from a name ("relu"), a saved config dict, or an instance (returned as is).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet import get_activation
    >>> get_activation("sigmoid").forward(np.array([[0.0]]))
    array([[0.5]])
    """
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
        if not _split(x):
            self.output = np.maximum(x, 0.0)
            return self.output
        out = self.output = np.empty_like(x)  # a convolution's maps: the batch's blocks side by side

        def rows(block: slice) -> None:
            np.maximum(x[block], 0.0, out=out[block])

        in_parts(x.shape[0], rows, min_rows=2)
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if not _split(grad):
            grad *= self.output > 0
            return grad

        def rows(block: slice) -> None:
            grad[block] *= self.output[block] > 0

        in_parts(grad.shape[0], rows, min_rows=2)
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
    """Softsign, :math:`f(z) = z / (1 + |z|)` and :math:`f'(z) = 1 / (1 + |z|)^2`."""

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
