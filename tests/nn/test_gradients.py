"""Backpropagation against central finite differences, float64, relative error < 1e-6."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.nn.activations import ACTIVATIONS

TOL = 1e-6


def check(layers, loss, X, Y, **compile_kw):
    model = gn.Sequential(layers, dtype=np.float64, seed=1)
    model.compile(loss=loss, **compile_kw)
    result = gn.gradcheck(model, X, Y)
    assert result.errors, "no parameter was checked"
    assert result.max_error < TOL, str(result)
    return result


@pytest.fixture
def data(rng):
    X = rng.normal(size=(6, 4))
    return X, rng.integers(0, 3, size=6)


SMOOTH = sorted(set(ACTIVATIONS) - {"step", "softmax", "log_softmax"})


@pytest.mark.parametrize("name", SMOOTH)
def test_every_activation_in_a_hidden_layer(name, data):
    X, y = data
    check([gn.Dense(4, 5, activation=name), gn.Dense(5, 3, activation="softmax")], "cross_entropy", X, y)


@pytest.mark.parametrize("act", [gn.Sigmoid(slope=2.5), gn.LeakyReLU(alpha=0.2), gn.Swish(beta=1.7), gn.ELU(0.6),
                                 gn.GELU("tanh"), gn.HardSigmoid(0.3, 0.4), gn.LogSoftmax()])
def test_activation_parameters(act, data):
    X, y = data
    check([gn.Dense(4, 5), act, gn.Dense(5, 3, activation="softmax")], "cross_entropy", X, y)


@pytest.mark.parametrize("loss,out_act", [
    ("mse", "sigmoid"), ("mse", "linear"), ("mse", "tanh"),
    ("binary_cross_entropy", "sigmoid"),
    ("cross_entropy", "softmax"),
])
def test_every_loss(loss, out_act, rng):
    X = rng.normal(size=(7, 3))
    Y = rng.uniform(0.05, 0.95, size=(7, 2)) if loss != "cross_entropy" else gn.one_hot(rng.integers(0, 2, 7), 2)
    check([gn.Dense(3, 4, activation="tanh"), gn.Dense(4, 2, activation=out_act)], loss, X, Y)


def test_unfused_losses_through_standalone_layers(rng):
    """Softmax as its own layer (fused) and cross-entropy after a sigmoid (not fused)."""
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    check([gn.Dense(3, 3), gn.Softmax()], "cross_entropy", X, y)
    Y = rng.uniform(0.1, 0.9, size=(5, 3))
    check([gn.Dense(3, 3, activation="sigmoid")], "cross_entropy", X, Y)
    check([gn.Dense(3, 3, activation="softmax")], "mse", X, Y)


def test_sigmoid_slope_fused_with_binary_cross_entropy(rng):
    X, y = rng.normal(size=(8, 3)), rng.integers(0, 2, 8)
    check([gn.Dense(3, 4, activation="relu"), gn.Dense(4, 1, activation=gn.Sigmoid(slope=0.7))],
          "binary_cross_entropy", X, y)


def test_maxout_flatten_reshape(rng):
    X, y = rng.normal(size=(5, 2, 3)), rng.integers(0, 2, 5)
    layers = [gn.Flatten(), gn.Maxout(6, 4, pieces=3), gn.Reshape((2, 2)), gn.Flatten(),
              gn.Dense(4, 2, activation="softmax")]
    model = gn.Sequential(layers, dtype=np.float64, seed=0, input_shape=(2, 3))
    model.compile(loss="cross_entropy")
    assert gn.gradcheck(model, X, y).max_error < TOL


@pytest.mark.parametrize("l1,l2", [(0.0, 0.3), (0.05, 0.0), (0.02, 0.1)])
def test_l1_l2_model_wide(l1, l2, data):
    X, y = data
    check([gn.Dense(4, 5, activation="tanh"), gn.Dense(5, 3, activation="softmax")], "cross_entropy", X, y,
          l1=l1, l2=l2)


def test_l2_per_layer_overrides_model(data):
    X, y = data
    layers = [gn.Dense(4, 5, activation="tanh", l2=0.5), gn.Dense(5, 3, activation="softmax", l2=0.0)]
    model = gn.Sequential(layers, dtype=np.float64, seed=0)
    model.compile(loss="cross_entropy", l2=10.0)
    assert gn.gradcheck(model, X, y).max_error < TOL
    w1, w2 = layers[0].W.value, layers[1].W.value
    base = model.loss.value(model.forward(X), gn.one_hot(y, 3))
    assert model.loss_value(X, y_onehot := gn.one_hot(y, 3)) == pytest.approx(base + 0.25 * np.sum(w1**2))
    assert y_onehot.shape == (6, 3) and w2.shape == (5, 3)


def test_dropout_with_fixed_mask(data):
    X, y = data
    layers = [gn.Dense(4, 6, activation="relu"), gn.Dropout(0.5), gn.Dense(6, 3, activation="softmax")]
    model = gn.Sequential(layers, dtype=np.float64, seed=0)
    model.compile(loss="cross_entropy")
    result = gn.gradcheck(model, X, y)
    assert result.max_error < TOL
    mask = layers[1].mask
    assert mask is not None and set(np.unique(mask)) <= {0.0, 2.0} and (mask == 0).any()


def test_gradcheck_catches_a_wrong_derivative(data):
    class BadTanh(gn.Tanh):
        def df(self, z, a):
            return 1.0 - a  # wrong: should be 1 - a^2

    X, y = data
    model = gn.Sequential([gn.Dense(4, 5), BadTanh(), gn.Dense(5, 3, activation="softmax")], dtype=np.float64)
    model.compile(loss="cross_entropy")
    assert gn.gradcheck(model, X, y).max_error > 1e-3


@pytest.mark.parametrize("name", SMOOTH)
def test_activation_derivative_matches_finite_differences(name, rng):
    act = gn.get_activation(name)
    z = rng.normal(size=50) * 3
    z = z[np.abs(z) > 1e-3]  # keep away from the ReLU kink
    numeric = np.array([gn.numerical_gradient(lambda v: float(act(v)[0]), z[i:i + 1])[0] for i in range(z.size)])
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=1e-6, atol=1e-9)


def test_log_softmax_jacobian(rng):
    z = rng.normal(size=4)
    J = gn.LogSoftmax().derivative(z)
    for k in range(4):
        numeric = gn.numerical_gradient(lambda v, k=k: float(gn.LogSoftmax()(v)[k]), z.copy())
        np.testing.assert_allclose(J[k], numeric, atol=1e-9)


def test_softmax_jacobian(rng):
    z = rng.normal(size=4)
    J = gn.Softmax().derivative(z)
    for k in range(4):
        numeric = gn.numerical_gradient(lambda v, k=k: float(gn.Softmax()(v)[k]), z.copy())
        np.testing.assert_allclose(J[k], numeric, atol=1e-9)
