"""ONNX import: the PyTorch fixtures of tools/make_onnx_fixtures.py against ONNX Runtime and PyTorch's own outputs,
onnx.helper graphs for the edge cases and every refusal, and an imported model fine-tuned and exported back."""

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need
from threadpoolctl import threadpool_limits

onnx = need("onnx")
ort = need("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import glassnet as gn  # noqa: E402
from glassnet.cli import main  # noqa: E402
from glassnet.onnx import OnnxImportError, load  # noqa: E402
from glassnet.onnx.importer import convert, verify_import  # noqa: E402

DATA = Path(__file__).parent / "fixtures" / "onnx"
FIXTURES = sorted(p.name for p in DATA.glob("*.onnx") if p.name != "rnn.dynamo18.onnx")
TOL = 1e-5


@pytest.fixture(autouse=True)
def one_thread():
    with threadpool_limits(1):
        yield


def run_ort(proto_or_path, X):
    source = proto_or_path.SerializeToString() if isinstance(proto_or_path, onnx.ModelProto) else str(proto_or_path)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: np.asarray(X, np.float32)})[0]


def graph(nodes, in_shape, out_shape=None, inits=(), opset=17, name="x"):
    """A model of ``nodes`` from "input" (batch, *in_shape) to "output"; initializers given as (name, array)."""
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *in_shape])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
                          initializer=[numpy_helper.from_array(np.asarray(a, np.float32), n) for n, a in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def imported(proto, tmp_path, **kw):
    path = tmp_path / "m.onnx"
    onnx.save(proto, path)
    return load(path, **kw)


# ----------------------------------------------------------------------------- PyTorch's exporters
def test_every_network_has_both_exporters():
    names = {p.name.split(".")[0] for p in DATA.glob("*.onnx") if not p.name.startswith("keras_")}
    assert names == {"mlp", "sigmoid3b1b", "activations", "cnn_bn", "cnn_view", "lstm", "lstm_stacked", "rnn", "gru"}
    for name in names:
        assert (DATA / f"{name}.ts17.onnx").is_file() and (DATA / f"{name}.dynamo18.onnx").is_file()
        assert (DATA / f"{name}.npz").stat().st_size < 200_000
    assert all(p.stat().st_size < 200_000 for p in DATA.glob("*.onnx"))


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_matches_onnxruntime_and_pytorch(name):
    model = load(DATA / name)
    stored = np.load(DATA / f"{name.split('.')[0]}.npz", allow_pickle=False)
    got = model.predict(stored["x"])
    np.testing.assert_allclose(got, stored["y"], rtol=0, atol=TOL)
    X = np.random.default_rng(5).random((20, *model.input_shape), dtype=np.float32)
    np.testing.assert_allclose(model.predict(X), run_ort(DATA / name, X), rtol=0, atol=TOL)


@pytest.mark.parametrize("name, kinds", [
    ("cnn_bn.ts17.onnx", ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense"]),
    ("cnn_bn.ts17-nofold.onnx", ["Conv2D", "BatchNorm", "MaxPool2D", "Conv2D", "BatchNorm", "MaxPool2D", "Flatten",
                                 "Dense"]),
    ("cnn_view.ts17.onnx", ["Reshape", "Conv2D", "AvgPool2D", "Conv2D", "Flatten", "Dense"]),
    ("lstm.dynamo18.onnx", ["LSTM", "Dense"]),
    ("lstm_stacked.ts17.onnx", ["LSTM", "LSTM", "Dense"]),
    ("gru.ts17.onnx", ["GRU", "Dense"]),
    ("rnn.ts17.onnx", ["RNN", "Dense"]),
    ("sigmoid3b1b.dynamo18.onnx", ["Dense", "Dense", "Dense"]),
    ("keras_cnn.onnx", ["Reshape", "Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense"]),
    ("keras_dense.onnx", ["Dense", "Dense"]),
    ("activations.ts17.onnx", ["Dense"] * 10),
    ("activations.dynamo18.onnx", ["Dense"] * 10),
])
def test_fixture_layers(name, kinds):
    """Batch normalisation kept as BatchNorm, or folded into the convolution by the exporter; the shape chains
    of x.view(x.size(0), -1) folded into Flatten; the recurrent layers' layout nodes gone."""
    model = load(DATA / name)
    assert [type(layer).__name__ for layer in model.layers] == kinds
    if name.startswith("activations"):  # the decompositions of each exporter fused back into one activation
        assert [layer.activation.describe() for layer in model.layers] == [
            "gelu", "gelu(tanh)", "swish", "elu(alpha=0.8)", "selu", "hard_sigmoid(alpha=0.166667)",
            "leaky_relu(alpha=0.2)", "softplus", "softsign", "log_softmax"]
    recurrent = [layer for layer in model.layers if isinstance(layer, gn.RNN | gn.LSTM | gn.GRU)]
    assert [r.return_sequences for r in recurrent] == [True] * (len(recurrent) - 1) + [False] * bool(recurrent)
    assert model.meta["source"]["onnx"] == name


def test_glassnet_load_flattens_samples_for_the_digit_commands():
    model = gn.load(DATA / "cnn_bn.ts17-nofold.onnx")
    assert model.input_shape == (784,) and isinstance(model.layers[0], gn.Reshape)
    stored = np.load(DATA / "cnn_bn.npz")
    np.testing.assert_allclose(model.predict(stored["x"].reshape(5, 784)), stored["y"], rtol=0, atol=TOL)


def test_channels_last_flattening_is_read_by_the_next_dense_layer(tmp_path):
    """Keras's (n, H, W, C) flattened into a Dense layer: glassnet flattens (C, H, W) and the Dense layer's rows
    are reordered to match; any other reader of that flattening is refused."""
    rng = np.random.default_rng(6)
    w, k = rng.standard_normal((2 * 3 * 4, 5)), rng.standard_normal((4, 2, 1, 1))
    nodes = [helper.make_node("Conv", ["input", "k"], ["c"]),
             helper.make_node("Transpose", ["c"], ["nhwc"], perm=[0, 2, 3, 1]),
             helper.make_node("Reshape", ["nhwc", "s"], ["flat"])]
    inits = [("k", k), ("w", w)]
    proto = graph([*nodes, helper.make_node("MatMul", ["flat", "w"], ["output"])], (2, 2, 3), inits=inits)
    proto.graph.initializer.append(numpy_helper.from_array(np.array([0, -1], np.int64), "s"))
    model = imported(proto, tmp_path)
    assert [type(layer) for layer in model.layers] == [gn.Conv2D, gn.Flatten, gn.Dense]
    X = rng.standard_normal((3, 2, 2, 3))
    np.testing.assert_allclose(model.predict(X), run_ort(proto, X), rtol=0, atol=TOL)
    bn = [(n, np.full(24, v)) for n, v in (("g", 1.0), ("b", 0.0), ("m", 0.0), ("v", 1.0))]
    proto = graph([*nodes, helper.make_node("BatchNormalization", ["flat", "g", "b", "m", "v"], ["output"], name="bn")],
                  (2, 2, 3), inits=inits + bn)
    proto.graph.initializer.append(numpy_helper.from_array(np.array([0, -1], np.int64), "s"))
    assert refusal(proto, tmp_path) == ("BatchNormalization at node 'bn' (BatchNormalization): reads a flattening of "
                                        "channels-last data; only a Dense layer (Gemm, MatMul) can follow one")


def test_dynamo_unrolled_rnn_is_refused_naming_the_join():
    with pytest.raises(OnnxImportError, match=r"rnn\.dynamo18\.onnx: node 'node_add_\d+' \(Add\) joins 2 branches"):
        load(DATA / "rnn.dynamo18.onnx")


# ----------------------------------------------------------------------------- edge cases
def test_opset11_softmax_flattens_a_3d_input(tmp_path):
    """Before opset 13 Softmax over axis 1 of (N, 3, 4) normalises all 12 values of a sample."""
    proto = graph([helper.make_node("Softmax", ["input"], ["output"], axis=1)], (3, 4), opset=11)
    model = imported(proto, tmp_path)
    X = np.random.default_rng(0).standard_normal((6, 3, 4))
    got = model.predict(X)
    np.testing.assert_allclose(got, run_ort(proto, X), rtol=0, atol=TOL)
    np.testing.assert_allclose(got.sum(axis=(1, 2)), 1.0, atol=1e-6)
    last = graph([helper.make_node("Softmax", ["input"], ["output"], axis=-1)], (3, 4), opset=13)
    np.testing.assert_allclose(imported(last, tmp_path).predict(X).sum(axis=2), 1.0, atol=1e-6)


def test_gemm_with_trans_a_alpha_and_beta(tmp_path):
    rng = np.random.default_rng(1)
    w, c = rng.standard_normal((3, 4)), rng.standard_normal(3)
    proto = graph([helper.make_node("Transpose", ["input"], ["xt"], perm=[1, 0]),
                   helper.make_node("Gemm", ["xt", "w", "c"], ["output"], transA=1, transB=1, alpha=0.5, beta=2.0)],
                  (4,), inits=[("w", w), ("c", c)])
    model = imported(proto, tmp_path)
    X = rng.standard_normal((5, 4))
    np.testing.assert_allclose(model.predict(X), 0.5 * X @ w.T + 2 * c, rtol=0, atol=TOL)
    assert [type(layer) for layer in model.layers] == [gn.Dense]


def test_matmul_add_is_one_dense_layer(tmp_path):
    rng = np.random.default_rng(2)
    w, c = rng.standard_normal((4, 3)), rng.standard_normal(3)
    proto = graph([helper.make_node("MatMul", ["input", "w"], ["z"]), helper.make_node("Add", ["z", "c"], ["y"]),
                   helper.make_node("Relu", ["y"], ["output"])], (4,), inits=[("w", w), ("c", c)])
    model = imported(proto, tmp_path)
    assert len(model.layers) == 1 and model.layers[0].activation.key == "relu"
    np.testing.assert_allclose(model.layers[0].b.value, c.astype(np.float32))


def conv(pads=None, auto_pad=None, kernel=3, strides=(1, 1)):
    w = np.random.default_rng(3).standard_normal((2, 1, kernel, kernel))
    attrs = {"strides": list(strides), **({"pads": pads} if pads else {}),
             **({"auto_pad": auto_pad} if auto_pad else {})}
    return graph([helper.make_node("Conv", ["input", "w"], ["output"], name="the_conv", **attrs)], (1, 6, 6),
                 inits=[("w", w)])


@pytest.mark.parametrize("kw", [{"pads": [1, 2, 1, 2]}, {"auto_pad": "SAME_UPPER"},
                                {"auto_pad": "SAME_LOWER", "strides": (2, 2), "kernel": 4}, {"auto_pad": "VALID"}])
def test_conv_pads_strides_auto_pad(kw, tmp_path):
    proto = conv(**kw)
    X = np.random.default_rng(4).random((3, 1, 6, 6))
    np.testing.assert_allclose(imported(proto, tmp_path).predict(X), run_ort(proto, X), rtol=0, atol=TOL)


def refusal(proto, tmp_path):
    with pytest.raises(OnnxImportError) as info:
        imported(proto, tmp_path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "m.onnx") + ": ")
    return message.split(": ", 1)[1]


def test_asymmetric_pads_are_refused(tmp_path):
    assert refusal(conv(pads=[0, 0, 1, 1]), tmp_path) == (
        "Conv at node 'the_conv' (Conv): asymmetric pads [0, 0, 1, 1] (top, left, bottom, right); glassnet's Conv2D "
        "pads each side alike")
    assert "asymmetric pads [0, 0, 1, 1]" in refusal(conv(auto_pad="SAME_UPPER", kernel=2), tmp_path)


def test_a_residual_branch_is_refused(tmp_path):
    proto = graph([helper.make_node("Relu", ["input"], ["r"], name="relu"),
                   helper.make_node("Add", ["input", "r"], ["output"], name="residual")], (4,))
    assert refusal(proto, tmp_path) == "node 'residual' (Add) joins 2 branches (input, r); only chains of layers are " \
                                       "imported"


def test_a_second_branch_is_refused(tmp_path):
    proto = graph([helper.make_node("Relu", ["input"], ["a"], name="left"),
                   helper.make_node("Tanh", ["input"], ["b"], name="right"),
                   helper.make_node("Concat", ["a", "b"], ["output"], name="cat", axis=1)], (4,))
    assert refusal(proto, tmp_path).startswith("node 'cat' (Concat) joins 2 branches")


def test_an_unknown_operator_is_refused_before_anything_runs(tmp_path):
    proto = graph([helper.make_node("Relu", ["input"], ["a"], name="r"),
                   helper.make_node("LpNormalization", ["a"], ["output"], name="norm")], (4,))
    message = refusal(proto, tmp_path)
    assert message.startswith("unsupported operator LpNormalization at node 'norm' (LpNormalization); supported: ")
    assert "Conv, Dropout, Elu, Flatten, GRU, Gather, Gelu, Gemm" in message


def test_a_custom_domain_is_refused(tmp_path):
    proto = graph([helper.make_node("Fancy", ["input"], ["output"], name="f", domain="com.example")], (4,))
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    assert refusal(proto, tmp_path) == ("operator Fancy of domain 'com.example' at node 'f' (Fancy) is not a standard "
                                        "ONNX operator")


def test_fixed_batch_reshape_is_refused(tmp_path):
    proto = graph([helper.make_node("Reshape", ["input", "s"], ["output"], name="view")], (2, 3),
                  inits=[("s", np.array([5, 6]))])
    proto.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.array([5, 6], np.int64), "s"))
    assert "ONNX Runtime cannot run the graph at batch sizes (2, 3)" in refusal(proto, tmp_path)


