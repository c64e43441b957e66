"""Classification metrics: outputs to labels (one rule for every caller), counts, confusion matrices."""

from __future__ import annotations

import numpy as np

from glassnet._base.checks import check_labels


def to_labels(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Predicted labels (int64) from outputs a of shape (..., K): argmax_k a_k for K > 1, [a_1 >= 0.5] for
    K = 1; written into ``out`` when given (the training loop's per-batch buffer)."""
    a = np.asarray(a)
    if a.shape[-1] == 1:
        if out is None:
            out = np.empty(a.shape[:-1], np.int64)
        return np.greater_equal(a[..., 0], 0.5, out=out)
    return a.argmax(axis=-1, out=out)


def n_correct(a: np.ndarray, y: np.ndarray) -> int:
    """Correct predictions of outputs ``a`` against one-hot (or single-column 0/1) targets ``y``."""
    return int(np.count_nonzero(to_labels(a) == to_labels(y)))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j."""
    y_true, y_pred = check_labels(y_true, n_classes, "y_true"), check_labels(y_pred, n_classes, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {y_true.size} and {y_pred.size}")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def precision_recall(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class k: precision = C[k, k] / sum_i C[i, k],  recall = C[k, k] / sum_j C[k, j] (0 where undefined)."""
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
    return precision, recall
