"""The primitive every explanation shares: one inference pass forward, then one backward pass that carries the
gradient of the target's output down to the input X (or to a layer's activation):

    g = d f_k(X) / dX,    f = z^L (output="logit") or a^L (output="probability"),    k the target class.

The pass runs in inference mode (``training=False``: dropout, noise and augmentation are identities, batch
normalisation uses its running statistics, no random number is drawn) inside :func:`explaining`, which lets
every layer hand dC/dx back (training skips it for the first layers) and stops every layer computing its
parameters' gradients; then it puts the flags back. Weights, gradients and buffers are only read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from glassnet._base.checks import check_samples
from glassnet.model import Sequential
from glassnet.nn.activations import Activation
from glassnet.nn.layers import Activated, Layer, Reshape

OUTPUTS = ("logit", "probability")
"""What f is: the last layer's pre-activation z^L, or its activation a^L (softmax or sigmoid)."""


# ----------------------------------------------------------------------------- checks
def check_model(model: Any) -> Sequential:
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a glassnet Sequential, got {type(model).__name__}")
    return model


def check_x(model: Sequential, X: Any) -> np.ndarray:
    """X as a batch of the model's inputs in its dtype (at least one sample)."""
    return check_samples(X, model.input_shape, model.dtype, "X", min_samples=1)


def check_output(output: Any) -> str:
    if output not in OUTPUTS:
        raise ValueError(f"output must be 'logit' or 'probability', got {output!r}")
    return output


def n_classes(model: Sequential) -> int:
    """K, the width of the model's output vector; models with other outputs cannot be explained per class."""
    if len(model.output_shape) != 1:
        raise ValueError(f"explanations need a model with one output vector per sample, got output shape "
                         f"{model.output_shape}")
    return int(model.output_shape[0])


def check_int(value: Any, name: str, minimum: int) -> int:
    """A whole number >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(value: Any, name: str, minimum: float = 0.0) -> float:
    """A finite real number >= ``minimum``."""
    try:
        ok = not isinstance(value, bool) and np.isfinite(float(value)) and float(value) >= minimum
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return float(value)


def check_classes(value: Any, n: int, k: int, name: str) -> np.ndarray:
    """A class index, or one per sample, as int64 (n,), each in 0..k-1."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" or arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n):
        raise ValueError(f"{name} must be a class index or one per sample ({n}), got {value!r}"[:200])
    bad = arr[(arr < 0) | (arr >= k)]
    if bad.size:
        raise ValueError(f"{name} must be a class index in 0..{k - 1}, got {int(bad.flat[0])}")
    return np.broadcast_to(arr.astype(np.int64), (n,)).copy()


def targets(target: Any, f: np.ndarray) -> np.ndarray:
    """The class of each sample: ``target`` checked, or (None) the predicted one, argmax_k f_k."""
    n, k = f.shape
    if target is None:
        return np.zeros(n, np.int64) if k == 1 else f.argmax(axis=1)
    return check_classes(target, n, k, "target")


def resolve_layer(model: Sequential, layer: Any) -> int:
    """The index of ``layer``: an index (negative counts from the end), a layer name, or the layer itself."""
    layers = model.layers
    if isinstance(layer, Layer):
        for i, candidate in enumerate(layers):
            if candidate is layer:
                return i
    elif isinstance(layer, str):
        for i, candidate in enumerate(layers):
            if candidate.name == layer:
                return i
    elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool) and -len(layers) <= layer < len(layers):
        return int(layer) % len(layers)
    names = ", ".join(candidate.name for candidate in layers)
    raise ValueError(f"layer must be an index 0..{len(layers) - 1}, a name ({names}) or one of the model's "
                     f"layers, got {layer!r}")


