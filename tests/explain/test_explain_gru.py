"""Explaining a GRU (the playground's per-row lens of an imported GRU): the input gradient and the per-step
attribution h_t * df/dh_t against central finite differences in float64, and no parameter gradient touched."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.explain import integrated_gradients, layer_attribution, saliency
from glassnet.model.gradcheck import numerical_gradient, relative_error


def _gru_net(return_sequences=False):
    layers = [gn.Reshape((5, 3)), gn.GRU(3, 4, return_sequences=return_sequences)]
    if return_sequences:
        layers.append(gn.Flatten())
    layers.append(gn.Dense(None, 3, activation="softmax"))
    model = gn.Sequential(layers, dtype=np.float64, seed=0, input_shape=(15,))
    gru = model.layers[1]
    gru.b_hn.value[...] = np.random.default_rng(1).normal(0, 0.5, 4)  # the candidate's recurrent bias in play
    return model


def _logits(model, X, step=None, nudge=None):
    """The GRU's equations written out (gn.GRU's docstring), with ``nudge`` added to h_step: z^L of the head."""
    gru, head = model.layers[1], model.layers[2:]
    hid = gru.n_hidden
    x = X.reshape(X.shape[0], 5, 3)
    h, states = np.zeros((X.shape[0], hid)), []
    for t in range(5):
        a = x[:, t] @ gru.W_x.value + gru.b.value
        q = h @ gru.W_h.value
        q[:, 2 * hid:] += gru.b_hn.value
        z = 1 / (1 + np.exp(-(a[:, :hid] + q[:, :hid])))
        r = 1 / (1 + np.exp(-(a[:, hid:2 * hid] + q[:, hid:2 * hid])))
        cand = np.tanh(a[:, 2 * hid:] + r * q[:, 2 * hid:])
        h = (1 - z) * cand + z * h
        if t == step:
            h = h + nudge
        states.append(h)
    out = np.stack(states, axis=1).reshape(X.shape[0], -1) if gru.return_sequences else h
    for layer in head[:-1]:
        out = layer.forward(out)
    return out @ head[-1].W.value + head[-1].b.value


@pytest.mark.parametrize("return_sequences", [False, True])
def test_the_written_out_gru_is_glassnets(return_sequences):
    model = _gru_net(return_sequences)
    X = np.random.default_rng(2).random((3, 15))
    model.forward(X)
    np.testing.assert_allclose(_logits(model, X), model.layers[-1].z, rtol=1e-12)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_gru_input_gradient_and_per_step_attribution_match_finite_differences(return_sequences):
    model = _gru_net(return_sequences)
    X = np.random.default_rng(3).random((2, 15))
    target = np.array([0, 2])
    rows = np.arange(2)
    got = saliency(model, X, target)
    num = numerical_gradient(lambda x: _logits(model, x)[rows, target].sum(), X.copy())
    assert relative_error(got, num) < 1e-6
    A = layer_attribution(model, X, 1, target)
    assert A.shape == (2, 5, 4)
    model.forward(X)
    h = model.layers[1].h.copy()
    for t in range(5):
        dh = numerical_gradient(lambda d, t=t: _logits(model, X, t, d)[rows, target].sum(), np.zeros((2, 4)))
        assert relative_error(A[:, t], h[:, t] * dh) < 1e-6, t


def test_explaining_a_gru_leaves_every_parameter_gradient_as_training_left_it():
    model = _gru_net()
    model.compile(loss="cross_entropy", optimizer=gn.SGD(0.1))
    X = np.random.default_rng(4).random((6, 15))
    y = np.array([0, 1, 2, 0, 1, 2])
    model.fit(X, y, epochs=1, batch_size=6, seed=0, verbose=0)
    grads = [p.grad.copy() for layer in model.layers for p in layer.params]
    saliency(model, X)
    integrated_gradients(model, X, steps=8)
    layer_attribution(model, X, 1)
    after = [p.grad for layer in model.layers for p in layer.params]
    assert all(np.array_equal(a, b) for a, b in zip(grads, after, strict=True))
