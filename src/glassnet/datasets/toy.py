"""Small synthetic data sets: logic-gate truth tables, blobs, moons, circles, spirals, and a data split.

Every generator returns ``(X, y)``: ``X`` a float array (float32 unless ``dtype`` says otherwise), ``y`` int64
class labels. Classes are balanced (sizes differ by at most one) and samples come shuffled. ``seed`` is an
int, a ``np.random.Generator`` or None; the same int seed gives bit-identical output.
"""

from __future__ import annotations

import numpy as np

from glassnet._base.registry import lookup

Seed = int | np.random.Generator | None

_GATES = {
    "and": lambda a, b: a & b,
    "or": lambda a, b: a | b,
    "nand": lambda a, b: 1 - (a & b),
    "nor": lambda a, b: 1 - (a | b),
    "xor": lambda a, b: a ^ b,
    "not": None,
}


def logic_gate(name: str, dtype: np.dtype | type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Truth table of a gate: ``X`` the inputs in {0, 1} (4x2, or 2x1 for "not"), ``y`` the int64 outputs."""
    gate = lookup(_GATES, name, "logic gate")
    if gate is None:
        a = np.array([0, 1], dtype=np.int64)
        return a[:, None].astype(dtype), 1 - a
    a = np.array([0, 0, 1, 1], dtype=np.int64)
    b = np.array([0, 1, 0, 1], dtype=np.int64)
    return np.stack([a, b], axis=1).astype(dtype), gate(a, b)


def _check_count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_nonneg(value: float, name: str) -> float:
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _balanced_labels(n_samples: int, n_classes: int) -> np.ndarray:
    """Labels 0..n_classes-1 in blocks whose sizes differ by at most one."""
    n_samples = _check_count(n_samples, "n_samples", 1)
    n_classes = _check_count(n_classes, "n_classes", 1)
    if n_samples < n_classes:
        raise ValueError(f"n_samples must be >= n_classes = {n_classes}, got {n_samples}")
    return np.arange(n_samples, dtype=np.int64) * n_classes // n_samples


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, dtype) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(y.shape[0])
    return X[order].astype(dtype), y[order]


def blobs(
    n_samples: int = 300,
    n_classes: int = 2,
    n_features: int = 2,
    spread: float = 0.5,
    seed: Seed = None,
    dtype: np.dtype | type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters ``x ~ N(mu_c, spread^2 I)``.

    The centres ``mu_c`` lie on a circle in the first two features (on a line if ``n_features == 1``), 4 apart
    for neighbours, so the classes are linearly separable when ``spread`` is well below 2.
    """
    y = _balanced_labels(n_samples, n_classes)
    n_features = _check_count(n_features, "n_features", 1)
    spread = _check_nonneg(spread, "spread")
    rng = np.random.default_rng(seed)
    centres = np.zeros((n_classes, n_features))
    if n_features == 1 or n_classes <= 2:
        centres[:, 0] = 4.0 * (np.arange(n_classes) - (n_classes - 1) / 2)
    else:
        theta = 2 * np.pi * np.arange(n_classes) / n_classes
        radius = 2.0 / np.sin(np.pi / n_classes)
        centres[:, 0], centres[:, 1] = radius * np.cos(theta), radius * np.sin(theta)
    X = centres[y] + spread * rng.standard_normal((y.shape[0], n_features))
    return _shuffled(X, y, rng, dtype)


def moons(
    n_samples: int = 200, noise: float = 0.1, seed: Seed = None, dtype: np.dtype | type = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: ``(cos t, sin t)`` and ``(1 - cos t, 1/2 - sin t)``, ``t ~ U[0, pi]``,
    plus ``N(0, noise^2)`` on each coordinate.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.datasets import moons
    >>> X, y = moons(100, noise=0.1, seed=0)
    >>> X.shape, X.dtype, np.bincount(y).tolist()
    ((100, 2), dtype('float32'), [50, 50])
    """
    y = _balanced_labels(n_samples, 2)
    noise = _check_nonneg(noise, "noise")
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, np.pi, y.shape[0])
    X = np.where(
        (y == 0)[:, None],
        np.stack([np.cos(t), np.sin(t)], axis=1),
        np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1),
    )
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng, dtype)


def circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: Seed = None,
    dtype: np.dtype | type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles, radius 1 (class 0) and ``factor`` (class 1), uniform angle, plus
    ``N(0, noise^2)`` on each coordinate."""
    y = _balanced_labels(n_samples, 2)
    noise = _check_nonneg(noise, "noise")
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.0, 2 * np.pi, y.shape[0])
    r = np.where(y == 0, 1.0, factor)
    X = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng, dtype)


def spirals(
    n_samples: int = 300,
    n_classes: int = 2,
    noise: float = 0.05,
    turns: float = 1.5,
    seed: Seed = None,
    dtype: np.dtype | type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class: ``r (cos theta, sin theta)`` with ``r`` evenly spaced in
    (0, 1] and ``theta = 2 pi (c / n_classes + turns r)``, plus ``N(0, noise^2)`` on each coordinate."""
    y = _balanced_labels(n_samples, _check_count(n_classes, "n_classes", 2))
    noise = _check_nonneg(noise, "noise")
    if not np.isfinite(turns) or turns <= 0:
        raise ValueError(f"turns must be a finite number > 0, got {turns!r}")
    rng = np.random.default_rng(seed)
    counts = np.bincount(y, minlength=n_classes)
    r = np.concatenate([np.arange(1, m + 1) / m for m in counts])
    theta = 2 * np.pi * (y / n_classes + turns * r)
    X = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(X, y, rng, dtype)


def _check_fraction(value: float, name: str) -> float:
    if not isinstance(value, int | float | np.floating | np.integer) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def train_val_test_split(
    X: np.ndarray,
    y: np.ndarray,
    val: float = 0.15,
    test: float = 0.15,
    seed: Seed = None,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random split into ``(X_train, y_train, X_val, y_val, X_test, y_test)``.

    The test and validation sets get ``round(test n)`` and ``round(val n)`` samples. With ``stratify`` and
    1-D integer (or string) labels, each class ``c`` of size ``n_c`` contributes ``test n_c`` and ``val n_c``
    samples to them, to within one.
    """
    val, test = _check_fraction(val, "val"), _check_fraction(test, "test")
    if val + test >= 1:
        raise ValueError(f"val + test must be < 1 to leave training data, got {val} + {test} = {val + test}")
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of samples, got shapes {X.shape} and {y.shape}")
    n = y.shape[0]
    n_test, n_val = round(test * n), round(val * n)
    if n - n_test - n_val < 1:
        raise ValueError(f"the split leaves no training samples out of {n}; lower val or test")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if stratify and y.ndim == 1 and y.dtype.kind in "biuUS":
        # Give the r-th of the n_c shuffled members of class c the key (r + 1/2) / n_c and sort by it: every
        # prefix of the resulting order then holds each class in proportion, to within one sample.
        _, cls, counts = np.unique(y[order], return_inverse=True, return_counts=True)
        by_class = np.argsort(cls, kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[by_class] = np.arange(n) - (np.cumsum(counts) - counts)[cls[by_class]]
        order = order[np.argsort((rank + 0.5) / counts[cls], kind="stable")]
    i_test, i_val, i_train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return X[i_train], y[i_train], X[i_val], y[i_val], X[i_test], y[i_test]
