"""Recurrent layers over sequences x of shape (n, T, features), trained by backpropagation through time.

Each layer runs its recurrence forward over t = 1..T from the zero state, keeping every step's
pre-activations, gates and states; ``backward`` walks the same steps in reverse, carrying dC/dh_t
(and dC/dc_t for the LSTM) from step t + 1 back to step t. Only the recurrence loops over time: the
input products x_t W_x of all steps, and all weight gradients, are single matrix products.

Stored arrays are time-major in memory; the attributes (``z``, ``h``, ``delta``, ...) are (n, T, ...)
views of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.activations import Activation, get_activation, logistic
from glassnet.layers import INITS, ActivationField, Layer, Parameter, Shape, register


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random n x n orthogonal matrix (QR of a Gaussian matrix, signs fixed): keeps ||h W_h|| = ||h||."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


class _Recurrent(Layer):
    """Shared shape handling and weights of RNN and LSTM: ``n_gates`` blocks of width n_hidden per step."""

    n_gates = 1

    def __init__(self, n_in: int | None, n_hidden: int, return_sequences: bool = False,
                 l1: float | None = None, l2: float | None = None, name: str | None = None) -> None:
        super().__init__(name)
        kind = type(self).__name__
        if n_hidden is None or int(n_hidden) < 1 or (n_in is not None and int(n_in) < 1):
            raise ValueError(f"{kind} needs positive n_in and n_hidden, got n_in={n_in}, n_hidden={n_hidden}")
        self.n_in = None if n_in is None else int(n_in)
        self.n_hidden = int(n_hidden)
        self.return_sequences = bool(return_sequences)
        self.l1, self.l2 = l1, l2
        self.z: np.ndarray | None = None
        self.h: np.ndarray | None = None
        self.a: np.ndarray | None = None
        self.delta: np.ndarray | None = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects samples of shape (T, features), got "
                             f"{tuple(input_shape)}; pass input_shape=(T, {self.n_in or 'features'}) to Sequential")
        return (input_shape[0], self.n_hidden) if self.return_sequences else (self.n_hidden,)

    def array_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        n_in = self.n_in if self.n_in is not None else input_shape[1]
        width = self.n_gates * self.n_hidden
        return {"W_x": (n_in, width), "W_h": (self.n_hidden, width), "b": (width,)}

    def build(self, input_shape: Shape, dtype: np.dtype, rng: np.random.Generator) -> Shape:
        self.compute_output_shape(input_shape)
        if self.n_in is None:
            self.n_in = int(input_shape[1])
        elif input_shape[1] != self.n_in:
            raise ValueError(f"{type(self).__name__} expects {self.n_in} features per step, got sample shape "
                             f"{tuple(input_shape)}")
        h, g = self.n_hidden, self.n_gates
        w_x = INITS["xavier"](rng, self.n_in, g * h)
        w_h = np.concatenate([_orthogonal(rng, h) for _ in range(g)], axis=1)
        self.W_x = Parameter(np.ascontiguousarray(w_x, dtype=dtype), "W_x")
        self.W_h = Parameter(np.ascontiguousarray(w_h, dtype=dtype), "W_h")
        self.b = Parameter(self._initial_bias().astype(dtype), "b", regularize=False)
        self.params = [self.W_x, self.W_h, self.b]
        return super().build(input_shape, dtype, rng)

    def _initial_bias(self) -> np.ndarray:
        return np.zeros(self.n_gates * self.n_hidden)

    def _input_products(self, x: np.ndarray) -> np.ndarray:
        """x_t W_x + b for every step at once, time-major (T, n, gates * H); keeps x time-major."""
        n, t, f = x.shape
        self._x = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, f)
        z = self._x @ self.W_x.value
        z += self.b.value
        return z.reshape(t, n, -1)

    def _grad_steps(self, grad: np.ndarray) -> np.ndarray:
        """dC/dh_t from the layer above as a time-major (T, n, H) array (zeros before T without sequences)."""
        if self.return_sequences:
            return grad.transpose(1, 0, 2)
        steps = np.zeros((self.input.shape[1], *grad.shape), dtype=grad.dtype)
        steps[-1] = grad
        return steps

    def _weight_grads(self, delta: np.ndarray, h: np.ndarray) -> np.ndarray | None:
        """From the time-major delta_t = dC/dz_t (T, n, gates H) and states h_t (T, n, H):
        dC/dW_x = sum_t x_t^T delta_t,  dC/dW_h = sum_t h_(t-1)^T delta_t,  dC/db = sum delta_t,
        and dC/dx_t = delta_t W_x^T returned as (n, T, features).
        """
        t, n, k = delta.shape
        d = delta.reshape(t * n, k)
        np.matmul(self._x.T, d, out=self.W_x.grad)
        np.matmul(h[:-1].reshape(-1, self.n_hidden).T, delta[1:].reshape(-1, k), out=self.W_h.grad)
        np.sum(d, axis=0, out=self.b.grad)
        self.delta = delta.transpose(1, 0, 2)
        if not self.needs_input_grad:
            return None
        return (d @ self.W_x.value.T).reshape(t, n, -1).transpose(1, 0, 2)

    def _output(self, h: np.ndarray) -> np.ndarray:
        self.h = h.transpose(1, 0, 2)
        self.a = self.output = self.h if self.return_sequences else h[-1]
        return self.a

    def get_config(self) -> dict[str, Any]:
        return {"n_in": self.n_in, "n_hidden": self.n_hidden, "return_sequences": self.return_sequences,
                "l1": self.l1, "l2": self.l2, "name": self.name}

    def describe(self) -> str:
        return type(self).__name__ + (", sequences" if self.return_sequences else "")


@register
class RNN(_Recurrent):
    """Elman recurrent layer:  z_t = x_t W_x + h_(t-1) W_h + b,  h_t = f(z_t),  h_0 = 0  (f = tanh by default).

    Output h_T (n, H), or every h_t (n, T, H) with ``return_sequences``. Backpropagation through time, with
    g_t = dC/dh_t from the layer above:

        delta_t = (g_t + delta_(t+1) W_h^T) * f'(z_t),   dC/dW_h = sum_t h_(t-1)^T delta_t,
        dC/dW_x = sum_t x_t^T delta_t,   dC/db = sum_t delta_t,   dC/dx_t = delta_t W_x^T.

    W_x starts Xavier-uniform, W_h orthogonal, b at 0. Keeps ``z`` and ``h`` (n, T, H), ``delta`` = dC/dz.
    """

    config_schema = {"activation": ActivationField()}

    def __init__(self, n_in: int | None, n_hidden: int, return_sequences: bool = False,
                 activation: str | Activation = "tanh", l1: float | None = None, l2: float | None = None,
                 name: str | None = None) -> None:
        super().__init__(n_in, n_hidden, return_sequences, l1, l2, name)
        act = get_activation(activation)
        if not isinstance(act, Activation) or type(act).df is Activation.df:
            raise ValueError(f"RNN needs an elementwise activation such as 'tanh', got {act.describe()!r}")
        self.activation = act

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        z = self._input_products(x)
        h = np.empty_like(z)
        for t in range(z.shape[0]):
            if t:
                z[t] += h[t - 1] @ self.W_h.value
            h[t] = self.activation.f(z[t])
        self._z, self._h = z, h
        self.z = z.transpose(1, 0, 2)
        return self._output(h)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        g = self._grad_steps(grad)
        z, h, w_h_t = self._z, self._h, self.W_h.value.T
        delta = np.empty_like(z)
        for t in range(z.shape[0] - 1, -1, -1):
            dh = g[t] if t == z.shape[0] - 1 else g[t] + delta[t + 1] @ w_h_t
            np.multiply(dh, self.activation.df(z[t], h[t]), out=delta[t])
        return self._weight_grads(delta, h)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation.get_config()}

    def describe(self) -> str:
        return f"RNN, {self.activation.describe()}" + (", sequences" if self.return_sequences else "")


@register
class LSTM(_Recurrent):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997; forget gate of Gers et al., 2000):

        z_t = x_t W_x + h_(t-1) W_h + b,  split into the blocks [z_i | z_f | z_o | z_g] of width H,
        i_t = sigma(z_i),  f_t = sigma(z_f),  o_t = sigma(z_o),  g_t = tanh(z_g),
        c_t = f_t * c_(t-1) + i_t * g_t,   h_t = o_t * tanh(c_t),   h_0 = c_0 = 0.

    Backward, with dh_t = g_t^above + delta_(t+1) W_h^T and dc_t = dh_t o_t (1 - tanh^2 c_t) + dc_(t+1) f_(t+1):

        delta_i = dc_t g_t i_t (1 - i_t),  delta_f = dc_t c_(t-1) f_t (1 - f_t),
        delta_o = dh_t tanh(c_t) o_t (1 - o_t),  delta_g = dc_t i_t (1 - g_t^2).

    The forget-gate bias starts at 1 (Jozefowicz et al., 2015), so the cell remembers by default.
    Keeps ``z`` (n, T, 4H), the gates ``input_gate``, ``forget_gate``, ``output_gate``, ``candidate``,
    the cell ``c`` and hidden ``h`` states (n, T, H), and ``delta`` = dC/dz (n, T, 4H).
    """

    n_gates = 4

    def _initial_bias(self) -> np.ndarray:
        b = np.zeros(4 * self.n_hidden)
        b[self.n_hidden:2 * self.n_hidden] = 1.0
        return b

    def _gate(self, k: int) -> np.ndarray | None:
        hid = self.n_hidden
        return None if self.gate_values is None else self.gate_values[:, :, k * hid:(k + 1) * hid]

    @property
    def input_gate(self) -> np.ndarray | None:
        """i_t of the last pass, (n, T, H)."""
        return self._gate(0)

    @property
    def forget_gate(self) -> np.ndarray | None:
        """f_t of the last pass, (n, T, H)."""
        return self._gate(1)

    @property
    def output_gate(self) -> np.ndarray | None:
        """o_t of the last pass, (n, T, H)."""
        return self._gate(2)

    @property
    def candidate(self) -> np.ndarray | None:
        """g_t = tanh(z_g) of the last pass, (n, T, H)."""
        return self._gate(3)

    def __init__(self, n_in: int | None, n_hidden: int, return_sequences: bool = False,
                 l1: float | None = None, l2: float | None = None, name: str | None = None) -> None:
        super().__init__(n_in, n_hidden, return_sequences, l1, l2, name)
        self.gate_values: np.ndarray | None = None
        self.c: np.ndarray | None = None

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        z = self._input_products(x)
        steps, n, _ = z.shape
        hid = 3 * self.n_hidden
        gates = np.empty_like(z)
        c = np.empty((steps, n, self.n_hidden), dtype=z.dtype)
        tanh_c, h = np.empty_like(c), np.empty_like(c)
        for t in range(steps):
            if t:
                z[t] += h[t - 1] @ self.W_h.value
            gates[t, :, :hid] = logistic(z[t, :, :hid])
            np.tanh(z[t, :, hid:], out=gates[t, :, hid:])
            i, f, o, g = np.split(gates[t], 4, axis=1)
            np.multiply(i, g, out=c[t])
            if t:
                c[t] += f * c[t - 1]
            np.tanh(c[t], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])
        self._z, self._gates, self._c, self._tanh_c, self._h = z, gates, c, tanh_c, h
        self.z, self.gate_values, self.c = (a.transpose(1, 0, 2) for a in (z, gates, c))
        return self._output(h)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        g_above = self._grad_steps(grad)
        gates, c, tanh_c, w_h_t = self._gates, self._c, self._tanh_c, self.W_h.value.T
        steps = gates.shape[0]
        delta = np.empty_like(gates)
        dc_next = None
        for t in range(steps - 1, -1, -1):
            i, f, o, g = np.split(gates[t], 4, axis=1)
            d_i, d_f, d_o, d_g = np.split(delta[t], 4, axis=1)
            dh = g_above[t] if t == steps - 1 else g_above[t] + delta[t + 1] @ w_h_t
            dc = dh * o * (1.0 - tanh_c[t] ** 2)
            if dc_next is not None:
                dc += dc_next
            d_o[...] = dh * tanh_c[t] * o * (1.0 - o)
            d_i[...] = dc * g * i * (1.0 - i)
            d_g[...] = dc * i * (1.0 - g * g)
            if t:
                d_f[...] = dc * c[t - 1] * f * (1.0 - f)
            else:
                d_f[...] = 0.0  # c_0 = 0
            dc_next = dc * f
        return self._weight_grads(delta, self._h)
