"""Linear discriminant analysis: equal to scikit-learn's solver="svd", a two-class case by hand, the errors."""

import numpy as np
import pytest
from conftest import need

import glassnet as gn
from glassnet.datasets import mnist
from glassnet.decomposition import LDA


def _sklearn_lda(X, y, **kwargs):
    """scikit-learn's LinearDiscriminantAnalysis(solver="svd") fitted on X, y; with array-API dispatch its SVD
    is NumPy's (four times faster on MNIST than SciPy's, the same LAPACK routine)."""
    sklearn = need("sklearn")
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    with sklearn.config_context(array_api_dispatch=True):
        return LinearDiscriminantAnalysis(solver="svd", **kwargs).fit(X, y)


def _assert_equal_to_sklearn(X, y, **kwargs):
    ref, lda = _sklearn_lda(X, y, **kwargs), LDA(**kwargs).fit(X, y)
    Z_ref, Z = ref.transform(X), lda.transform(X)
    assert Z.shape == Z_ref.shape and Z.dtype == np.float64
    signs = np.sign(np.sum(Z * Z_ref, axis=0))
    assert np.all(signs != 0)
    np.testing.assert_allclose(Z * signs, Z_ref, rtol=0, atol=1e-6)
    np.testing.assert_allclose(lda.scalings_ * signs, ref.scalings_[:, : Z.shape[1]], rtol=0, atol=1e-6)
    np.testing.assert_allclose(lda.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=0, atol=1e-8)
    np.testing.assert_array_equal(lda.predict(X), ref.predict(X))
    np.testing.assert_allclose(lda.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-8)
    np.testing.assert_allclose(lda.decision_function(X), ref.decision_function(X), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(lda.coef_, ref.coef_, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(lda.intercept_, ref.intercept_, rtol=1e-8, atol=1e-8)
    for name in ("classes_", "priors_", "means_", "xbar_"):
        np.testing.assert_allclose(getattr(lda, name), getattr(ref, name), rtol=1e-12, atol=0, err_msg=name)
    return lda


@pytest.mark.parametrize("tol", [1e-4, 1e-12])  # 1e-12 takes the exact SVD, not the Gram matrix's eigenvectors
def test_equals_sklearn_on_digits(tol):
    datasets = need("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    lda = _assert_equal_to_sklearn(X, y, tol=tol)
    assert lda.transform(X).shape == (1797, 9)
    assert lda.score(X, y) > 0.95


def test_equals_sklearn_on_digits_two_classes_and_priors():
    datasets = need("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    keep = (y == 3) | (y == 8)
    lda = _assert_equal_to_sklearn(X[keep], y[keep], priors=[0.3, 0.7])
    assert lda.coef_.shape == (1, 64) and lda.decision_function(X[keep]).shape == (int(keep.sum()),)
    np.testing.assert_array_equal(lda.classes_, [3, 8])


def test_equals_sklearn_on_mnist_first_10000(mnist_dir):
    X, y = mnist.load("train", mnist_dir)
    X, y = X[:10_000].astype(np.float64), y[:10_000]
    lda = _assert_equal_to_sklearn(X, y)
    assert lda.scalings_.shape == (784, 9)
    assert np.all(np.diff(lda.explained_variance_ratio_) <= 0) and lda.explained_variance_ratio_.sum() == (
        pytest.approx(1.0, abs=1e-12))


def test_two_classes_by_hand():
    """Class 0 is the four points (+-1, 0), (0, +-1); class 1 the same moved by (2, 2).

    Sigma_W = diag(1/2, 1/2), so Fisher's direction Sigma_W^{-1} (mu_1 - mu_0) is along (1, 1); scaled to unit
    within-class variance it is L = (1, 1). Then z = x_1 + x_2 - 2 puts the classes at -2 and +2 with unit
    variance, and the log-odds is (mu_1 - mu_0) z - (mu_1^2 - mu_0^2) / 2 = 4 z = 4 x_1 + 4 x_2 - 8.
    """
    square = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    X, y = np.vstack([square, square + 2.0]), np.repeat([0, 1], 4)
    lda = LDA().fit(X, y)
    np.testing.assert_allclose(lda.means_, [[0.0, 0.0], [2.0, 2.0]], atol=1e-15)
    np.testing.assert_allclose(lda.xbar_, [1.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(lda.priors_, [0.5, 0.5], atol=1e-15)
    np.testing.assert_allclose(lda.scalings_, [[1.0], [1.0]], atol=1e-12)
    np.testing.assert_allclose(lda.explained_variance_ratio_, [1.0], atol=1e-15)
    np.testing.assert_allclose(lda.transform(X)[:, 0], X.sum(axis=1) - 2.0, atol=1e-12)
    np.testing.assert_allclose(lda.coef_, [[4.0, 4.0]], atol=1e-12)
    np.testing.assert_allclose(lda.intercept_, [-8.0], atol=1e-12)
    np.testing.assert_allclose(lda.predict_proba([[1.0, 1.0], [1.5, 1.0]]),
                               [[0.5, 0.5], [1 / (1 + np.e**2), 1 / (1 + np.e**-2)]], atol=1e-12)
    np.testing.assert_array_equal(lda.predict([[0.4, 0.5], [0.9, 1.2], [3.0, -2.0]]), [0, 1, 0])
    # a prior of 3 to 1 for class 1 adds log 3 to the log-odds
    lda = LDA(priors=[0.25, 0.75]).fit(X, y)
    np.testing.assert_allclose(lda.intercept_, [-8.0 + np.log(3.0)], atol=1e-12)
    with pytest.warns(UserWarning, match="renormalising"):
        np.testing.assert_allclose(LDA(priors=[1, 3]).fit(X, y).priors_, [0.25, 0.75])


def test_float32_in_float32_out_close_to_float64():
    datasets = need("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    lda64, lda32 = LDA().fit(X, y), LDA().fit(X.astype(np.float32), y)
    for name in ("priors_", "means_", "xbar_", "scalings_", "explained_variance_ratio_", "coef_", "intercept_"):
        assert getattr(lda32, name).dtype == np.float32, name
    X32 = X.astype(np.float32)
    Z32 = lda32.transform(X32)
    assert Z32.dtype == lda32.predict_proba(X32).dtype == lda32.decision_function(X32).dtype == np.float32
    np.testing.assert_allclose(Z32, lda64.transform(X), rtol=0, atol=1e-4)
    assert np.mean(lda32.predict(X32) == lda64.predict(X)) > 0.999
    assert LDA().fit(X.astype(np.uint8), y).scalings_.dtype == np.float32


def test_n_components_keeps_the_leading_axes_and_fits_are_bit_identical():
    datasets = need("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    full = LDA().fit(X, y)
    two = LDA(n_components=2)
    Z2 = two.fit_transform(X, y)
    assert Z2.shape == (1797, 2)
    np.testing.assert_allclose(Z2, full.transform(X)[:, :2], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(two.explained_variance_ratio_, full.explained_variance_ratio_[:2])
    np.testing.assert_array_equal(LDA().fit(X, y).scalings_, full.scalings_)
    L = full.scalings_
    assert np.all(L[np.abs(L).argmax(axis=0), np.arange(L.shape[1])] > 0)
    assert gn.LDA is LDA and "LDA" in gn.__all__
    assert repr(two) == "LDA(n_components=2, tol=0.0001)"


@pytest.mark.parametrize("make, match", [
    (lambda X, y: LDA().fit(X, np.zeros(8, int)), r"at least 2 classes, got 1 \(label 0\)"),
    (lambda X, y: LDA().fit(X[[0, 4, 5]], [0, 1, 2]), r"more samples than classes \(3\), got 3"),
    (lambda X, y: LDA().fit(np.where(X == 3.0, np.nan, X), y), r"X must be finite, got 2 NaN"),
    (lambda X, y: LDA().fit(X, y[:-1]), r"one label per row of X \(8\), got shape \(7,\)"),
    (lambda X, y: LDA().fit(X[:, 0], y), r"X must be 2-D, got shape \(8,\)"),
    (lambda X, y: LDA(n_components=2).fit(X, y), r"at most min\(n_classes - 1, n_features\) = 1, got 2"),
    (lambda X, y: LDA(n_components=0), r"n_components must be None or an integer >= 1, got 0"),
    (lambda X, y: LDA(tol=-1.0), r"tol must be a finite number >= 0"),
    (lambda X, y: LDA(priors=[1.0]).fit(X, y), r"priors must have one entry per class \(2\), got 1"),
    (lambda X, y: LDA(priors=[-0.5, 1.5]).fit(X, y), r"priors must be non-negative"),
    (lambda X, y: LDA().fit(X, y).transform(X[:, :1]), r"X must have 2 features as in fit, got shape \(8, 1\)"),
    (lambda X, y: LDA().fit(X, y).predict(np.ones((2, 3))), r"X must have 2 features as in fit"),
    (lambda X, y: LDA().predict(X), r"not fitted yet; call fit\(X, y\) first"),
    (lambda X, y: LDA().fit(np.ones((8, 2)), y), r"X must vary within its classes"),
    (lambda X, y: LDA().fit(np.c_[X[:, 0] - 2 * y, y], y), r"class means must differ along a direction"),
])
def test_errors_are_one_line(make, match):
    square = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    X, y = np.vstack([square, square + 2.0]), np.repeat([0, 1], 4)
    with pytest.raises(ValueError, match=match) as info:
        make(X, y)
    assert "\n" not in str(info.value)
