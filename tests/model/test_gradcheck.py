"""glassnet.numerical_gradient against analytic gradients of functions with known derivatives."""

import numpy as np
import pytest

from glassnet import numerical_gradient


def f_poly(v):
    x, y = v
    return x**2 * y + np.sin(y)


def grad_poly(v):
    x, y = v
    return np.array([2 * x * y, x**2 + np.cos(y)])


def logsumexp(v):
    m = v.max()
    return m + np.log(np.exp(v - m).sum())


@pytest.mark.parametrize("point", [(1.0, 2.0), (-0.7, 0.3), (3.0, -1.5)])
def test_polynomial_and_sine(point):
    g = numerical_gradient(f_poly, np.array(point))
    np.testing.assert_allclose(g, grad_poly(point), rtol=1e-8, atol=1e-8)


def test_quadratic_form():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    x = rng.standard_normal(5)
    g = numerical_gradient(lambda v: v @ A @ v, x.copy())
    np.testing.assert_allclose(g, (A + A.T) @ x, rtol=1e-8, atol=1e-8)


def test_log_sum_exp_gradient_is_softmax():
    x = np.array([0.5, -1.0, 2.0, 0.0, 30.0])
    g = numerical_gradient(logsumexp, x.copy())
    p = np.exp(x - x.max())
    p /= p.sum()
    np.testing.assert_allclose(g, p, rtol=1e-8, atol=1e-8)
    assert g.sum() == pytest.approx(1.0, abs=1e-8)


def test_matrix_argument_restored_and_indices():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((3, 4))
    before = W.copy()
    g = numerical_gradient(lambda w: float(np.sum(w**3)), W)
    np.testing.assert_allclose(g, 3 * before**2, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(W, before)  # perturbed in place, then restored exactly
    some = numerical_gradient(lambda w: float(np.sum(w**3)), W, indices=np.array([0, 5]))
    expected = np.zeros_like(W)
    expected.flat[[0, 5]] = 3 * before.flat[[0, 5]] ** 2
    np.testing.assert_allclose(some, expected, rtol=1e-8, atol=1e-8)


def test_list_input_is_converted_to_float64():
    g = numerical_gradient(lambda v: float(v[0] * v[1]), [2, 3])
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [3.0, 2.0], rtol=1e-8)
