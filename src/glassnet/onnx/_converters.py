"""One small converter per ONNX operator (and opset range), as onnx2torch's ``@add_converter``.

A converter ``f(node, b)`` turns one data node of the chain into glassnet layers through the
:class:`Builder` ``b``: it appends layers (``b.add``), merges into the last one (an activation or a bias),
or only relabels the axes of the current value (``Transpose``, ``Squeeze``, ...). The builder tracks how
the axes of the current ONNX value map onto the glassnet tensor, so that layout nodes (the time-major
``Transpose`` around an LSTM, the ``Squeeze`` of its direction axis) cost nothing, and refuses, naming the
node, whatever glassnet's layers cannot compute.

Axis labels: "N" is the batch; an integer k is axis k of the glassnet sample; None is an ONNX axis of size
1 that glassnet does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import helper

import glassnet as gn
from glassnet.nn.layers import Activated, Layer
from glassnet.onnx._graph import Graph, OnnxImportError, node_label

Converter = Callable[[onnx.NodeProto, "Builder"], None]
CONVERTERS: dict[str, list[tuple[int, Converter]]] = {}
"""Converters by operator: (first opset, function) pairs, the newest first."""


def add_converter(operation_type: str, version: int = 1) -> Callable[[Converter], Converter]:
    """Decorator: ``fn`` converts ``operation_type`` nodes of graphs whose opset is ``version`` or later
    (until the next registered version)."""
    def register(fn: Converter) -> Converter:
        entries = CONVERTERS.setdefault(operation_type, [])
        entries.append((version, fn))
        entries.sort(key=lambda e: -e[0])
        return fn

    return register


def find_converter(node: onnx.NodeProto, opset: int) -> Converter:
    """The converter of ``node`` at ``opset``; a one-line refusal naming the operator and the node otherwise."""
    for version, fn in CONVERTERS.get(node.op_type, ()):
        if opset >= version:
            return fn
    if node.op_type in CONVERTERS:
        raise OnnxImportError(f"operator {node.op_type} at node {node_label(node)} is supported from opset "
                              f"{CONVERTERS[node.op_type][-1][0]}, the graph has opset {opset}")
    raise OnnxImportError(f"unsupported operator {node.op_type} at node {node_label(node)}; supported: "
                          f"{', '.join(sorted(set(CONVERTERS) - {'Elementwise'}))}")


class Builder:
    """The layers so far and the current ONNX value: its name, axis labels and the glassnet sample shape."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.layers: list[Layer] = []
        self.weights: list[dict[str, np.ndarray]] = []
        self.shape: tuple[int, ...] = graph.sample_shape
        self.labels: list[Any] = ["N", *range(len(self.shape))]
        self.current = graph.input
        self.node: onnx.NodeProto | None = None
        self.marks: dict[int, tuple[str, list[Any]]] = {}
        """For each layer, the ONNX value that equals its output, and that value's labels."""
        self.row_perm: np.ndarray | None = None
        """After a channels-last flattening: ONNX's flat index k holds glassnet's flat index row_perm[k]."""

    # ------------------------------------------------------------------ reading the node
    def attr(self, name: str, default: Any = None) -> Any:
        """The node's attribute ``name`` (strings decoded), or ``default``."""
        for a in self.node.attribute:
            if a.name == name:
                value = helper.get_attribute_value(a)
                if isinstance(value, list):
                    return [v.decode() if isinstance(v, bytes) else v for v in value]
                return value.decode() if isinstance(value, bytes) else value
        return default

    def const(self, i: int, default: Any = None) -> np.ndarray | None:
        """Input i of the node as a constant (None, or ``default``, when absent)."""
        if i >= len(self.node.input) or not self.node.input[i]:
            return default
        if self.node.input[i] in self.graph.data:
            self.fail(f"input {i} must be a constant, not data")
        return self.graph.value(self.node.input[i])

    def out_shapes(self, k: int = 0) -> tuple[tuple[int, ...], ...]:
        return self.graph.shapes(self.node.output[k])

    def fail(self, why: str) -> None:
        raise OnnxImportError(f"{self.node.op_type} at node {node_label(self.node)}: {why}")

    # ------------------------------------------------------------------ layers
    def add(self, layer: Layer, weights: dict[str, np.ndarray] | None = None) -> None:
        """Append a layer (its parameters and buffers set from ``weights`` once built); the current value
        becomes its canonical output."""
        self.layers.append(layer)
        self.weights.append(weights or {})
        self.shape = tuple(layer.compute_output_shape(self.shape))
        self.labels = ["N", *range(len(self.shape))]

    def last(self, cls: type | tuple[type, ...]) -> Layer | None:
        """The last layer if it is a ``cls`` and its output is the current value's glassnet tensor."""
        layer = self.layers[-1] if self.layers else None
        return layer if isinstance(layer, cls) and self.marks.get(len(self.layers) - 1, (None,))[0] == self.current \
            else None

    def activation(self, act: Layer) -> None:
        """a = f(z): merged into the last Dense, Conv2D or BatchNorm when it has none, else a layer of its own."""
        layer = self.last(Activated)
        if layer is not None and layer.activation is None:
            layer.activation = act
        else:
            self.layers.append(act)
            self.weights.append({})

    def canonical(self, rank: int | None = None) -> None:
        """Make the current value batch-first in glassnet's axis order (a Reshape layer when glassnet's sample
        has other unit axes), of ``rank`` dimensions with the batch; refuse otherwise."""
        if self.row_perm is not None:
            self.fail("reads a flattening of channels-last data; only a Dense layer (Gemm, MatMul) can follow one")
        if not self.in_order():
            self.fail(f"its input has axes {self._axes()}; glassnet needs the batch first and the other axes in order")
        shape = self.graph.shapes(self.current)[0]
        dims = tuple(d for d, lab in zip(shape, self.labels, strict=True) if lab != "N")
        if dims != self.shape:
            self.add(gn.Reshape(dims) if len(dims) > 1 else gn.Flatten())
        self.labels = ["N", *range(len(self.shape))]
        if rank is not None and len(self.shape) + 1 != rank:
            self.fail(f"expects a {rank}-D input, got shape (batch, {', '.join(map(str, self.shape))})")

    def in_order(self) -> bool:
        """Whether the current value is glassnet's tensor up to axes of size 1: the batch first, the other
        axes of more than one entry in glassnet's order, and every glassnet axis it lacks of size 1."""
        shape = self.graph.shapes(self.current)[0]
        big = [lab for d, lab in zip(shape, self.labels, strict=True) if lab is not None and (d != 1 or lab == "N")]
        kept = set(lab for lab in self.labels if isinstance(lab, int))
        return self.labels[0] == "N" and big[0] == "N" and big[1:] == sorted(big[1:]) and \
            all(self.shape[k] == 1 for k in range(len(self.shape)) if k not in kept)

    def glassnet_order(self, a: np.ndarray) -> np.ndarray:
        """A per-sample array in the current value's ONNX axis order (the batch axis removed) in glassnet's."""
        axes = [lab for lab in self.labels if lab != "N"]
        a = a.reshape([d for d, lab in zip(a.shape, axes, strict=True) if lab is not None] or a.shape[:0])
        ints = [lab for lab in axes if lab is not None]
        return a.transpose(np.argsort(ints)).reshape(self.shape)

    def take_row_perm(self, w: np.ndarray) -> np.ndarray:
        """The rows of a weight matrix reading the current value reordered to read glassnet's Flatten."""
        if self.row_perm is None:
            return w
        moved = np.empty_like(w)
        moved[self.row_perm] = w
        self.row_perm = None
        return moved

    def _axes(self) -> str:
        return "(" + ", ".join("batch" if lab == "N" else "1" if lab is None else f"glassnet axis {lab}"
                               for lab in self.labels) + ")"

    def relabel(self, labels: list[Any]) -> None:
        self.labels = labels


