"""Low-rank decompositions: randomized SVD, principal component analysis and truncated SVD; and beside them
linear discriminant analysis (:class:`glassnet.lda.LDA`), the one that uses the labels.

All of them compute in float64 and return float32 for float32 (or smaller integer) input, float64 otherwise.
Signs are fixed so that the largest-magnitude entry of each right singular vector (component) is positive.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from glassnet._base.checks import as_float_array
from glassnet._base.registry import lookup

__all__ = ["PCA", "TruncatedSVD", "randomized_svd"]

Seed = int | np.random.Generator | None
_Model = TypeVar("_Model", bound="_LowRank")

_SVD_METHODS = {"auto": "auto", "full": "full", "randomized": "randomized"}


def _out_dtype(x: np.ndarray) -> np.dtype:
    return np.result_type(x.dtype, np.float32)


def _check_int(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_rank(k: int, shape: tuple[int, int], name: str) -> int:
    k = _check_int(k, name, 1)
    if k > min(shape):
        raise ValueError(f"{name} must be in 1..min(n_samples, n_features) = {min(shape)}, got {k}")
    return int(k)


def _flip_signs(Vt: np.ndarray, U: np.ndarray | None = None) -> None:
    """Flip in place rows of ``Vt`` (columns of ``U``) so each row's largest-|value| entry is positive."""
    signs = np.sign(Vt[np.arange(Vt.shape[0]), np.argmax(np.abs(Vt), axis=1)])
    signs[signs == 0] = 1
    Vt *= signs[:, None]
    if U is not None:
        U *= signs


