import numpy as np
import pytest

from glassnet.datasets.toy import blobs, circles, logic_gate, moons, spirals, train_val_test_split

TABLES = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "nand": [1, 1, 1, 0],
    "nor": [1, 0, 0, 0],
    "xor": [0, 1, 1, 0],
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_gate_truth_tables(name):
    X, y = logic_gate(name.upper())
    assert X.dtype == np.float32 and X.shape == (4, 2)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, TABLES[name])


def test_not_gate_and_unknown_gate():
    X, y = logic_gate("not", dtype=np.float64)
    assert X.shape == (2, 1) and X.dtype == np.float64
    np.testing.assert_array_equal(y, [1 - int(x) for x in X[:, 0]])
    with pytest.raises(ValueError, match="unknown logic gate 'xnor'; known: and, nand, nor, not, or, xor"):
        logic_gate("xnor")


GENERATORS = [
    (blobs, {"n_samples": 301, "n_classes": 3, "n_features": 4}, 4, 3),
    (moons, {"n_samples": 201}, 2, 2),
    (circles, {"n_samples": 201}, 2, 2),
    (spirals, {"n_samples": 301, "n_classes": 3}, 2, 3),
]


@pytest.mark.parametrize("make, kwargs, n_features, n_classes", GENERATORS)
def test_generators_shape_dtype_balance_determinism(make, kwargs, n_features, n_classes):
    X, y = make(**kwargs, seed=7)
    n = kwargs["n_samples"]
    assert X.shape == (n, n_features) and X.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    X2, y2 = make(**kwargs, seed=7)
    assert X.tobytes() == X2.tobytes() and np.array_equal(y, y2)
    X3, _ = make(**kwargs, seed=np.random.default_rng(7))
    assert X.tobytes() == X3.tobytes()
    X4, _ = make(**kwargs, seed=8)
    assert not np.array_equal(X, X4)
    assert make(**kwargs, seed=7, dtype=np.float64)[0].dtype == np.float64


def test_blobs_separable_by_nearest_centre():
    X, y = blobs(400, n_classes=4, spread=0.3, seed=0)
    centres = np.stack([X[y == c].mean(axis=0) for c in range(4)])
    nearest = np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    assert np.array_equal(nearest, y)


def test_circles_radii_and_spiral_arms():
    X, y = circles(200, noise=0.0, factor=0.3, seed=1)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, rtol=1e-6)
    X, y = spirals(300, n_classes=3, noise=0.0, seed=1)
    assert np.hypot(X[:, 0], X[:, 1]).max() <= 1.0 + 1e-6
    assert set(np.unique(y)) == {0, 1, 2}


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (spirals, {"n_classes": 1}, "n_classes must be an integer >= 2, got 1"),
        (blobs, {"n_samples": 2, "n_classes": 3}, "n_samples must be >= n_classes = 3, got 2"),
        (moons, {"noise": -0.1}, "noise must be a finite number >= 0"),
        (circles, {"factor": 1.5}, r"factor must be in \(0, 1\), got 1.5"),
    ],
)
def test_generator_errors(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


def test_split_sizes_disjoint_and_stratified():
    y = np.repeat([0, 1, 2], [500, 300, 200])
    X = np.arange(1000, dtype=np.float32)[:, None]
    X_tr, y_tr, X_va, y_va, X_te, y_te = train_val_test_split(X, y, val=0.2, test=0.1, seed=3)
    assert (len(y_tr), len(y_va), len(y_te)) == (700, 200, 100)
    ids = np.concatenate([X_tr[:, 0], X_va[:, 0], X_te[:, 0]]).astype(int)
    assert np.array_equal(np.sort(ids), np.arange(1000))
    np.testing.assert_array_equal(y[ids], np.concatenate([y_tr, y_va, y_te]))
    for part, frac in ((y_va, 0.2), (y_te, 0.1)):
        assert np.all(np.abs(np.bincount(part, minlength=3) - frac * np.array([500, 300, 200])) <= 1)
    again = train_val_test_split(X, y, val=0.2, test=0.1, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(again, (X_tr, y_tr, X_va, y_va, X_te, y_te), strict=True))


def test_split_unstratified_and_small_class():
    y = np.array([0] * 95 + [1] * 5)
    X = np.zeros((100, 3))
    _, y_tr, _, y_va, _, y_te = train_val_test_split(X, y, val=0.2, test=0.2, seed=0)
    assert np.bincount(y_va).tolist() == [19, 1] and np.bincount(y_te).tolist() == [19, 1]
    parts = train_val_test_split(X, y, val=0.2, test=0.2, seed=0, stratify=False)
    assert [len(p) for p in parts[1::2]] == [60, 20, 20]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"val": -0.1}, r"val must be a fraction in \[0, 1\), got -0.1"),
        ({"test": 1.0}, r"test must be a fraction in \[0, 1\), got 1.0"),
        ({"val": 0.5, "test": 0.5}, "val \\+ test must be < 1"),
    ],
)
def test_split_fraction_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_val_test_split(np.zeros((10, 2)), np.zeros(10, dtype=int), **kwargs)


def test_split_length_mismatch():
    with pytest.raises(ValueError, match=r"same number of samples, got shapes \(10, 2\) and \(9,\)"):
        train_val_test_split(np.zeros((10, 2)), np.zeros(9, dtype=int))
