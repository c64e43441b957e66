"""Gradient attributions: how much each input value (or each unit of a layer) speaks for the target class.

With f_k the target's output (logit z^L_k or probability a^L_k) and x' a baseline, as Captum defines them:

    saliency              d f_k / d x                                          (signed)
    gradient_x_input      x * d f_k / d x
    integrated_gradients  (x - x') * int_0^1 d f_k(x' + alpha (x - x')) / d x  d alpha    (Sundararajan et al. 2017)
    layer_attribution     a^l * d f_k / d a^l                                  (for a layer's activation a^l)

Integrated gradients is complete: its attributions add up to f_k(x) - f_k(x'), up to the quadrature's error
(``return_delta=True`` gives the gap).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.explain._grad import (
    check_model,
    check_output,
    check_x,
    explaining,
    forward,
    head_backward,
    head_values,
    n_classes,
    one_hot,
    resolve_layer,
    target_gradient,
    targets,
)
from glassnet.explain.quadrature import quadrature
from glassnet.model import Sequential
from glassnet.nn.gru import GRU
from glassnet.nn.recurrent import LSTM, RNN


def saliency(model: Sequential, X: Any, target: Any = None, output: str = "logit") -> np.ndarray:
    """The signed gradient d f_k / d x of the target's output with respect to each input, shaped like ``X``.

    ``target``: a class index or one per sample (default: the predicted class); ``output``: "logit" (z^L)
    or "probability" (a^L). Captum's ``Saliency(abs=False)``.
    """
    model = check_model(model)
    X, output = check_x(model, X), check_output(output)
    n_classes(model)
    with explaining(model):
        return target_gradient(model, X, target, output)[0]


def gradient_x_input(model: Sequential, X: Any, target: Any = None, output: str = "logit") -> np.ndarray:
    """x * d f_k / d x, shaped like ``X`` (Captum's ``InputXGradient``); arguments as :func:`saliency`."""
    model = check_model(model)
    X = check_x(model, X)
    return X * saliency(model, X, target, output)


def _baseline(model: Sequential, baseline: Any, X: np.ndarray) -> np.ndarray:
    """The baseline x' as an array broadcastable to X: a number, one sample, or one per sample."""
    b = np.asarray(baseline)
    if b.dtype.kind not in "biuf":
        raise ValueError(f"baseline must be a number or an array of numbers, got {type(baseline).__name__}")
    if b.ndim and b.shape not in (X.shape, X.shape[1:]):
        raise ValueError(f"baseline must be a number, one sample of shape {X.shape[1:]} or an array shaped like "
                         f"X {X.shape}, got shape {b.shape}")
    b = b.astype(model.dtype)
    if not np.isfinite(b).all():
        raise ValueError("baseline must be finite")
    return np.broadcast_to(b, X.shape)


def integrated_gradients(model: Sequential, X: Any, target: Any = None, baseline: Any = 0.0, steps: int = 50,
                         method: str = "gausslegendre", output: str = "logit", return_delta: bool = False
                         ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Integrated gradients from ``baseline`` x' to X along the straight path, shaped like ``X``:

        IG(x) = (x - x') * sum_i w_i d f_k(x' + alpha_i (x - x')) / d x

    with the nodes alpha_i and weights w_i of the quadrature ``method`` (see
    :mod:`glassnet.explain.quadrature`: "gausslegendre", "riemann_left", "riemann_right", "riemann_middle",
    "riemann_trapezoid") on ``steps`` nodes. ``baseline``: a number, one sample or one per sample (default 0,
    a black image). All steps of a sample run as one batch. With ``return_delta`` also the completeness gap
    per sample, sum(IG(x)) - (f_k(x) - f_k(x')), shape (n,).
    """
    model = check_model(model)
    X, output = check_x(model, X), check_output(output)
    k_out = n_classes(model)
    alphas, weights = quadrature(method, steps)
    if not isinstance(return_delta, bool):
        raise ValueError(f"return_delta must be True or False, got {return_delta!r}")
    base = _baseline(model, baseline, X)
    n, m = X.shape[0], alphas.size
    shape = X.shape[1:]
    diff = (X - base).reshape(n, -1)
    alphas = alphas.astype(model.dtype)
    weights = weights.astype(model.dtype)
    attr = np.empty_like(diff)
    with explaining(model):
        if target is None or return_delta:  # f(x): the predicted classes, and the far end of the path
            forward(model, X)
            f_x = head_values(model, X, output).copy()
            k = targets(target, f_x)
        else:
            k = targets(target, np.zeros((n, k_out), model.dtype))
        per_batch = max(1, model.inference_batch() // m)
        for i in range(0, n, per_batch):
            j = min(n, i + per_batch)
            # x' + alpha (x - x') for every node of every sample of this block: (samples, m, features)
            path = base[i:j].reshape(j - i, 1, -1) + alphas[None, :, None] * diff[i:j, None, :]
            batch = path.reshape((j - i) * m, *shape)
            forward(model, batch)
            f = head_values(model, batch, output)
            g = head_backward(model, one_hot(f.shape[0], f.shape[1], np.repeat(k[i:j], m), f.dtype), output)
            g = np.reshape(g, (j - i, m, -1))
            np.multiply(diff[i:j], (weights @ g), out=attr[i:j])  # (x - x') sum_i w_i g_i
        attr = attr.reshape(X.shape)
        if not return_delta:
            return attr
        forward(model, np.ascontiguousarray(base))
        f_base = head_values(model, base, output)
        rows = np.arange(n)
        gap = attr.reshape(n, -1).sum(axis=1, dtype=np.float64) - (f_x[rows, k] - f_base[rows, k])
    return attr, gap.astype(model.dtype)


def layer_attribution(model: Sequential, X: Any, layer: Any, target: Any = None, output: str = "logit"
                      ) -> np.ndarray:
    r"""Activation times gradient for every unit of a layer, :math:`a^l \odot \partial f_k / \partial a^l`, shaped
    like the layer's output ``(n, *output_shape)`` (Captum's ``LayerGradientXActivation``).

    ``layer``: an index, a name or the layer. For the last layer a^l is f itself (the logits with
    output="logit"). For an RNN, LSTM or GRU the attribution is per time step, (n, T, H): h_t * df/dh_t, with
    df/dh_t the whole derivative through the later steps; summed over the units it says which steps (rows
    of a digit read row by row) the prediction relied on. For the GRU, from its delta_t and gates,
    df/dh_(t-1) = g_(t-1) + df/dh_t z_t + [delta_z | delta_r | delta_n r_t]_t W_h^T.
    """
    model = check_model(model)
    X, output = check_x(model, X), check_output(output)
    n_classes(model)
    index = resolve_layer(model, layer)
    layers = model.layers
    chosen = layers[index]
    recurrent = isinstance(chosen, (RNN, LSTM, GRU))
    with explaining(model):
        forward(model, X)
        f = head_values(model, X, output)
        k = targets(target, f)
        seed = one_hot(X.shape[0], f.shape[1], k, f.dtype)
        if index == len(layers) - 1:  # the layer of f: its "activation" is f itself
            return f * seed
        g = np.array(head_backward(model, seed, output, down_to=index + 1))  # df/da^l, a copy of its own
        if not recurrent:
            return chosen.output * g
        chosen.backward(g.copy())  # fills delta_t = df/dz_t of every step
        above = np.zeros_like(chosen.h)  # g_t, df/dh_t from the layers above
        if chosen.return_sequences:
            above += g
        else:
            above[:, -1] = g
        if isinstance(chosen, GRU):
            return chosen.h * _gru_state_gradient(chosen, above)
        dh = above
        dh[:, :-1] += chosen.delta[:, 1:] @ chosen.W_h.value.T  # dh_t = g_t + delta_(t+1) W_h^T
        return chosen.h * dh


def _gru_state_gradient(gru: GRU, above: np.ndarray) -> np.ndarray:
    """df/dh_t of every step (n, T, H) from the GRU's last backward pass (its delta and gates) and ``above``."""
    hid = gru.n_hidden
    dq = np.array(gru.delta)  # [delta_z | delta_r | delta_n] -> [delta_z | delta_r | delta_n r]
    dq[..., 2 * hid:] *= gru.gate_values[..., hid:2 * hid]
    back = dq @ gru.W_h.value.T  # the part of df/dh_(t-1) through step t's gates
    dh = np.empty_like(above)
    dh[:, -1] = above[:, -1]
    for t in range(above.shape[1] - 1, 0, -1):
        dh[:, t - 1] = above[:, t - 1] + dh[:, t] * gru.gate_values[:, t, :hid] + back[:, t]
    return dh
