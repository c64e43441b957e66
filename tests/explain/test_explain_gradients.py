"""The shared primitive: input gradients of every layer type against central finite differences in float64."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.explain import layer_attribution, saliency
from glassnet.model.gradcheck import numerical_gradient, relative_error


def _head(model, X, output):
    """f of a plain inference pass, read the way the definitions say: z^L for logits, a^L for probabilities."""
    a = model.forward(X)
    last = model.layers[-1]
    if output == "logit" and isinstance(last, gn.Activation):
        return last.input
    if output == "logit" and getattr(last, "activation", None) is not None:
        return last.z
    return a


def _numerical_saliency(model, X, target, output):
    rows = np.arange(X.shape[0])
    return numerical_gradient(lambda x: _head(model, x, output)[rows, target].sum(), X.copy())


def _with_running_stats(model, rng):
    for layer in model.layers:
        for name, buf in layer.buffers.items():
            buf[...] = rng.uniform(0.5, 1.5, buf.shape) if name == "running_var" else rng.normal(0, 0.3, buf.shape)
    return model


def _image_net(pool):
    return gn.Sequential([gn.Reshape((1, 6, 6)), gn.Conv2D(1, 3, 3, padding=1, activation="tanh"), pool,
                          gn.Conv2D(3, 2, 2, stride=1), gn.Flatten(), gn.Dense(None, 4, activation="softmax")],
                         dtype=np.float64, seed=1, input_shape=(36,))


def _tied():
    dec = gn.Dense(3, 5, activation="sigmoid")
    return gn.Sequential([gn.DenseTied(dec, activation="tanh"), dec], dtype=np.float64, seed=2)


NETWORKS = {
    "dense": lambda: gn.Sequential([gn.Dense(5, 4, activation="sigmoid"), gn.Dense(4, 3, activation="softmax")],
                                   dtype=np.float64, seed=0),
    "maxout": lambda: gn.Sequential([gn.Maxout(5, 4, pieces=3), gn.Dense(4, 3)], dtype=np.float64, seed=0),
    "conv_maxpool": lambda: _image_net(gn.MaxPool2D(2)),
    "conv_avgpool_overlapping": lambda: _image_net(gn.AvgPool2D(3, stride=1)),
    "batchnorm_dense": lambda: gn.Sequential([gn.Dense(5, 4), gn.BatchNorm(activation="relu"),
                                              gn.Dense(4, 3, activation="softmax")], dtype=np.float64, seed=0),
    "batchnorm_conv": lambda: gn.Sequential([gn.Reshape((1, 5, 5)), gn.Conv2D(1, 2, 3), gn.BatchNorm(activation="tanh"),
                                             gn.Flatten(), gn.Dense(18, 3, activation="softmax")],
                                            dtype=np.float64, seed=0, input_shape=(25,)),
    "identities_in_training": lambda: gn.Sequential([
        gn.Augment(), gn.GaussianNoise(0.3), gn.MaskingNoise(0.3), gn.Dense(36, 4, activation="relu"),
        gn.Dropout(0.5), gn.Dense(4, 3, activation="softmax")], dtype=np.float64, seed=0, input_shape=(36,)),
    "rnn": lambda: gn.Sequential([gn.Reshape((4, 3)), gn.RNN(3, 5), gn.Dense(5, 3, activation="softmax")],
                                 dtype=np.float64, seed=0, input_shape=(12,)),
    "lstm": lambda: gn.Sequential([gn.Reshape((4, 3)), gn.LSTM(3, 5, return_sequences=True), gn.LSTM(5, 4),
                                   gn.Dense(4, 3, activation="sigmoid")], dtype=np.float64, seed=0,
                                  input_shape=(12,)),
    "dense_tied": _tied,
    "softmax_layer_last": lambda: gn.Sequential([gn.Dense(5, 3), gn.Softmax()], dtype=np.float64, seed=0),
}


@pytest.mark.parametrize("output", ["logit", "probability"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_input_gradient_of_every_layer_type_matches_finite_differences(name, output):
    rng = np.random.default_rng(0)
    model = _with_running_stats(NETWORKS[name](), rng)
    n_in = int(np.prod(model.input_shape))
    X = rng.uniform(0.05, 0.95, (3, n_in))
    k = model.output_shape[0]
    target = np.array([0, k - 1, 1])
    for p in model.parameters():  # what a training step left: the explanation must not touch it
        p.grad[...] = rng.normal(size=p.grad.shape)
    grads = [p.grad.copy() for p in model.parameters()]
    g = saliency(model, X, target=target, output=output)
    assert all(np.array_equal(a, p.grad) for a, p in zip(grads, model.parameters(), strict=True))
    num = _numerical_saliency(model, X, target, output)
    assert g.shape == X.shape and g.dtype == np.float64
    assert np.abs(num).max() > 1e-4  # the check has something to compare
    assert relative_error(g, num) < 1e-6, name


def test_the_first_layer_still_skips_its_input_gradient_in_training():
    model = NETWORKS["conv_maxpool"]()
    saliency(model, np.random.default_rng(0).random((2, 36)))
    assert [layer.needs_input_grad for layer in model.layers[:2]] == [False, False]
    assert model.layers[1].backward_delta(np.ones((2, 3, 6, 6))) is None


@pytest.mark.parametrize("name", ["dense", "batchnorm_conv", "maxout", "softmax_layer_last"])
def test_layer_attribution_is_activation_times_finite_difference_gradient(name):
    rng = np.random.default_rng(1)
    model = _with_running_stats(NETWORKS[name](), rng)
    X = rng.uniform(0.05, 0.95, (2, int(np.prod(model.input_shape))))
    target = np.array([2, 0])
    rows = np.arange(2)
    for index in range(len(model.layers) - 1):
        model.forward(X)
        a = model.layers[index].output.copy()

        def f(a_l, index=index):
            out = a_l
            for layer in model.layers[index + 1:]:
                out = layer.forward(out)
            last = model.layers[-1]
            z = last.input if isinstance(last, gn.Activation) else getattr(last, "z", out)
            return z[rows, target].sum()

        expected = a * numerical_gradient(f, a)
        got = layer_attribution(model, X, index, target=target)
        assert got.shape == a.shape
        assert relative_error(got, expected) < 1e-6, (name, index)


def test_layer_attribution_of_the_last_layer_is_the_target_logit():
    model = NETWORKS["dense"]()
    X = np.random.default_rng(2).random((3, 5))
    got = layer_attribution(model, X, -1, target=1)
    model.forward(X)
    expected = np.zeros((3, 3))
    expected[:, 1] = model.layers[-1].z[:, 1]
    np.testing.assert_allclose(got, expected)


def test_recurrent_layer_attribution_per_step_gives_the_input_gradient_back():
    """For an Elman layer reading the input directly, delta_t = dh_t (1 - h_t^2) and df/dx_t = delta_t W_x^T:
    the per-step attribution h_t dh_t, divided by h_t, must rebuild the finite-difference input gradient."""
    model = NETWORKS["rnn"]()
    rnn = model.layers[1]
    X = np.random.default_rng(3).uniform(0.1, 0.9, (2, 12))
    A = layer_attribution(model, X, "rnn_1", target=[1, 2])
    assert A.shape == (2, 4, 5)
    dh = A / rnn.h
    dx = (dh * (1 - rnn.h ** 2)) @ rnn.W_x.value.T
    num = _numerical_saliency(model, X, np.array([1, 2]), "logit")
    assert relative_error(dx.reshape(2, 12), num) < 1e-6


def test_lstm_attribution_of_the_last_step_is_its_output_attribution():
    model = gn.Sequential([gn.Reshape((4, 3)), gn.LSTM(3, 5), gn.Dense(5, 3, activation="softmax")],
                          dtype=np.float64, seed=4, input_shape=(12,))
    X = np.random.default_rng(4).random((2, 12))
    A = layer_attribution(model, X, 1)
    model.forward(X)
    expected = model.layers[1].output * (np.eye(3)[model.layers[-1].z.argmax(1)] @ model.layers[2].W.value.T)
    np.testing.assert_allclose(A[:, -1], expected, rtol=1e-10)
    assert np.abs(A[:, :-1]).max() > 0  # the earlier rows count too
