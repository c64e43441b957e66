import numpy as np
import pytest

from glassnet.decomposition import PCA, TruncatedSVD, randomized_svd


def _data(m=200, n=12, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.linspace(5.0, 0.5, n)
    return rng.standard_normal((m, n)) * scales + rng.normal(3.0, 1.0, n)


def _low_rank(m=300, n=80, r=8, seed=0):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, r)))
    V, _ = np.linalg.qr(rng.standard_normal((n, r)))
    return (U * np.geomspace(100.0, 1.0, r)) @ V.T


@pytest.mark.parametrize("svd", ["full", "auto", "randomized"])
def test_pca_reconstruction_matches_numpy_svd(svd):
    X = _data()
    k = 4
    pca = PCA(k, svd=svd, seed=0, n_iter=8)
    Z = pca.fit_transform(X)
    Xc = X - X.mean(axis=0)
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    expected = (U[:, :k] * s[:k]) @ Vt[:k] + X.mean(axis=0)
    assert Z.shape == (200, k) and Z.dtype == np.float64
    np.testing.assert_allclose(pca.inverse_transform(Z), expected, atol=1e-6)
    np.testing.assert_allclose(pca.singular_values_, s[:k], rtol=1e-8)
    np.testing.assert_allclose(pca.explained_variance_, s[:k] ** 2 / 199, rtol=1e-8)
    np.testing.assert_allclose(np.abs(pca.components_ @ Vt[:k].T), np.eye(k), atol=1e-8)
    np.testing.assert_allclose(pca.transform(X), Z, atol=1e-10)


def test_pca_all_components_explain_everything_and_signs_are_fixed():
    X = _data(n=6)
    pca = PCA(6, svd="full").fit(X)
    np.testing.assert_allclose(pca.explained_variance_ratio_.sum(), 1.0, rtol=1e-12)
    assert np.all(np.diff(pca.explained_variance_) <= 0)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(6), atol=1e-12)
    C = pca.components_
    assert np.all(C[np.arange(6), np.abs(C).argmax(axis=1)] > 0)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-10)
    np.testing.assert_allclose(pca.mean_, X.mean(axis=0))


def test_pca_float32_in_float32_out():
    X = _data().astype(np.float32)
    pca = PCA(3)
    Z = pca.fit_transform(X)
    assert Z.dtype == pca.components_.dtype == pca.mean_.dtype == np.float32
    assert pca.inverse_transform(Z).dtype == np.float32


def test_randomized_svd_close_to_exact_on_low_rank():
    A = _low_rank()
    U, s, Vt = randomized_svd(A, 5, seed=0)
    _, s_ref, Vt_ref = np.linalg.svd(A, full_matrices=False)
    assert U.shape == (300, 5) and s.shape == (5,) and Vt.shape == (5, 80)
    np.testing.assert_allclose(s, s_ref[:5], rtol=1e-6)
    np.testing.assert_allclose(np.abs(Vt @ Vt_ref[:5].T), np.eye(5), atol=1e-6)
    np.testing.assert_allclose(U.T @ A, s[:, None] * Vt, atol=1e-6)
    again = randomized_svd(A, 5, seed=0)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(again, (U, s, Vt), strict=True))
    assert randomized_svd(A.astype(np.float32), 5, seed=0)[1].dtype == np.float32


def test_truncated_svd_does_not_centre():
    X = _data(n=10) + 20.0
    tsvd = TruncatedSVD(3, svd="full")
    Z = tsvd.fit_transform(X)
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    np.testing.assert_allclose(tsvd.singular_values_, s[:3], rtol=1e-8)
    np.testing.assert_allclose(Z, U[:, :3] * s[:3] * np.sign(np.diag(tsvd.components_ @ Vt[:3].T)), atol=1e-8)
    np.testing.assert_allclose(tsvd.inverse_transform(Z), (U[:, :3] * s[:3]) @ Vt[:3], atol=1e-8)
    np.testing.assert_allclose(tsvd.explained_variance_, Z.var(axis=0, ddof=1), rtol=1e-10)
    assert not hasattr(tsvd, "mean_")
    rand = TruncatedSVD(3, svd="randomized", seed=1, n_iter=8).fit(X)
    np.testing.assert_allclose(rand.components_, tsvd.components_, atol=1e-6)


def test_wide_matrix_uses_exact_svd_too():
    X = _data(m=10, n=40)
    pca = PCA(5, svd="full").fit(X)
    _, s, _ = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(pca.singular_values_, s[:5], rtol=1e-10)


def test_errors():
    X = _data(m=20, n=5)
    with pytest.raises(ValueError, match=r"n_components must be in 1..min\(n_samples, n_features\) = 5"):
        PCA(6).fit(X)
    with pytest.raises(ValueError, match=r"k must be in 1..min\(n_samples, n_features\) = 5, got 9"):
        randomized_svd(X, 9)
    with pytest.raises(ValueError, match="unknown svd method 'arpack'; known: auto, full, randomized"):
        TruncatedSVD(2, svd="arpack")
    with pytest.raises(ValueError, match="n_components must be an integer >= 1, got 0"):
        PCA(0)
    with pytest.raises(ValueError, match="this PCA is not fitted yet"):
        PCA(2).transform(X)
    pca = PCA(2).fit(X)
    with pytest.raises(ValueError, match=r"X must have 5 features as in fit, got shape \(3, 4\)"):
        pca.transform(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"Z must have 2 columns \(one per component\), got shape \(3, 3\)"):
        pca.inverse_transform(np.zeros((3, 3)))