def test_verify_names_the_layer_where_they_part():
    model = onnx.load(DATA / "mlp.ts17.onnx")
    net, builder = convert(model)
    assert verify_import(net, model, builder) <= TOL
    net.layers[1].W.value[0, 0] += 0.5
    with pytest.raises(OnnxImportError, match=r"differs from ONNX Runtime by [0-9.e-]+ \(more than 0.0001\) from "
                                              r"layer 1 \(dense_2, ONNX value '/net/net.3/Tanh_output_0'\)"):
        verify_import(net, model, builder)


def test_missing_extra_is_named(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["summary", str(DATA / "mlp.ts17.onnx")]) == 1
    assert capsys.readouterr().err == ("glassnet summary: error: reading mlp.ts17.onnx needs onnx: "
                                       "pip install 'glassnet[onnx]'\n")


def test_commands_take_onnx_files(capsys, tmp_path):
    assert main(["summary", str(DATA / "lstm.ts17.onnx")]) == 0
    assert "lstm_1     LSTM" in capsys.readouterr().out
    assert main(["export", str(DATA / "gru.dynamo18.onnx"), str(tmp_path / "back.onnx"), "--verify"]) == 0
    assert main(["summary", str(DATA / "rnn.dynamo18.onnx")]) == 1
    assert capsys.readouterr().err.startswith("glassnet summary: error: ")


