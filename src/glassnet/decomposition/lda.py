"""Fisher's linear discriminant analysis, solved through the SVD (scikit-learn's ``solver="svd"``).

With classes ``k = 1..K`` of ``n_k`` samples, priors ``pi_k``, class means ``mu_k`` and the weighted centre
``xbar = sum_k pi_k mu_k``, LDA finds the directions ``w`` that maximise Fisher's ratio
``J(w) = w^T S_B w / w^T S_W w`` of between-class to within-class scatter. Two SVDs give them without forming
either scatter matrix:

1. whiten the within-class scatter: with ``X_c = X - M_y`` (each sample minus its class mean), ``sigma`` the
   standard deviation of each column of ``X_c`` (1 where it is 0) and ``X_c diag(1/sigma) / sqrt(n) =
   U S V^T``, keeping the ``r`` singular values ``S_i > tol``, ``W = diag(1/sigma) V_r S_r^{-1}`` satisfies
   ``W^T Sigma_W W = I`` for ``Sigma_W = X_c^T X_c / n``;
2. in that whitened space, the SVD ``diag(sqrt(n pi_k / (K - 1))) (M - xbar) W = U_2 S_2 V_2^T`` of the
   weighted class means gives the discriminant directions: ``scalings_ = W V_2`` (columns with
   ``S_2 > tol S_2[0]``, at most ``K - 1``) and ``explained_variance_ratio_ = S_2^2 / sum S_2^2``.

The classifier is the Gaussian model with a shared covariance, ``delta_k(x) = x^T Sigma^{-1} mu_k -
mu_k^T Sigma^{-1} mu_k / 2 + log pi_k``, with ``Sigma^{-1}`` restricted to the discriminant subspace
(``L L^T``, ``L = scalings_``): ``coef_ = (M - xbar) L L^T`` and ``intercept_ = -||(M - xbar) L||^2 / 2 +
log pi - xbar coef_^T``.
"""

from __future__ import annotations

import warnings

import numpy as np

from glassnet._base.checks import as_array, as_float_array

_GRAM_LIMIT = 1e-6
"""The Gram matrix ``A^T A`` resolves singular values down to about ``sqrt(eps) s_max ~ 1.5e-8 s_max``; the faster
eigendecomposition is used only where ``tol`` is above ``_GRAM_LIMIT s_max``, the exact SVD otherwise."""


def _out_dtype(x: np.ndarray) -> np.dtype:
    return np.result_type(x.dtype, np.float32)


