"""Export a Sequential to ONNX, so that it runs where glassnet is not installed (ONNX Runtime from C++,
C#, Java, JavaScript, a phone).

As in ``torch.onnx``, each layer type has one small mapping function in ``CONVERTERS``, keyed by the
layer class: ``f(layer, graph, x) -> y`` adds the standard ONNX operators computing the layer from the
value named x and returns the name of its output. Layers that are the identity at inference (dropout,
the noise layers: ``Layer.identity_at_inference``) are left out. Values are named after the glass box:
``dense_1.z``, ``dense_1.a``, so any of them can be made a graph output and inspected.

Models are exported in float32 (ONNX Runtime has no float64 kernels for most of these operators). The
graph passes ``onnx.checker.check_model(full_check=True)`` before anything is written, and the file is
written atomically: a layer without a mapping fails with one line and leaves nothing at the path.

Needs onnx (``pip install 'glassnet[onnx]'``, which also brings onnxruntime for :func:`verify`); the core
never imports this module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"glassnet.onnx needs onnx ({e}): pip install 'glassnet[onnx]'") from None

import glassnet as gn
from glassnet._base.files import atomic_write
from glassnet.model.file import model_config
from glassnet.nn.layers import Layer

__all__ = ["CONVERTERS", "DEFAULT_OPSET", "MIN_OPSET", "ExportError", "Graph", "converter", "export", "to_onnx",
           "verify"]

DEFAULT_OPSET = 17
"""Opset of the exported graphs unless asked otherwise: run by every ONNX Runtime since 1.13 (2022)."""
MIN_OPSET = 13
"""Oldest opset offered: Softmax over one axis and Squeeze axes as an input (both from opset 13)."""


class ExportError(ValueError):
    """A model that cannot be exported: a layer without a mapping, or an opset out of range."""


Converter = Callable[[Layer, "Graph", str], str]
CONVERTERS: dict[type[Layer], Converter] = {}
"""The ONNX mapping of each layer class (exact class: a subclass needs its own)."""


def converter(cls: type[Layer]) -> Callable[[Converter], Converter]:
    """Decorator: ``@converter(MyLayer) def f(layer, g, x) -> str`` makes MyLayer exportable."""
    def register(fn: Converter) -> Converter:
        CONVERTERS[cls] = fn
        return fn

    return register


class Graph:
    """The ONNX graph being written: nodes, float32 initializers and unique value names.

    ``op`` adds one node; ``weight`` one float32 tensor (an array given twice, as DenseTied's borrowed W,
    becomes one tensor); ``ints`` an int64 constant (shapes, axes); ``layer`` converts a layer through
    ``CONVERTERS``. Values are named "<layer name>.<hint>", e.g. "dense_1.z".
    """

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.scope = "graph"
        self._names: set[str] = {"input", "output"}
        self._arrays: dict[int, tuple[np.ndarray, str]] = {}  # id -> (array kept alive, tensor name)

    def name(self, hint: str) -> str:
        """A fresh value name "<scope>.<hint>" (numbered when taken)."""
        base = name = f"{self.scope}.{hint}"
        k = 1
        while name in self._names:
            name, k = f"{base}_{k}", k + 1
        self._names.add(name)
        return name

    def op(self, op_type: str, inputs: Sequence[str], out: str | None = None, n_out: int = 1,
           **attrs: Any) -> Any:
        """Add ``op_type(inputs, **attrs)``; its output name (a list of ``n_out`` names when n_out > 1)."""
        outputs = [self.name(out or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=self.name(op_type), **attrs))
        return outputs[0] if n_out == 1 else outputs

    def weight(self, array: np.ndarray, hint: str, owner: str | None = None) -> str:
        """A float32 initializer holding ``array``, named "<owner or scope>.<hint>"; the same array object
        gives the same tensor."""
        key = id(array)
        if key not in self._arrays:
            scope, self.scope = self.scope, owner or self.scope
            name = self.name(hint)
            self.scope = scope
            self.initializers.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
            self._arrays[key] = (array, name)
        return self._arrays[key][1]

    def ints(self, values: Sequence[int], hint: str) -> str:
        """An int64 constant tensor (a shape, or axes)."""
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), name))
        return name

    def reduce_max(self, x: str, axis: int, out: str) -> str:
        """ReduceMax over one axis, without keeping it (axes an attribute before opset 18, an input since)."""
        if self.opset < 18:
            return self.op("ReduceMax", [x], out, axes=[axis], keepdims=0)
        return self.op("ReduceMax", [x, self.ints([axis], "axes")], out, keepdims=0)

    def layer(self, layer: Layer, x: str) -> str:
        """The output of ``layer`` applied to x, by its mapping in ``CONVERTERS``."""
        if layer.identity_at_inference:
            return x
        fn = CONVERTERS.get(type(layer))
        if fn is None:
            known = ", ".join(sorted(cls.__name__ for cls in CONVERTERS))
            raise ExportError(f"cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX: no mapping for "
                              f"{type(layer).__name__}; layers with one: {known}")
        outer = self.scope
        self.scope = layer.name or outer  # an activation inside a Dense layer names its values after it
        try:
            return fn(layer, self, x)
        finally:
            self.scope = outer

    def activation(self, layer: Layer, z: str) -> str:
        """a = f(z) for a layer with an optional ``activation`` (none: a = z, still named "<layer>.a")."""
        act = getattr(layer, "activation", None)
        return self.op("Identity", [z], "a") if act is None else self.layer(act, z)


# ----------------------------------------------------------------------------- activations
@converter(gn.Linear)
def _linear(layer: gn.Linear, g: Graph, z: str) -> str:
    return g.op("Identity", [z], "a")


@converter(gn.Step)
def _step(layer: gn.Step, g: Graph, z: str) -> str:
    """a = 1 if z >= threshold else 0."""
    t = g.weight(np.array(layer.threshold), "threshold")
    return g.op("Cast", [g.op("GreaterOrEqual", [z, t], "above")], "a", to=TensorProto.FLOAT)


@converter(gn.Sigmoid)
def _sigmoid(layer: gn.Sigmoid, g: Graph, z: str) -> str:
    """a = sigma(s z): Mul then Sigmoid when the slope s is not 1."""
    if layer.slope != 1.0:
        z = g.op("Mul", [z, g.weight(np.array(layer.slope), "slope")], "sz")
    return g.op("Sigmoid", [z], "a")


@converter(gn.Swish)
def _swish(layer: gn.Swish, g: Graph, z: str) -> str:
    """a = z sigma(beta z)."""
    bz = z if layer.beta == 1.0 else g.op("Mul", [z, g.weight(np.array(layer.beta), "beta")], "bz")
    return g.op("Mul", [z, g.op("Sigmoid", [bz], "gate")], "a")


@converter(gn.LeakyReLU)
def _leaky_relu(layer: gn.LeakyReLU, g: Graph, z: str) -> str:
    return g.op("LeakyRelu", [z], "a", alpha=layer.alpha)


@converter(gn.Softmax)
def _softmax(layer: gn.Softmax, g: Graph, z: str) -> str:
    return g.op("Softmax", [z], "a", axis=-1)


@converter(gn.LogSoftmax)
def _log_softmax(layer: gn.LogSoftmax, g: Graph, z: str) -> str:
    return g.op("LogSoftmax", [z], "a", axis=-1)


@converter(gn.ELU)
def _elu(layer: gn.ELU, g: Graph, z: str) -> str:
    return g.op("Elu", [z], "a", alpha=layer.alpha)


@converter(gn.SELU)
def _selu(layer: gn.SELU, g: Graph, z: str) -> str:
    return g.op("Selu", [z], "a")


@converter(gn.HardSigmoid)
def _hard_sigmoid(layer: gn.HardSigmoid, g: Graph, z: str) -> str:
    return g.op("HardSigmoid", [z], "a", alpha=layer.alpha, beta=layer.beta)


@converter(gn.GELU)
def _gelu(layer: gn.GELU, g: Graph, z: str) -> str:
    """Gelu from opset 20; before, a = z (1 + erf(z / sqrt 2)) / 2, or z (1 + tanh u) / 2 with
    u = sqrt(2 / pi) (z + 0.044715 z^3)."""
    if g.opset >= 20:
        return g.op("Gelu", [z], "a", approximate=layer.approximate)
    if layer.approximate == "tanh":
        cube = g.op("Mul", [g.op("Mul", [z, z], "z2"), z], "z3")
        inner = g.op("Add", [z, g.op("Mul", [cube, g.weight(np.array(0.044715), "c")], "cz3")], "inner")
        u = g.op("Mul", [inner, g.weight(np.array(np.sqrt(2 / np.pi)), "k")], "u")
        gate = g.op("Tanh", [u], "tanh_u")
    else:
        gate = g.op("Erf", [g.op("Mul", [z, g.weight(np.array(np.sqrt(0.5)), "k")], "u")], "erf_u")
    one_plus = g.op("Add", [gate, g.weight(np.array(1.0), "one")], "one_plus")
    half_z = g.op("Mul", [z, g.weight(np.array(0.5), "half")], "half_z")
    return g.op("Mul", [half_z, one_plus], "a")


def _elementwise(cls: type[Layer], op_type: str) -> None:
    converter(cls)(lambda layer, g, z: g.op(op_type, [z], "a"))


for _cls, _op in ((gn.Tanh, "Tanh"), (gn.ReLU, "Relu"), (gn.Softplus, "Softplus"), (gn.Softsign, "Softsign")):
    _elementwise(_cls, _op)


# ----------------------------------------------------------------------------- dense and shape layers
@converter(gn.Dense)
def _dense(layer: gn.Dense, g: Graph, x: str) -> str:
    """z = x W + b as Gemm (W is already n_in x n_out), then a = f(z)."""
    z = g.op("Gemm", [x, g.weight(layer.W.value, "W"), g.weight(layer.b.value, "b")], "z")
    return g.activation(layer, z)


@converter(gn.DenseTied)
def _dense_tied(layer: gn.DenseTied, g: Graph, x: str) -> str:
    """z = x W_t^T + b: Gemm with transB on the target layer's W tensor (one tensor for both)."""
    w = g.weight(layer.target.W.value, "W", owner=layer.target.name)
    z = g.op("Gemm", [x, w, g.weight(layer.b.value, "b")], "z", transB=1)
    return g.activation(layer, z)


