"""Adversarial digits, minimal eps and feature visualisation; nothing an explanation does is seen by a later fit."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.datasets import mnist
from glassnet.explain import (
    adversarial,
    gradient_x_input,
    integrated_gradients,
    layer_attribution,
    maximize,
    minimal_eps,
    occlusion,
    saliency,
)
from glassnet.model.gradcheck import numerical_gradient


@pytest.fixture(scope="module")
def data():
    X, y = mnist.load("train", sample=True)
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def softmax_net(data):
    model = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(0.5))
    model.fit(*data, epochs=3, batch_size=50, seed=0, verbose=0)
    return model


def test_fgsm_is_its_formula_for_softmax_cross_entropy(softmax_net, data):
    X, y = data[0][:20], data[1][:20]
    W = softmax_net.layers[0].W.value
    p = softmax_net.predict(X)
    grad = (p - np.eye(10)[y]) @ W.T  # n dC/dx for C = -1/n sum ln p_y
    np.testing.assert_array_equal(adversarial(softmax_net, X, y, eps=0.1),
                                  np.clip(X + np.float32(0.1) * np.sign(grad).astype(np.float32), 0, 1))
    t = np.full(20, 3)
    grad_t = (p - np.eye(10)[t]) @ W.T
    np.testing.assert_array_equal(adversarial(softmax_net, X, y, eps=0.05, target_class=3),
                                  np.clip(X - np.float32(0.05) * np.sign(grad_t).astype(np.float32), 0, 1))


def test_fgsm_follows_the_sign_of_the_finite_difference_loss_gradient_for_mse():
    rng = np.random.default_rng(0)
    model = gn.Sequential([gn.Dense(6, 5, activation="sigmoid"), gn.Dense(5, 3, activation="sigmoid")],
                          dtype=np.float64, seed=1).compile(loss="mse")
    X, y = rng.uniform(0.2, 0.8, (4, 6)), np.array([0, 1, 2, 1])
    Y = np.eye(3)[y]
    num = numerical_gradient(lambda x: model.loss_value(x, Y), X.copy())
    assert np.abs(num).min() > 1e-9
    np.testing.assert_array_equal(adversarial(model, X, y, eps=0.1), np.clip(X + 0.1 * np.sign(num), 0, 1))


def test_label_smoothing_is_left_out_of_the_attack(softmax_net, data):
    smoothed = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0)
    smoothed.set_weights(softmax_net.get_weights())
    smoothed.compile(loss=gn.CrossEntropy(label_smoothing=0.3))
    X, y = data[0][:10], data[1][:10]
    np.testing.assert_array_equal(adversarial(smoothed, X, y), adversarial(softmax_net, X, y))


def test_an_uncompiled_softmax_model_is_attacked_with_cross_entropy(softmax_net, data):
    bare = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0)
    bare.set_weights(softmax_net.get_weights())
    np.testing.assert_array_equal(adversarial(bare, data[0][:5]), adversarial(softmax_net, data[0][:5]))
    with pytest.raises(ValueError, match="adversarial needs the model's loss: compile the model"):
        adversarial(gn.Sequential([gn.Dense(784, 10, activation="sigmoid")], seed=0), data[0][:1])


def test_pgd_stays_in_the_ball_and_in_the_unit_interval_and_beats_the_clean_loss(softmax_net, data):
    X, y = data[0][:50], data[1][:50]
    for eps in (0.02, 0.1):
        adv = adversarial(softmax_net, X, y, eps=eps, method="pgd", steps=8)
        assert adv.dtype == np.float32 and adv.shape == X.shape
        assert np.abs(adv - X).max() <= eps + 1e-7 and adv.min() >= 0 and adv.max() <= 1
        assert softmax_net.evaluate(adv, y)["loss"] > softmax_net.evaluate(X, y)["loss"]
    fgsm_acc = softmax_net.evaluate(adversarial(softmax_net, X, y, eps=0.1), y)["accuracy"]
    pgd_acc = softmax_net.evaluate(adversarial(softmax_net, X, y, eps=0.1, method="pgd", steps=10), y)["accuracy"]
    assert pgd_acc <= fgsm_acc < softmax_net.evaluate(X, y)["accuracy"]
    targeted = adversarial(softmax_net, X, eps=0.3, method="pgd", steps=20, target_class=4)
    assert (softmax_net.predict(targeted).argmax(1) == 4).mean() > 0.9


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_minimal_eps_is_where_the_prediction_flips(softmax_net, data, method):
    X = data[0][:30]
    tol = 1e-3
    eps = minimal_eps(softmax_net, X, method=method, tol=tol, steps=5)
    pred = softmax_net.predict(X).argmax(1)
    assert eps.shape == (30,) and np.all(np.isfinite(eps)) and np.all(eps > 0)
    flipped = softmax_net.predict(adversarial(softmax_net, X, eps=0.0 + 0, method=method)).argmax(1)
    assert np.all(flipped == pred)
    for i in range(0, 30, 6):
        at = adversarial(softmax_net, X[i:i + 1], eps=float(eps[i]), method=method, steps=5)
        below = adversarial(softmax_net, X[i:i + 1], eps=max(0.0, float(eps[i]) - 2 * tol), method=method, steps=5)
        assert softmax_net.predict(at).argmax() != pred[i]
        assert softmax_net.predict(below).argmax() == pred[i]


def test_minimal_eps_is_zero_for_wrong_answers_and_inf_out_of_reach(softmax_net, data):
    X, y = data[0][:40], data[1][:40]
    wrong = softmax_net.predict(X).argmax(1) != y
    assert wrong.any()
    eps = minimal_eps(softmax_net, X, y, max_eps=1e-3)
    assert np.all(eps[wrong] == 0) and np.all(np.isinf(eps[~wrong]))


def test_maximize_a_linear_unit_saturates_along_its_weights():
    model = gn.Sequential([gn.Dense(784, 8), gn.Dense(8, 10, activation="softmax")], seed=0)
    w = model.layers[0].W.value[:, 3]
    x = maximize(model, 0, 3, l2=0.0, blur=0.0, jitter=0)
    assert x.shape == (784,) and x.dtype == np.float32
    strong = np.abs(w) > 0.1 * np.sqrt(np.mean(w * w))
    np.testing.assert_array_equal(x[strong], (w[strong] > 0).astype(np.float32))


def test_maximize_is_seeded_in_range_and_excites_its_unit():
    model = gn.Sequential([gn.Reshape((1, 28, 28)), gn.Conv2D(1, 4, 5, activation="relu"), gn.MaxPool2D(2),
                           gn.Flatten(), gn.Dense(None, 10, activation="softmax")], seed=0, input_shape=(784,))
    x = maximize(model, "conv2d_1", [0, 2], steps=40, seed=5)
    assert x.shape == (2, 784) and x.min() >= 0 and x.max() <= 1
    np.testing.assert_array_equal(x, maximize(model, 1, [0, 2], steps=40, seed=5))
    assert not np.array_equal(x, maximize(model, 1, [0, 2], steps=40, seed=6))
    grey = np.full((1, 784), 0.5, np.float32)
    model.forward(np.concatenate([grey, x]))
    a = model.layers[1].a.mean(axis=(2, 3))
    assert a[0, 0] == 0 < a[1, 0] and a[2, 2] > a[0, 2] + 0.5, a  # a silent channel wakes up
    logits = maximize(model, -1, 7, steps=40)
    model.forward(np.stack([grey[0], logits]))
    assert model.layers[-1].z[1, 7] > model.layers[-1].z[0, 7] + 1


def test_maximize_reaches_units_of_recurrent_sequences():
    model = gn.Sequential([gn.Reshape((28, 28)), gn.LSTM(28, 6, return_sequences=True), gn.Flatten(),
                           gn.Dense(None, 10, activation="softmax")], seed=0, input_shape=(784,))
    x = maximize(model, 1, 5, steps=20)
    model.forward(np.stack([np.full(784, 0.5, np.float32), x]))
    h = model.layers[1].h[:, :, 5].mean(axis=1)
    assert h[1] > h[0]
    with pytest.raises(ValueError, match=r"unit must be in 0..5 for layer 'lstm_1', got 6"):
        maximize(model, 1, 6)


def _model_with_state(seed):
    model = gn.Sequential([gn.Augment(), gn.GaussianNoise(0.1), gn.Dense(784, 16), gn.BatchNorm(activation="relu"),
                           gn.Dropout(0.3), gn.Dense(16, 10, activation="softmax")], seed=seed, input_shape=(784,))
    return model.compile(loss="cross_entropy", optimizer=gn.Adam(0.01))


def test_nothing_changes_weights_running_statistics_gradients_or_the_random_state_of_a_later_fit(data):
    X, y = data[0][:200], data[1][:200]
    explained, plain = _model_with_state(3), _model_with_state(3)
    for model in (explained, plain):
        model.fit(X, y, epochs=1, batch_size=50, verbose=0)
    before = explained.state_dict()
    grads = [p.grad.copy() for p in explained.parameters()]
    flags = [layer.needs_input_grad for layer in explained.layers]
    rng_state = explained.layers[0].rng.bit_generator.state
    few = X[:3]
    saliency(explained, few)
    gradient_x_input(explained, few, output="probability")
    integrated_gradients(explained, few, steps=8, return_delta=True)
    occlusion(explained, few, window=7, stride=7)
    layer_attribution(explained, few, 3)
    maximize(explained, 2, [1, 2], steps=5)
    adversarial(explained, few, eps=0.1, method="pgd", steps=3)
    minimal_eps(explained, few, method="fgsm")
    after = explained.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert all(np.array_equal(g, p.grad) for g, p in zip(grads, explained.parameters(), strict=True))
    assert [layer.needs_input_grad for layer in explained.layers] == flags
    assert explained.layers[0].rng.bit_generator.state == rng_state
    h1 = explained.fit(X, y, epochs=1, batch_size=50, verbose=0)
    h2 = plain.fit(X, y, epochs=1, batch_size=50, verbose=0)
    assert h1.history["loss"] == h2.history["loss"]
    assert all(np.array_equal(a, b) for a, b in zip(explained.get_weights(), plain.get_weights(), strict=True))


BAD = [
    (lambda m, X: saliency(m, X, target=10), "target must be a class index in 0..9, got 10"),
    (lambda m, X: saliency(m, X, target=[1, 2, 3]), "target must be a class index or one per sample (2)"),
    (lambda m, X: saliency(m, X, target=1.5), "target must be a class index or one per sample"),
    (lambda m, X: saliency(m, X[:, :100]), "X must have samples of shape (784,), got (100,)"),
    (lambda m, X: saliency("model.npz", X), "model must be a glassnet Sequential, got str"),
    (lambda m, X: integrated_gradients(m, X, steps=0), "steps must be an integer >= 1 for gausslegendre, got 0"),
    (lambda m, X: integrated_gradients(m, X, method="riemann_trapezoid", steps=1),
     "steps must be an integer >= 2 for riemann_trapezoid"),
    (lambda m, X: integrated_gradients(m, X, method="simpson"), "method must be one of gausslegendre, riemann_left"),
    (lambda m, X: integrated_gradients(m, X, baseline=np.zeros(28)),
     "baseline must be a number, one sample of shape (784,) or an array shaped like X (2, 784), got shape (28,)"),
    (lambda m, X: integrated_gradients(m, X, baseline="black"), "baseline must be a number or an array of numbers"),
    (lambda m, X: layer_attribution(m, X, 5), "layer must be an index 0..1, a name (dense_1, dense_2) or one of"),
    (lambda m, X: layer_attribution(m, X, "conv"), "layer must be an index 0..1, a name (dense_1, dense_2)"),
    (lambda m, X: maximize(m, 0, 16), "unit must be in 0..15 for layer 'dense_1', got 16"),
    (lambda m, X: maximize(m, 0, 1, steps=0), "steps must be an integer >= 1, got 0"),
    (lambda m, X: maximize(m, 0, 1, lr=-1), "lr must be a finite number >= 0, got -1"),
    (lambda m, X: adversarial(m, X, eps=-0.1), "eps must be a finite number >= 0, got -0.1"),
    (lambda m, X: adversarial(m, X, method="cw"), "method must be 'fgsm' or 'pgd', got 'cw'"),
    (lambda m, X: adversarial(m, X, y=[1, 12]), "y has label 12 outside the classes 0..9"),
    (lambda m, X: adversarial(m, X, target_class=-1), "target_class must be a class index in 0..9, got -1"),
    (lambda m, X: minimal_eps(m, X, tol=0), "tol and max_eps must be > 0"),
]


@pytest.mark.parametrize(("call", "message"), BAD)
def test_bad_input_fails_in_one_line_naming_what_was_expected(call, message):
    model = gn.Sequential([gn.Dense(784, 16, activation="relu"), gn.Dense(16, 10, activation="softmax")], seed=0)
    X = np.zeros((2, 784), np.float32)
    with pytest.raises((ValueError, TypeError)) as err:
        call(model, X)
    assert message in str(err.value) and "\n" not in str(err.value)
