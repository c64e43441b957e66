"""Conv2D, MaxPool2D, AvgPool2D: forward against plain loops, backward against finite differences."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.model.gradcheck import numerical_gradient, relative_error
from glassnet.nn.conv import AvgPool2D, Conv2D, MaxPool2D

TOL = 1e-6
pytestmark = pytest.mark.usefixtures("kernels_choice")  # each test on NumPy and on the compiled kernels


def naive_conv(x, W, b, stride, padding):
    """z[n, k, i, j] = b_k + sum_{c,u,v} W[k, c, u, v] xpad[n, c, s i + u, s j + v], one pixel at a time."""
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, w = x.shape
    k, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    z = np.zeros((n, k, ho, wo))
    for s in range(n):
        for o in range(k):
            for i in range(ho):
                for j in range(wo):
                    z[s, o, i, j] = b[o] + np.sum(W[o] * xp[s, :, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return z


def naive_pool(x, size, stride, reduce):
    n, c, h, w = x.shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(x[:, :, i * stride:i * stride + size, j * stride:j * stride + size], axis=(2, 3))
    return out


def built(layer, input_shape, dtype=np.float64, seed=0):
    layer.build(input_shape, np.dtype(dtype), np.random.default_rng(seed))
    return layer


def check_model(layers, X, Y, input_shape, loss="cross_entropy"):
    model = gn.Sequential(layers, dtype=np.float64, seed=1, input_shape=input_shape)
    model.compile(loss=loss)
    result = gn.gradcheck(model, X, Y)
    assert len(result.errors) == 2 * sum(isinstance(layer, (Conv2D, gn.Dense)) for layer in layers)
    assert result.max_error < TOL, str(result)


def check_input_grad(layer, x, rng):
    """dC/dx from ``backward`` against central differences of C = sum(R * layer(x))."""
    r = rng.normal(size=layer.forward(x).shape)
    analytic = layer.backward(r.copy())
    numeric = numerical_gradient(lambda v: float(np.sum(r * layer.forward(v))), x.copy())
    assert analytic.shape == x.shape
    assert relative_error(analytic, numeric) < TOL


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("kernel,stride,padding", [
    (3, 1, 0), (3, 2, 1), (2, 1, 1), (3, 3, 2), ((3, 2), (2, 1), (1, 0)), (1, 1, 0),
])
def test_conv_forward_equals_naive_loops(kernel, stride, padding, rng):
    layer = built(Conv2D(3, 4, kernel, stride=stride, padding=padding), (3, 8, 7))
    layer.b.value[:] = rng.normal(size=4)
    x = rng.normal(size=(2, 3, 8, 7))
    z = layer.forward(x)
    expected = naive_conv(x, layer.W.value, layer.b.value, layer.stride, layer.padding)
    assert z.shape == (2, *layer.output_shape) == expected.shape
    np.testing.assert_allclose(z, expected, rtol=1e-12, atol=1e-12)


def test_conv_accepts_any_memory_layout_and_applies_activation(rng):
    layer = built(Conv2D(2, 3, 3, padding=1, activation="relu"), (2, 5, 5))
    x = rng.normal(size=(4, 5, 5, 2)).transpose(0, 3, 1, 2)  # channels-last memory
    a = layer.forward(np.ascontiguousarray(x)).copy()
    np.testing.assert_array_equal(layer.forward(x), a)
    np.testing.assert_array_equal(layer.output, np.maximum(layer.z, 0))
    assert layer.a is layer.output
    assert layer.cols.shape == (4 * 5 * 5, 3 * 3 * 2)


def test_inference_in_chunks_matches_one_pass(monkeypatch, rng):
    layer = built(Conv2D(2, 3, 3, padding=1), (2, 6, 6))
    x = rng.normal(size=(7, 2, 6, 6))
    r = rng.normal(size=(7, 3, 6, 6))
    whole = layer.forward(x, training=True).copy()
    dx = layer.backward(r.copy()).copy()
    monkeypatch.setattr("glassnet.nn.conv._COLS_LIMIT", 2 * 36 * 18)  # two samples per chunk
    np.testing.assert_allclose(layer.forward(x), whole, rtol=1e-13)
    assert layer.cols is None  # not kept after chunking; backward rebuilds it
    np.testing.assert_allclose(layer.backward(r.copy()), dx, rtol=1e-13)


def test_conv_float32_by_default():
    model = gn.Sequential([Conv2D(1, 2, 3), gn.Flatten()], input_shape=(1, 5, 5))
    assert model.layers[0].W.value.dtype == np.float32
    assert model.predict(np.ones((2, 1, 5, 5))).dtype == np.float32


@pytest.mark.parametrize("size,stride", [(2, None), (3, 2), (2, 1), (3, 3)])
def test_pool_forward_equals_naive_loops(size, stride, rng):
    x = rng.normal(size=(2, 3, 7, 8))
    s = size if stride is None else stride
    mp = built(MaxPool2D(size, stride), (3, 7, 8))
    ap = built(AvgPool2D(size, stride), (3, 7, 8))
    np.testing.assert_array_equal(mp.forward(x), naive_pool(x, size, s, np.max))
    np.testing.assert_allclose(ap.forward(x), naive_pool(x, size, s, np.mean), rtol=1e-12)
    assert mp.output.shape == (2, *mp.output_shape)


def test_maxpool_tie_sends_the_gradient_to_one_winner():
    layer = built(MaxPool2D(2), (1, 4, 4))
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[0.0, 5.0], [5.0, 5.0]]
    layer.forward(x)
    dx = layer.backward(np.full((1, 1, 2, 2), 3.0))
    assert np.count_nonzero(dx) == 4  # one per window, although every window has ties
    assert dx[0, 0, 0, 0] == dx[0, 0, 0, 2] == dx[0, 0, 2, 0] == 3.0  # the first maximum, row-major
    assert dx[0, 0, 2, 3] == 3.0
    np.testing.assert_array_equal(layer.argmax[0, 0], [[0, 0], [0, 1]])


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 1)])
@pytest.mark.parametrize("channels", [(1, 2, 3), (3, 2, 1)])
@pytest.mark.parametrize("activation", [None, "tanh"])
def test_conv_gradients(stride, padding, channels, activation, rng):
    """The checked Conv2D sits second, so its dC/dx is tested through the first layer's gradients."""
    c_in, c_mid, c_out = channels
    X, y = rng.normal(size=(3, c_in, 7, 6)), rng.integers(0, 3, 3)
    layers = [Conv2D(c_in, c_mid, 2, activation="sigmoid"),
              Conv2D(c_mid, c_out, 3, stride=stride, padding=padding, activation=activation),
              gn.Flatten(), gn.Dense(None, 3, activation="softmax")]
    check_model(layers, X, y, (c_in, 7, 6))


