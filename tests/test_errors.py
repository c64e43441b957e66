"""Bad input gets a one-line ValueError naming what was expected and what was given."""

import numpy as np
import pytest

import glassnet as gn


@pytest.fixture
def model():
    m = gn.Sequential([gn.Dense(3, 4, activation="relu"), gn.Dense(4, 5, activation="softmax")])
    return m.compile(loss="cross_entropy")


def one_line(excinfo):
    assert "\n" not in str(excinfo.value)
    return str(excinfo.value)


def test_wrong_input_width(model):
    with pytest.raises(ValueError, match=r"samples of shape \(3,\), got \(7,\)") as e:
        model.fit(np.zeros((10, 7)), np.zeros(10, int), verbose=0)
    one_line(e)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        model.predict(np.zeros((2, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_x(model, bad):
    X = np.ones((4, 3))
    X[2, 1] = bad
    with pytest.raises(ValueError, match="X must be finite, got 1 NaN or inf") as e:
        model.fit(X, np.zeros(4, int), verbose=0)
    one_line(e)


def test_nan_in_y(model):
    Y = gn.one_hot(np.array([0, 1, 2, 3]), 5)
    Y[0, 0] = np.nan
    with pytest.raises(ValueError, match="Y must be finite"):
        model.fit(np.ones((4, 3)), Y, verbose=0)


def test_label_outside_the_classes(model):
    with pytest.raises(ValueError, match=r"label 7 outside the classes 0..4") as e:
        model.fit(np.ones((3, 3)), np.array([0, 7, 1]), verbose=0)
    one_line(e)
    with pytest.raises(ValueError, match=r"label -1 outside"):
        model.evaluate(np.ones((2, 3)), np.array([0, -1]))


def test_wrong_target_shape_and_rows(model):
    with pytest.raises(ValueError, match=r"targets of shape \(5,\).*got \(4,\)"):
        model.fit(np.ones((3, 3)), np.ones((3, 4)), verbose=0)
    with pytest.raises(ValueError, match="Y must have 3 rows to match X, got 2"):
        model.fit(np.ones((3, 3)), np.array([0, 1]), verbose=0)


def test_non_numeric_input(model):
    with pytest.raises(ValueError, match="X must hold numbers, got dtype <U1"):
        model.predict(np.array([["a", "b", "c"]]))


@pytest.mark.parametrize("make,match", [
    (lambda: gn.Dense(2, 2, activation="relux"), "unknown activation 'relux'; known: .*relu.*sigmoid"),
    (lambda: gn.get_loss("hinge"), "unknown loss 'hinge'; known: .*cross_entropy.*mse"),
    (lambda: gn.Sequential([gn.Dense(2, 2)]).compile(optimizer="adagrad"),
     "unknown optimizer 'adagrad'; known: adam, rmsprop, sgd"),
    (lambda: gn.Dense(2, 2, init="zeros"), "unknown initialiser 'zeros'; known: .*he"),
    (lambda: gn.Sequential([gn.Dense(2, 2)]).compile(metrics=["f1"]), "unknown metric 'f1'"),
    (lambda: gn.Sequential([gn.Dense(2, 2)]).fit([[1, 2]], [0], record=["nope"], verbose=0),
     "call model.compile"),
])
def test_unknown_names_list_the_known_ones(make, match):
    with pytest.raises((ValueError, RuntimeError), match=match) as e:
        make()
    one_line(e)


def test_unknown_statistic(model):
    with pytest.raises(ValueError, match="unknown statistic 'nope'; known: .*grad_norm"):
        model.fit(np.ones((2, 3)), [0, 1], record=["nope"], verbose=0)


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="Dropout rate p must be in"):
        gn.Dropout(1.0)
    with pytest.raises(ValueError, match="momentum must be in"):
        gn.SGD(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="learning rate must be positive"):
        gn.SGD(0)
    with pytest.raises(ValueError, match="inputs of width 3, got width 4"):
        gn.Sequential([gn.Dense(3, 4), gn.Dense(3, 2)])
    with pytest.raises(ValueError, match="batch_size must be"):
        gn.Sequential([gn.Dense(2, 1)]).compile().fit([[0, 1]], [1], batch_size=0, verbose=0)


@pytest.mark.parametrize("X,match", [
    ([[1, 2, 3], [1, 2]], "X must be a rectangular array of numbers, got a ragged sequence"),
    (np.array([[1, 2, None]], dtype=object), "X must hold numbers, got dtype object"),
    (np.array([["1", "2", "3"]]), "X must hold numbers, got dtype <U1"),
    (np.zeros((0, 3)), r"X must hold at least 1 sample\(s\) of shape \(3,\), got an empty array of shape \(0, 3\)"),
    ([], r"got an empty array of shape \(0,\)"),
    ([[1e300, 0, 0]], "X must fit in float32, got 1 value"),
])
def test_bad_arrays_for_fit(model, X, match):
    with pytest.raises(ValueError, match=match) as e:
        model.fit(X, np.zeros(len(X), int), verbose=0)
    one_line(e)


@pytest.mark.parametrize("X,match", [
    ([[1, 2, 3], [1, 2]], "ragged sequence"),
    (np.array([[object(), 1, 2]]), "dtype object"),
    ([[np.nan, 0, 0]], "X must be finite, got 1 NaN or inf"),
    ([], "empty array"),
])
def test_bad_arrays_for_predict(model, X, match):
    with pytest.raises(ValueError, match=match) as e:
        model.predict(X)
    one_line(e)
    assert model.predict(np.zeros((0, 3))).shape == (0, 5)  # an empty batch of the right shape is fine


def test_ragged_or_empty_targets(model):
    with pytest.raises(ValueError, match="Y must be a rectangular array"):
        model.fit(np.ones((2, 3)), [[0, 1], [1]], verbose=0)
    with pytest.raises(ValueError, match="at least 1 sample"):
        model.evaluate(np.zeros((0, 3)), np.zeros(0, int))