# ----------------------------------------------------------------------------- nothing at inference
@add_converter("Identity")
@add_converter("Dropout")
def _identity(node: onnx.NodeProto, b: Builder) -> None:
    """Identity; Dropout at inference (its optional mask output must be unused)."""
    if len(node.output) > 1 and b.graph.used(node.output[1]):
        b.fail("its mask output is used")


@add_converter("Cast")
def _cast(node: onnx.NodeProto, b: Builder) -> None:
    """A cast to a floating type is the model's own dtype; to anything else, refused."""
    if b.attr("to") not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16):
        b.fail(f"casts to {onnx.TensorProto.DataType.Name(b.attr('to'))}; only floating types are kept")


# ----------------------------------------------------------------------------- activations
def _elementwise(op: str, make: Callable[[Builder], Layer]) -> None:
    add_converter(op)(lambda node, b: b.activation(make(b)))


_elementwise("Relu", lambda b: gn.ReLU())
_elementwise("Sigmoid", lambda b: gn.Sigmoid())
_elementwise("Tanh", lambda b: gn.Tanh())
_elementwise("Softplus", lambda b: gn.Softplus())
_elementwise("Softsign", lambda b: gn.Softsign())
_elementwise("LeakyRelu", lambda b: gn.LeakyReLU(b.attr("alpha", 0.01)))
_elementwise("Elu", lambda b: gn.ELU(b.attr("alpha", 1.0)))
_elementwise("HardSigmoid", lambda b: gn.HardSigmoid(b.attr("alpha", 0.2), b.attr("beta", 0.5)))
_elementwise("Gelu", lambda b: gn.GELU(b.attr("approximate", "none")))