# ----------------------------------------------------------------------------- the round trip
def test_fine_tune_save_reload_export_round_trip(tmp_path):
    """An imported CNN trained one epoch on an MNIST slice with fit, saved as .npz, reloaded, exported to ONNX and
    imported again: every step gives the same predictions within 1e-5."""
    from glassnet.datasets import mnist

    X, y = mnist.load("train", sample=True)
    X, y = X[:600], y[:600]
    model = gn.load(DATA / "cnn_bn.ts17-nofold.onnx")
    before = model.predict(X[:50])
    model.compile(loss="cross_entropy", optimizer=gn.Adam(1e-3))
    model.fit(X, y, epochs=1, batch_size=50, seed=0, verbose=0)
    after = model.predict(X[:50])
    assert np.abs(after - before).max() > 1e-3  # it learned something
    model.save(tmp_path / "tuned.npz")
    again = gn.load(tmp_path / "tuned.npz")
    np.testing.assert_allclose(again.predict(X[:50]), after, rtol=0, atol=TOL)
    gn.onnx.export(again, tmp_path / "tuned.onnx")
    np.testing.assert_allclose(run_ort(tmp_path / "tuned.onnx", X[:50]), after, rtol=0, atol=TOL)
    third = gn.load(tmp_path / "tuned.onnx")
    assert [type(layer) for layer in third.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_allclose(third.predict(X[:50]), after, rtol=0, atol=TOL)


@pytest.mark.parametrize("layers, shape", [
    (lambda: [gn.GRU(5, 4, return_sequences=True), gn.GRU(4, 3), gn.Dense(3, 2, "gelu")], (6, 5)),
    (lambda: [gn.Dense(6, 5, "elu"), gn.Dense(5, 4, "selu"), gn.Dense(4, 3, gn.HardSigmoid(0.3, 0.4)),
              gn.Dense(3, 3, "log_softmax")], (6,)),
    (lambda: [gn.Conv2D(2, 3, 3, padding=1), gn.BatchNorm(activation="leaky_relu"), gn.AvgPool2D(2), gn.Flatten(),
              gn.Dense(12, 2, "softsign")], (2, 4, 4)),
])
@pytest.mark.parametrize("opset", [13, 20])
def test_glassnet_export_imports_back(layers, shape, opset, tmp_path):
    model = gn.Sequential(layers(), seed=3, input_shape=shape)
    for layer in model.layers:
        for p in layer.params:
            p.value += np.random.default_rng(4).normal(0, 0.3, p.value.shape).astype(p.value.dtype)
    gn.onnx.export(model, tmp_path / "m.onnx", opset=opset)
    back = load(tmp_path / "m.onnx")
    X = np.random.default_rng(5).standard_normal((7, *shape))
    np.testing.assert_allclose(back.predict(X), model.predict(X), rtol=0, atol=TOL)
