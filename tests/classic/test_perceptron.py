import math
import warnings

import numpy as np
import pytest

from glassnet import SGD, Dense, Sequential
from glassnet.classic import (
    ConvergenceWarning,
    Perceptron,
    and_gate,
    nand_gate,
    nor_gate,
    not_gate,
    or_gate,
    xor_network,
)
from glassnet.datasets.toy import blobs, logic_gate

LINEAR_GATES = ["and", "or", "not", "nand", "nor"]


@pytest.mark.parametrize("gate", LINEAR_GATES)
@pytest.mark.parametrize("seed", [None, 0, 1])
def test_perceptron_rule_learns_linear_gates(gate, seed):
    X, y = logic_gate(gate)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        p = Perceptron(X.shape[1], seed=seed).fit(X, y)
    assert p.converged
    assert p.epochs <= 10 and len(p.mistakes) == p.epochs
    assert p.mistakes[-1] == 0 and all(m > 0 for m in p.mistakes[:-1])
    assert p.score(X, y) == 1.0
    np.testing.assert_array_equal(p.predict(X), y)


def test_perceptron_rule_trace_for_and():
    # w = 0, b = 0, samples in order (0,0), (0,1), (1,0), (1,1); eta = 1, theta = 0
    X, y = logic_gate("and")
    p = Perceptron(2).fit(X, y)
    assert p.mistakes == [2, 3, 3, 2, 1, 0]
    np.testing.assert_array_equal(p.weights, [2.0, 1.0])
    assert p.bias == -3.0


def test_only_mistakes_move_the_boundary():
    X, y = logic_gate("or")
    p = Perceptron.from_weights([1.0, 1.0], -0.5)
    p.fit(X, y)
    assert p.mistakes == [0] and p.converged
    np.testing.assert_array_equal(p.weights, [1.0, 1.0])
    assert p.bias == -0.5


def test_xor_reports_non_convergence():
    X, y = logic_gate("xor")
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 25 epochs: \d+ mistake\(s\).*"
                                                 "not be linearly separable"):
        p = Perceptron(2).fit(X, y, max_epochs=25)
    assert not p.converged
    assert p.epochs == 25 and min(p.mistakes) > 0
    assert p.score(X, y) < 1.0


def test_threshold_and_learning_rate():
    X, y = blobs(60, spread=0.4, seed=3)
    p = Perceptron(2, threshold=2.0, lr=0.1, seed=0).fit(X, y)
    assert p.converged and p.score(X, y) == 1.0
    z = X.astype(np.float64) @ p.weights + p.bias
    np.testing.assert_array_equal(p.predict(X), (z >= 2.0).astype(np.int64))


def test_seed_reproducible():
    X, y = blobs(40, spread=1.2, seed=1)
    a = Perceptron(2, seed=5).fit(X, y, max_epochs=50)
    b = Perceptron(2, seed=5).fit(X, y, max_epochs=50)
    assert a.mistakes == b.mistakes
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.bias == b.bias


def test_boundary_line():
    p = Perceptron.from_weights([2.0, 4.0], -1.0, threshold=1.0)
    bd = p.boundary()
    assert bd.coef == (2.0, 4.0) and bd.offset == -2.0
    assert bd.slope == -0.5 and bd.intercept == 0.5 and bd.x1_intercept == 1.0
    assert str(bd) == "x2 = -0.5 x1 + 0.5"
    # points on the line sit exactly at the threshold
    x1 = np.array([-1.0, 0.0, 3.0])
    np.testing.assert_allclose(p.net_input(np.stack([x1, bd.slope * x1 + bd.intercept], 1)), 1.0)
    vertical = Perceptron.from_weights([2.0, 0.0], -1.0).boundary()
    assert vertical.slope == math.inf and vertical.intercept is None and str(vertical) == "x1 = 0.5"
    assert Perceptron.from_weights([1.0, 1.0, 1.0], 0.0).boundary().slope is None


def test_bad_input_raises_one_line_errors():
    with pytest.raises(ValueError, match="n_inputs must be a positive integer, got 0"):
        Perceptron(0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        Perceptron(2, lr=0.0)
    p = Perceptron(2)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\), got \(4, 3\)"):
        p.fit(np.zeros((4, 3)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="y has label 2 outside the classes 0..1"):
        p.fit(np.zeros((2, 2)), [0, 2])
    with pytest.raises(ValueError, match="y must have 2 labels to match X, got 3"):
        p.fit(np.zeros((2, 2)), [0, 1, 1])
    with pytest.raises(ValueError, match="max_epochs must be a positive integer"):
        p.fit(np.zeros((2, 2)), [0, 1], max_epochs=0)


@pytest.mark.parametrize("make, gate", [(and_gate, "and"), (or_gate, "or"), (nand_gate, "nand"),
                                        (nor_gate, "nor"), (not_gate, "not")])
def test_hand_wired_gates(make, gate):
    X, y = logic_gate(gate)
    np.testing.assert_array_equal(make().predict(X), y)


def test_hand_wired_xor_network():
    X, y = logic_gate("xor")
    model = xor_network()
    np.testing.assert_array_equal(model.predict(X)[:, 0], y)
    hidden = model.layers[0].a
    np.testing.assert_array_equal(hidden[:, 0], logic_gate("or")[1])
    np.testing.assert_array_equal(hidden[:, 1], logic_gate("nand")[1])
    assert "step" in model.summary_text() and model.count_params() == 9
    # a step network cannot be trained by gradient descent
    model.compile("mse", SGD(0.1))
    with pytest.raises(ValueError, match="cannot train Step by gradient descent"):
        model.fit(X, y, verbose=0)


def test_two_layer_sigmoid_mlp_learns_xor():
    X, y = logic_gate("xor")
    model = Sequential([Dense(2, 2, activation="sigmoid"), Dense(2, 1, activation="sigmoid")], seed=0)
    model.compile("binary_cross_entropy", SGD(lr=2.0, momentum=0.9))
    history = model.fit(X, y, epochs=500, batch_size=None, verbose=0)
    assert history["loss"][-1] < 0.01 < history["loss"][0]
    np.testing.assert_array_equal((model.predict(X)[:, 0] >= 0.5).astype(np.int64), y)
