"""ONNX export: every layer type and every preset, run by ONNX Runtime against model.predict."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import need, readme_example
from threadpoolctl import threadpool_limits

onnx = need("onnx")
ort = need("onnxruntime")

import glassnet as gn  # noqa: E402
from glassnet.cli import main  # noqa: E402
from glassnet.model.file import model_config  # noqa: E402
from glassnet.nn.layers import LAYERS, Layer  # noqa: E402
from glassnet.onnx import CONVERTERS, DEFAULT_OPSET, MIN_OPSET, ExportError, export, to_onnx, verify  # noqa: E402
from glassnet.presets import PRESETS, build  # noqa: E402

TOL = 1e-5
"""Largest absolute difference allowed between ONNX Runtime and model.predict (float32)."""


def _dense_then(layer):
    return lambda: gn.Sequential([gn.Dense(5, 6), layer], seed=1)


def _batch_norm(layers, input_shape):
    """A network with BatchNorm whose gamma, beta and running statistics are far from their initial 1, 0, 0, 1."""
    def make():
        model = gn.Sequential(layers(), seed=1, input_shape=input_shape)
        rng = np.random.default_rng(2)
        for bn in (layer for layer in model.layers if isinstance(layer, gn.BatchNorm)):
            f = bn.n_features
            bn.gamma.value[...], bn.beta.value[...] = rng.uniform(0.5, 2, f), rng.normal(size=f)
            bn.buffers["running_mean"][...], bn.buffers["running_var"][...] = rng.normal(size=f), rng.uniform(0.2, 3, f)
        return model
    return make


def _rnn(activation):
    return lambda: gn.Sequential([gn.RNN(3, 4, return_sequences=True, activation=activation),
                                  gn.RNN(4, 5, activation=activation)], seed=1, input_shape=(6, 3))


CASES = {
    # one or more small networks per layer type (class name -> {case: factory}); non-default settings
    "Dense": {"tanh": lambda: gn.Sequential([gn.Dense(5, 4, "tanh"), gn.Dense(4, 3)], seed=1)},
    "Linear": {"layer": _dense_then(gn.Linear())},
    "Step": {"threshold": _dense_then(gn.Step(0.1))},
    "Sigmoid": {"slope 1": _dense_then(gn.Sigmoid()), "slope 0.5": _dense_then(gn.Sigmoid(0.5))},
    "Tanh": {"layer": _dense_then(gn.Tanh())},
    "ReLU": {"layer": _dense_then(gn.ReLU())},
    "LeakyReLU": {"alpha": _dense_then(gn.LeakyReLU(0.2))},
    "Softplus": {"layer": _dense_then(gn.Softplus())},
    "Softsign": {"layer": _dense_then(gn.Softsign())},
    "Swish": {"beta 1": _dense_then(gn.Swish()), "beta 1.5": _dense_then(gn.Swish(1.5))},
    "Softmax": {"in Dense": lambda: gn.Sequential([gn.Dense(5, 4, "softmax")], seed=1)},
    "LogSoftmax": {"in Dense": lambda: gn.Sequential([gn.Dense(5, 4, "log_softmax")], seed=1)},
    "ELU": {"alpha": _dense_then(gn.ELU(0.7))},
    "SELU": {"layer": _dense_then(gn.SELU())},
    "GELU": {"exact": _dense_then(gn.GELU()), "tanh": _dense_then(gn.GELU("tanh"))},
    "HardSigmoid": {"alpha beta": _dense_then(gn.HardSigmoid(0.3, 0.4))},
    "Maxout": {"pieces": lambda: gn.Sequential([gn.Maxout(5, 3, pieces=4), gn.Maxout(3, 2)], seed=1)},
    "Dropout": {"between": lambda: gn.Sequential([gn.Dense(5, 4, "relu"), gn.Dropout(0.5), gn.Dense(4, 2)],
                                                 seed=1)},
    "GaussianNoise": {"first": lambda: gn.Sequential([gn.GaussianNoise(0.5), gn.Dense(5, 2)], input_shape=(5,))},
    "MaskingNoise": {"first": lambda: gn.Sequential([gn.MaskingNoise(0.5), gn.Dense(5, 2)], input_shape=(5,))},
    "BatchNorm": {
        "dense (n, F)": _batch_norm(lambda: [gn.Dense(5, 6), gn.BatchNorm(activation="relu", eps=1e-3),
                                             gn.Dense(6, 3, "softmax")], (5,)),
        "images (n, C, H, W)": _batch_norm(lambda: [gn.Conv2D(2, 3, 3), gn.BatchNorm(activation="tanh"),
                                                    gn.MaxPool2D(2), gn.Flatten()], (2, 7, 7)),
        "no activation": _batch_norm(lambda: [gn.BatchNorm()], (4,))},
    "Reshape": {"to images": lambda: gn.Sequential([gn.Reshape((2, 3, 4)), gn.Conv2D(2, 2, 2), gn.Flatten()],
                                                   seed=1, input_shape=(24,))},
    "Flatten": {"images": lambda: gn.Sequential([gn.Flatten(), gn.Dense(24, 3, "softmax")], seed=1,
                                                input_shape=(2, 3, 4))},
    "Conv2D": {
        "stride and padding": lambda: gn.Sequential(
            [gn.Conv2D(2, 3, 3, stride=2, padding=1, activation="relu"), gn.Flatten()], seed=1,
            input_shape=(2, 9, 9)),
        "rectangular": lambda: gn.Sequential(
            [gn.Conv2D(2, 3, (3, 2), stride=(1, 2), padding=(1, 0), activation="swish")], seed=1,
            input_shape=(2, 7, 8))},
    "MaxPool2D": {
        "2x2": lambda: gn.Sequential([gn.MaxPool2D(2)], input_shape=(2, 7, 7)),
        "overlapping": lambda: gn.Sequential([gn.MaxPool2D(3, stride=2)], input_shape=(2, 9, 8))},
    "AvgPool2D": {
        "2x2": lambda: gn.Sequential([gn.AvgPool2D(2)], input_shape=(2, 7, 7)),
        "rectangular": lambda: gn.Sequential([gn.AvgPool2D((2, 3), stride=(1, 2))], input_shape=(2, 6, 9))},
    "RNN": {"tanh": _rnn("tanh"), "relu": _rnn("relu"), "leaky_relu": _rnn(gn.LeakyReLU(0.3)),
            "linear": _rnn("linear"), "sigmoid": _rnn("sigmoid"), "softsign": _rnn("softsign"),
            "softplus": _rnn("softplus"), "swish (unrolled)": _rnn("swish"),
            "sigmoid slope 2 (unrolled)": _rnn(gn.Sigmoid(2.0))},
    "LSTM": {"stacked": lambda: gn.Sequential([gn.LSTM(3, 4, return_sequences=True), gn.LSTM(4, 5)], seed=1,
                                              input_shape=(6, 3))},
    "GRU": {"stacked": lambda: gn.Sequential([gn.GRU(3, 4, return_sequences=True), gn.GRU(4, 5)], seed=1,
                                             input_shape=(6, 3))},
    "DenseTied": {"tied autoencoder": lambda: gn.Autoencoder.from_sizes(6, hidden=[4], code=2, tied=True,
                                                                        seed=1).model},
}


@pytest.fixture(autouse=True)
def one_thread():
    """One BLAS thread: on a machine busy with other work, OpenBLAS threads can make predict 100x slower."""
    with threadpool_limits(1):
        yield


def session_of(proto):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _run(proto, X):
    return session_of(proto).run(None, {"input": np.asarray(X, np.float32)})[0]


def test_every_layer_type_has_a_case_and_a_mapping():
    """A layer type added to glassnet without an ONNX mapping (or a case above) fails here; layers that are the
    identity at inference need neither (``test_identity_at_inference_layers_need_no_mapping``)."""
    computing = {name for name, cls in LAYERS.items() if not cls.identity_at_inference}
    assert computing <= set(CASES), f"add a case to CASES for {sorted(computing - set(CASES))}"
    unmapped = sorted(name for name in computing if LAYERS[name] not in CONVERTERS)
    assert not unmapped, f"no ONNX mapping for {unmapped}"


@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, 18, 20])
@pytest.mark.parametrize("kind, case", [(k, c) for k in sorted(CASES) for c in CASES[k]])
def test_layer_matches_predict(kind, case, opset):
    model = CASES[kind][case]()
    assert any(type(layer) is LAYERS[kind] or type(getattr(layer, "activation", None)) is LAYERS[kind]
               for layer in model.layers)
    X = np.random.default_rng(0).standard_normal((100, *model.input_shape))
    proto = to_onnx(model, opset)
    got = _run(proto, X)
    assert got.shape == (100, *model.output_shape) and got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict(X), rtol=0, atol=TOL)
    if LAYERS[kind].identity_at_inference:  # left out of the graph
        dropped = [layer.name for layer in model.layers if type(layer) is LAYERS[kind]]
        assert dropped and not [node for node in proto.graph.node if node.name.split(".")[0] in dropped]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_match_predict(preset):
    model = build(dict(PRESETS[preset]), seed=0)  # initial weights: no training needed
    X = np.random.default_rng(1).random((100, 784))
    assert verify(model, to_onnx(model), X) <= TOL


def test_float64_model_is_exported_as_float32():
    model = gn.Sequential([gn.Dense(5, 8, "tanh"), gn.Dense(8, 3, "softmax")], dtype=np.float64, seed=2)
    proto = to_onnx(model)
    assert {t.data_type for t in proto.graph.initializer} == {onnx.TensorProto.FLOAT}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    X = np.random.default_rng(0).standard_normal((100, 5))
    assert verify(model, proto, X) <= TOL


def test_dense_tied_shares_one_weight_tensor():
    model = CASES["DenseTied"]["tied autoencoder"]()
    proto = to_onnx(model)
    weights = sorted(t.name for t in proto.graph.initializer if len(t.dims) == 2)
    assert weights == ["decoder_1.W", "reconstruction.W"]  # the decoder's, each used twice
    assert sum(p.value.size for p in model.parameters()) == sum(int(np.prod(t.dims)) for t in proto.graph.initializer)


def test_values_are_named_after_the_glass_box():
    """Inner values can be exposed as outputs: dense_1.a from ONNX Runtime equals layer.a."""
    model = gn.Sequential([gn.Dense(5, 4, "relu"), gn.Dense(4, 2, "softmax"), gn.Dense(2, 2)], seed=3)
    names = {o for node in to_onnx(model).graph.node for o in node.output}
    assert {"dense_1.z", "dense_1.a", "dense_2.z", "dense_2.a", "dense_3.z", "dense_3.a", "output"} <= names
    proto = to_onnx(model, extra_outputs=["dense_1.z", "dense_1.a"])
    X = np.random.default_rng(0).standard_normal((10, 5)).astype(np.float32)
    z, a = session_of(proto).run(["dense_1.z", "dense_1.a"], {"input": X})
    model.predict(X)
    np.testing.assert_allclose(z, model.layers[0].z, atol=TOL)
    np.testing.assert_allclose(a, model.layers[0].a, atol=TOL)
    with pytest.raises(ExportError, match="no value named 'dense_1.delta' to expose; values: dense_1.z, "):
        to_onnx(model, extra_outputs=["dense_1.delta"])


def test_checker_metadata_and_file(tmp_path):
    model = CASES["Conv2D"]["stride and padding"]()
    path = tmp_path / "m.onnx"
    export(model, path)
    loaded = onnx.load(path)
    onnx.checker.check_model(loaded, full_check=True)
    meta = {p.key: p.value for p in loaded.metadata_props}
    assert json.loads(meta["glassnet_config"]) == json.loads(json.dumps(model_config(model)))
    assert loaded.producer_name == "glassnet" and loaded.opset_import[0].version == DEFAULT_OPSET
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


class Square(Layer):
    """A user's layer with no ONNX mapping."""

    def forward(self, x, training=False):
        return x * x