@add_converter("Selu")
def _selu(node: onnx.NodeProto, b: Builder) -> None:
    from glassnet.nn.activations_deep import SELU_ALPHA, SELU_SCALE

    if abs(b.attr("alpha", SELU_ALPHA) - SELU_ALPHA) > 1e-6 or abs(b.attr("gamma", SELU_SCALE) - SELU_SCALE) > 1e-6:
        b.fail("alpha and gamma other than SELU's constants")
    b.activation(gn.SELU())


ELEMENTWISE_ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "GELU (erf)": lambda: gn.GELU(), "GELU (tanh)": lambda: gn.GELU("tanh"), "SiLU": lambda: gn.Swish(),
    "ELU": lambda: gn.ELU(), "SELU": lambda: gn.SELU(), "softplus": lambda: gn.Softplus(),
    "softsign": lambda: gn.Softsign(),
}
"""The activations an exporter may write as several elementwise nodes, tried in turn on the folded values."""


@add_converter("Elementwise")
def _elementwise_subgraph(node: onnx.NodeProto, b: Builder) -> None:
    """A fused diamond of elementwise nodes (see ``Graph._fuse_elementwise``): the activation whose values it
    has at both probe runs, e.g. GELU's 0.5 x (1 + erf(x / sqrt 2)) as the TorchScript exporter writes it."""
    runs = list(zip(b.graph.runs(node.input[0]), b.graph.runs(node.output[0]), strict=True))
    for make in ELEMENTWISE_ACTIVATIONS.values():
        act = make()
        if all(x.shape == y.shape and np.allclose(act(x.astype(np.float64)), y, rtol=1e-5, atol=1e-6)
               for x, y in runs):
            return b.activation(act)
    b.fail(f"the elementwise nodes {node.doc_string} compute none of the activations "
           f"{', '.join(ELEMENTWISE_ACTIVATIONS)}")


def _softmax_like(node: onnx.NodeProto, b: Builder, cls: type[Layer], coerce: bool) -> None:
    """Softmax or log-softmax over glassnet's last axis. Before opset 13 (``coerce``) the operator flattens the
    axes from ``axis`` (default 1) on into one: over several non-unit axes that is Flatten, the softmax over the
    whole sample, and a Reshape back."""
    rank = len(b.labels)
    axis = b.attr("axis", 1 if coerce else -1) % rank
    shape = b.graph.shapes(b.current)[0]
    if coerce:
        nonunit = [k for k in range(axis, rank) if shape[k] != 1]
        if len(nonunit) > 1:
            b.canonical()
            if axis != 1:
                b.fail(f"axis {axis} flattens part of the sample; glassnet normalises over the last axis or the "
                       "whole sample")
            back = b.shape
            b.add(gn.Flatten())
            b.activation(cls())
            b.add(gn.Reshape(back))
            return
        axis = nonunit[0] if nonunit else axis
    if b.labels[axis] != len(b.shape) - 1:
        b.fail(f"normalises over axis {axis} of {b._axes()}; glassnet's softmax is over the last axis")
    b.activation(cls())