@converter(gn.Maxout)
def _maxout(layer: gn.Maxout, g: Graph, x: str) -> str:
    """a_j = max_k z_jk: Gemm to (n, units * pieces), Reshape to (n, units, pieces), ReduceMax."""
    z = g.op("Gemm", [x, g.weight(layer.W.value, "W"), g.weight(layer.b.value, "b")], "z")
    z = g.op("Reshape", [z, g.ints([0, layer.n_out, layer.pieces], "shape")], "pieces")
    return g.reduce_max(z, 2, "a")


@converter(gn.BatchNorm)
def _batch_norm(layer: gn.BatchNorm, g: Graph, x: str) -> str:
    """z = gamma (x - running_mean) / sqrt(running_var + eps) + beta as one BatchNormalization node (inference;
    (n, F) and (n, C, H, W) alike), then a = f(z)."""
    running = layer.buffers
    inputs = [x, g.weight(layer.gamma.value, "gamma"), g.weight(layer.beta.value, "beta"),
              g.weight(running["running_mean"], "running_mean"), g.weight(running["running_var"], "running_var")]
    z = g.op("BatchNormalization", inputs, "z", epsilon=layer.eps, momentum=layer.momentum)
    return g.activation(layer, z)


@converter(gn.Flatten)
def _flatten(layer: gn.Flatten, g: Graph, x: str) -> str:
    return g.op("Flatten", [x], "a", axis=1)


