"""Training behaviour: XOR, the three kinds of gradient descent, momentum, schedules, callbacks."""

import numpy as np
import pytest

import glassnet as gn

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def xor_model(seed=1):
    model = gn.Sequential([gn.Dense(2, 2, activation="sigmoid"), gn.Dense(2, 1, activation="sigmoid")], seed=seed)
    return model.compile(loss="mse", optimizer=gn.SGD(lr=2.0, momentum=0.9))


def test_xor_learned_by_2_2_1_sigmoid_network():
    model = xor_model()
    model.fit(XOR_X, XOR_Y, epochs=2000, batch_size=None, verbose=0)
    out = model.predict(XOR_X)[:, 0]
    assert np.all((out > 0.5) == XOR_Y.astype(bool)), out
    assert model.evaluate(XOR_X, XOR_Y)["accuracy"] == 1.0


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 2)) * 0.7 + np.array([[0, 3], [3, 0], [-3, -1]])[y]
    return X.astype(np.float32), y


@pytest.mark.parametrize("batch_size", [None, 16, 1])
def test_full_batch_mini_batch_and_stochastic_all_reduce_the_loss(batch_size):
    X, y = blobs()
    model = gn.Sequential([gn.Dense(2, 8, activation="tanh"), gn.Dense(8, 3, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(lr=0.1 if batch_size else 0.5))
    before = model.evaluate(X, y)["loss"]
    history = model.fit(X, y, epochs=5, batch_size=batch_size, verbose=0, seed=0)
    assert history["loss"][-1] < history["loss"][0]
    assert model.evaluate(X, y)["loss"] < 0.5 * before


def test_number_of_updates_per_epoch():
    X, y = blobs(50)
    for bs, steps in [(None, 1), (20, 3), (1, 50)]:
        model = gn.Sequential([gn.Dense(2, 3, activation="softmax")], seed=0)
        model.compile(loss="cross_entropy", optimizer=gn.SGD(0.01))
        model.fit(X, y, epochs=2, batch_size=bs, verbose=0)
        assert model.optimizer.iterations == 2 * steps


def one_param_step(opt, grads):
    """Apply ``opt`` to a single parameter w = 0 with the given gradient sequence; return the steps."""
    p = gn.Parameter(np.zeros(1), "w")
    steps = []
    for g in grads:
        p.grad[:] = g
        before = p.value.copy()
        opt.step([p])
        steps.append(float(p.value[0] - before[0]))
    return steps


def test_sgd_and_momentum_steps_follow_the_update_rule():
    assert one_param_step(gn.SGD(lr=0.1), [1.0, 1.0]) == pytest.approx([-0.1, -0.1])
    # dw_t = -lr g + mu dw_(t-1):  -0.1, -0.1 + 0.9 * -0.1 = -0.19, -0.1 + 0.9 * -0.19 = -0.271
    assert one_param_step(gn.SGD(lr=0.1, momentum=0.9), [1.0, 1.0, 1.0]) == pytest.approx([-0.1, -0.19, -0.271])
    # Nesterov: w += mu dw_t - lr g:  -0.1 + 0.9 * -0.1 = -0.19, then -0.1 + 0.9 * -0.19 = -0.271
    assert one_param_step(gn.SGD(lr=0.1, momentum=0.9, nesterov=True), [1.0, 1.0]) == pytest.approx([-0.19, -0.271])


def test_adam_and_rmsprop_first_steps():
    # Adam's first step is -lr * sign(g) (bias-corrected m / sqrt(v) = g / |g|)
    assert one_param_step(gn.Adam(lr=0.01), [5.0]) == pytest.approx([-0.01], rel=1e-6)
    # RMSProp: v = 0.1 g^2, step = -lr g / (sqrt(v) + eps)
    assert one_param_step(gn.RMSProp(lr=0.01, rho=0.9), [2.0]) == pytest.approx([-0.01 / np.sqrt(0.1)], rel=1e-5)


def test_schedules_change_the_step_as_documented():
    assert [gn.StepDecay(1.0, factor=0.5, every=2)(t) for t in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    assert gn.ExponentialDecay(0.1, rate=0.9)(3) == pytest.approx(0.1 * 0.9**3)
    assert gn.InverseTimeDecay(0.1, decay=0.5)(4) == pytest.approx(0.1 / 3)
    X, y = blobs(40)
    model = gn.Sequential([gn.Dense(2, 3, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(lr=gn.StepDecay(0.4, factor=0.5, every=1)))
    history = model.fit(X, y, epochs=3, verbose=0)
    assert history["lr"] == pytest.approx([0.4, 0.2, 0.1])


def test_reduce_lr_on_plateau_cuts_the_rate():
    X, y = blobs(40)
    model = gn.Sequential([gn.Dense(2, 3, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(lr=0.1))
    cb = gn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9)  # never "improves"
    history = model.fit(X, y, epochs=4, verbose=0, callbacks=[cb])
    # epoch 0 sets the best; each later epoch fails to improve and halves the rate for the next one
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_early_stopping_restores_the_best_weights():
    X, _ = blobs(100)
    y = np.random.default_rng(1).integers(0, 3, 100)  # random labels: the validation loss soon rises
    model = gn.Sequential([gn.Dense(2, 64, activation="relu"), gn.Dense(64, 3, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(lr=0.3, momentum=0.9))
    saved = {}

    class Spy(gn.Callback):
        def on_epoch_end(self, epoch, logs):
            saved[epoch] = self.model.get_weights()

    stop = gn.EarlyStopping(monitor="val_loss", patience=2)
    history = model.fit(X, y, epochs=50, batch_size=8, validation_split=0.3, callbacks=[stop, Spy()], seed=0,
                        verbose=0)
    best = int(np.argmin(history["val_loss"]))
    assert stop.best_epoch == best == history.events["best_epoch"]
    assert len(history["loss"]) <= 50 and history.events.get("stopped_epoch") == len(history["loss"]) - 1
    for w, w_best in zip(model.get_weights(), saved[best], strict=True):
        np.testing.assert_array_equal(w, w_best)


def test_early_stopping_on_a_missing_key_says_which_exist():
    X, y = blobs(30)
    model = gn.Sequential([gn.Dense(2, 3, activation="softmax")]).compile(loss="cross_entropy")
    with pytest.raises(ValueError, match="cannot monitor 'val_loss'.*loss"):
        model.fit(X, y, epochs=2, callbacks=[gn.EarlyStopping()], verbose=0)


def test_same_seed_gives_bit_identical_training():
    X, y = blobs()

    def train():
        m = gn.Sequential([gn.Dense(2, 8, activation="relu"), gn.Dropout(0.3),
                           gn.Dense(8, 3, activation="softmax")], seed=3)
        m.compile(loss="cross_entropy", optimizer=gn.Adam(0.01))
        h = m.fit(X, y, epochs=3, batch_size=16, validation_split=0.2, seed=7, verbose=0)
        return m.get_weights(), h["loss"]

    (w1, l1), (w2, l2) = train(), train()
    assert l1 == l2
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_float32_by_default_and_float64_on_request():
    X, y = blobs(20)
    m32 = gn.Sequential([gn.Dense(2, 3, activation="softmax")]).compile(loss="cross_entropy")
    m64 = gn.Sequential([gn.Dense(2, 3, activation="softmax")], dtype=np.float64).compile(loss="cross_entropy")
    m32.fit(X.astype(np.float64), y, verbose=0)
    assert all(p.value.dtype == np.float32 for p in m32.parameters())
    assert m32.predict(X).dtype == np.float32 and m64.predict(X).dtype == np.float64


def test_divergence_stops_with_a_clear_error_and_keeps_last_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32) * 10
    Y = rng.normal(size=(64, 1)).astype(np.float32) * 10
    model = gn.Sequential([gn.Dense(3, 16, activation="relu"), gn.Dense(16, 1)], seed=0)
    model.compile(loss="mse", optimizer=gn.SGD(lr=0.5))
    snapshots = []

    class Spy(gn.Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots.append(self.model.get_weights())

    with pytest.raises(gn.DivergenceError, match=r"loss became (nan|inf).*learning rate"):
        model.fit(X, Y, epochs=50, batch_size=8, callbacks=[Spy()], verbose=0)
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    expected = snapshots[-1] if snapshots else None
    if expected is not None:
        for a, b in zip(weights, expected, strict=True):
            np.testing.assert_array_equal(a, b)


def test_step_activation_refuses_gradient_descent():
    model = gn.Sequential([gn.Dense(2, 1, activation="step")]).compile(loss="mse")
    with pytest.raises(ValueError, match="Step.*derivative is zero"):
        model.fit(XOR_X, XOR_Y, verbose=0)


def test_record_per_layer_statistics_and_glass_box_attributes():
    X, y = blobs(60)
    model = gn.Sequential([gn.Dense(2, 5, activation="relu"), gn.Dense(5, 3, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(0.1))
    history = model.fit(X, y, epochs=3, batch_size=20, verbose=0,
                        record=["grad_norm", "activation_mean", "dead_fraction"])
    assert len(history["grad_norm/dense_1"]) == 3 and len(history["activation_mean/dense_2"]) == 3
    assert all(g > 0 for g in history["grad_norm/dense_2"])
    # after a backprop every Dense layer shows its z, a and delta = dC/dz
    model.backprop(X[:7], gn.one_hot(y[:7], 3))
    d1, d2 = model.layers
    assert d1.z.shape == (7, 5) and d1.a.shape == (7, 5) and d2.delta.shape == (7, 3)
    np.testing.assert_allclose(d1.a, np.maximum(d1.z, 0))
    np.testing.assert_allclose(d2.delta, (d2.a - gn.one_hot(y[:7], 3)) / 7, rtol=1e-5)
    np.testing.assert_allclose(d1.W.grad, d1.input.T @ d1.delta, rtol=1e-5)
    stats = model.inspect(X, y, stats=["grad_norm"])
    assert set(stats) == {"grad_norm/dense_1", "grad_norm/dense_2"}


def test_no_recording_when_not_asked():
    X, y = blobs(20)
    model = gn.Sequential([gn.Dense(2, 3, activation="softmax")]).compile(loss="cross_entropy")
    history = model.fit(X, y, epochs=2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "lr"]


def test_validation_data_and_split():
    X, y = blobs(100)
    model = gn.Sequential([gn.Dense(2, 3, activation="softmax")]).compile(loss="cross_entropy")
    h = model.fit(X[:80], y[:80], validation_data=(X[80:], y[80:]), epochs=2, verbose=0)
    assert len(h["val_loss"]) == 2 and 0 <= h["val_accuracy"][-1] <= 1
    h = model.fit(X, y, validation_split=0.25, epochs=1, verbose=0)
    assert "val_accuracy" in h.history


def test_progress_lines_when_not_a_terminal(capsys):
    X, y = blobs(20)
    model = gn.Sequential([gn.Dense(2, 3, activation="softmax")]).compile(loss="cross_entropy")
    model.fit(X, y, epochs=2, verbose=1)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("epoch 1/2") and "loss" in err[0] and "accuracy" in err[0]


def test_summary_counts_parameters(capsys):
    model = gn.Sequential([gn.Dense(784, 16, activation="sigmoid"), gn.Dense(16, 16, activation="sigmoid"),
                           gn.Dense(16, 10, activation="sigmoid")])
    assert model.count_params() == 13_002
    model.summary()
    out = capsys.readouterr().out
    assert "13,002" in out and "(None, 16)" in out and "dense_3" in out


def test_model_checkpoint_saves_best(tmp_path):
    X, y = blobs(60)
    model = gn.Sequential([gn.Dense(2, 3, activation="softmax")]).compile(loss="cross_entropy")
    path = tmp_path / "best.npz"
    model.fit(X, y, epochs=3, validation_split=0.3, callbacks=[gn.ModelCheckpoint(str(path))], verbose=0)
    assert path.is_file() and gn.load(path).count_params() == model.count_params()


def test_a_seeded_model_trains_bit_identically_in_any_process_without_a_fit_seed():
    """The fit's generator comes from the model's seed: separate processes (other memory layouts) agree."""
    import subprocess
    import sys

    code = """
import hashlib, sys, numpy as np
import glassnet as gn
pad = [np.empty(int(sys.argv[1])) for _ in range(3)]  # a different heap in each process
X = np.random.default_rng(0).random((64, 3)); y = (X.sum(axis=1) > 1.5).astype(int)
m = gn.Sequential([gn.Dense(3, 4, activation="tanh"), gn.Dropout(0.2), gn.Dense(4, 1, activation="sigmoid")],
                  seed=1, dtype=np.float64)
m.compile(loss="binary_cross_entropy", optimizer=gn.SGD(0.5, momentum=0.9))
m.fit(X, y, epochs=20, batch_size=8, validation_split=0.25, verbose=0)
m.fit(X, y, epochs=3, batch_size=8, verbose=0)
print(hashlib.sha256(b"".join(w.tobytes() for w in m.get_weights())).hexdigest())
"""
    digests = {subprocess.run([sys.executable, "-c", code, str(pad)], capture_output=True, text=True,
                              check=True, timeout=120).stdout for pad in (1, 7, 1000)}
    assert len(digests) == 1