def test_conv_gradients_with_mse_and_rectangular_kernels(rng):
    X, Y = rng.normal(size=(3, 2, 6, 7)), rng.normal(size=(3, 2))
    layers = [Conv2D(2, 3, (2, 3), stride=(1, 2), padding=(1, 0), activation="softplus"),
              Conv2D(3, 2, (3, 1), stride=(2, 1), padding=(0, 1)), gn.Flatten(), gn.Dense(None, 2)]
    check_model(layers, X, Y, (2, 6, 7), loss="mse")


@pytest.mark.parametrize("pool", [MaxPool2D(2), MaxPool2D(3, 2), MaxPool2D(2, 1), AvgPool2D(2), AvgPool2D(3, 2),
                                  AvgPool2D(2, 1)], ids=repr)
def test_pool_gradients(pool, rng):
    X, y = rng.normal(size=(3, 2, 8, 7)), rng.integers(0, 3, 3)
    layers = [Conv2D(2, 3, 2, activation="tanh"), pool, gn.Flatten(), gn.Dense(None, 3, activation="softmax")]
    check_model(layers, X, y, (2, 8, 7))


@pytest.mark.parametrize("make", [
    lambda: Conv2D(2, 3, 3, stride=2, padding=1, activation="tanh"),
    lambda: Conv2D(2, 2, (2, 3), stride=(1, 2)),
    lambda: MaxPool2D(2), lambda: MaxPool2D(3, 2), lambda: AvgPool2D(2), lambda: AvgPool2D(3, 1),
])
def test_input_gradients(make, rng):
    layer = built(make(), (2, 7, 6))
    check_input_grad(layer, rng.normal(size=(2, 2, 7, 6)), rng)


def test_first_layer_skips_the_input_gradient(rng):
    model = gn.Sequential([Conv2D(1, 2, 3), gn.Flatten(), gn.Dense(None, 2, activation="softmax")],
                          input_shape=(1, 5, 5)).compile("cross_entropy")
    assert not model.layers[0].needs_input_grad
    model.predict(np.ones((3, 1, 5, 5)))
    assert model.layers[0].backward(np.ones((3, 2, 3, 3), np.float32)) is None


def test_no_input_gradient_before_the_first_weights():
    model = gn.Sequential([gn.Reshape((1, 6, 6)), Conv2D(1, 2, 3), MaxPool2D(2), Conv2D(2, 2, 2), gn.Flatten(),
                           gn.Dense(None, 2, activation="softmax")], input_shape=(36,)).compile("cross_entropy")
    assert [layer.needs_input_grad for layer in model.layers] == [False, False, True, True, True, True]
    X, y = np.random.default_rng(0).random((4, 36)), np.array([0, 1, 0, 1])
    model.inspect(X.astype(np.float32), y)
    assert np.abs(model.layers[1].W.grad).sum() > 0