def image_geometry(model: Sequential, shape: Any = None) -> tuple[int, int, int] | None:
    """(C, H, W) of the model's input read as images: ``shape`` ((H, W) or (C, H, W)), else the model's own
    input shape, else the first ``Reshape`` before any layer with parameters, else 28 x 28 for 784 features;
    None when none applies."""
    size = int(np.prod(model.input_shape))
    if shape is not None:
        try:
            dims = tuple(int(s) for s in shape)
            ok = len(dims) in (2, 3) and min(dims) >= 1 and int(np.prod(dims)) == size
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"shape must be (H, W) or (C, H, W) holding the model's {size} input values, "
                             f"got {shape!r}")
        return (1, *dims) if len(dims) == 2 else dims  # type: ignore[return-value]
    candidates = [model.input_shape]
    for layer in model.layers:
        if isinstance(layer, Reshape):
            candidates.append(layer.shape)
            break
        if layer.params:
            break
    for dims in candidates:
        if len(dims) == 3:
            return tuple(int(d) for d in dims)  # type: ignore[return-value]
        if len(dims) == 2:
            return 1, int(dims[0]), int(dims[1])
    return (1, 28, 28) if size == 784 else None


def one_hot(n: int, k: int, index: np.ndarray, dtype: np.dtype, value: Any = 1.0) -> np.ndarray:
    """(n, k) zeros with ``value`` at (i, index_i): the seed d f_(index_i) / d f."""
    seed = np.zeros((n, k), dtype)
    seed[np.arange(n), index] = value
    return seed


# ----------------------------------------------------------------------------- passes
@contextlib.contextmanager
def explaining(model: Sequential) -> Iterator[None]:
    """Inside, every layer hands dC/dx back and computes no parameter gradient (``needs_input_grad`` set,
    ``needs_param_grad`` cleared); on leaving, both flags are as they were. Every ``.grad`` keeps what the last
    training step left there: an explanation between two steps of training changes nothing a later ``fit``
    sees, and costs no more than the input gradient."""
    layers = model.layers
    flags = [(layer.needs_input_grad, layer.needs_param_grad) for layer in layers]
    for layer in layers:
        layer.needs_input_grad, layer.needs_param_grad = True, False
    try:
        yield
    finally:
        for layer, (needs_input, needs_param) in zip(layers, flags, strict=True):
            layer.needs_input_grad, layer.needs_param_grad = needs_input, needs_param


def forward(model: Sequential, X: np.ndarray, upto: int | None = None) -> np.ndarray:
    """Inference pass through layers 0..``upto`` (all by default); every layer keeps its input, z, a."""
    a = X
    for layer in model.layers[:None if upto is None else upto + 1]:
        a = layer.forward(a, False)
    return a


def _head(model: Sequential, output: str) -> tuple[int, bool]:
    """Where f sits: (index of the layer whose output, or z with the flag set, is f)."""
    layers = model.layers
    last = layers[-1]
    if output == "logit":
        if isinstance(last, Activated) and last.activation is not None:
            return len(layers) - 1, True
        if isinstance(last, Activation):
            return len(layers) - 2, False  # f = z = the activation layer's input
    return len(layers) - 1, False


def head_values(model: Sequential, X: np.ndarray, output: str) -> np.ndarray:
    """f of the last forward pass: (n, K)."""
    top, into_z = _head(model, output)
    if top < 0:
        return X
    layer = model.layers[top]
    return layer.z if into_z else layer.output


def backward(model: Sequential, seed: np.ndarray, top: int, into_z: bool = False, down_to: int = 0) -> np.ndarray:
    """Carry ``seed`` = df/d(output of layer ``top``) (df/dz of it when ``into_z``) down through the layers
    top..``down_to``; return df/d(input of layer ``down_to``). Layers may write into ``seed``."""
    g = seed
    for i in range(top, down_to - 1, -1):
        layer = model.layers[i]
        g = layer.backward_delta(g) if into_z and i == top else layer.backward(g)
    return g


def head_backward(model: Sequential, seed: np.ndarray, output: str, down_to: int = 0) -> np.ndarray:
    """df/d(input of layer ``down_to``) for ``seed`` = df/d(logits or probabilities) of the last pass."""
    top, into_z = _head(model, output)
    return backward(model, seed, top, into_z, down_to)


def target_gradient(model: Sequential, X: np.ndarray, target: Any, output: str
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(g, f, k): g = d f_(k_i)(X_i) / dX_i shaped like X, the outputs f (n, K) and the targets k (n,).

    Call inside :func:`explaining`."""
    forward(model, X)
    f = head_values(model, X, output).copy()
    k = targets(target, f)
    g = head_backward(model, one_hot(X.shape[0], f.shape[1], k, f.dtype), output)
    return np.ascontiguousarray(g).reshape(X.shape), f, k
