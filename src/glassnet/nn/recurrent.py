"""Recurrent layers over sequences x of shape (n, T, features), trained by backpropagation through time.

Each layer runs its recurrence forward over t = 1..T from the zero state, keeping every step's
pre-activations, gates and states; ``backward`` walks the same steps in reverse, carrying dC/dh_t
(and dC/dc_t for the LSTM) from step t + 1 back to step t. Only the recurrence loops over time: the
input products x_t W_x of all steps, and all weight gradients, are single matrix products.

Stored arrays are time-major in memory; the attributes (``z``, ``h``, ``delta``, ...) are (n, T, ...)
views of them. With compiled kernels in use (``glassnet.set_kernels``, the extra ``glassnet[fast]``), the LSTM's
elementwise part of each step, forward and backward, is one compiled pass; the products stay NumPy's.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from glassnet._base.blas import in_parts, use_serial
from glassnet._base.checks import check_widths
from glassnet._kernels import compiled
from glassnet.nn.activations import Activation, get_activation
from glassnet.nn.init import INITS
from glassnet.nn.layers import ActivationField, Layer, Parameter, Shape, register


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
        self.n_in, self.n_hidden = check_widths(type(self).__name__, n_in, n_hidden=n_hidden)
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

    def entries_per_sample(self) -> int:
        """T (2 gates + 3) H: pre-activations and gates of every step, the states (and the LSTM's cell)."""
        return self.input_shape[0] * (2 * self.n_gates + 3) * self.n_hidden

    def _input_products(self, x: np.ndarray) -> np.ndarray:
        """x_t W_x + b for every step at once, time-major (T, n, gates * H); keeps x time-major."""
        n, t, f = x.shape
        self._x = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, f)
        z = self._x @ self.W_x.value
        z += self.b.value
        return z.reshape(t, n, -1)

    def _grad_steps(self, grad: np.ndarray) -> np.ndarray | None:
        """dC/dh_t from the layer above as a time-major (T, n, H) view; None without ``return_sequences``
        (then only dC/dh_T = ``grad`` comes from above)."""
        return grad.transpose(1, 0, 2) if self.return_sequences else None

    def _dh(self, t: int, grad: np.ndarray, g_above: np.ndarray | None, delta: np.ndarray) -> np.ndarray:
        """dC/dh_t = g_t + delta_(t+1) W_h^T (g_t from the layer above; delta_(T+1) = 0), for the rows
        that ``grad``, ``g_above`` and ``delta`` hold."""
        last = t == delta.shape[0] - 1
        if g_above is None:
            return grad.copy() if last else delta[t + 1] @ self.W_h.value.T
        return g_above[t].copy() if last else np.add(g_above[t], delta[t + 1] @ self.W_h.value.T)

    def _in_parts(self, n: int, fn: Any) -> None:
        """Run the time loop ``fn(rows)`` on blocks of the batch side by side (see ``_blas.in_parts``);
        unsplit, its products run on one BLAS thread where ``use_serial`` says so, as Dense's do."""
        in_parts(n, fn, serial=use_serial(n, self.W_h.value))

    def _weight_grads(self, delta: np.ndarray, h: np.ndarray) -> np.ndarray | None:
        """From the time-major delta_t = dC/dz_t (T, n, gates H) and states h_t (T, n, H):
        dC/dW_x = sum_t x_t^T delta_t,  dC/dW_h = sum_t h_(t-1)^T delta_t,  dC/db = sum delta_t,
        and dC/dx_t = delta_t W_x^T returned as (n, T, features).
        """
        t, n, k = delta.shape
        d = delta.reshape(t * n, k)
        if self.needs_param_grad:
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

        def steps(rows: slice) -> None:
            zr, hr = z[:, rows], h[:, rows]
            for t in range(zr.shape[0]):
                if t:
                    zr[t] += hr[t - 1] @ self.W_h.value
                hr[t] = self.activation.f(zr[t])

        self._in_parts(z.shape[1], steps)
        self._z, self._h = z, h
        self.z = z.transpose(1, 0, 2)
        return self._output(h)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        g = self._grad_steps(grad)
        z, h = self._z, self._h
        delta = np.empty_like(z)

        def steps(rows: slice) -> None:
            dr = delta[:, rows]
            dr[...] = self.activation.df(z[:, rows], h[:, rows])  # f'(z_t) of all steps, then times dC/dh_t
            for t in range(dr.shape[0] - 1, -1, -1):
                dr[t] *= self._dh(t, grad[rows], None if g is None else g[:, rows], dr)

        self._in_parts(z.shape[1], steps)
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
        steps, n, width = z.shape
        gates = np.empty_like(z)
        c = np.empty((steps, n, self.n_hidden), dtype=z.dtype)
        tanh_c, h = np.empty_like(c), np.empty_like(c)
        fast = compiled()
        steps_fn = self._forward_steps if fast is None else functools.partial(self._forward_steps_compiled, fast)
        self._in_parts(n, lambda rows: steps_fn(*(a[:, rows] for a in (z, gates, c, tanh_c, h))))
        self._z, self._gates, self._c, self._tanh_c, self._h = z, gates, c, tanh_c, h
        self.z, self.gate_values, self.c = (a.transpose(1, 0, 2) for a in (z, gates, c))
        return self._output(h)

    def _forward_steps(self, z: np.ndarray, gates: np.ndarray, c: np.ndarray, tanh_c: np.ndarray,
                       h: np.ndarray) -> None:
        """The recurrence over t for one block of rows (time-major views), filling gates, c, tanh c, h."""
        hid, w_h = self.n_hidden, self.W_h.value
        # sigma(z) = (1 + tanh(z / 2)) / 2: all four gates by one tanh of z scaled by [1/2 1/2 1/2 1]
        scale = np.full(z.shape[2], 0.5, z.dtype)
        scale[3 * hid:] = 1.0
        fc = np.empty_like(c[0])
        for t in range(z.shape[0]):
            zt, gt = z[t], gates[t]
            if t:
                zt += h[t - 1] @ w_h
            np.multiply(zt, scale, out=gt)
            np.tanh(gt, out=gt)
            sig = gt[:, :3 * hid]
            sig *= 0.5
            sig += 0.5
            i, f, o, g = gt[:, :hid], gt[:, hid:2 * hid], gt[:, 2 * hid:3 * hid], gt[:, 3 * hid:]
            np.multiply(i, g, out=c[t])
            if t:
                np.multiply(f, c[t - 1], out=fc)
                c[t] += fc
            np.tanh(c[t], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])

    def _forward_steps_compiled(self, fast: ModuleType, z: np.ndarray, gates: np.ndarray, c: np.ndarray,
                                tanh_c: np.ndarray, h: np.ndarray) -> None:
        """``_forward_steps`` with each step's elementwise part in one compiled pass (glassnet._kernels)."""
        w_h, half, first = self.W_h.value, z.dtype.type(0.5), np.empty((0, self.n_hidden), z.dtype)
        for t in range(z.shape[0]):
            if t:
                z[t] += h[t - 1] @ w_h
            fast.lstm_forward_step(z[t], c[t - 1] if t else first, gates[t], c[t], tanh_c[t], h[t], half)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        g_above = self._grad_steps(grad)
        delta = np.empty_like(self._gates)
        fast = compiled()
        steps_fn = self._backward_steps if fast is None else functools.partial(self._backward_steps_compiled, fast)

        def steps(rows: slice) -> None:
            steps_fn(grad[rows], None if g_above is None else g_above[:, rows],
                     *(a[:, rows] for a in (self._gates, self._c, self._tanh_c, delta)))

        self._in_parts(delta.shape[1], steps)
        return self._weight_grads(delta, self._h)

    def _backward_steps(self, grad: np.ndarray, g_above: np.ndarray | None, gates: np.ndarray, c: np.ndarray,
                        tanh_c: np.ndarray, delta: np.ndarray) -> None:
        """Backpropagation through time for one block of rows (time-major views), filling delta."""
        steps, n, _ = gates.shape
        hid = self.n_hidden
        i, f, o, g = (gates[..., k * hid:(k + 1) * hid] for k in range(4))
        # the factors of every step that do not depend on the recurrence, all steps at once:
        #   delta_i = dc g i (1 - i),  delta_f = dc c_(t-1) f (1 - f),  delta_o = dh tanh(c) o (1 - o),
        #   delta_g = dc i (1 - g^2),  dc_t = dh o (1 - tanh^2 c) + dc_(t+1) f_(t+1)
        factor = np.empty_like(gates)
        fi, ff, fo, fg = (factor[..., k * hid:(k + 1) * hid] for k in range(4))
        for out, gate, other in ((fi, i, g), (ff, f, None), (fo, o, tanh_c)):
            np.subtract(1.0, gate, out=out)
            out *= gate
            if other is not None:
                out *= other
        ff[1:] *= c[:-1]
        ff[0] = 0.0  # c_0 = 0
        np.multiply(g, g, out=fg)
        np.subtract(1.0, fg, out=fg)
        fg *= i
        dc_dh = np.multiply(tanh_c, tanh_c)  # o (1 - tanh^2 c)
        np.subtract(1.0, dc_dh, out=dc_dh)
        dc_dh *= o
        dc = np.zeros_like(c[0])
        for t in range(steps - 1, -1, -1):
            dh = self._dh(t, grad, g_above, delta)
            if t < steps - 1:
                dc *= f[t + 1]
            dh_c = np.multiply(dh, dc_dh[t])
            dc += dh_c
            np.multiply(dc[:, None, :], factor[t].reshape(n, 4, hid), out=delta[t].reshape(n, 4, hid))
            np.multiply(dh, fo[t], out=delta[t, :, 2 * hid:3 * hid])

    def _backward_steps_compiled(self, fast: ModuleType, grad: np.ndarray, g_above: np.ndarray | None,
                                 gates: np.ndarray, c: np.ndarray, tanh_c: np.ndarray, delta: np.ndarray) -> None:
        """``_backward_steps`` with each step's elementwise part in one compiled pass (glassnet._kernels)."""
        steps, _, width = gates.shape
        one, dc = gates.dtype.type(1), np.zeros_like(c[0])
        first, last = np.empty((0, self.n_hidden), gates.dtype), np.empty((0, width), gates.dtype)  # c_0 = 0, f_(T+1)
        for t in range(steps - 1, -1, -1):
            dh = np.ascontiguousarray(self._dh(t, grad, g_above, delta))
            fast.lstm_backward_step(dh, dc, gates[t], c[t - 1] if t else first, tanh_c[t],
                                    gates[t + 1] if t < steps - 1 else last, delta[t], one)