class Jitter(Layer):
    """A user's training-only layer: left out of the export without a mapping."""

    identity_at_inference = True

    def forward(self, x, training=False):
        return x + 0.1 if training else x


def test_layer_without_mapping_fails_in_one_line_and_writes_nothing(tmp_path):
    model = gn.Sequential([gn.Dense(3, 4), Square(), gn.Dense(4, 2)], seed=0)
    path = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=r"cannot export layer 'square_1' \(Square\)") as err:
        export(model, path)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"old")  # an existing file stays as it was
    with pytest.raises(ExportError):
        export(model, path)
    assert path.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_identity_at_inference_layers_need_no_mapping():
    model = gn.Sequential([Jitter(), gn.Dense(3, 2, "softmax")], seed=0, input_shape=(3,))
    assert verify(model, to_onnx(model)) <= TOL


@pytest.mark.parametrize("opset", [12, 10_000, "17", True])
def test_bad_opset(opset):
    with pytest.raises(ExportError, match="opset must be an integer from 13"):
        to_onnx(CASES["Dense"]["tanh"](), opset)


FRESH_PROCESS = """
import sys
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
np.save(sys.argv[3], session.run(["output"], {"input": np.load(sys.argv[2])})[0])
assert not any(name.startswith("glassnet") for name in sys.modules), "glassnet was imported"
"""


