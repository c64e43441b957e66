"""Saliency, gradient x input, integrated gradients and its quadratures, against hand-built references."""

import numpy as np
import pytest
from conftest import readme_example

import glassnet as gn
from glassnet.datasets import mnist
from glassnet.explain import QUADRATURES, gradient_x_input, integrated_gradients, saliency
from glassnet.explain.quadrature import quadrature
from glassnet.presets import COMMON, PRESETS, build


@pytest.fixture(scope="module")
def digits():
    X, y = mnist.load("test", sample=True)
    return X[:4], y[:4]


def _small_preset(name, **overrides):
    """The preset's network with fewer units (the cnn keeps its two convolution stages), briefly trained on
    the embedded sample so that its attributions are those of a network that has learnt something."""
    cfg = {**COMMON, **PRESETS[name], **overrides}
    model = build(cfg, seed=0)
    X, y = mnist.load("train", sample=True)
    model.fit(X[:300], y[:300], epochs=1, batch_size=50, seed=0, verbose=0)
    return model


@pytest.fixture(scope="module")
def presets():
    return {"default": _small_preset("default"), "cnn": _small_preset("cnn", hidden=[32]),
            "lstm": _small_preset("lstm", hidden=[16], lr=0.01), "3b1b": _small_preset("3b1b", lr=0.01),
            "nielsen": _small_preset("nielsen")}


def test_saliency_of_a_linear_softmax_layer_is_its_weight_column():
    model = gn.Sequential([gn.Dense(6, 3, activation="softmax")], seed=0)
    X = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    target = np.array([0, 1, 2, 1])
    np.testing.assert_array_equal(saliency(model, X, target), model.layers[0].W.value[:, target].T)
    np.testing.assert_array_equal(gradient_x_input(model, X, target), X * model.layers[0].W.value[:, target].T)
    # probability: d p_k / d x = p_k (W_k - sum_j p_j W_j)
    p = model.predict(X)
    W = model.layers[0].W.value.astype(np.float64)
    rows = np.arange(4)
    expected = p[rows, target, None] * (W[:, target].T - p @ W.T)
    np.testing.assert_allclose(saliency(model, X, target, output="probability"), expected, rtol=1e-5, atol=1e-7)


def test_default_target_is_the_predicted_class(digits):
    model = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0)
    X = digits[0]
    predicted = model.predict(X).argmax(axis=1)
    np.testing.assert_array_equal(saliency(model, X), saliency(model, X, target=predicted))