# ----------------------------------------------------------------------------- shapes, files, training
def test_shapes_and_summary():
    model = gn.Sequential([Conv2D(1, 4, 5, padding=2, activation="relu"), MaxPool2D(2),
                           Conv2D(4, 6, 3, stride=2), AvgPool2D(2), gn.Flatten(),
                           gn.Dense(None, 10, activation="softmax")], input_shape=(1, 28, 28))
    shapes = [layer.output_shape for layer in model.layers]
    assert shapes == [(4, 28, 28), (4, 14, 14), (6, 6, 6), (6, 3, 3), (54,), (10,)]
    assert model.layers[2].W.value.shape == (6, 4, 3, 3)
    assert model.count_params() == 4 * 25 + 4 + 6 * 4 * 9 + 6 + 54 * 10 + 10
    text = model.summary_text()
    for part in ("conv2d_1", "Conv2D 5x5, pad=2, relu", "(None, 4, 28, 28)", "maxpool2d_1", "MaxPool2D 2x2",
                 "Conv2D 3x3, stride=2", "AvgPool2D 2x2", "(None, 6, 3, 3)"):
        assert part in text


@pytest.mark.parametrize("make,shape,match", [
    (lambda: Conv2D(1, 2, 3), (1, 28), "channels, height, width"),
    (lambda: Conv2D(3, 2, 3), (1, 8, 8), "3 input channels"),
    (lambda: Conv2D(1, 2, 9), (1, 8, 8), "does not fit"),
    (lambda: MaxPool2D(3), (1, 2, 2), "does not fit"),
])
def test_bad_shapes_raise(make, shape, match):
    with pytest.raises(ValueError, match=match):
        gn.Sequential([make()], input_shape=shape)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(1, 2, 0)
    with pytest.raises(ValueError, match="padding"):
        Conv2D(1, 2, 3, padding=-1)
    with pytest.raises(ValueError, match="out_channels"):
        Conv2D(1, 0, 3)
    with pytest.raises(ValueError, match="stride"):
        MaxPool2D(2, stride=(1, 2, 3))
    with pytest.raises(ValueError, match="input_shape"):
        gn.Sequential([Conv2D(1, 2, 3)])


def test_save_load_round_trip(tmp_path, rng):
    model = gn.Sequential([Conv2D(None, 3, 3, padding=1, activation="relu"), MaxPool2D(2),
                           Conv2D(3, 2, (2, 3), stride=(1, 2)), AvgPool2D(2, 1), gn.Flatten(),
                           gn.Dense(None, 4, activation="softmax")], input_shape=(2, 8, 12), seed=3)
    model.compile("cross_entropy", gn.Adam(0.01))
    X = rng.normal(size=(5, 2, 8, 12)).astype(np.float32)
    model.fit(X, rng.integers(0, 4, 5), epochs=2, verbose=0)
    model.save(tmp_path / "cnn.npz")
    loaded = gn.load(tmp_path / "cnn.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert loaded.summary_text() == model.summary_text()


def bars(n, rng):
    """8x8 images holding one horizontal (class 0) or vertical (class 1) bar, plus noise."""
    y = rng.integers(0, 2, n)
    X = rng.normal(0, 0.1, size=(n, 1, 8, 8))
    pos = rng.integers(0, 8, n)
    for i in range(n):
        if y[i]:
            X[i, 0, :, pos[i]] += 1.0
        else:
            X[i, 0, pos[i], :] += 1.0
    return X.astype(np.float32), y


def test_a_small_cnn_learns_bar_orientation_reproducibly(rng):
    X, y = bars(200, rng)

    def train():
        model = gn.Sequential([Conv2D(1, 4, 3, padding=1, activation="relu"), MaxPool2D(2), gn.Flatten(),
                               gn.Dense(None, 2, activation="softmax")], input_shape=(1, 8, 8), seed=0)
        model.compile("cross_entropy", gn.Adam(0.01))
        return model, model.fit(X, y, epochs=5, batch_size=20, seed=0, verbose=0)

    model, history = train()
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    Xt, yt = bars(100, rng)
    assert model.evaluate(Xt, yt)["accuracy"] >= 0.95
    again, history2 = train()
    assert history2.history["loss"] == history.history["loss"]
    np.testing.assert_array_equal(again.layers[0].W.value, model.layers[0].W.value)


def test_batch_split_over_threads_gives_the_unsplit_result(rng, monkeypatch):
    import glassnet._base.blas as blas

    x = rng.normal(size=(5, 2, 7, 6))
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(blas, "blas_thread_count", lambda threads=threads: threads)
        layer = built(Conv2D(2, 3, 3, stride=(2, 1), padding=1, activation="tanh"), (2, 7, 6))
        out = layer.forward(x, training=True)
        grad = rng.normal(size=out.shape) if not runs else runs[0][2]
        runs.append((out, layer.backward(grad.copy()), grad, layer.W.grad.copy(), layer.forward(x)))
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
