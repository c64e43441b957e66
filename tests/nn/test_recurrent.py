"""RNN and LSTM: forward against the textbook equations, backpropagation through time against finite
differences."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.model.gradcheck import numerical_gradient, relative_error
from glassnet.nn.gru import GRU
from glassnet.nn.recurrent import LSTM, RNN

TOL = 1e-6
pytestmark = pytest.mark.usefixtures("kernels_choice")  # each test on NumPy and on the compiled kernels


def sigma(z):
    return 1.0 / (1.0 + np.exp(-z))


def naive_rnn(x, W_x, W_h, b):
    """h_t = tanh(x_t W_x + h_(t-1) W_h + b), one sample and one step at a time."""
    n, T, _ = x.shape
    H = np.zeros((n, T, W_h.shape[0]))
    for s in range(n):
        h = np.zeros(W_h.shape[0])
        for t in range(T):
            h = np.tanh(x[s, t] @ W_x + h @ W_h + b)
            H[s, t] = h
    return H


def naive_lstm(x, W_x, W_h, b):
    n, T, _ = x.shape
    k = W_h.shape[0]
    H, C = np.zeros((n, T, k)), np.zeros((n, T, k))
    for s in range(n):
        h, c = np.zeros(k), np.zeros(k)
        for t in range(T):
            z = x[s, t] @ W_x + h @ W_h + b
            i, f, o, g = sigma(z[:k]), sigma(z[k:2 * k]), sigma(z[2 * k:3 * k]), np.tanh(z[3 * k:])
            c = f * c + i * g
            h = o * np.tanh(c)
            H[s, t], C[s, t] = h, c
    return H, C


def built(layer, input_shape, seed=0):
    layer.build(input_shape, np.dtype(np.float64), np.random.default_rng(seed))
    return layer


def check_model(layers, X, Y, loss="cross_entropy"):
    model = gn.Sequential(layers, dtype=np.float64, seed=1, input_shape=X.shape[1:])
    model.compile(loss=loss)
    result = gn.gradcheck(model, X, Y)
    assert len(result.errors) == sum(len(layer.params) for layer in layers)
    assert result.max_error < TOL, str(result)


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("T", [1, 4])
def test_rnn_forward_equals_the_equations(T, rng):
    layer = built(RNN(3, 5, return_sequences=True), (T, 3))
    layer.b.value[:] = rng.normal(size=5)
    x = rng.normal(size=(2, T, 3))
    out = layer.forward(x)
    expected = naive_rnn(x, layer.W_x.value, layer.W_h.value, layer.b.value)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.h, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.tanh(layer.z), expected, rtol=1e-12, atol=1e-14)
    last = built(RNN(3, 5), (T, 3))
    np.testing.assert_allclose(last.forward(x), naive_rnn(x, last.W_x.value, last.W_h.value, last.b.value)[:, -1])


@pytest.mark.parametrize("T", [1, 4])
def test_lstm_forward_equals_the_equations(T, rng):
    layer = built(LSTM(3, 4, return_sequences=True), (T, 3))
    x = rng.normal(size=(2, T, 3))
    out = layer.forward(x)
    H, C = naive_lstm(x, layer.W_x.value, layer.W_h.value, layer.b.value)
    np.testing.assert_allclose(out, H, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.c, C, rtol=1e-12, atol=1e-14)
    for gate in (layer.input_gate, layer.forget_gate, layer.output_gate):
        assert gate.shape == (2, T, 4) and np.all((gate > 0) & (gate < 1))
    np.testing.assert_allclose(layer.h, layer.output_gate * np.tanh(layer.c), rtol=1e-12)
    np.testing.assert_allclose(layer.candidate, np.tanh(layer.z[:, :, 12:]), rtol=1e-12)


def test_initial_weights():
    layer = built(LSTM(3, 4), (2, 3))
    np.testing.assert_array_equal(layer.b.value, [0] * 4 + [1] * 4 + [0] * 8)  # forget-gate bias 1
    assert layer.W_x.value.shape == (3, 16) and layer.W_h.value.shape == (4, 16)
    for k in range(4):  # each gate's recurrent block is orthogonal
        block = layer.W_h.value[:, 4 * k:4 * (k + 1)]
        np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-12)
    rnn = built(RNN(3, 5), (2, 3))
    np.testing.assert_allclose(rnn.W_h.value @ rnn.W_h.value.T, np.eye(5), atol=1e-12)
    assert not rnn.b.value.any()


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("T", [1, 3, 5])
@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_gradients_through_time(cls, sequences, T, rng):
    """Two stacked layers, so the upper one's dC/dx is tested through the lower one's gradients."""
    X, y = rng.normal(size=(4, T, 3)), rng.integers(0, 3, 4)
    layers = [RNN(3, 4, return_sequences=True), cls(4, 3, return_sequences=sequences)]
    if sequences:
        layers.append(gn.Flatten())
    check_model([*layers, gn.Dense(None, 3, activation="softmax")], X, y)


@pytest.mark.parametrize("lower", [RNN, LSTM, GRU])
def test_lstm_under_another_layer_and_mse(lower, rng):
    X, Y = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 2))
    check_model([lower(2, 3, return_sequences=True), LSTM(3, 3), gn.Dense(None, 2)], X, Y, loss="mse")


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softsign"])
def test_rnn_other_activations(activation, rng):
    X, y = rng.normal(size=(4, 3, 2)), rng.integers(0, 2, 4)
    check_model([RNN(2, 4, activation=activation), gn.Dense(None, 2, activation="softmax")], X, y)


@pytest.mark.parametrize("make", [lambda: RNN(3, 4, return_sequences=True), lambda: RNN(3, 4),
                                  lambda: LSTM(3, 4, return_sequences=True), lambda: LSTM(3, 4),
                                  lambda: GRU(3, 4, return_sequences=True), lambda: GRU(3, 4)])
def test_input_gradients(make, rng):
    layer = built(make(), (5, 3))
    x = rng.normal(size=(2, 5, 3))
    r = rng.normal(size=layer.forward(x).shape)
    analytic = layer.backward(r.copy())
    numeric = numerical_gradient(lambda v: float(np.sum(r * layer.forward(v))), x.copy())
    assert analytic.shape == x.shape
    assert relative_error(analytic, numeric) < TOL


# ----------------------------------------------------------------------------- shapes, files, training
def test_shapes_summary_and_stored_states():
    model = gn.Sequential([LSTM(3, 8, return_sequences=True), RNN(8, 5), gn.Dense(5, 2, activation="softmax")],
                          input_shape=(6, 3))
    assert [layer.output_shape for layer in model.layers] == [(6, 8), (5,), (2,)]
    assert model.count_params() == (3 * 32 + 8 * 32 + 32) + (8 * 5 + 5 * 5 + 5) + (5 * 2 + 2)
    text = model.summary_text()
    for part in ("lstm_1", "LSTM, sequences", "(None, 6, 8)", "rnn_1", "RNN, tanh", "(None, 5)"):
        assert part in text
    model.compile("cross_entropy")
    model.backprop(np.ones((2, 6, 3), np.float32), gn.one_hot([0, 1], 2))
    lstm, rnn = model.layers[:2]
    assert lstm.z.shape == lstm.delta.shape == (2, 6, 32)
    assert lstm.c.shape == lstm.h.shape == lstm.forget_gate.shape == (2, 6, 8)
    assert rnn.z.shape == rnn.h.shape == (2, 6, 5) and rnn.output.shape == (2, 5)
    np.testing.assert_array_equal(rnn.output, rnn.h[:, -1])
    assert lstm.delta.dtype == np.float32


def test_bad_input_raises():
    with pytest.raises(ValueError, match=r"input_shape=\(T, 3\)"):
        gn.Sequential([RNN(3, 4)])
    with pytest.raises(ValueError, match="4 features"):
        gn.Sequential([LSTM(4, 2)], input_shape=(5, 3))
    with pytest.raises(ValueError, match="elementwise activation"):
        RNN(3, 4, activation="softmax")
    with pytest.raises(ValueError, match="n_hidden"):
        LSTM(3, 0)


def test_save_load_round_trip(tmp_path, rng):
    model = gn.Sequential([LSTM(None, 4, return_sequences=True), RNN(4, 3, activation="relu"),
                           gn.Dense(None, 2, activation="softmax")], input_shape=(5, 2), seed=2)
    model.compile("cross_entropy", gn.Adam(0.01), l2=1e-3)
    X = rng.normal(size=(6, 5, 2)).astype(np.float32)
    model.fit(X, rng.integers(0, 2, 6), epochs=2, verbose=0)
    model.save(tmp_path / "rnn.npz")
    loaded = gn.load(tmp_path / "rnn.npz")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert loaded.summary_text() == model.summary_text()


@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_learns_to_remember_the_first_step(cls, rng):
    """Class = sign of the first of 6 noisy steps: the state must carry it to the end."""
    X = rng.normal(size=(300, 6, 1)).astype(np.float32)
    y = (X[:, 0, 0] > 0).astype(np.int64)
    model = gn.Sequential([cls(1, 8), gn.Dense(None, 2, activation="softmax")], input_shape=(6, 1), seed=0)
    model.compile("cross_entropy", gn.Adam(0.02))
    history = model.fit(X[:200], y[:200], epochs=30, batch_size=20, seed=0, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.evaluate(X[200:], y[200:])["accuracy"] >= 0.9


# ----------------------------------------------------------------------------- blocks of rows in threads
@pytest.mark.parametrize("make", [lambda: LSTM(3, 5, return_sequences=True), lambda: RNN(3, 5),
                                  lambda: LSTM(3, 5)])
def test_the_time_loop_split_over_threads_gives_the_unsplit_result(make, rng, monkeypatch):
    import glassnet._base.blas as blas

    x = rng.normal(size=(2 * blas.PART_MIN_ROWS + 3, 4, 3))
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(blas, "blas_thread_count", lambda threads=threads: threads)
        layer = built(make(), (4, 3))
        out = layer.forward(x, training=True)
        grad = rng.normal(size=out.shape) if not runs else runs[0][3]
        dx = layer.backward(grad.copy())
        runs.append((out, dx, [p.grad.copy() for p in layer.params], grad))
    (out1, dx1, g1, _), (out2, dx2, g2, _) = runs
    np.testing.assert_allclose(out2, out1, rtol=1e-12)
    np.testing.assert_allclose(dx2, dx1, rtol=1e-12, atol=1e-14)
    for a, b in zip(g2, g1, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_in_parts_covers_every_row_once_and_passes_errors_on(monkeypatch):
    import glassnet._base.blas as blas

    monkeypatch.setattr(blas, "blas_thread_count", lambda: 2)
    seen = np.zeros(50, int)

    def mark(rows):
        seen[rows] += 1

    blas.in_parts(50, mark)
    assert seen.tolist() == [1] * 50

    def fail(rows):
        raise ValueError(f"rows {rows.start}")

    with pytest.raises(ValueError, match="rows"):
        blas.in_parts(50, fail)


def test_gru_forward_is_the_textbook_recurrence(rng):
    """z, r, n and h of every step, with every bias non-zero (b_hn apart, inside the reset gate's product)."""
    layer = built(GRU(3, 4, return_sequences=True), (5, 3))
    for p in layer.params:
        p.value[...] = rng.normal(size=p.value.shape)
    x = rng.normal(size=(2, 5, 3))
    out = layer.forward(x)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h = np.zeros((2, 4))
    W_x, W_h, b, b_hn = (p.value for p in layer.params)
    for t in range(5):
        a, q = x[:, t] @ W_x + b, h @ W_h
        z, r = sig(a[:, :4] + q[:, :4]), sig(a[:, 4:8] + q[:, 4:8])
        n = np.tanh(a[:, 8:] + r * (q[:, 8:] + b_hn))
        h = (1 - z) * n + z * h
        np.testing.assert_allclose(out[:, t], h, atol=1e-12)
        np.testing.assert_allclose(layer.update_gate[:, t], z, atol=1e-12)
        np.testing.assert_allclose(layer.reset_gate[:, t], r, atol=1e-12)
        np.testing.assert_allclose(layer.candidate[:, t], n, atol=1e-12)
