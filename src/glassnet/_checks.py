"""Input validation and name registries shared by every module.

Every check raises a one-line ``ValueError`` that names what was expected and what was given.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def lookup(table: Mapping[str, T], name: str, kind: str) -> T:
    """Return ``table[name]`` (case-insensitive) or raise naming the known keys."""
    if not isinstance(name, str):
        raise ValueError(f"{kind} must be a name (str) or an instance, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    if key not in table:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}")
    return table[key]


def require_extra(module: str, extra: str, what: str) -> ModuleType:
    """``import module``, or an ImportError in one line naming the extra that installs it, e.g.
    "--plots needs matplotlib: pip install 'glassnet[plot]'". Commands call it before doing any work."""
    try:
        return importlib.import_module(module)
    except ImportError:
        name = {"PIL": "Pillow"}.get(module, module)
        raise ImportError(f"{what} needs {name}: pip install 'glassnet[{extra}]'") from None


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


def check_targets(Y: Any, n: int, shape: tuple[int, ...], dtype: np.dtype, name: str = "Y") -> np.ndarray:
    """Targets as a float array of ``n`` rows of ``shape``; integer labels are one-hot encoded."""
    from glassnet.encoding import one_hot

    Y = as_array(Y, name)
    n_out = shape[-1]
    if Y.ndim == 1 and Y.dtype.kind in "biu":
        if n_out == 1:
            check_labels(Y, 2, name)
            Y = Y[:, None]
        else:
            Y = one_hot(Y, n_out, dtype)
    elif Y.ndim == 1 and n_out == 1:
        Y = Y[:, None]
    Y = as_float_array(Y, name, dtype)
    if Y.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows to match X, got {Y.shape[0]}")
    if Y.shape[1:] != shape:
        raise ValueError(f"{name} must have targets of shape {shape} (or integer labels), got {Y.shape[1:]}")
    return Y
