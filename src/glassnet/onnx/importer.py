"""Import an ONNX model into glassnet's own layers: ``load(path) -> Sequential``.

The graph is read as data (``._graph``), its shape-only subgraphs folded with the batch size symbolic, its
data nodes checked to form one chain, and each node turned into layers by its converter (``._converters``).
The result is a glassnet model like any other: every z, a and delta visible, trainable with ``fit``, saved as
``.npz``, exported back. Whatever cannot be imported exactly (a branch, an operator without a converter, an
attribute glassnet's layer lacks) is refused in one line naming the operator and the node; nothing is
half-built. ``verify=True`` then runs the original graph in ONNX Runtime beside the imported model and refuses
the import where they differ, naming the layer where they part.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx

import glassnet as gn
from glassnet.onnx._converters import CONVERTERS, Builder, find_converter
from glassnet.onnx._graph import Graph, OnnxImportError, read

__all__ = ["TOLERANCE", "OnnxImportError", "load", "supported_operators", "verify_import"]

TOLERANCE = 1e-4
"""Largest difference from ONNX Runtime (float32) that ``verify`` accepts."""


def supported_operators() -> dict[str, list[int]]:
    """Each operator with a converter, and the opsets from which each of its converters applies."""
    return {op: sorted(v for v, _ in entries) for op, entries in sorted(CONVERTERS.items()) if op != "Elementwise"}


def convert(model: onnx.ModelProto, flatten_input: bool = False) -> tuple[gn.Sequential, Builder]:
    """The Sequential computing ``model``'s graph, and the builder that made it (its ``marks`` tie each layer to
    the ONNX value equal to its output). ``flatten_input``: the model takes each sample flattened, and a Reshape
    layer gives it the graph's input shape."""
    graph = Graph(model)
    chain = graph.chain()
    converters = [find_converter(node, graph.opset) for node in chain]  # every operator known before any run
    graph.fold()
    b = Builder(graph)
    input_shape = graph.sample_shape
    if flatten_input and len(input_shape) > 1:
        input_shape = b.shape = (int(np.prod(input_shape)),)
        b.add(gn.Reshape(graph.sample_shape))
        b.marks[0] = (graph.input, ["N", *range(len(graph.sample_shape))])
    for node, fn in zip(chain, converters, strict=True):
        b.node, before = node, b.current
        fn(node, b)
        if b.current == before:
            b.current = node.output[0]
        if b.layers and b.row_perm is None:
            b.marks[len(b.layers) - 1] = (b.current, list(b.labels))
    if b.current != graph.output:
        raise OnnxImportError(f"the chain ends at {b.current!r}, not at the output {graph.output!r}")
    b.canonical()
    if not b.layers:
        raise OnnxImportError("the graph computes nothing glassnet keeps (only identities and reshapes)")
    dtype = np.float64 if graph.input_dtype() is np.float64 else np.float32
    try:
        net = gn.Sequential(b.layers, dtype=dtype, input_shape=input_shape, seed=0)
    except ValueError as e:
        raise OnnxImportError(f"the layers do not fit together ({e})") from None
    for layer, weights in zip(net.layers, b.weights, strict=True):
        arrays = {**{p.name: p.value for p in layer.params}, **layer.buffers}
        for name, value in weights.items():
            if arrays[name].shape != np.shape(value):
                raise OnnxImportError(f"{layer.name}: {name} of shape {np.shape(value)} where {arrays[name].shape} "
                                      "is needed")
            arrays[name][...] = value
    return net, b


def load(path: str | os.PathLike, verify: bool = True, flatten_input: bool = False, n: int = 32,
         seed: int = 0) -> gn.Sequential:
    """The glassnet Sequential of the ONNX model at ``path``.

    Parameters
    ----------
    path : the ``.onnx`` file (weights inside, one input (batch, ...) with the batch dimension named, one output).
    flatten_input : take each sample flattened, a Reshape layer first giving it the graph's shape, as glassnet's
        own digit models do (``glassnet.load`` sets it: a CNN exported for (n, 1, 28, 28) then reads (n, 784)).
    verify : run ONNX Runtime beside the imported model on ``n`` inputs uniform in [0, 1) (from ``seed``), and
        refuse the import if any output differs by more than ``TOLERANCE``, naming the layer where they part.

    Raises
    ------
    OnnxImportError (a ``ModelFileError``): one line naming the operator and node that cannot be imported.
    """
    model = read(path)
    try:
        net, builder = convert(model, flatten_input)
        if verify:
            verify_import(net, model, builder, n, seed)
    except OnnxImportError as e:
        raise OnnxImportError(f"{path}: {e}") from None
    net.meta = {"source": {"onnx": Path(path).name, "opset": builder.graph.opset,
                           "producer": f"{model.producer_name} {model.producer_version}".strip()}}
    return net


def _canonical(value: np.ndarray, labels: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    """An ONNX value laid out as glassnet's tensor: axes ordered by label, unit axes dropped, then reshaped."""
    order = sorted((k for k, lab in enumerate(labels) if lab is not None), key=lambda k: -1 if labels[k] == "N"
                   else labels[k])
    return value.transpose(order + [k for k, lab in enumerate(labels) if lab is None]).reshape(value.shape[labels.index(
        "N")], *shape)


def verify_import(net: gn.Sequential, model: onnx.ModelProto, builder: Builder, n: int = 32, seed: int = 0) -> float:
    """The largest difference ``max |ONNX Runtime - net|`` on ``n`` random inputs; beyond ``TOLERANCE``, an
    OnnxImportError naming the first layer whose output differs from the ONNX value it stands for."""
    import onnxruntime as ort

    graph = builder.graph
    marked = {i: mark for i, mark in builder.marks.items() if mark[0] != graph.output}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(onnx.ValueInfoProto(name=name) for name, _ in marked.values())
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    X = np.random.default_rng(seed).random((n, *graph.sample_shape)).astype(graph.input_dtype())
    names = [graph.output, *(name for name, _ in marked.values())]
    values = dict(zip(names, session.run(names, {graph.input: X}), strict=True))
    got = net.predict(X.reshape(n, *net.input_shape))
    want = values[graph.output].reshape(got.shape)
    diff = float(np.max(np.abs(got - want), initial=0.0))
    if diff <= TOLERANCE:
        return diff
    net.forward(X.reshape(n, *net.input_shape).astype(net.dtype))
    for i, layer in enumerate(net.layers):
        if i not in marked:
            continue
        name, labels = marked[i]
        part = float(np.max(np.abs(_canonical(values[name], labels, layer.output.shape[1:]) - layer.output)))
        if part > TOLERANCE:
            raise OnnxImportError(f"the imported model differs from ONNX Runtime by {part:.3g} (more than "
                                  f"{TOLERANCE:g}) from layer {i} ({layer.name}, ONNX value {name!r}) on")
    raise OnnxImportError(f"the imported model differs from ONNX Runtime by {diff:.3g} (more than {TOLERANCE:g}) "
                          f"at the output")