def test_export_command_then_onnxruntime_without_glassnet(tmp_path, capsys):
    model = build(dict(PRESETS["cnn"]), seed=0)
    model.save(tmp_path / "cnn.npz")
    assert main(["export", str(tmp_path / "cnn.npz"), str(tmp_path / "cnn.onnx"), "--verify", "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["opset"] == DEFAULT_OPSET and result["max_abs_diff"] <= TOL and "wrote" in out
    X = np.random.default_rng(5).random((100, 784), dtype=np.float32)
    np.save(tmp_path / "x.npy", X)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    fresh = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(tmp_path / "cnn.onnx"), str(tmp_path / "x.npy"),
                            str(tmp_path / "y.npy")], capture_output=True, text=True, env=env, timeout=300,
                           cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), model.predict(X), rtol=0, atol=TOL)


def test_export_command_bad_input(tmp_path, capsys):
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    assert main(["export", str(tmp_path / "bad.npz"), str(tmp_path / "m.onnx")]) == 1
    assert "not a readable glassnet model file" in capsys.readouterr().err
    CASES["Dense"]["tanh"]().save(tmp_path / "good.npz")
    assert main(["export", str(tmp_path / "good.npz"), str(tmp_path / "m.onnx"), "--opset", "9"]) == 1
    assert capsys.readouterr().err.strip() == ("glassnet export: error: opset must be an integer from 13 to "
                                               f"{onnx.defs.onnx_opset_version()} (this onnx's newest), got 9")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz", "good.npz"]


def test_export_command_names_the_extra_before_any_work(tmp_path):
    """Without onnx the command says which extra to install, even before it reads the model."""
    fake = tmp_path / "no_onnx" / "onnx"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('onnx is hidden for this test')\n")
    out = tmp_path / "m.onnx"
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    run = subprocess.run([sys.executable, "-m", "glassnet.cli", "export", str(tmp_path / "missing.npz"), str(out)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "glassnet export: error: this command needs the onnx extra: pip install 'glassnet[onnx]' "
        "(onnx is hidden for this test)"]
    assert not out.exists()


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    """The README's ONNX example, as written there."""
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(readme_example("ONNX"), "README.md", "exec"), ns)
    assert (tmp_path / "model.onnx").is_file()
    np.testing.assert_allclose(ns["p"], ns["model"].predict(ns["X"]), atol=TOL)
    np.testing.assert_allclose(ns["hidden"], ns["model"].layers[0].a, atol=TOL)