add_converter("Softmax", 1)(lambda node, b: _softmax_like(node, b, gn.Softmax, True))
add_converter("Softmax", 13)(lambda node, b: _softmax_like(node, b, gn.Softmax, False))
add_converter("LogSoftmax", 1)(lambda node, b: _softmax_like(node, b, gn.LogSoftmax, True))
add_converter("LogSoftmax", 13)(lambda node, b: _softmax_like(node, b, gn.LogSoftmax, False))


# ----------------------------------------------------------------------------- dense
@add_converter("Gemm")
def _gemm(node: onnx.NodeProto, b: Builder) -> None:
    """Y = alpha A' B' + beta C with A the data: a Dense layer with W = alpha B' and b = beta C."""
    if node.input[0] not in b.graph.data:
        b.fail("the data must be its first input (A)")
    if b.attr("transA", 0):  # A = x^T: the data arrives as (features, batch)
        if b.labels != [0, "N"] or len(b.shape) != 1:
            b.fail(f"transA on an input with axes {b._axes()}; glassnet needs A^T to be (batch, features)")
        b.relabel(["N", 0])
    w = b.const(1).astype(np.float64)
    w = w.T if b.attr("transB", 0) else w
    w = b.take_row_perm(w * b.attr("alpha", 1.0))
    if not b.attr("transA", 0):
        b.canonical(2)
    if w.ndim != 2 or w.shape[0] != b.shape[0]:
        b.fail(f"B of shape {w.shape} does not fit inputs of width {b.shape[0]}")
    c = b.const(2, np.zeros(w.shape[1]))
    bias = np.broadcast_to(np.asarray(c, np.float64) * b.attr("beta", 1.0), (1, w.shape[1]))[0]
    b.add(gn.Dense(w.shape[0], w.shape[1]), {"W": w, "b": bias})


@add_converter("MatMul")
def _matmul(node: onnx.NodeProto, b: Builder) -> None:
    """x W with a constant 2-D W: a Dense layer without bias (a following Add gives it one)."""
    if node.input[0] not in b.graph.data:
        b.fail("the data must be its first input")
    w = b.take_row_perm(b.const(1))
    b.canonical(2)
    if w.ndim != 2 or w.shape[0] != b.shape[0]:
        b.fail(f"weights of shape {w.shape} do not fit inputs of width {b.shape[0]}")
    b.add(gn.Dense(w.shape[0], w.shape[1]), {"W": w, "b": np.zeros(w.shape[1])})


@add_converter("Add")
def _add(node: onnx.NodeProto, b: Builder) -> None:
    """z + c with a constant c: the bias of the Dense or Conv2D layer just before (MatMul + Add)."""
    layer = b.last((gn.Dense, gn.Conv2D))
    k = 1 if node.input[0] in b.graph.data else 0
    if layer is None or layer.activation is not None:
        b.fail("adds a constant to the output of something other than a Dense or Conv2D layer")
    c = np.asarray(b.const(k), np.float64)
    target = b.weights[-1]["b"]
    shape = b.graph.shapes(b.current)[0]
    try:  # c broadcast over one sample in ONNX's axis order (channels last, say), then in glassnet's
        full = b.glassnet_order(np.broadcast_to(c, shape).take(0, axis=b.labels.index("N")))
        bias = full.reshape(len(target), -1)
        if not (bias == bias[:, :1]).all():
            raise ValueError
        bias = bias[:, 0]
    except ValueError:
        b.fail(f"a constant of shape {c.shape} is not a bias per output unit")
    b.weights[-1]["b"] = target + bias


# ----------------------------------------------------------------------------- layout
@add_converter("Transpose")
def _transpose(node: onnx.NodeProto, b: Builder) -> None:
    perm = b.attr("perm") or list(range(len(b.labels)))[::-1]
    b.relabel([b.labels[p] for p in perm])


