"""Batch normalisation (Ioffe & Szegedy, 2015): each feature standardised over the mini-batch, then scaled
and shifted by learnt parameters, its forward pass beside its backward pass.

For a batch of m values x_i of one feature (dense features (n, F): m = n per feature; images (n, C, H, W):
m = n H W per channel):

    mu = 1/m sum_i x_i,    var = 1/m sum_i (x_i - mu)^2,    x_hat_i = (x_i - mu) / sqrt(var + eps),
    z_i = gamma x_hat_i + beta,    a_i = f(z_i)

and, given delta_i = dC/dz_i, the compact backward pass (every path through mu and var included):

    dC/dgamma = sum_i delta_i x_hat_i,    dC/dbeta = sum_i delta_i,
    dC/dx_i = gamma / sqrt(var + eps) * (delta_i - mean(delta) - x_hat_i mean(delta x_hat)).

In training the batch statistics are used and running averages kept (Keras's and ONNX's rule, momentum
the weight of the old value; PyTorch's momentum=0.1 is momentum=0.9 here):

    running_mean <- momentum running_mean + (1 - momentum) mu
    running_var  <- momentum running_var  + (1 - momentum) var m / (m - 1)     (unbiased, as in the paper)

At inference x_hat = (x - running_mean) / sqrt(running_var + eps): each sample's output depends on it alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet._base.blas import ones
from glassnet._base.schema import Float, Int
from glassnet.nn.layers import Activated, Layer, Parameter, Shape, register

__all__ = ["BatchNorm"]

_WIDE = 16384
"""Rows are viewed this many values wide (where they divide evenly) for per-feature arithmetic: NumPy's loop
over a short row of F values costs more than the arithmetic itself when F is a few dozen channels."""


def _per_feature(ufunc: np.ufunc, a: np.ndarray, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``ufunc(a, v)`` for rows a (m, F) and one value per feature v (F,), computed on a wider view of a
    (r rows at a time, v repeated r times) when a (and out) are contiguous."""
    m, f = a.shape
    r = math.gcd(m, max(1, _WIDE // f))
    if r == 1 or not a.flags.c_contiguous or (out is not None and not out.flags.c_contiguous):
        return ufunc(a, v, out=out)
    wide = (m // r, r * f)
    return ufunc(a.reshape(wide), np.tile(v, r), out=None if out is None else out.reshape(wide)).reshape(m, f)


@register
class BatchNorm(Activated):
    """Batch normalisation of dense features (n, F) or image channels (n, C, H, W), then an optional
    activation: ``Dense(784, 256), BatchNorm(activation="relu")`` normalises z before f, as in the paper.

    ``n_features`` (F or C) is taken from the input when None. ``momentum`` weighs the old running value
    (0.9, as Keras's and ONNX's convention; PyTorch's 0.1); ``eps`` keeps the division finite.
    Parameters ``gamma`` (penalised by L1/L2 like a weight matrix; ``l1`` / ``l2`` override the model-wide
    penalties) and ``beta`` (not, like a bias); buffers ``running_mean`` and ``running_var``, saved with
    the model. Glass box, after a pass: ``input``, ``mean`` and ``var`` (the statistics the pass used: the
    batch's in training, the running ones at inference), ``x_hat``, ``z`` = gamma x_hat + beta, ``a`` (=
    ``output``) and, after backward, ``delta`` = dC/dz. ``training`` tells which statistics the last pass used.
    """

    config_schema = {"n_features": Int(1), "momentum": Float(0, 1), "eps": Float(0, low_open=True)}

    def __init__(self, n_features: int | None = None, momentum: float = 0.9, eps: float = 1e-5,
                 activation: str | Layer | None = None, l1: float | None = None, l2: float | None = None,
                 name: str | None = None) -> None:
        super().__init__(activation, name)
        if n_features is not None and int(n_features) < 1:
            raise ValueError(f"BatchNorm needs n_features >= 1 or None, got {n_features}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1], got {momentum}")
        if not float(eps) > 0.0:
            raise ValueError(f"BatchNorm eps must be > 0, got {eps}")
        self.n_features = None if n_features is None else int(n_features)
        self.momentum, self.eps = float(momentum), float(eps)
        self.l1, self.l2 = l1, l2
        self.mean: np.ndarray | None = None
        self.var: np.ndarray | None = None
        self.x_hat: np.ndarray | None = None
        self.training = False

    # ------------------------------------------------------------------ shapes and parameters
    def _features(self, input_shape: Shape) -> int:
        if len(input_shape) not in (1, 3):
            raise ValueError(f"BatchNorm expects samples of shape (features,) or (channels, height, width), got "
                             f"{tuple(input_shape)}")
        if self.n_features is not None and input_shape[0] != self.n_features:
            what = "features" if len(input_shape) == 1 else "channels"
            raise ValueError(f"BatchNorm expects {self.n_features} {what}, got sample shape {tuple(input_shape)}")
        return int(input_shape[0])

    def build(self, input_shape: Shape, dtype: np.dtype, rng: np.random.Generator) -> Shape:
        self.n_features = f = self._features(input_shape)
        self.gamma = Parameter(np.ones(f, dtype), "gamma")
        self.beta = Parameter(np.zeros(f, dtype), "beta", regularize=False)
        self.params = [self.gamma, self.beta]
        self.buffers = {"running_mean": np.zeros(f, dtype), "running_var": np.ones(f, dtype)}
        return super().build(input_shape, dtype, rng)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._features(input_shape)
        return tuple(input_shape)

    def array_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        f = (self._features(input_shape),)
        return {"gamma": f, "beta": f, "running_mean": f, "running_var": f}

    @staticmethod
    def _rows(x: np.ndarray) -> np.ndarray:
        """x as (m, F): itself for (n, F); (n H W, C) for images, a view of channels-last memory."""
        return x if x.ndim == 2 else x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])

    @staticmethod
    def _like(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(m, F) rows back in the shape of x: (n, C, H, W) as a view of channels-last memory, as Conv2D's."""
        if x.ndim == 2:
            return rows
        n, c, h, w = x.shape
        return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)

    # ------------------------------------------------------------------ forward and backward
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        rows = self._rows(x)
        m = rows.shape[0]
        self.training = training
        if training:
            mean = ones(m, rows.dtype) @ rows / m  # mu = mean_i x_i
            xc = _per_feature(np.subtract, rows, mean)  # x - mu (a new array: the input is never written)
            var = np.einsum("ij,ij->j", xc, xc) / m  # var = mean_i (x_i - mu)^2
            if m > 1:  # a single value has no variance to learn from
                k, running = self.momentum, self.buffers
                for buf, batch in ((running["running_mean"], mean), (running["running_var"], var * m / (m - 1))):
                    buf *= k
                    buf += (1.0 - k) * batch
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
            xc = _per_feature(np.subtract, rows, mean)
        self.mean, self.var = mean, var
        self.inv_std = 1.0 / np.sqrt(var + self.eps)  # 1 / sqrt(var + eps)
        x_hat = _per_feature(np.multiply, xc, self.inv_std, out=xc)  # x_hat = (x - mu) / sqrt(var + eps)
        self.x_hat = self._like(x_hat, x)
        z = _per_feature(np.multiply, x_hat, self.gamma.value)  # z = gamma x_hat + beta
        _per_feature(np.add, z, self.beta.value, out=z)
        return self._activate(self._like(z, x), training)

    def backward_delta(self, delta: np.ndarray) -> np.ndarray | None:
        """Backward from delta = dC/dz, shaped like the input."""
        self.delta = delta
        d = self._rows(delta)
        x_hat = self._rows(self.x_hat)
        m = d.shape[0]
        if self.needs_param_grad or self.training:  # training's dC/dx reads both
            np.einsum("ij,ij->j", d, x_hat, out=self.gamma.grad)  # dC/dgamma = sum_i delta_i x_hat_i
            np.matmul(ones(m, d.dtype), d, out=self.beta.grad)  # dC/dbeta = sum_i delta_i
        if not self.needs_input_grad:
            return None
        scale = self.gamma.value * self.inv_std  # gamma / sqrt(var + eps)
        if not self.training:  # the running statistics are constants: dC/dx = gamma / sqrt(var + eps) delta
            return self._like(_per_feature(np.multiply, d, scale), delta)
        # dC/dx = scale (delta - mean(delta) - x_hat mean(delta x_hat)), with mean(delta) = dC/dbeta / m and
        # mean(delta x_hat) = dC/dgamma / m; delta itself stays as it is (the glass box keeps it)
        dx = _per_feature(np.multiply, x_hat, self.gamma.grad / m)  # x_hat mean(delta x_hat)
        _per_feature(np.add, dx, self.beta.grad / m, out=dx)  # + mean(delta)
        np.subtract(d, dx, out=dx)  # delta - mean(delta) - x_hat mean(delta x_hat)
        _per_feature(np.multiply, dx, scale, out=dx)
        return self._like(dx, delta)

    def get_config(self) -> dict[str, Any]:
        act = None if self.activation is None else self.activation.get_config()
        return {"n_features": self.n_features, "momentum": self.momentum, "eps": self.eps, "activation": act,
                "l1": self.l1, "l2": self.l2, "name": self.name}

    def describe(self) -> str:
        act = "" if self.activation is None else f", {self.activation.describe()}"
        return f"BatchNorm{act}"