def _exact_svd(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` singular values and right singular vectors of a float64 ``A`` (m, n).

    For n <= m through the eigendecomposition of the Gram matrix ``A^T A = V diag(s^2) V^T`` (one BLAS product
    and an n x n ``eigh``, about ten times faster than ``svd(A)`` on MNIST), else by ``svd(A)``.
    """
    m, n = A.shape
    if n <= m:
        lam, W = np.linalg.eigh(A.T @ A)
        s = np.sqrt(np.clip(lam[::-1][:k], 0.0, None))
        return s, np.ascontiguousarray(W[:, ::-1][:, :k].T)
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    return s[:k], Vt[:k]


def _randomized_svd(
    A: np.ndarray, k: int, n_oversamples: int, n_iter: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, n = A.shape
    ell = min(k + n_oversamples, m, n)
    Q, _ = np.linalg.qr(A @ rng.standard_normal((n, ell)))
    for _ in range(n_iter):
        Q, _ = np.linalg.qr(A.T @ Q)
        Q, _ = np.linalg.qr(A @ Q)
    U_B, s, Vt = np.linalg.svd(Q.T @ A, full_matrices=False)
    return Q @ U_B[:, :k], s[:k], Vt[:k]


def randomized_svd(
    A: np.ndarray, k: int, n_oversamples: int = 10, n_iter: int = 4, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate rank-``k`` SVD ``A ~ U diag(s) V^T`` (Halko, Martinsson and Tropp, 2011).

    With a Gaussian ``Omega`` (n x l), ``l = k + n_oversamples``, the orthonormal ``Q`` of
    ``(A A^T)^q A Omega`` (``q = n_iter``, QR after every product) spans nearly the top-k range of ``A``; the
    small ``B = Q^T A = U_B diag(s) V^T`` is decomposed exactly and ``U = Q U_B``. Returns ``(U, s, Vt)`` with
    shapes (m, k), (k,), (k, n), singular values in decreasing order.
    """
    A = np.asarray(A)
    dtype = _out_dtype(A)
    A64 = as_float_array(A, "A", dtype=np.float64, ndim=2)
    k = _check_rank(k, A64.shape, "k")
    p, q = _check_int(n_oversamples, "n_oversamples", 0), _check_int(n_iter, "n_iter", 0)
    U, s, Vt = _randomized_svd(A64, k, p, q, np.random.default_rng(seed))
    _flip_signs(Vt, U)
    return U.astype(dtype), s.astype(dtype), Vt.astype(dtype)


class _LowRank:
    """Shared code of :class:`PCA` and :class:`TruncatedSVD`: ``Z = (X - mu) V^T``, ``X ~ Z V + mu``."""

    _centre = False

    def __init__(
        self,
        n_components: int,
        svd: str = "auto",
        seed: Seed = None,
        n_oversamples: int = 10,
        n_iter: int = 4,
    ) -> None:
        self.n_components = _check_int(n_components, "n_components", 1)
        self.svd = lookup(_SVD_METHODS, svd, "svd method")
        self.n_oversamples = _check_int(n_oversamples, "n_oversamples", 0)
        self.n_iter = _check_int(n_iter, "n_iter", 0)
        self.seed = seed
        self.components_: np.ndarray | None = None

    def _method(self, shape: tuple[int, int]) -> str:
        """``"auto"`` is exact unless the input is large and k small, where the sketch is cheaper."""
        if self.svd != "auto":
            return self.svd
        r = min(shape)
        return "randomized" if r > 1000 and self.n_components < r / 10 else "full"

    def _fit(self, X: np.ndarray) -> tuple[np.ndarray, np.dtype]:
        """Fit on ``X``; return the float64 (centred, for PCA) data and the output dtype."""
        X = np.asarray(X)
        dtype = _out_dtype(X)
        A = as_float_array(X, "X", dtype=np.float64, ndim=2)
        m, n = A.shape
        if m < 2:
            raise ValueError(f"X must have at least 2 samples, got {m}")
        k = _check_rank(self.n_components, A.shape, "n_components")
        if self._centre:
            mean = A.mean(axis=0)
            if np.may_share_memory(A, X):
                A = A - mean
            else:
                A -= mean
            self.mean_ = mean.astype(dtype)
        if self._method(A.shape) == "randomized":
            rng = np.random.default_rng(self.seed)
            _, s, Vt = _randomized_svd(A, k, self.n_oversamples, self.n_iter, rng)
        else:
            s, Vt = _exact_svd(A, k)
        _flip_signs(Vt)
        if self._centre:  # sum_j var(x_j) = ||X - mu||_F^2 / (m - 1), and var(z_k) = s_k^2 / (m - 1)
            total, var = np.vdot(A, A) / (m - 1), s**2 / (m - 1)
        else:
            total, var = A.var(axis=0, ddof=1).sum(), (A @ Vt.T).var(axis=0, ddof=1)
        self.components_ = Vt.astype(dtype)
        self.singular_values_ = s.astype(dtype)
        self.explained_variance_ = var.astype(dtype)
        self.explained_variance_ratio_ = (var / total if total > 0 else np.zeros_like(var)).astype(dtype)
        self.n_features_in_ = n
        return A, dtype

    def _check_fitted(self) -> np.ndarray:
        if self.components_ is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X) first")
        return self.components_.astype(np.float64)

    def fit(self: _Model, X: np.ndarray) -> _Model:
        """Find the top ``n_components`` directions of ``X`` (n_samples, n_features)."""
        self._fit(X)
        return self

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``, sharing the float64 copy of ``X``."""
        A, dtype = self._fit(X)
        return (A @ self._check_fitted().T).astype(dtype)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates ``Z = (X - mu) V^T`` of shape (n_samples, n_components)."""
        V = self._check_fitted()
        X = np.asarray(X)
        A = as_float_array(X, "X", dtype=np.float64, ndim=2)
        if A.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} features as in fit, got shape {A.shape}")
        Z = A @ V.T
        if self._centre:
            Z -= self.mean_.astype(np.float64) @ V.T
        return Z.astype(_out_dtype(X))

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Reconstruction ``X_hat = Z V + mu`` of shape (n_samples, n_features)."""
        V = self._check_fitted()
        Z = np.asarray(Z)
        Z64 = as_float_array(Z, "Z", dtype=np.float64, ndim=2)
        if Z64.shape[1] != V.shape[0]:
            raise ValueError(f"Z must have {V.shape[0]} columns (one per component), got shape {Z64.shape}")
        X_hat = Z64 @ V
        if self._centre:
            X_hat += self.mean_.astype(np.float64)
        return X_hat.astype(_out_dtype(Z))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components}, svd={self.svd!r})"


class PCA(_LowRank):
    """Principal component analysis: the top-k eigenvectors ``V`` of the covariance of ``X``.

    ``X - mu = U diag(s) V^T``; ``components_`` holds the rows of ``V^T``, ``explained_variance_`` is
    ``s^2 / (n - 1)`` and ``explained_variance_ratio_`` its share of the total variance. ``svd`` picks the
    exact decomposition (``"full"``), :func:`randomized_svd` (``"randomized"``, seeded by ``seed``) or,
    with ``"auto"``, the exact one unless the input is large and k small (``min(n, d) > 1000``,
    ``k < min(n, d) / 10``).

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet import PCA
    >>> pca = PCA(2).fit(np.random.default_rng(0).normal(size=(50, 5)))
    >>> pca.components_.shape
    (2, 5)
    """

    _centre = True


class TruncatedSVD(_LowRank):
    """Rank-k SVD ``X ~ U_k diag(s_k) V_k^T`` of uncentred data (latent semantic analysis on term counts).

    ``transform`` gives ``Z = X V_k^T``; ``explained_variance_`` is the variance of each column of ``Z`` and
    ``explained_variance_ratio_`` its share of the total variance of ``X``.
    """
