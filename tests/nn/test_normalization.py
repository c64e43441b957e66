"""BatchNorm: gradients against finite differences (float64), batch versus running statistics, the files it is
saved in, the one-line errors, and every part of glassnet that walks layers taking it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.model.gradcheck import numerical_gradient, relative_error

TOL = 1e-6
SHAPES = {"dense": (5,), "images": (3, 4, 5)}


def _standalone(sample_shape, rng, activation="tanh", **kw):
    """A float64 BatchNorm with random gamma and beta that returns dC/dx (it is not the model's first layer)."""
    model = gn.Sequential([gn.BatchNorm(activation=activation, **kw)], dtype=np.float64, input_shape=sample_shape)
    bn = model.layers[0]
    bn.needs_input_grad = True
    bn.gamma.value[...] = rng.uniform(0.5, 2.0, bn.gamma.value.shape)
    bn.beta.value[...] = rng.normal(size=bn.beta.value.shape)
    return bn


@pytest.mark.parametrize("training", [True, False], ids=["batch statistics", "running statistics"])
@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_gradient_with_respect_to_the_input_gamma_and_beta(kind, training, rng):
    """C = sum G * a for a fixed G: dC/dx, dC/dgamma, dC/dbeta against central differences."""
    bn = _standalone(SHAPES[kind], rng)
    bn.buffers["running_mean"][...] = rng.normal(size=bn.n_features)
    bn.buffers["running_var"][...] = rng.uniform(0.5, 2.0, bn.n_features)
    x = rng.normal(2.0, 3.0, size=(6, *SHAPES[kind]))
    G = rng.normal(size=x.shape)

    def cost(_):
        return float(np.sum(G * bn.forward(x, training)))

    cost(None)
    dx = bn.backward(G.copy())
    assert relative_error(dx, numerical_gradient(cost, x)) < TOL
    for p in (bn.gamma, bn.beta):
        cost(None)
        bn.backward(G.copy())
        analytic = p.grad.copy()
        assert relative_error(analytic, numerical_gradient(cost, p.value)) < TOL, p.name


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_gradients_inside_a_network(kind, rng):
    """Dense or Conv2D, BatchNorm (with its activation), softmax output; L1 and L2 on gamma too."""
    if kind == "dense":
        layers, shape = [gn.Dense(4, 6), gn.BatchNorm(activation="tanh"), gn.Dense(6, 3, "softmax")], (4,)
    else:
        layers = [gn.Conv2D(2, 3, 3, padding=1), gn.BatchNorm(activation="relu"), gn.MaxPool2D(2), gn.Flatten(),
                  gn.Dense(None, 3, "softmax")]
        shape = (2, 4, 6)
    model = gn.Sequential(layers, dtype=np.float64, seed=1, input_shape=shape)
    model.compile("cross_entropy", l1=0.01, l2=0.1)
    X, y = rng.normal(size=(8, *shape)), rng.integers(0, 3, 8)
    result = gn.gradcheck(model, X, y)
    before = model.layers[0].name
    assert set(result.errors) >= {"batchnorm_1.gamma", "batchnorm_1.beta"}
    checked = {k: v for k, v in result.errors.items() if k != f"{before}.b"}
    assert max(checked.values()) < TOL, str(result)
    # the bias in front of a BatchNorm does nothing: the mean removes it, and its gradient is zero
    assert np.abs(model.layers[0].b.grad).max() < 1e-10


def test_training_uses_the_batch_and_inference_the_running_statistics(rng):
    model = gn.Sequential([gn.BatchNorm(momentum=0.5)], dtype=np.float64, input_shape=(3,))
    bn = model.layers[0]
    bn.gamma.value[...] = [1.0, 2.0, 0.5]
    bn.beta.value[...] = [0.0, -1.0, 3.0]
    x = rng.normal([1.0, -2.0, 5.0], [0.5, 2.0, 3.0], size=(50, 3))
    out = bn.forward(x, training=True)
    assert bn.training
    np.testing.assert_allclose(bn.mean, x.mean(axis=0))
    np.testing.assert_allclose(bn.var, x.var(axis=0))
    np.testing.assert_allclose(bn.x_hat.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(bn.x_hat.var(axis=0), x.var(axis=0) / (x.var(axis=0) + bn.eps))
    np.testing.assert_allclose(out, bn.gamma.value * bn.x_hat + bn.beta.value)
    # one step of the running averages: momentum 0.5 of the old value (0 and 1), the unbiased variance
    running_mean, running_var = bn.buffers["running_mean"].copy(), bn.buffers["running_var"].copy()
    np.testing.assert_allclose(running_mean, 0.5 * x.mean(axis=0))
    np.testing.assert_allclose(running_var, 0.5 + 0.5 * x.var(axis=0, ddof=1))

    expected = bn.gamma.value * (x - running_mean) / np.sqrt(running_var + bn.eps) + bn.beta.value
    first = model.predict(x)
    np.testing.assert_allclose(first, expected, rtol=1e-12)
    assert not bn.training and bn.mean is bn.buffers["running_mean"]
    np.testing.assert_array_equal(model.predict(x), first)  # inference changes nothing
    np.testing.assert_array_equal(bn.buffers["running_mean"], running_mean)
    for i in (0, 17):  # one sample alone gives its row of the batch's output
        np.testing.assert_array_equal(model.predict(x[i:i + 1]), first[i:i + 1])


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_running_statistics_converge_to_the_datas(kind, rng):
    shape = SHAPES[kind]
    c = shape[0]
    centre, spread = np.linspace(-3, 3, c), np.linspace(0.5, 2.5, c)
    per_feature = (c,) + (1,) * (len(shape) - 1)
    model = gn.Sequential([gn.BatchNorm(momentum=0.9)], dtype=np.float64, input_shape=shape)
    bn = model.layers[0]
    for _ in range(300):
        x = centre.reshape(per_feature) + spread.reshape(per_feature) * rng.standard_normal((32, *shape))
        bn.forward(x, training=True)
    np.testing.assert_allclose(bn.buffers["running_mean"], centre, atol=0.15)
    np.testing.assert_allclose(bn.buffers["running_var"], spread**2, rtol=0.15)


def test_a_batch_of_one_in_training_keeps_the_running_statistics(rng):
    model = gn.Sequential([gn.Dense(4, 3), gn.BatchNorm(activation="relu")], seed=0)
    bn = model.layers[1]
    out = model.forward(rng.normal(size=(1, 4)).astype(np.float32), training=True)
    np.testing.assert_array_equal(out, 0.0)  # x_hat = 0: the output is f(beta)
    np.testing.assert_array_equal(bn.buffers["running_mean"], 0.0)
    np.testing.assert_array_equal(bn.buffers["running_var"], 1.0)


def test_images_are_normalised_per_channel_and_stay_channels_last(rng):
    model = gn.Sequential([gn.Conv2D(2, 4, 3, activation=None), gn.BatchNorm(activation="relu")], seed=0,
                          input_shape=(2, 6, 6))
    x = rng.normal(size=(5, 2, 6, 6)).astype(np.float32)
    model.forward(x, training=True)
    conv, bn = model.layers
    np.testing.assert_allclose(bn.mean, conv.z.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.x_hat.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert bn.output.shape == (5, 4, 4, 4) and bn.output.transpose(0, 2, 3, 1).flags.c_contiguous
    assert bn.output.dtype == np.float32 and bn.buffers["running_var"].dtype == np.float32


def _trained(seed=0, epochs=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(96, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    model = gn.Sequential([gn.Dense(6, 8), gn.BatchNorm(activation="relu"), gn.Dense(8, 2, "softmax")], seed=seed)
    model.compile("cross_entropy", gn.Adam(0.01))
    return model, X, y


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_save_and_load_give_bit_identical_predictions(tmp_path, suffix):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    model, X, y = _trained()
    model.fit(X, y, epochs=3, batch_size=16, seed=0, verbose=0)
    bn = model.layers[1]
    assert not np.allclose(bn.buffers["running_mean"], 0) and not np.allclose(bn.gamma.value, 1)
    path = tmp_path / f"m{suffix}"
    model.save(path)
    loaded = gn.load(path)
    lb = loaded.layers[1]
    assert type(lb) is gn.BatchNorm and (lb.momentum, lb.eps, lb.n_features) == (bn.momentum, bn.eps, 8)
    for key in ("running_mean", "running_var"):
        np.testing.assert_array_equal(lb.buffers[key], bn.buffers[key])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_checkpoint_resume_is_bit_identical(tmp_path):
    whole, X, y = _trained()
    whole.fit(X, y, epochs=4, batch_size=16, seed=1, verbose=0)
    first, _, _ = _trained()
    first.fit(X, y, epochs=2, batch_size=16, seed=1, verbose=0, callbacks=[gn.TrainingCheckpoint(tmp_path)])
    second, _, _ = _trained()
    second.fit(X, y, epochs=4, batch_size=16, seed=1, verbose=0, callbacks=[gn.TrainingCheckpoint(tmp_path)],
               resume=tmp_path)
    a, b = whole.state_dict(), second.state_dict()
    assert "layer1.running_var" in a
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_a_file_with_wrong_running_statistics_is_refused(tmp_path):
    model, _, _ = _trained()
    model.save(tmp_path / "m.npz")
    arrays = dict(np.load(tmp_path / "m.npz"))
    arrays["layer1.running_var"] = np.ones(7, np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(gn.ModelFileError, match=r"layer1.running_var must be float32 of shape \(8,\)"):
        gn.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("make, message", [
    (lambda: gn.Sequential([gn.Dense(4, 3), gn.BatchNorm(5)], seed=0), "BatchNorm expects 5 features, got sample "
                                                                        "shape (3,)"),
    (lambda: gn.Sequential([gn.BatchNorm()], input_shape=(4, 3)), "BatchNorm expects samples of shape (features,) or "
                                                                  "(channels, height, width), got (4, 3)"),
    (lambda: gn.Sequential([gn.BatchNorm(2)], input_shape=(3, 4, 4)), "BatchNorm expects 2 channels"),
    (lambda: gn.BatchNorm(momentum=1.5), "momentum must be in [0, 1], got 1.5"),
    (lambda: gn.BatchNorm(eps=0), "eps must be > 0, got 0"),
    (lambda: gn.BatchNorm(n_features=0), "n_features >= 1 or None, got 0"),
    (lambda: gn.BatchNorm(activation="nope"), "unknown activation"),
])
def test_bad_settings_fail_in_one_line(make, message):
    with pytest.raises(ValueError) as e:
        make()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_input_to_predict_fails_in_one_line():
    model = gn.Sequential([gn.BatchNorm()], input_shape=(3,))
    for X in (np.zeros((2, 4)), np.zeros((2, 3, 1))):
        with pytest.raises(ValueError) as e:
            model.predict(X)
        assert "\n" not in str(e.value) and "(3,)" in str(e.value)


def test_summary_inspect_and_recorded_statistics(rng):
    model, X, y = _trained()
    text = model.summary_text()
    assert "batchnorm_1  BatchNorm, relu" in text and " 16\n" in text  # gamma and beta: 2 x 8
    stats = model.inspect(X, y, stats=["grad_norm", "weight_norm", "activation_mean", "dead_fraction"])
    assert stats["weight_norm/batchnorm_1"] == pytest.approx(np.sqrt(8))  # ||gamma|| with gamma = 1
    assert stats["grad_norm/batchnorm_1"] > 0 and 0 <= stats["dead_fraction/batchnorm_1"] <= 1
    history = model.fit(X, y, epochs=2, batch_size=32, seed=0, verbose=0, record=["grad_norm"])
    assert len(history["grad_norm/batchnorm_1"]) == 2


def test_inspect_and_gradcheck_leave_the_running_statistics_alone(rng):
    model, X, y = _trained()
    model.fit(X, y, epochs=1, batch_size=16, seed=0, verbose=0)
    before = {k: v for k, v in model.state_dict().items() if "running" in k}
    model.inspect(X, y)
    model64 = gn.Sequential([gn.Dense(6, 4), gn.BatchNorm(), gn.Dense(4, 2, "softmax")], dtype=np.float64, seed=0)
    model64.compile("cross_entropy")
    model64.layers[1].buffers["running_var"][...] = 2.0
    assert gn.gradcheck(model64, X[:8], y[:8]).errors
    np.testing.assert_array_equal(model64.layers[1].buffers["running_var"], 2.0)
    np.testing.assert_array_equal(model64.layers[1].buffers["running_mean"], 0.0)
    for key, value in before.items():
        np.testing.assert_array_equal(model.state_dict()[key], value)
    model.fit(X, y, epochs=1, batch_size=16, seed=0, verbose=0)  # training does move them
    assert not np.array_equal(model.state_dict()["layer1.running_mean"], before["layer1.running_mean"])


def test_schema_refuses_bad_saved_settings():
    from glassnet._base.schema import SchemaError, check_config

    fields, required = gn.BatchNorm.config_fields()
    config = gn.BatchNorm(4, momentum=0.8).get_config()
    check_config(fields, required, json.loads(json.dumps(config)), "BatchNorm")
    for key, bad in (("momentum", 2.0), ("eps", 0.0), ("n_features", 0)):
        with pytest.raises(SchemaError, match=key):
            check_config(fields, required, {**config, key: bad}, "BatchNorm")


def test_mnist_subset_learns_with_batch_norm():
    X, y = gn.datasets.mnist.load("train", sample=True)
    X_test, y_test = gn.datasets.mnist.load("test", sample=True)
    model = gn.Sequential([gn.Dense(784, 64), gn.BatchNorm(activation="relu"), gn.Dense(64, 10, "softmax")], seed=0)
    model.compile("cross_entropy", gn.SGD(0.1, momentum=0.9))
    model.fit(X[:3000], y[:3000], epochs=3, batch_size=64, seed=0, verbose=0)
    accuracy = model.evaluate(X_test, y_test)["accuracy"]
    assert accuracy > 0.85, accuracy


# ----------------------------------------------------------------------------- glassnet train --batch-norm
def test_train_inserts_batch_norm_before_each_hidden_activation():
    from glassnet.presets import PRESETS, build

    mlp = build({**PRESETS["default"], "batch_norm": True, "augment": "off"}, seed=0)
    kinds = [type(layer).__name__ for layer in mlp.layers]
    assert kinds == ["Dense", "BatchNorm", "Dropout", "Dense", "BatchNorm", "Dropout", "Dense"]
    assert mlp.layers[0].activation is None and type(mlp.layers[1].activation).__name__ == "ReLU"
    cnn = build({**PRESETS["cnn"], "batch_norm": True, "augment": "off"}, seed=0)
    kinds = [type(layer).__name__ for layer in cnn.layers]
    assert kinds == ["Reshape", "Conv2D", "BatchNorm", "MaxPool2D", "Conv2D", "BatchNorm", "MaxPool2D", "Flatten",
                     "Dense", "BatchNorm", "Dropout", "Dense"]
    assert "BatchNorm" not in [type(layer).__name__ for layer in build(dict(PRESETS["default"]), seed=0).layers]


def test_train_command_with_batch_norm(tmp_path, capsys):
    from glassnet.cli import main

    out = tmp_path / "bn.npz"
    code = main(["train", "--sample", "--batch-norm", "--augment", "off", "--hidden", "32", "--epochs", "2",
                 "--dropout", "0", "--out", str(out), "--json", "--quiet", "--threads", "1"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["test_accuracy"] > 0.8 and result["parameters"] == 784 * 32 + 32 + 2 * 32 + 33 * 10
    model = gn.load(out)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "BatchNorm", "Dense"]
    assert model.meta["config"]["batch_norm"] is True


def test_sweep_reads_the_switch():
    from glassnet.commands.sweep import sweepable

    read = sweepable()["batch_norm"].convert
    assert read("true") is True and read("False") is False
    with pytest.raises(ValueError, match="expected true or false, got 'maybe'"):
        read("maybe")


# ----------------------------------------------------------------------------- plots
def test_plots_draw_networks_with_batch_norm(tmp_path):
    pytest.importorskip("matplotlib")
    from glassnet import plot
    from glassnet.plot.pictures import first_weights

    model = gn.Sequential([gn.Dense(3, 4), gn.BatchNorm(activation="relu"), gn.Dense(4, 2, "softmax")], seed=0)
    fig = plot.network_diagram(model, x=np.array([0.1, 0.5, -0.3]), path=tmp_path / "net.png")
    assert fig is not None and (tmp_path / "net.png").stat().st_size > 0
    assert first_weights(model)[1] == "dense_1"


def test_a_sweeps_best_model_keeps_its_running_statistics(tmp_path, capsys):
    from glassnet.cli import main
    from glassnet.datasets import mnist

    args = ["sweep", "--grid", "batch_norm=true", "--seeds", "2", "--sample", "--augment", "off", "--epochs", "1",
            "--hidden", "16", "--dropout", "0", "--jobs", "1", "--train-images", "1000", "--test-images", "300",
            "--out", str(tmp_path), "--quiet", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    best = gn.load(tmp_path / "best.npz")
    bn = best.layers[1]
    assert type(bn) is gn.BatchNorm and not np.allclose(bn.buffers["running_var"], 1.0)
    X, y = mnist.load("test", sample=True)
    assert best.evaluate(X[:300], y[:300])["accuracy"] == pytest.approx(result["best"]["test_accuracy"])


def test_the_digit_page_shows_batch_norm_layers(rng):
    from glassnet.playground.digits import ModelEntry
    from glassnet.playground.wire import ApiError

    model = gn.Sequential([gn.Dense(784, 12), gn.BatchNorm(activation="relu"), gn.Dense(12, 10, "softmax")], seed=0)
    bn = model.layers[1]
    bn.buffers["running_mean"][...] = rng.normal(size=12)
    entry = ModelEntry("bn", model, "test")
    assert [layer["has_units"] for layer in entry.describe()["layers"]] == [True, False, True]
    x = rng.random(784).astype(np.float32)
    out = entry.inspect(x)
    record = out["layers"][1]
    assert record["class"] == "BatchNorm" and record["type"] == "BatchNorm, relu"
    np.testing.assert_allclose(record["z"], bn.z[0], atol=1e-4)
    np.testing.assert_allclose(record["activations"], np.maximum(bn.z[0], 0), atol=1e-4)
    np.testing.assert_allclose(out["probabilities"], model.predict(x[None])[0], atol=1e-5)
    with pytest.raises(ApiError, match="has no weights"):
        entry.units(1, None)
    trained = gn.Sequential([gn.Dense(784, 12), gn.BatchNorm(activation="relu"), gn.Dense(12, 10, "softmax")], seed=1)
    entry.set_state(trained.state_dict() | {"layer1.running_var": np.full(12, 4.0, np.float32)})
    np.testing.assert_array_equal(bn.buffers["running_var"], 4.0)  # the live model's copy takes the buffers too


def _build_small(seed):
    return _trained(seed)[0]


def test_random_restarts_keep_the_best_runs_running_statistics():
    from glassnet.classic import restarts

    _, X, y = _trained()
    result = restarts(_build_small, 2, {"X": X, "Y": y, "epochs": 2, "batch_size": 16})
    best = result.runs[result.best_index]
    running = best.buffers["layer1.running_var"]
    assert set(best.buffers) == {"layer1.running_mean", "layer1.running_var"} and not np.allclose(running, 1.0)
    np.testing.assert_array_equal(result.best_model.layers[1].buffers["running_var"], running)
    retrained = _build_small(best.seed)
    retrained.fit(X, y, epochs=2, batch_size=16, seed=best.seed, verbose=0)
    np.testing.assert_array_equal(result.best_model.predict(X), retrained.predict(X))
