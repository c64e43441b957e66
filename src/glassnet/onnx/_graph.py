"""An ONNX graph read as data, its shape-only subgraphs folded, and its chain of data nodes.

Every value of the graph is one of three kinds. *Data* depends on the values of the input. *Constants*
(initializers, ``Constant`` nodes and whatever is computed from them alone) and *shape values* (computed
from ``Shape``/``Size`` of a data value, e.g. the ``[batch, -1]`` that ``x.view(x.size(0), -1)`` writes)
depend on nothing but the input's shape. Both of these are folded: the graph is run twice by ONNX Runtime,
with batch sizes 2 and 3, keeping every value; a folded value that is the same in both runs is a constant,
one that differs depends on the batch size, which stays symbolic. The data nodes must then form a chain,
each one taking the output of the one before; the converters turn that chain into layers.

Nothing in the file is executed as code: the runs interpret the standard operators only, and only once
every data node's operator is known to have a converter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from glassnet.model.file import ModelFileError

PROBE_BATCHES = (2, 3)
"""The two batch sizes the graph is run with: a folded value that differs between them depends on the batch."""


ELEMENTWISE = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sigmoid", "Sqrt", "Exp", "Neg", "Abs",
                         "Softplus", "Greater", "Less", "Where"})
"""Operators that act value by value: the diamonds built of them are fused into one activation."""


class OnnxImportError(ModelFileError):
    """An ONNX file that cannot be imported as a glassnet Sequential: one line naming the operator and node."""


def node_label(node: onnx.NodeProto) -> str:
    """How messages name a node: "'/net/net.0/Gemm' (Gemm)"."""
    return f"{node.name or node.output[0]!r} ({node.op_type})"


def read(path: str | os.PathLike) -> onnx.ModelProto:
    """The model in ``path``, refused in one line unless it is a readable ONNX file with its weights inside."""
    path = Path(path)
    if not path.is_file():
        raise OnnxImportError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(os.fspath(path), load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends: all mean "not an ONNX model"
        raise OnnxImportError(f"{path}: not a readable ONNX model ({type(e).__name__})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise OnnxImportError(f"{path}: not an ONNX model with a graph")
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise OnnxImportError(f"{path}: tensor {t.name!r} is stored in an external file; save the model with "
                                  "its weights inside (onnx.save(model, path, save_as_external_data=False))")
    return model


class Graph:
    """The graph of one ONNX model: its nodes, the kind of every value, and the folded values.

    ``input`` / ``output`` name the one data input and output; ``sample_shape`` is the input's shape after
    the batch dimension; ``opset`` is the default domain's version; ``data_nodes`` lists the nodes that
    compute data, in order.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        g = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.constants: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        inputs = [i for i in g.input if i.name not in self.constants]
        if len(inputs) != 1 or len(g.output) != 1:
            raise OnnxImportError(f"a Sequential has one input and one output; this graph has {len(inputs)} inputs "
                                  f"({', '.join(i.name for i in inputs)}) and {len(g.output)} outputs")
        self.input, self.output = inputs[0].name, g.output[0].name
        tensor = inputs[0].type.tensor_type
        if tensor.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
            raise OnnxImportError(f"input {self.input!r} must hold floats, got "
                                  f"{onnx.TensorProto.DataType.Name(tensor.elem_type)}")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if len(dims) < 2 or any(d is None for d in dims[1:]):
            raise OnnxImportError(f"input {self.input!r} must be (batch, ...) with every dimension after the batch "
                                  f"fixed, got {['?' if d is None else d for d in dims] or 'no shape'}")
        self.sample_shape = tuple(int(d) for d in dims[1:])
        self.nodes = list(g.node)
        self.data: set[str] = {self.input}
        self.data_nodes: list[onnx.NodeProto] = []
        for node in self.nodes:
            if node.domain not in ("", "ai.onnx"):
                raise OnnxImportError(f"operator {node.op_type} of domain {node.domain!r} at node {node_label(node)} "
                                      "is not a standard ONNX operator")
            if node.op_type not in ("Shape", "Size") and any(i in self.data for i in node.input if i):
                self.data.update(o for o in node.output if o)
                self.data_nodes.append(node)
        self.folded: dict[str, tuple[np.ndarray, ...]] = {}
        self._fuse_elementwise()

    def _fuse_elementwise(self) -> None:
        """Replace each diamond of elementwise nodes from one data value x to a node joining its branches (GELU's
        0.5 x (1 + erf(x / sqrt 2)), SiLU's x sigmoid(x)) by one ``Elementwise`` node (domain "glassnet"), which
        the converters identify by its values."""
        produced = {o: node for node in self.data_nodes for o in node.output}
        for join in self.data_nodes[::-1]:  # the outermost diamond first: it swallows those inside it
            if join not in self.data_nodes or join.op_type not in ELEMENTWISE or len(set(self.data_inputs(join))) < 2:
                continue
            region = self._diamond(join, produced)
            if region is None:
                continue
            source = next(i for n in region for i in self.data_inputs(n) if produced.get(i) not in region)
            end = join
            while True:  # a scaling after the join (the TorchScript exporter's GELU ends with "* 0.5")
                users = [n for n in self.data_nodes if end.output[0] in n.input]
                if len(users) != 1 or users[0].op_type not in ("Mul", "Div") or len(self.data_inputs(users[0])) != 1 \
                        or any(np.size(self.constants.get(i, 0)) != 1 for i in users[0].input if i not in self.data):
                    break
                end = users[0]
                region.append(end)
            fused = onnx.helper.make_node("Elementwise", [source], [end.output[0]], name=join.name or join.output[0],
                                          domain="glassnet", doc_string=" ".join(n.op_type for n in region))
            self.data_nodes = [fused if n is join else n for n in self.data_nodes if n is join or n not in region]
            self.data.difference_update(o for n in region for o in n.output if o != end.output[0])

    def _diamond(self, join: onnx.NodeProto, produced: dict[str, onnx.NodeProto]) -> list[onnx.NodeProto] | None:
        """The elementwise nodes between ``join`` and the nearest value x that every branch into it starts from,
        with scalar constants only and no value used outside; None if there is no such region."""
        before = self.data_nodes[:self.data_nodes.index(join)]
        for source in [self.input, *(o for n in before for o in n.output)][::-1]:  # the nearest first
            region, frontier, todo = [join], set(), list(self.data_inputs(join))
            while todo:
                v = todo.pop()
                node = produced.get(v)
                if v == source or node is None or node.op_type not in ELEMENTWISE:
                    frontier.add(v)
                elif node not in region:
                    region.append(node)
                    todo.extend(self.data_inputs(node))
            if frontier != {source}:
                continue
            inside = {o for n in region for o in n.output} - {join.output[0]}
            used_outside = any(i in inside for n in self.data_nodes if n not in region for i in n.input)
            scalars = all(np.size(self.constants.get(i, 0)) == 1 for n in region for i in n.input if i not in self.data)
            return region if not used_outside and scalars else None
        return None

    def used(self, name: str) -> bool:
        """Whether a value is read by a data node or is the output."""
        return bool(name) and (name == self.output or any(name in n.input for n in self.data_nodes))

    def data_inputs(self, node: onnx.NodeProto) -> list[str]:
        """The inputs of ``node`` that are data."""
        return [i for i in node.input if i in self.data]

    def chain(self) -> list[onnx.NodeProto]:
        """The data nodes, checked to form one chain from the input to the output; otherwise a refusal that
        names the node where two branches meet (or part)."""
        users: dict[str, list[onnx.NodeProto]] = {}
        for node in self.data_nodes:
            ins = self.data_inputs(node)
            if len(set(ins)) > 1:
                raise OnnxImportError(f"node {node_label(node)} joins {len(set(ins))} branches ({', '.join(ins)}); "
                                      "only chains of layers are imported")
            users.setdefault(ins[0], []).append(node)
        for value, nodes in users.items():
            if len(nodes) > 1:
                raise OnnxImportError(f"value {value!r} feeds {len(nodes)} nodes ({', '.join(map(node_label, nodes))});"
                                      f" node {node_label(nodes[-1])} starts a second branch; only chains are imported")
        if self.output not in self.data:
            raise OnnxImportError(f"output {self.output!r} does not depend on the input")
        return self.data_nodes

    def fold(self) -> None:
        """Run the graph at both probe batch sizes with ONNX Runtime, keeping every value (see the module)."""
        import onnxruntime as ort

        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        known = {o.name for o in model.graph.output}
        names = [o for node in self.nodes for o in node.output if o and o not in known]
        model.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            outputs = [o.name for o in session.get_outputs()]
            runs = []
            for n in PROBE_BATCHES:
                x = np.random.default_rng(n).random((n, *self.sample_shape)).astype(self.input_dtype())
                runs.append(dict(zip(outputs, session.run(outputs, {self.input: x}), strict=True)))
        except Exception as e:
            msg = " ".join(str(e).split())[:300]
            raise OnnxImportError(f"ONNX Runtime cannot run the graph at batch sizes {PROBE_BATCHES} (was it exported "
                                  f"with a fixed batch size? name the batch dimension): {msg}") from None
        for name in outputs:
            self.folded[name] = tuple(np.asarray(r[name]) for r in runs)
        self.folded[self.input] = tuple(np.zeros((n, *self.sample_shape)) for n in PROBE_BATCHES)

    def input_dtype(self) -> type:
        elem = self.model.graph.input[[i.name for i in self.model.graph.input].index(self.input)]
        return np.float64 if elem.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE else np.float32

    def value(self, name: str) -> np.ndarray:
        """A constant (the same at every batch size), or a refusal naming the value."""
        if name in self.constants:
            return self.constants[name]
        a, b = self.folded[name]
        if a.shape != b.shape or not np.array_equal(a, b):
            raise OnnxImportError(f"value {name!r} depends on the batch size where a constant is needed")
        return a

    def shapes(self, name: str) -> tuple[tuple[int, ...], ...]:
        """The shape of a value at each probe batch size."""
        if name in self.constants:
            return (self.constants[name].shape,) * len(PROBE_BATCHES)
        return tuple(v.shape for v in self.folded[name])

    def runs(self, name: str) -> Iterable[np.ndarray]:
        """A folded value at each probe batch size (constants repeated)."""
        if name in self.constants:
            return (self.constants[name],) * len(PROBE_BATCHES)
        return self.folded[name]
