"""Each ONNX import converter alone: a graph of one node (with the layout nodes around it that it needs), imported
and run beside ONNX Runtime."""

import numpy as np
import pytest
from conftest import need

onnx = need("onnx")
ort = need("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from glassnet.onnx.importer import convert, supported_operators  # noqa: E402

R = np.random.default_rng(0)


def node(op, inputs=("input",), output="output", **attrs):
    return helper.make_node(op, list(inputs), [output], **attrs)


def activation(op, **attrs):
    return (4,), [node(op, **attrs)], {}


def then_relu(shape, nodes, inits=None):
    """A node that adds no layer, then a ReLU (a graph of nothing but identities is refused)."""
    nodes[-1].output[0] = "mid"
    return shape, [*nodes, node("Relu", ("mid",))], inits or {}


def recurrent(op, gates, **attrs):
    """Batch-first (N, 5, 3) -> time-major -> op -> Y (5, 1, N, 4) -> Squeeze -> batch-first -> last step."""
    h = 4
    inits = {"W": R.normal(0, 0.5, (1, gates * h, 3)), "R": R.normal(0, 0.5, (1, gates * h, h)),
             "B": R.normal(0, 0.5, (1, 2 * gates * h)), "axes": np.array([1]), "last": np.array(-1)}
    return (5, 3), [node("Transpose", output="xt", perm=[1, 0, 2]),
                    helper.make_node(op, ["xt", "W", "R", "B"], ["y", ""], hidden_size=h, **attrs),
                    node("Squeeze", ("y", "axes"), "ys"), node("Transpose", ("ys",), "yb", perm=[1, 0, 2]),
                    node("Gather", ("yb", "last"), axis=1)], inits


CASES = {
    "Relu": activation("Relu"), "Sigmoid": activation("Sigmoid"), "Tanh": activation("Tanh"),
    "Softplus": activation("Softplus"), "Softsign": activation("Softsign"),
    "LeakyRelu": activation("LeakyRelu", alpha=0.3), "Elu": activation("Elu", alpha=0.7), "Selu": activation("Selu"),
    "HardSigmoid": activation("HardSigmoid", alpha=0.3, beta=0.4), "Gelu": activation("Gelu", approximate="tanh"),
    "Softmax": activation("Softmax", axis=-1), "LogSoftmax": activation("LogSoftmax", axis=1),
    "Identity": then_relu((4,), [node("Identity")]),
    "Dropout": then_relu((4,), [helper.make_node("Dropout", ["input"], ["output", "mask"])]),
    "Cast": then_relu((4,), [node("Cast", to=TensorProto.FLOAT)]),
    "Gemm": ((4,), [node("Gemm", ("input", "w", "c"), transB=1, alpha=2.0, beta=0.5)],
             {"w": R.normal(size=(3, 4)), "c": R.normal(size=3)}),
    "MatMul": ((4,), [node("MatMul", ("input", "w"))], {"w": R.normal(size=(4, 3))}),
    "Add": ((4,), [node("MatMul", ("input", "w"), "z"), node("Add", ("z", "c"))],
            {"w": R.normal(size=(4, 3)), "c": R.normal(size=(1, 3))}),
    "Conv": ((2, 6, 5), [node("Conv", ("input", "w", "c"), pads=[1, 0, 1, 0], strides=[2, 1])],
             {"w": R.normal(size=(3, 2, 3, 2)), "c": R.normal(size=3)}),
    "BatchNormalization": ((3, 4, 4), [node("BatchNormalization", ("input", "g", "b", "m", "v"), epsilon=1e-3)],
                           {"g": R.uniform(0.5, 2, 3), "b": R.normal(size=3), "m": R.normal(size=3),
                            "v": R.uniform(0.2, 2, 3)}),
    "MaxPool": ((2, 7, 6), [node("MaxPool", kernel_shape=[3, 2], strides=[2, 2])], {}),
    "AveragePool": ((2, 6, 6), [node("AveragePool", kernel_shape=[2, 2], strides=[2, 2], count_include_pad=1)], {}),
    "GlobalAveragePool": ((3, 4, 5), [node("GlobalAveragePool")], {}),
    "Flatten": ((2, 3, 4), [node("Flatten", axis=1)], {}),
    "Reshape": ((12,), [node("Reshape", ("input", "s"))], {"s": np.array([0, 3, 4])}),
    "Transpose": then_relu((3, 4), [node("Transpose", output="t", perm=[0, 2, 1]),
                                    node("Transpose", ("t",), perm=[0, 2, 1])]),
    "Unsqueeze": then_relu((4,), [node("Unsqueeze", ("input", "a"), "u"), node("Squeeze", ("u", "a"))],
                           {"a": np.array([1])}),
    "Squeeze": ((1, 4), [node("Squeeze", ("input", "a"))], {"a": np.array([1])}),
    "Slice": ((5, 3), [node("Transpose", output="xt", perm=[1, 0, 2]),
                       helper.make_node("RNN", ["xt", "W", "R"], ["y", ""], hidden_size=2),
                       node("Slice", ("y", "s", "e", "a"), "last"), node("Squeeze", ("last", "sq"))],
              {"W": R.normal(size=(1, 2, 3)), "R": R.normal(size=(1, 2, 2)), "s": np.array([-1]),
               "e": np.array([5]), "a": np.array([0]), "sq": np.array([0, 1])}),
    "Gather": recurrent("RNN", 1),
    "RNN": recurrent("RNN", 1, activations=["Relu"]),
    "LSTM": recurrent("LSTM", 4),
    "LSTM Y_h": ((5, 3), [node("Transpose", output="xt", perm=[1, 0, 2]),
                          helper.make_node("LSTM", ["xt", "W", "R"], ["", "h"], hidden_size=2),
                          node("Squeeze", ("h", "a"))],
                 {"W": R.normal(size=(1, 8, 3)), "R": R.normal(size=(1, 8, 2)), "a": np.array([0])}),
    "GRU": recurrent("GRU", 3, linear_before_reset=1),
}


def model_of(case, opset=17):
    shape, nodes, inits = CASES[case]
    tensors = [numpy_helper.from_array(np.asarray(v, np.int64 if np.asarray(v).dtype.kind == "i" else np.float32), k)
               for k, v in inits.items()]
    g = helper.make_graph(nodes, case, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *shape])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], initializer=tensors)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20 if case == "Gelu" else opset)], ir_version=9)


def test_every_converter_has_a_case():
    assert set(supported_operators()) == {case.split()[0] for case in CASES}


@pytest.mark.parametrize("case", sorted(CASES))
def test_converter_matches_onnxruntime(case):
    model = model_of(case)
    net, _ = convert(model)
    X = np.random.default_rng(1).standard_normal((6, *net.input_shape)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"input": X})[0]
    np.testing.assert_allclose(net.predict(X), want.reshape(6, *net.output_shape), rtol=0, atol=1e-5)