@converter(gn.Reshape)
def _reshape(layer: gn.Reshape, g: Graph, x: str) -> str:
    return g.op("Reshape", [x, g.ints([0, *layer.shape], "shape")], "a")  # 0: keep the batch size


# ----------------------------------------------------------------------------- convolution and pooling
@converter(gn.Conv2D)
def _conv2d(layer: gn.Conv2D, g: Graph, x: str) -> str:
    """Conv: glassnet's W (C', C, kh, kw) is ONNX's layout; pads are (top, left, bottom, right)."""
    (ph, pw) = layer.padding
    z = g.op("Conv", [x, g.weight(layer.W.value, "W"), g.weight(layer.b.value, "b")], "z",
             kernel_shape=list(layer.kernel_size), strides=list(layer.stride), pads=[ph, pw, ph, pw])
    return g.activation(layer, z)


@converter(gn.MaxPool2D)
def _max_pool(layer: gn.MaxPool2D, g: Graph, x: str) -> str:
    return g.op("MaxPool", [x], "a", kernel_shape=list(layer.pool_size), strides=list(layer.stride))


@converter(gn.AvgPool2D)
def _avg_pool(layer: gn.AvgPool2D, g: Graph, x: str) -> str:
    return g.op("AveragePool", [x], "a", kernel_shape=list(layer.pool_size), strides=list(layer.stride))


