"""Two-dimensional data for the playground: the data sets of TensorFlow Playground and more, the input
features computed from (x1, x2), and points uploaded as CSV.

Points live in the square [-6, 6]^2. Classification labels are classes 0..k-1; regression targets lie in
[-1, 1]. ``noise`` is a fraction in [0, 0.5], as the playground's 0-50 slider.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np

from glassnet.playground.wire import ApiError

DOMAIN = 6.0
MAX_POINTS = 10_000

FEATURES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1sq": lambda x1, x2: x1 * x1,
    "x2sq": lambda x1, x2: x2 * x2,
    "x1x2": lambda x1, x2: x1 * x2,
    "sinx1": lambda x1, x2: np.sin(x1),
    "sinx2": lambda x1, x2: np.sin(x2),
}
"""The input features, by the names the URL uses: x1, x2, x1^2, x2^2, x1 x2, sin x1, sin x2."""


def features(points: np.ndarray, names: list[str]) -> np.ndarray:
    """The network's inputs: one column per feature of each point (x1, x2)."""
    x1, x2 = points[:, 0], points[:, 1]
    return np.stack([FEATURES[n](x1, x2) for n in names], axis=1)


# ----------------------------------------------------------------------------- classification
def _circle(n: int, noise: float, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A disc of one class inside a ring of the other; the label is taken at the noisy position."""
    radius = 5.0
    inner = n // 2
    r = np.concatenate([rng.uniform(0, radius * 0.5, inner), rng.uniform(radius * 0.7, radius, n - inner)])
    angle = rng.uniform(0, 2 * np.pi, n)
    pts = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    noisy = pts + rng.uniform(-radius, radius, pts.shape) * noise
    return pts, (np.hypot(noisy[:, 0], noisy[:, 1]) >= radius * 0.5).astype(np.int64)


def _xor(n: int, noise: float, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Four quadrants, the class is the sign of x1 x2."""
    pts = rng.uniform(-5, 5, (n, 2))
    pts += np.where(pts > 0, 0.3, -0.3)
    noisy = pts + rng.uniform(-5, 5, pts.shape) * noise
    return pts, (noisy[:, 0] * noisy[:, 1] < 0).astype(np.int64)


def _gauss(n: int, noise: float, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k Gaussian blobs: two at (2, 2) and (-2, -2), more on a circle; their spread grows with the noise."""
    sd = np.sqrt(0.5 + 7.0 * noise)
    if k == 2:
        centres = np.array([[-2.0, -2.0], [2.0, 2.0]])
    else:
        angle = 2 * np.pi * np.arange(k) / k + np.pi / 4
        centres = 3.5 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    y = np.arange(n) * k // n
    return centres[y] + rng.normal(0, sd, (n, 2)), y


def _spiral(n: int, noise: float, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k interleaved spiral arms (two by default), r = 5 i / m, t = 1.75 (2 pi) i / m + 2 pi c / k."""
    y = np.arange(n) * k // n
    i = np.concatenate([np.arange(np.count_nonzero(y == c)) for c in range(k)])
    m = np.bincount(y, minlength=k)[y]
    r = 5.0 * i / m
    t = 1.75 * 2 * np.pi * i / m + 2 * np.pi * y / k
    pts = np.stack([r * np.sin(t), r * np.cos(t)], axis=1) + rng.uniform(-1, 1, (n, 2)) * noise * 5
    return pts, y


def _moons(n: int, noise: float, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, scaled to the square."""
    upper = n // 2
    t = np.concatenate([rng.uniform(0, np.pi, upper), rng.uniform(0, np.pi, n - upper)])
    y = np.concatenate([np.zeros(upper, np.int64), np.ones(n - upper, np.int64)])
    x1 = np.where(y == 0, np.cos(t), 1 - np.cos(t)) - 0.5
    x2 = np.where(y == 0, np.sin(t), 0.5 - np.sin(t)) - 0.25
    pts = np.stack([x1, x2], axis=1) * 3.8 + rng.normal(0, 1, (n, 2)) * noise * 4
    return pts, y


CLASSIFICATION: dict[str, tuple[Callable, int]] = {
    "circle": (_circle, 2), "xor": (_xor, 2), "gauss": (_gauss, 5), "spiral": (_spiral, 5), "moons": (_moons, 2),
}
"""Generator and the largest number of classes it makes."""


# ----------------------------------------------------------------------------- regression
def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """y = (x1 + x2) / 10, measured at the noisy position."""
    pts = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    noisy = pts + rng.uniform(-DOMAIN, DOMAIN, pts.shape) * noise
    return pts, np.clip((noisy[:, 0] + noisy[:, 1]) / 10.0, -1, 1)


_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]])


def _gauss_regression(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Six bumps of alternating sign; each point takes the strongest bump, falling to 0 at distance 2."""
    pts = rng.uniform(-DOMAIN, DOMAIN, (n, 2))
    noisy = pts + rng.uniform(-DOMAIN, DOMAIN, pts.shape) * noise
    d = np.hypot(noisy[:, None, 0] - _BUMPS[:, 0], noisy[:, None, 1] - _BUMPS[:, 1])
    v = _BUMPS[:, 2] * np.clip(1 - d / 2, 0, 1)
    return pts, v[np.arange(n), np.abs(v).argmax(axis=1)]


REGRESSION: dict[str, Callable] = {"plane": _plane, "gauss": _gauss_regression}


def generate(problem: str, dataset: str, n: int, noise: float, classes: int, seed: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) and labels (classes) or targets (regression), shuffled, from ``seed``."""
    rng = np.random.default_rng(seed)
    if problem == "regression":
        pts, y = REGRESSION[dataset](n, noise, rng)
    else:
        pts, y = CLASSIFICATION[dataset][0](n, noise, classes, rng)
    order = rng.permutation(n)
    return np.clip(pts[order], -DOMAIN, DOMAIN), y[order]


def split(n: int, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and test points (at least one of each when n >= 2)."""
    order = np.random.default_rng(seed + 1).permutation(n)
    n_train = int(round(train_fraction * n))
    n_train = min(max(n_train, 1), n - 1) if n >= 2 else n
    return np.sort(order[:n_train]), np.sort(order[n_train:])


# ----------------------------------------------------------------------------- your own points
def parse_csv(text: str, problem: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``x1,x2,label`` (a header row is allowed): classes 0..4 for classification (or -1/1), a number
    in [-1, 1] for regression. Raises ``ApiError`` (400) naming the first bad row."""
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]  # a header such as x1,x2,label
    if not rows:
        raise ApiError(400, "the CSV has no rows; expected lines of x1,x2,label")
    if len(rows) > MAX_POINTS:
        raise ApiError(400, f"the CSV has {len(rows):,} rows; at most {MAX_POINTS:,} are accepted")
    values = np.empty((len(rows), 3))
    for i, row in enumerate(rows, start=1):
        if len(row) != 3:
            raise ApiError(400, f"CSV row {i} has {len(row)} columns; expected 3 (x1,x2,label)")
        for j, cell in enumerate(row):
            if not _is_number(cell):
                raise ApiError(400, f"CSV row {i}, column {j + 1}: {cell.strip()[:20]!r} is not a number")
            values[i - 1, j] = float(cell)
    return check_points(values, problem)


def check_points(values: np.ndarray, problem: str) -> tuple[np.ndarray, np.ndarray]:
    """(points, labels) from rows of (x1, x2, label), checked as ``parse_csv`` describes."""
    if values.ndim != 2 or values.shape[1] != 3:
        raise ApiError(400, f"points must be rows of [x1, x2, label], got shape {list(values.shape)}")
    if not np.isfinite(values).all():
        raise ApiError(400, "points must be finite numbers (got NaN or infinity)")
    pts, label = values[:, :2], values[:, 2]
    if np.abs(pts).max(initial=0) > 1000:
        raise ApiError(400, "x1 and x2 must lie within [-1000, 1000]; the playground shows [-6, 6]")
    if problem == "regression":
        if np.abs(label).max(initial=0) > 1:
            raise ApiError(400, "regression targets must lie in [-1, 1]")
        return pts, label
    if set(np.unique(label)) <= {-1.0, 1.0}:
        label = (label > 0).astype(float)  # TensorFlow Playground's -1 / +1 classes
    if not np.array_equal(label, np.round(label)) or label.min(initial=0) < 0 or label.max(initial=0) > 4:
        raise ApiError(400, "class labels must be whole numbers 0..4 (or -1 and 1)")
    return pts, label.astype(np.int64)


def _is_number(cell: str) -> bool:
    try:
        return np.isfinite(float(cell))
    except ValueError:
        return False