def _reshape_like(node: onnx.NodeProto, b: Builder) -> None:
    """Squeeze, Unsqueeze, Flatten, Reshape: axes of size 1 come and go as labels; anything else is a Reshape
    (or Flatten) layer on a batch-first input that keeps the batch first."""
    old, new = b.graph.shapes(b.current), b.out_shapes()
    def nonunit(shapes: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]]:
        return [tuple(s[k] for s in shapes) for k in range(len(shapes[0])) if any(s[k] != 1 for s in shapes)]

    if nonunit(old) == nonunit(new):
        keep = iter(lab for k, lab in enumerate(b.labels) if any(s[k] != 1 for s in old))
        b.relabel([next(keep) if any(s[k] != 1 for s in new) else None for k in range(len(new[0]))])
        return
    if any(s[0] != n for s, n in zip(new, (2, 3), strict=False)):
        b.fail(f"reshapes to {new[0]} at batch size 2: glassnet keeps the batch as the first axis")
    if len(new[0]) == 2 and b.labels[0] == "N" and b.row_perm is None and not b.in_order():
        # channels-last data flattened (Keras): glassnet flattens its own order, the next Dense reads it
        order = [lab for lab in b.labels[1:] if lab is not None]  # glassnet's axes in ONNX's order
        order += [k for k in range(len(b.shape)) if k not in order]  # (those it lacks have size 1)
        b.row_perm = np.arange(int(np.prod(b.shape))).reshape(b.shape).transpose(order).ravel()
        b.add(gn.Flatten())
        return
    b.canonical()
    dims = new[0][1:]
    b.add(gn.Flatten() if len(dims) == 1 else gn.Reshape(dims))


for _op in ("Squeeze", "Unsqueeze", "Flatten", "Reshape"):
    add_converter(_op)(_reshape_like)


def _last_step(b: Builder, axis: int) -> bool:
    """Take the last step of a recurrent layer's every-step output: the layer returns h_T alone."""
    layer = b.last((gn.RNN, gn.LSTM, gn.GRU))
    if layer is None or not layer.return_sequences or b.labels[axis] != 0:
        return False
    layer.return_sequences = False
    b.shape = tuple(layer.compute_output_shape(layer_input_shape(b)))
    return True


def layer_input_shape(b: Builder) -> tuple[int, ...]:
    shape = b.graph.sample_shape
    for layer in b.layers[:-1]:
        shape = tuple(layer.compute_output_shape(shape))
    return shape


@add_converter("Gather")
def _gather(node: onnx.NodeProto, b: Builder) -> None:
    """x[..., -1, ...] over the time axis of a recurrent output: the last step."""
    axis = b.attr("axis", 0) % len(b.labels)
    index = b.const(1)
    steps = b.graph.shapes(b.current)[0][axis]
    if index.ndim != 0 or int(index) % steps != steps - 1 or not _last_step(b, axis):
        b.fail("only the last step of a recurrent layer's sequence output can be taken")
    b.relabel([lab if not isinstance(lab, int) else lab - 1 for k, lab in enumerate(b.labels) if k != axis])


@add_converter("Slice", 10)
def _slice(node: onnx.NodeProto, b: Builder) -> None:
    """A slice that keeps everything is nothing; one that keeps only the last time step takes it."""
    old, new = b.graph.shapes(b.current), b.out_shapes()
    changed = [k for k in range(len(old[0])) if any(o[k] != n[k] for o, n in zip(old, new, strict=True))]
    if not changed:
        return
    step = b.const(4)
    if len(changed) != 1 or new[0][changed[0]] != 1 or (step is not None and np.any(step != 1)):
        b.fail("only the last time step of a recurrent layer's output can be sliced")
    axis = changed[0]
    folded = b.graph.runs(node.output[0])
    source = b.graph.runs(b.current)
    if not all(np.array_equal(f, np.take(s, [-1], axis=axis)) for f, s in zip(folded, source, strict=True)) \
            or not _last_step(b, axis):
        b.fail("only the last time step of a recurrent layer's output can be sliced")
    b.relabel([None if k == axis else (lab - 1 if isinstance(lab, int) else lab) for k, lab in enumerate(b.labels)])


from glassnet.onnx import _converters_nn  # noqa: E402,F401  the convolutional and recurrent converters register
