"""The gated recurrent unit (Cho et al., 2014), in the form of PyTorch and of ONNX's ``linear_before_reset=1``.

Forward and backward side by side, as the LSTM's in :mod:`glassnet.nn.recurrent`; every step's gates and state
are kept for the glass box.
"""

from __future__ import annotations

import numpy as np

from glassnet.nn.activations import logistic
from glassnet.nn.layers import Parameter, Shape, register
from glassnet.nn.recurrent import _Recurrent


@register
class GRU(_Recurrent):
    """Gated recurrent unit over x (n, T, features), h_0 = 0:

        [a_z | a_r | a_n] = x_t W_x + b,   [q_z | q_r | q_n] = h_(t-1) W_h + [0 | 0 | b_hn],
        z_t = sigma(a_z + q_z),  r_t = sigma(a_r + q_r),  n_t = tanh(a_n + r_t * q_n),
        h_t = (1 - z_t) * n_t + z_t * h_(t-1).

    The reset gate scales the recurrent product after it is taken (PyTorch's form), so the candidate's recurrent
    bias ``b_hn`` stays apart from ``b``. Backward, with dh_t = g_t^above + dC/dh_t from step t + 1:

        dn = dh (1 - z),  delta_n = dn (1 - n^2),  delta_z = dh (h_(t-1) - n) z (1 - z),
        delta_r = delta_n q_n r (1 - r),  dq_n = delta_n r,
        dC/dh_(t-1) = dh z + [delta_z | delta_r | dq_n] W_h^T,
        dC/dW_x = sum_t x_t^T delta_t,  dC/dW_h = sum_t h_(t-1)^T [delta_z | delta_r | dq_n],
        dC/db = sum_t delta_t,  dC/db_hn = sum_t dq_n.

    Keeps ``z`` (n, T, 3H) = x_t W_x + b, the gates ``update_gate``, ``reset_gate``, ``candidate`` and the states
    ``h`` (n, T, H), and ``delta`` = dC/d(x_t W_x + b) (n, T, 3H).
    """

    n_gates = 3

    def __init__(self, n_in: int | None, n_hidden: int, return_sequences: bool = False,
                 l1: float | None = None, l2: float | None = None, name: str | None = None) -> None:
        super().__init__(n_in, n_hidden, return_sequences, l1, l2, name)
        self.gate_values: np.ndarray | None = None

    def array_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        return {**super().array_shapes(input_shape), "b_hn": (self.n_hidden,)}

    def build(self, input_shape: Shape, dtype: np.dtype, rng: np.random.Generator) -> Shape:
        shape = super().build(input_shape, dtype, rng)
        self.b_hn = Parameter(np.zeros(self.n_hidden, dtype=dtype), "b_hn", regularize=False)
        self.params.append(self.b_hn)
        return shape

    def _gate(self, k: int) -> np.ndarray | None:
        hid = self.n_hidden
        return None if self.gate_values is None else self.gate_values[:, :, k * hid:(k + 1) * hid]

    @property
    def update_gate(self) -> np.ndarray | None:
        """z_t of the last pass, (n, T, H)."""
        return self._gate(0)

    @property
    def reset_gate(self) -> np.ndarray | None:
        """r_t of the last pass, (n, T, H)."""
        return self._gate(1)

    @property
    def candidate(self) -> np.ndarray | None:
        """n_t of the last pass, (n, T, H)."""
        return self._gate(2)

    def entries_per_sample(self) -> int:
        """T 11 H: the input products, gates and recurrent candidate products (3H, 3H, H) and the states."""
        return self.input_shape[0] * 11 * self.n_hidden

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.input = x
        a = self._input_products(x)  # (T, n, 3H)
        steps, n, _ = a.shape
        hid, w_h = self.n_hidden, self.W_h.value
        gates = np.empty_like(a)
        q_n = np.empty((steps, n, hid), dtype=a.dtype)
        h = np.empty_like(q_n)
        for t in range(steps):
            g = gates[t]
            g[...] = a[t]
            if t:
                q = h[t - 1] @ w_h
                g[:, :2 * hid] += q[:, :2 * hid]
                q_n[t] = q[:, 2 * hid:]
            else:
                q_n[t] = 0.0
            q_n[t] += self.b_hn.value
            g[:, :2 * hid] = logistic(g[:, :2 * hid])
            np.tanh(a[t, :, 2 * hid:] + g[:, hid:2 * hid] * q_n[t], out=g[:, 2 * hid:])
            z, cand = g[:, :hid], g[:, 2 * hid:]
            h[t] = (1.0 - z) * cand
            if t:
                h[t] += z * h[t - 1]
        self._gates, self._q_n, self._h = gates, q_n, h
        self.z, self.gate_values = (v.transpose(1, 0, 2) for v in (a, gates))
        return self._output(h)

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        g_above = self._grad_steps(grad)
        gates, q_n, h = self._gates, self._q_n, self._h
        steps, n, _ = gates.shape
        hid, w_h = self.n_hidden, self.W_h.value
        delta = np.empty_like(gates)
        dq = np.empty_like(gates)  # dC/d(h_(t-1) W_h + [0 | 0 | b_hn]) of every step
        dh = grad.copy() if g_above is None else g_above[-1].copy()
        for t in range(steps - 1, -1, -1):
            z, r, cand = gates[t, :, :hid], gates[t, :, hid:2 * hid], gates[t, :, 2 * hid:]
            h_prev = h[t - 1] if t else np.zeros_like(dh)
            d_n = dh * (1.0 - z) * (1.0 - cand * cand)
            delta[t, :, 2 * hid:] = d_n
            delta[t, :, :hid] = dh * (h_prev - cand) * z * (1.0 - z)
            delta[t, :, hid:2 * hid] = d_n * q_n[t] * r * (1.0 - r)
            dq[t, :, :2 * hid] = delta[t, :, :2 * hid]
            dq[t, :, 2 * hid:] = d_n * r
            if t:
                dh = dh * z + dq[t] @ w_h.T
                if g_above is not None:
                    dh += g_above[t - 1]
        x_grad = self._weight_grads(delta, h)  # dC/dW_x, dC/db and dC/dx (and a W_h.grad from delta, replaced:)
        if self.needs_param_grad:
            np.sum(dq[..., 2 * hid:], axis=(0, 1), out=self.b_hn.grad)
            np.matmul(h[:-1].reshape(-1, hid).T, dq[1:].reshape(-1, 3 * hid), out=self.W_h.grad)
        return x_grad

    def describe(self) -> str:
        return "GRU" + (", sequences" if self.return_sequences else "")
