"""The compiled kernels (glassnet._kernels, numba) against the NumPy code they replace: the same arrays, in the same
dtype and memory layout, within float32 rounding; gradients through them; NaN; seeds; the switch and its laziness."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import missing

import glassnet as gn
import glassnet._kernels as kernels
from glassnet.nn.conv import Conv2D, MaxPool2D
from glassnet.nn.recurrent import LSTM

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def numba_installed():
    if importlib.util.find_spec("numba") is None:
        missing("numba is not installed; pip install '.[fast]'")
    previous = kernels.set_kernels("auto")
    yield
    kernels.set_kernels(previous)


def cnn(dtype, seed=0):
    """Padding, an overlapping pool and an input gradient through the second convolution."""
    return gn.Sequential([gn.Reshape((1, 12, 12)), Conv2D(1, 4, 3, activation="relu"), MaxPool2D(2),
                          Conv2D(4, 6, 3, padding=1, activation="relu"), MaxPool2D(3, stride=2), gn.Flatten(),
                          gn.Dense(6 * 2 * 2, 3, activation="softmax")], seed=seed, input_shape=(144,), dtype=dtype)


def lstm(dtype, seed=0, sequences=False):
    layers = [gn.Reshape((6, 5)), LSTM(5, 7, return_sequences=sequences)]
    if sequences:
        layers += [LSTM(7, 4)]
    return gn.Sequential(layers + [gn.Dense(4 if sequences else 7, 3, activation="softmax")], seed=seed,
                         input_shape=(30,), dtype=dtype)


GLASS = ("input", "z", "a", "output", "delta", "cols", "argmax", "gate_values", "c", "h")


def one_pass(make, choice, dtype, x=None, seed=0):
    """Every array each layer exposes after a training pass forward and backward, and the parameter gradients."""
    kernels.set_kernels(choice)
    model = make(dtype, seed)
    model.compile(loss="cross_entropy")
    if x is None:
        x = np.random.default_rng(1).random((10, model.input_shape[0])).astype(dtype)
    y = np.arange(10) % 3
    model.backprop(x, model.as_targets(y, 10))
    arrays = {}
    for i, layer in enumerate(model.layers):
        for name in GLASS:
            value = getattr(layer, name, None)
            if isinstance(value, np.ndarray):
                arrays[f"{i}.{name}"] = value.copy(order="K"), value.strides
        for p in layer.params:
            arrays[f"{i}.d{p.name}"] = p.grad.copy(), p.grad.strides
    return arrays


@pytest.mark.parametrize("make", [cnn, lstm, lambda d, s: lstm(d, s, sequences=True)], ids=["cnn", "lstm", "lstm2"])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_kernels_fill_every_array_as_numpy_does(numba_installed, make, dtype, tol):
    ref, fast = one_pass(make, "numpy", dtype), one_pass(make, "numba", dtype)
    assert ref.keys() == fast.keys()
    assert ({"2.argmax", "3.cols"} if make is cnn else {"1.gate_values", "1.c", "1.delta"}) <= ref.keys()
    for name, (a, strides) in ref.items():
        b, strides_b = fast[name]
        assert (b.dtype, b.shape, strides_b) == (a.dtype, a.shape, strides), name
        if a.dtype.kind == "f":
            assert np.max(np.abs(b - a)) <= tol * max(np.max(np.abs(a)), 1e-30), name
        else:
            np.testing.assert_array_equal(b, a, err_msg=name)  # the argmax masks


def test_lstm_backward_is_numpys_to_the_bit(numba_installed):
    """The backward step does NumPy's operations in NumPy's order: same forward values give the same deltas."""
    rng = np.random.default_rng(0)
    x, g = rng.normal(size=(8, 6, 5)), rng.normal(size=(8, 7))
    deltas = []
    for choice in ("numpy", "numba"):
        kernels.set_kernels("numpy")
        layer = LSTM(5, 7)
        layer.build((6, 5), np.dtype(np.float64), np.random.default_rng(2))
        layer.forward(x, training=True)
        kernels.set_kernels(choice)
        layer.backward(g.copy())
        deltas.append((layer.delta.copy(), layer.W_h.grad.copy()))
    for a, b in zip(*deltas, strict=True):
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("make", [cnn, lambda d, s: lstm(d, s, sequences=True)], ids=["cnn", "lstm2"])
def test_gradients_through_the_kernels(numba_installed, make):
    kernels.set_kernels("numba")
    model = make(np.float64, 3)
    model.compile(loss="cross_entropy")
    X = np.random.default_rng(4).random((4, model.input_shape[0]))
    result = gn.gradcheck(model, X, np.arange(4) % 3)
    assert result.max_error < 1e-6, str(result)


@pytest.mark.parametrize("choice", ["numpy", "numba"])
@pytest.mark.parametrize("make", [cnn, lstm], ids=["cnn", "lstm"])
def test_a_nan_propagates(numba_installed, choice, make):
    x = np.random.default_rng(1).random((10, 144 if make is cnn else 30)).astype(np.float32)
    x[3, 20] = np.nan
    arrays = one_pass(make, choice, np.float32, x)
    out = arrays["6.output" if make is cnn else "2.output"][0]
    assert np.isnan(out[3]).all() and not np.isnan(np.delete(out, 3, axis=0)).any()
    assert np.isnan(arrays["1.dW" if make is cnn else "1.dW_h"][0]).any()


def test_float32_tanh_is_accurate_and_keeps_nan_and_inf(numba_installed):
    from numba import njit

    from glassnet._kernels.jit import tanh

    @njit
    def apply(x, out):
        for k in range(x.size):
            out[k] = tanh(x[k])

    x = np.concatenate([np.linspace(-12, 12, 200_001, dtype=np.float32), np.float32([np.nan, np.inf, -np.inf, -0.0]),
                        np.geomspace(1e-8, 10, 10_000, dtype=np.float32)])
    out = np.empty_like(x)
    apply(x, out)
    exact = np.tanh(x[:-10_004].astype(np.float64))
    assert out.dtype == np.float32
    assert np.max(np.abs(out[:-10_004] - exact) / np.maximum(np.abs(exact), 1e-30)) < 4e-7
    assert np.isnan(out[-10_004]) and out[-10_003] == 1 and out[-10_002] == -1 and np.signbit(out[-10_001])
    tiny = x[-10_000:]
    assert np.max(np.abs(out[-10_000:] - np.tanh(tiny.astype(np.float64))) / np.tanh(tiny.astype(np.float64))) < 4e-7
    assert np.nanmax(np.abs(out)) <= 1


@pytest.mark.parametrize("choice", ["numpy", "numba"])
def test_seeded_runs_are_bit_identical_with_batches_split_over_threads(numba_installed, choice, monkeypatch):
    import glassnet._base.blas as blas

    monkeypatch.setattr(blas, "blas_thread_count", lambda: 2)  # in_parts runs 2 blocks side by side
    monkeypatch.setattr(blas, "PART_MIN_ROWS", 2)
    kernels.set_kernels(choice)
    X = np.random.default_rng(0).random((48, 144)).astype(np.float32)
    y = np.arange(48) % 3
    runs = []
    for _ in range(2):
        model = cnn(np.float32, 5)
        model.compile(loss="cross_entropy", optimizer=gn.Adam(0.01))
        history = model.fit(X, y, epochs=2, batch_size=16, seed=7, verbose=0)
        runs.append((history.history["loss"], [p.value.copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_switch(numba_installed, monkeypatch):
    assert kernels.kernels() == "numba"  # auto, with numba installed
    assert kernels.set_kernels("numpy") == "auto" and gn.kernels() == "numpy" and kernels.compiled() is None
    with pytest.raises(ValueError, match="set_kernels must be one of auto, numpy, numba, got 'fast'"):
        gn.set_kernels("fast")
    monkeypatch.setattr(kernels, "_found", [False])  # as if numba were not installed
    kernels.set_kernels("auto")
    assert kernels.kernels() == "numpy"
    with pytest.raises(ImportError, match=r"set_kernels\('numba'\) needs numba: pip install 'glassnet\[fast\]'"):
        kernels.set_kernels("numba")


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": SRC, **env})


def test_numba_is_imported_only_by_a_layer_that_uses_a_kernel(numba_installed, tmp_path):
    code = """
import sys, numpy as np, glassnet as gn
dense = gn.Sequential([gn.Dense(4, 3, activation="relu"), gn.Dense(3, 2, activation="softmax")], seed=0)
dense.predict(np.ones((2, 4)))
print("numba" in sys.modules, gn.kernels())
rnn = gn.Sequential([gn.LSTM(2, 3), gn.Dense(3, 2)], seed=0, input_shape=(4, 2))
rnn.predict(np.ones((1, 4, 2)))
print("numba" in sys.modules)
"""
    out = run_python(code)
    assert out.returncode == 0 and out.stdout.split() == ["False", "numba", "True"], out.stderr
    out = run_python(code, GLASSNET_KERNELS="numpy")
    assert out.returncode == 0 and out.stdout.split() == ["False", "numpy", "False"], out.stderr
    out = run_python(code, GLASSNET_KERNELS="fastest")
    assert out.returncode != 0 and "GLASSNET_KERNELS must be one of auto, numpy, numba, got 'fastest'" in out.stderr
