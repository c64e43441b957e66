"""Input validation and name registries shared by every module.

Every check raises a one-line ``ValueError`` that names what was expected and what was given.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def as_float_array(x: Any, name: str, dtype: np.dtype | type = np.float32,
                   ndim: int | None = None) -> np.ndarray:
    """``x`` as a C-contiguous float array of ``dtype``, checked for dimensions and finiteness."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite, got {bad} NaN or inf value(s)")
    return arr


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