# ----------------------------------------------------------------------------- recurrent layers
_RNN_ACTIVATIONS = {gn.Tanh: "Tanh", gn.ReLU: "Relu", gn.Softsign: "Softsign", gn.Softplus: "Softplus",
                    gn.LeakyReLU: "LeakyRelu", gn.Linear: "Affine", gn.Sigmoid: "Sigmoid"}
"""The activations ONNX's RNN node has; the others are exported step by step."""


def _rnn_activation(act: Layer) -> dict[str, Any] | None:
    """The RNN node's activation attributes for ``act``, or None when it has no such activation."""
    name = _RNN_ACTIVATIONS.get(type(act))
    if name is None or (name == "Sigmoid" and act.slope != 1.0):
        return None
    if name == "LeakyRelu":
        return {"activations": [name], "activation_alpha": [act.alpha]}
    if name == "Affine":  # f(z) = alpha z + beta
        return {"activations": [name], "activation_alpha": [1.0], "activation_beta": [0.0]}
    return {"activations": [name]}


def _sequences(layer: gn.RNN | gn.LSTM | gn.GRU, g: Graph, y: str, y_h: str) -> str:
    """From ONNX's Y (T, 1, n, H) and Y_h (1, n, H): every h_t as (n, T, H), or h_T as (n, H)."""
    if layer.return_sequences:
        return g.op("Transpose", [g.op("Squeeze", [y, g.ints([1], "axes")], "h_time_major")], "h", perm=[1, 0, 2])
    return g.op("Squeeze", [y_h, g.ints([0], "axes")], "h")


@converter(gn.RNN)
def _rnn(layer: gn.RNN, g: Graph, x: str) -> str:
    """ONNX RNN on the time-major input (ONNX Runtime refuses layout=1): W = W_x^T, R = W_h^T,
    B = [b, 0]. An activation ONNX's RNN lacks (swish, a sigmoid's slope, step) is unrolled instead."""
    xt = g.op("Transpose", [x], "x_time_major", perm=[1, 0, 2])
    attrs = _rnn_activation(layer.activation)
    if attrs is None:
        return _unrolled_rnn(layer, g, xt)
    bias = np.concatenate([layer.b.value, np.zeros_like(layer.b.value)])
    y, y_h = g.op("RNN", [xt, g.weight(layer.W_x.value.T[None], "W"), g.weight(layer.W_h.value.T[None], "R"),
                          g.weight(bias[None], "B")], "y", n_out=2, hidden_size=layer.n_hidden, **attrs)
    return _sequences(layer, g, y, y_h)


def _unrolled_rnn(layer: gn.RNN, g: Graph, xt: str) -> str:
    """z_t = x_t W_x + h_(t-1) W_h + b,  h_t = f(z_t), one group of nodes per step."""
    w_x, w_h, b = (g.weight(p.value, p.name) for p in (layer.W_x, layer.W_h, layer.b))
    h, steps = None, []
    for t in range(layer.input_shape[0]):
        x_t = g.op("Gather", [xt, g.ints(t, "t")], f"x_{t}", axis=0)
        z = g.op("Gemm", [x_t, w_x, b], f"z_{t}")
        if h is not None:
            z = g.op("Add", [z, g.op("MatMul", [h, w_h], f"hW_{t}")], f"z_{t}")
        h = g.layer(layer.activation, z)
        steps.append(h)
    if not layer.return_sequences:
        return h
    return g.op("Concat", [g.op("Unsqueeze", [s, g.ints([1], "axes")], "h_t") for s in steps], "h", axis=1)


@converter(gn.LSTM)
def _lstm(layer: gn.LSTM, g: Graph, x: str) -> str:
    """ONNX LSTM on the time-major input, the gate blocks reordered from glassnet's [i f o g] to
    ONNX's [i o f c]: W = W_x^T, R = W_h^T, B = [b, 0], each in the new order."""
    h = layer.n_hidden
    order = np.concatenate([np.arange(k * h, (k + 1) * h) for k in (0, 2, 1, 3)])  # i, o, f, g
    bias = np.concatenate([layer.b.value[order], np.zeros(4 * h)])
    xt = g.op("Transpose", [x], "x_time_major", perm=[1, 0, 2])
    y, y_h = g.op("LSTM", [xt, g.weight(layer.W_x.value[:, order].T[None], "W"),
                           g.weight(layer.W_h.value[:, order].T[None], "R"), g.weight(bias[None], "B")],
                  "y", n_out=2, hidden_size=h)
    return _sequences(layer, g, y, y_h)