def _right_singular(A: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Singular values ``S`` (decreasing) and right singular vectors ``Vt`` of a float64 ``A`` (m, n).

    For ``n <= m`` through ``eigh(A^T A) = V diag(S^2) V^T`` (one BLAS product and an n x n eigenproblem, about
    six times faster than ``svd(A)`` on MNIST) when ``tol`` lies well inside the range it resolves.
    """
    m, n = A.shape
    if n <= m:
        lam, W = np.linalg.eigh(A.T @ A)
        S = np.sqrt(np.clip(lam[::-1], 0.0, None))
        if tol >= _GRAM_LIMIT * S[0]:
            return S, np.ascontiguousarray(W[:, ::-1].T)
    _, S, Vt = np.linalg.svd(A, full_matrices=False)
    return S, Vt


def _flip_columns(L: np.ndarray) -> np.ndarray:
    """``L`` with each column's sign set so that its largest-|value| entry is positive."""
    signs = np.sign(L[np.argmax(np.abs(L), axis=0), np.arange(L.shape[1])])
    signs[signs == 0] = 1
    return L * signs


class LDA:
    """Linear discriminant analysis: a projection on at most ``K - 1`` axes and a classifier (module docstring).

    Parameters
    ----------
    n_components : int or None
        Number of discriminant axes ``transform`` returns; ``None`` keeps ``min(K - 1, n_features)``.
    priors : array-like of shape (K,) or None
        Class priors ``pi_k`` in the order of ``classes_``; ``None`` uses the class frequencies ``n_k / n``.
        Priors that do not sum to 1 are renormalised with a warning.
    tol : float
        Singular values of the scaled within-class data below ``tol``, and those of the scaled class means
        below ``tol`` times the largest, are dropped (the data's rank).

    Attributes are scikit-learn's: ``classes_``, ``priors_``, ``means_`` (K, d), ``xbar_`` (d,), ``scalings_``
    (d, rank), ``explained_variance_ratio_``, ``coef_`` and ``intercept_`` ((1, d) and (1,) for two classes,
    the log-odds of the second), ``n_features_in_``. Each component's sign makes its largest-magnitude entry
    of ``scalings_`` positive. Computed in float64, stored as float32 for float32 (or integer) ``X``.
    """

    def __init__(self, n_components: int | None = None, priors: np.ndarray | None = None,
                 tol: float = 1e-4) -> None:
        if n_components is not None and (isinstance(n_components, bool) or
                                         not isinstance(n_components, int | np.integer) or n_components < 1):
            raise ValueError(f"n_components must be None or an integer >= 1, got {n_components!r}")
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
        self.n_components = None if n_components is None else int(n_components)
        self.priors = priors
        self.tol = float(tol)
        self.scalings_: np.ndarray | None = None

    # ------------------------------------------------------------------------------------------------ fit
    def _check_data(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.dtype]:
        X = as_array(X, "X")
        dtype = _out_dtype(X)
        A = as_float_array(X, "X", dtype=np.float64, ndim=2)
        y = as_array(y, "y")
        if y.ndim != 1 or y.shape[0] != A.shape[0]:
            raise ValueError(f"y must be 1-D with one label per row of X ({A.shape[0]}), got shape {y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"y must be finite, got {int(np.sum(~np.isfinite(y)))} NaN or inf label(s)")
        if y.dtype.kind not in "biufUSO":
            raise ValueError(f"y must hold class labels (numbers or strings), got dtype {y.dtype}")
        return A, y, dtype

    def _priors(self, counts: np.ndarray) -> np.ndarray:
        K = counts.shape[0]
        if self.priors is None:
            return counts / counts.sum()
        p = as_float_array(self.priors, "priors", dtype=np.float64, ndim=1)
        if p.shape[0] != K:
            raise ValueError(f"priors must have one entry per class ({K}), got {p.shape[0]}")
        if np.any(p < 0) or p.sum() <= 0:
            raise ValueError(f"priors must be non-negative with a positive sum, got {p.tolist()}")
        if abs(p.sum() - 1.0) > 1e-5:
            warnings.warn(f"priors sum to {p.sum():.6g}, not 1; renormalising", UserWarning, stacklevel=3)
            p = p / p.sum()
        return p

    def fit(self, X: np.ndarray, y: np.ndarray) -> LDA:
        """Fit the discriminant axes and the classifier on ``X`` (n, d) with class labels ``y`` (n,)."""
        A, y, dtype = self._check_data(X, y)
        n, d = A.shape
        classes, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
        K = classes.shape[0]
        if K < 2:
            raise ValueError(f"y must hold at least 2 classes, got 1 (label {classes[0].item()!r})")
        if n <= K:
            raise ValueError(f"X must have more samples than classes ({K}), got {n}")
        max_components = min(K - 1, d)
        if self.n_components is not None and self.n_components > max_components:
            raise ValueError(f"n_components must be at most min(n_classes - 1, n_features) = {max_components}, "
                             f"got {self.n_components}")
        k = max_components if self.n_components is None else self.n_components
        priors = self._priors(counts)

        means = np.zeros((K, d))
        np.add.at(means, inv, A)
        means /= counts[:, None]
        xbar = priors @ means
        # 1) whiten the within-class scatter: W = diag(1/sigma) V_r S_r^{-1}
        Xc = A - means[inv]
        sigma = Xc.std(axis=0)
        sigma[sigma == 0] = 1.0
        Xc /= sigma
        Xc *= np.sqrt(1.0 / n)
        S, Vt = _right_singular(Xc, self.tol)
        r = int(np.sum(S > self.tol))
        if r == 0:
            raise ValueError(f"X must vary within its classes, got no within-class singular value above {self.tol:g}")
        W = (Vt[:r] / sigma).T / S[:r]
        # 2) the SVD of the weighted class means in the whitened space: scalings = W V_2
        B = (np.sqrt(n * priors / (K - 1))[:, None] * (means - xbar)) @ W
        _, S2, Vt2 = np.linalg.svd(B, full_matrices=False)
        if S2[0] == 0:
            raise ValueError("the class means must differ along a direction that varies within the classes, got none")
        r2 = int(np.sum(S2 > self.tol * S2[0]))
        L = _flip_columns(W @ Vt2[:r2].T)
        # the Gaussian classifier with shared covariance, Sigma^{-1} ~ L L^T
        C = (means - xbar) @ L
        coef = C @ L.T
        intercept = -0.5 * np.sum(C**2, axis=1) + np.log(priors) - coef @ xbar
        if K == 2:
            coef, intercept = (coef[1] - coef[0])[None, :], intercept[1:] - intercept[:1]

        self.classes_ = classes
        self.priors_ = priors.astype(dtype)
        self.means_ = means.astype(dtype)
        self.xbar_ = xbar.astype(dtype)
        self.scalings_ = L.astype(dtype)
        self.explained_variance_ratio_ = (S2**2 / np.sum(S2**2))[:k].astype(dtype)
        self.coef_ = coef.astype(dtype)
        self.intercept_ = intercept.astype(dtype)
        self.n_features_in_ = d
        self._n_out = k
        return self

    # ------------------------------------------------------------------------------------------ project
    def _input(self, X: np.ndarray) -> tuple[np.ndarray, np.dtype]:
        if self.scalings_ is None:
            raise ValueError("this LDA is not fitted yet; call fit(X, y) first")
        X = as_array(X, "X")
        A = as_float_array(X, "X", dtype=np.float64, ndim=2)
        if A.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have {self.n_features_in_} features as in fit, got shape {A.shape}")
        return A, _out_dtype(X)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Discriminant coordinates ``Z = (X - xbar) L`` of shape (n, min(n_components, rank))."""
        A, dtype = self._input(X)
        L = self.scalings_.astype(np.float64)[:, : self._n_out]
        return ((A - self.xbar_.astype(np.float64)) @ L).astype(dtype)

    def fit_transform(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``fit(X, y)`` then ``transform(X)``."""
        return self.fit(X, y).transform(X)

    # --------------------------------------------------------------------------------------- classify
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores ``delta_k(x) = x coef_k^T + intercept_k`` (n, K); for two classes the log-odds (n,)."""
        A, dtype = self._input(X)
        scores = A @ self.coef_.astype(np.float64).T + self.intercept_.astype(np.float64)
        return (scores[:, 0] if scores.shape[1] == 1 else scores).astype(dtype)

    def _proba64(self, X: np.ndarray) -> tuple[np.ndarray, np.dtype]:
        A, dtype = self._input(X)
        scores = A @ self.coef_.astype(np.float64).T + self.intercept_.astype(np.float64)
        if scores.shape[1] == 1:  # two classes: p(second | x) = 1 / (1 + exp(-log-odds))
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - p, p], axis=1), dtype
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True), dtype

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Posterior ``p(k | x) = softmax_k(delta_k(x))`` of shape (n, K), columns in the order of ``classes_``."""
        P, dtype = self._proba64(X)
        return P.astype(dtype)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The class of largest posterior, ``classes_[argmax_k delta_k(x)]``."""
        A, _ = self._input(X)
        scores = A @ self.coef_.astype(np.float64).T + self.intercept_.astype(np.float64)
        index = (scores[:, 0] > 0).astype(np.intp) if scores.shape[1] == 1 else scores.argmax(axis=1)
        return self.classes_[index]

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy of ``predict(X)`` against ``y``."""
        y = as_array(y, "y")
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y must be 1-D with one label per row of X ({pred.shape[0]}), got shape {y.shape}")
        return float(np.mean(pred == y))

    def __repr__(self) -> str:
        return f"LDA(n_components={self.n_components}, tol={self.tol:g})"
