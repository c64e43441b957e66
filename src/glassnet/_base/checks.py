"""Input validation shared by every module.

Every check raises a one-line ``ValueError`` that names what was expected and what was given.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_array(x: Any, name: str) -> np.ndarray:
    """``np.asarray(x)``, with a one-line error for ragged nested lists."""
    try:
        return np.asarray(x)
    except ValueError:  # "setting an array element with a sequence ... inhomogeneous shape ..."
        raise ValueError(f"{name} must be a rectangular array of numbers, got a ragged sequence (rows of "
                         "different lengths)") from None


def as_float_array(x: Any, name: str, dtype: np.dtype | type = np.float32,
                   ndim: int | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float array of ``dtype``, checked for dimensions and finiteness."""
    arr = as_array(x, name)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        bad = int(out.size - np.count_nonzero(np.isfinite(out)))
        if arr.dtype.kind != "f" or np.isfinite(arr).all():
            raise ValueError(f"{name} must fit in {out.dtype}, got {bad} value(s) too large for it")
        raise ValueError(f"{name} must be finite, got {bad} NaN or inf value(s)")
    return out


def check_labels(y: np.ndarray, n_classes: int | None, name: str = "y") -> np.ndarray:
    """Integer class labels in ``0..n_classes-1`` (any label >= 0 when ``n_classes`` is None) as int64."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} as class labels must be 1-D, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ValueError(f"{name} as class labels must be whole numbers, got non-integer values")
    elif y.dtype.kind not in "biu":
        raise ValueError(f"{name} as class labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if y.size and y.min() < 0 and n_classes is None:
        raise ValueError(f"{name} must hold labels >= 0, got {y.min()}")
    if y.size and n_classes is not None and (y.min() < 0 or y.max() >= n_classes):
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise ValueError(f"{name} has label {bad} outside the classes 0..{n_classes - 1}")
    return y


def check_samples(X: Any, shape: tuple[int, ...], dtype: np.dtype, name: str = "X",
                  min_samples: int = 0) -> np.ndarray:
    """``X`` as a float array of samples of ``shape`` (a 1-D array for one input), at least ``min_samples``."""
    X = as_float_array(X, name, dtype)
    if X.shape[:1] == (0,) and X.ndim == 1 or X.ndim and X.shape[0] < min_samples:
        raise ValueError(f"{name} must hold at least {max(min_samples, 1)} sample(s) of shape {shape}, "
                         f"got an empty array of shape {X.shape}")
    if X.ndim == 1 and shape == (1,):
        X = X[:, None]
    if X.shape[1:] != shape:
        raise ValueError(f"{name} must have samples of shape {shape}, got {X.shape[1:]} (array shape {X.shape})")
    return X


def check_widths(kind: str, n_in: Any, **n_out: Any) -> tuple[int | None, int]:
    """A layer's input width (None: taken from the data when built) and its one output width, both >= 1:
    ``check_widths("Dense", n_in, n_out=n_out)``."""
    (name, value), = n_out.items()
    if value is None or int(value) < 1 or (n_in is not None and int(n_in) < 1):
        raise ValueError(f"{kind} needs positive n_in and {name}, got n_in={n_in}, {name}={value}")
    return None if n_in is None else int(n_in), int(value)


def check_rate(p: Any, what: str) -> float:
    """A probability of dropping or masking a unit, in [0, 1)."""
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {p}")
    return float(p)