@converter(gn.GRU)
def _gru(layer: gn.GRU, g: Graph, x: str) -> str:
    """ONNX GRU (gates [z r h], as glassnet's) with linear_before_reset=1 on the time-major input: W = W_x^T,
    R = W_h^T, B = [b, 0, 0, b_hn]."""
    h = layer.n_hidden
    bias = np.concatenate([layer.b.value, np.zeros(2 * h), layer.b_hn.value])
    xt = g.op("Transpose", [x], "x_time_major", perm=[1, 0, 2])
    y, y_h = g.op("GRU", [xt, g.weight(layer.W_x.value.T[None], "W"), g.weight(layer.W_h.value.T[None], "R"),
                          g.weight(bias[None], "B")], "y", n_out=2, hidden_size=h, linear_before_reset=1)
    return _sequences(layer, g, y, y_h)


# ----------------------------------------------------------------------------- the model
def _check_opset(opset: int | None) -> int:
    newest = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset is None else opset
    if isinstance(opset, bool) or not isinstance(opset, int | np.integer) or not MIN_OPSET <= opset <= newest:
        raise ExportError(f"opset must be an integer from {MIN_OPSET} to {newest} (this onnx's newest), got {opset!r}")
    return int(opset)


def to_onnx(model: gn.Sequential, opset: int | None = None, extra_outputs: Sequence[str] = ()) -> onnx.ModelProto:
    """The checked ONNX model of ``model`` (float32; input "input" and output "output", batch dimension
    "batch"); the glassnet config is kept in the metadata as "glassnet_config". ``extra_outputs`` names
    inner values to expose as further graph outputs, e.g. ("dense_1.z", "dense_1.a")."""
    from glassnet._base.version import __version__

    if not isinstance(model, gn.Sequential):
        raise ExportError(f"model must be a glassnet Sequential, got {type(model).__name__}")
    g = Graph(_check_opset(opset))
    x = "input"
    for layer in model.layers:
        x = g.layer(layer, x)
    g.nodes.append(helper.make_node("Identity", [x], ["output"], name="output"))
    values = [o for node in g.nodes for o in node.output]
    for name in extra_outputs:
        if name not in values:
            raise ExportError(f"no value named {name!r} to expose; values: {', '.join(values)}")
    graph = helper.make_graph(
        g.nodes, "glassnet", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *model.input_shape])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", *model.output_shape])],
        initializer=g.initializers, doc_string=model.summary_text())
    opsets = [helper.make_opsetid("", g.opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="glassnet", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    helper.set_model_props(proto, {"glassnet_config": json.dumps(model_config(model))})
    if extra_outputs:  # with the shapes that shape inference finds for them
        inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(proto, strict_mode=True).graph.value_info}
        proto.graph.output.extend(inferred[name] for name in extra_outputs)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: gn.Sequential, path: str | os.PathLike, opset: int | None = None,
           extra_outputs: Sequence[str] = ()) -> onnx.ModelProto:
    """Write ``model`` as an ONNX file at ``path`` (atomically: on any error nothing is left there);
    ``opset`` and ``extra_outputs`` as for :func:`to_onnx`."""
    proto = to_onnx(model, opset, extra_outputs)
    data = proto.SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return proto


def verify(model: gn.Sequential, onnx_model: str | os.PathLike | onnx.ModelProto, X: Any = None, n: int = 100,
           seed: int = 0) -> float:
    """The largest difference ``max |ONNX Runtime's output - model.predict(X)|`` on X (default: ``n`` inputs
    uniform in [0, 1))."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError(f"verify needs onnxruntime ({e}): pip install 'glassnet[onnx]'") from None
    if X is None:
        X = np.random.default_rng(seed).random((n, *model.input_shape))
    X = np.asarray(X, dtype=np.float32)
    source = onnx_model.SerializeToString() if isinstance(onnx_model, onnx.ModelProto) else os.fspath(onnx_model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    got = session.run(["output"], {"input": X})[0]
    return float(np.max(np.abs(got - model.predict(X)), initial=0.0))