def test_quadrature_nodes_and_weights_follow_their_definitions():
    a, w = quadrature("riemann_left", 4)
    np.testing.assert_allclose(a, [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(w, [0.25] * 4)
    np.testing.assert_allclose(quadrature("riemann_right", 4)[0], [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(quadrature("riemann_middle", 4)[0], [0.125, 0.375, 0.625, 0.875])
    a, w = quadrature("riemann_trapezoid", 5)
    np.testing.assert_allclose(a, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(w, [0.125, 0.25, 0.25, 0.25, 0.125])
    for method in QUADRATURES:
        assert abs(quadrature(method, 9)[1].sum() - 1) < 1e-14
    for m in (1, 3, 8):  # Gauss-Legendre with m nodes integrates polynomials of degree 2m - 1 exactly
        a, w = quadrature("gausslegendre", m)
        assert ((a > 0) & (a < 1)).all()
        for degree in range(2 * m):
            assert abs(w @ a ** degree - 1 / (degree + 1)) < 1e-13
    assert set(QUADRATURES) == {"gausslegendre", "riemann_left", "riemann_right", "riemann_middle",
                                "riemann_trapezoid"}


@pytest.mark.parametrize("method", list(QUADRATURES))
def test_integrated_gradients_is_the_weighted_sum_of_saliencies_on_the_path(method, digits):
    model = gn.Sequential([gn.Reshape((1, 28, 28)), gn.Conv2D(1, 3, 5, stride=2, activation="tanh"),
                           gn.Flatten(), gn.Dense(None, 10, activation="softmax")], seed=3, input_shape=(784,))
    X = digits[0][:2]
    baseline = np.full(784, 0.2, np.float32)
    alphas, weights = quadrature(method, 7)
    expected = np.zeros_like(X, dtype=np.float64)
    for alpha, weight in zip(alphas, weights, strict=True):
        path = (baseline + alpha * (X - baseline)).astype(np.float32)
        expected += weight * saliency(model, path, target=[3, 8])
    expected *= X - baseline
    got = integrated_gradients(model, X, target=[3, 8], baseline=baseline, steps=7, method=method)
    assert got.shape == X.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def _relative_gaps(model, X, steps):
    """|sum(IG) - (f_k(x) - f_k(0))| / |f_k(x) - f_k(0)| per sample, with the gap checked against f itself."""
    attr, gap = integrated_gradients(model, X, steps=steps, return_delta=True)
    model.forward(X)
    logits = model.layers[-1].z.copy()
    model.forward(np.zeros_like(X))
    k = logits.argmax(axis=1)
    rows = np.arange(X.shape[0])
    change = logits[rows, k] - model.layers[-1].z[rows, k]
    assert np.all(np.abs(change) > 0.01)
    np.testing.assert_allclose(attr.reshape(X.shape[0], -1).sum(axis=1) - change, gap, atol=1e-5)
    return np.abs(gap / change)


@pytest.mark.parametrize("name", ["3b1b", "nielsen", "lstm"])
def test_integrated_gradients_completeness_on_the_smooth_presets_networks(name, presets, digits):
    assert _relative_gaps(presets[name], digits[0], 50).max() < 1e-3


@pytest.mark.parametrize("name", ["default", "cnn"])
def test_integrated_gradients_completeness_through_relu_and_max_pooling(name, presets, digits):
    """The integrand is piecewise constant along the path: 50 Gauss-Legendre nodes leave most gaps under 1e-3
    and none over 5e-3; more nodes close them (about as 1/steps)."""
    gaps = _relative_gaps(presets[name], digits[0], 50)
    assert np.median(gaps) < 1e-3 and gaps.max() < 5e-3, gaps
    if name == "default":
        assert _relative_gaps(presets[name], digits[0], 400).max() < 1e-3


def test_integrated_gradients_completeness_with_a_baseline_per_sample_and_probabilities(digits, presets):
    model = presets["3b1b"]
    X = digits[0]
    baseline = np.random.default_rng(0).random(X.shape).astype(np.float32) * 0.2
    attr, gap = integrated_gradients(model, X, target=2, baseline=baseline, output="probability", steps=400,
                                     return_delta=True)
    p_x, p_b = model.predict(X)[:, 2], model.predict(baseline)[:, 2]
    np.testing.assert_allclose(attr.reshape(len(X), -1).sum(axis=1) - (p_x - p_b), gap, atol=1e-6)
    assert np.all(np.abs(gap) < 2e-3 * np.abs(p_x - p_b)), gap / (p_x - p_b)


def test_integrated_gradients_runs_every_step_of_a_sample_as_one_batch(digits, monkeypatch):
    model = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0)
    rows = []
    forward = model.layers[0].forward
    monkeypatch.setattr(model.layers[0], "forward", lambda x, training=False: rows.append(len(x)) or forward(x))
    integrated_gradients(model, digits[0][:3], target=1, steps=20)
    assert rows == [60]


def test_the_readme_example_runs_as_written(presets, digits):
    X, y = digits
    names = {"model": presets["default"], "X": X, "y": y}
    exec(readme_example("Why did it say 7?"), names)
    assert names["attr"].shape == X.shape and names["gap"].shape == (len(X),)
    assert names["units"].shape == (len(X), 512) and names["picture"].shape == (784,)
    assert np.abs(names["X_adv"] - X).max() <= 0.1 + 1e-6
