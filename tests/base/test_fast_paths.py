"""The training loop's fast paths give the results of the plain computation they replace."""

import sys
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet._base.blas import serial_matmul

BENCH = Path(__file__).resolve().parents[2] / "bench"


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 4)) + np.array([[0, 3, 0, 1], [3, 0, 1, 0], [-3, -1, 0, 0]])[y]
    return X.astype(np.float32), y


def mlp(seed=0, out="softmax"):
    return gn.Sequential([gn.Dense(4, 8, activation="relu"), gn.Dense(8, 3, activation=out)], seed=seed)


class PerParameter(gn.SGD):
    """SGD stepping each parameter array on its own: the reference for the packed update."""

    def train_step(self, model, x, y):
        loss = model.backprop(x, y)
        self.step(model.parameters())
        return loss


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_packed_update_equals_the_per_parameter_update_bit_for_bit(momentum):
    X, y = blobs()
    packed, plain = mlp(), mlp()
    packed.compile("cross_entropy", gn.SGD(0.1, momentum=momentum))
    plain.compile("cross_entropy", PerParameter(0.1, momentum=momentum))
    h1 = packed.fit(X, y, epochs=3, batch_size=16, seed=1, verbose=0)
    h2 = plain.fit(X, y, epochs=3, batch_size=16, seed=1, verbose=0)
    assert len(packed.packed_parameters()) == 1
    assert h1["loss"] == h2["loss"]
    for a, b in zip(packed.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_rebound_parameter_falls_back_to_per_parameter_updates():
    X, y = blobs()
    model = mlp().compile("cross_entropy", gn.SGD(0.1))
    dense = model.layers[0]
    dense.W.value = dense.W.value.copy()  # no longer a view of the packed buffer
    assert model.packed_parameters() == model.parameters()
    before = dense.W.value.copy()
    model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    assert not np.array_equal(dense.W.value, before)


def test_velocity_is_flushed_before_it_turns_subnormal():
    opt = gn.SGD(lr=0.1, momentum=0.9)
    p = gn.Parameter(np.zeros(3, dtype=np.float32), "w")
    p.grad[:] = [1.0, 0.0, 1.0]
    opt.step([p])
    p.grad[:] = [0.0, 0.0, 1.0]  # the first entry's velocity now decays as 0.9^t
    tiny = np.finfo(np.float32).tiny
    w_first = []
    for _ in range(1500):
        opt.step([p])
        v = opt.state[p]["velocity"]
        assert not np.any((v != 0) & (np.abs(v) < tiny)), "a subnormal velocity survived"
        w_first.append(p.value[0])
    assert opt.state[p]["velocity"][0] == 0.0
    # the weight moved by -0.1 * sum 0.9^t = -1 (to float32 rounding), and flushing never changed it
    assert w_first[-1] == pytest.approx(-1.0, abs=1e-5)
    assert w_first[-1] == w_first[-400]


def test_softmax_of_rows_far_apart_matches_the_per_row_formula():
    z = np.array([[0.0, 1.0, 2.0], [-200.0, -199.0, -198.0], [50.0, -50.0, 0.0]], dtype=np.float32)
    act = gn.Softmax()
    p = act.forward(z)
    shifted = z - z.max(axis=1, keepdims=True)
    expected = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p, expected, rtol=1e-6)
    lse = np.log(np.exp(shifted).sum(axis=1)) + z.max(axis=1)
    np.testing.assert_allclose(act.log_normaliser(z), lse, rtol=1e-6)
    y = np.eye(3, dtype=np.float32)[[2, 0, 1]]
    fused = gn.CrossEntropy().fused_value(z, p, y, act)
    assert fused == pytest.approx(float(np.mean(lse - (y * z).sum(axis=1))), rel=1e-6)


def test_serial_matmul_gives_the_product_and_restores_the_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    a, b = rng.random((64, 300), dtype=np.float32), rng.random((300, 200), dtype=np.float32)
    before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    np.testing.assert_allclose(serial_matmul(a, b), a @ b, rtol=1e-5)
    after = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    assert before == after


class Recording(gn.SGD):
    """Trains nothing; keeps a copy of every batch it is given."""

    def __init__(self):
        super().__init__(0.1)
        self.batches = []

    def train_step(self, model, x, y):
        self.batches.append(x.copy())
        return model.loss_value(x, y)


@pytest.mark.parametrize("batch_size", [7, 32, 120, None])
def test_shuffled_batches_are_the_rows_of_one_permutation_per_epoch(batch_size):
    X, y = blobs()
    model = mlp().compile("cross_entropy", Recording())
    model.fit(X, y, epochs=2, batch_size=batch_size, seed=5, verbose=0)
    rng, bs = np.random.default_rng(5), batch_size or X.shape[0]
    expected = []
    for _ in range(2):
        perm = rng.permutation(X.shape[0])
        expected += [X[perm[i:i + bs]] for i in range(0, X.shape[0], bs)]
    assert len(model.optimizer.batches) == len(expected)
    for got, want in zip(model.optimizer.batches, expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("out, loss, n_out",
                         [("softmax", "cross_entropy", 3), ("sigmoid", "binary_cross_entropy", 1)])
def test_training_accuracy_counts_the_batches_as_evaluate_does(out, loss, n_out):
    X, y = blobs()
    if n_out == 1:
        y = (y == 0).astype(int)
    model = gn.Sequential([gn.Dense(4, 8, activation="relu"), gn.Dense(8, n_out, activation=out)], seed=2)
    model.compile(loss, Recording())  # weights never change, so training accuracy = evaluate accuracy
    history = model.fit(X, y, epochs=1, batch_size=16, seed=0, verbose=0)
    assert history["accuracy"][0] == model.evaluate(X, y)["accuracy"]
    assert history["loss"][0] == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-6)


@pytest.mark.skipif(not (BENCH / "peers.py").is_file(), reason="bench/ not present")
@pytest.mark.parametrize("net", ["relu", "nielsen"])
def test_the_benchmark_numpy_loop_trains_the_same_network_as_glassnet(net):
    """(bench/speed.py checks its PyTorch loops the same way and prints the differences.)"""
    sys.path.insert(0, str(BENCH))
    try:
        import peers
    finally:
        sys.path.remove(str(BENCH))
    rng = np.random.default_rng(0)
    X = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, 200)
    spec = peers.NETS[net]
    init = peers.initial_weights(spec, seed=0)
    ours = peers.train_glassnet(spec, 20, X, y, epochs=2, seed=0, init=init, shuffle=False)
    theirs = peers.train_numpy(spec, 20, X, y, epochs=2, seed=0, init=init, shuffle=False)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-4)
    for (w1, b1), (w2, b2) in zip(ours["weights"], theirs["weights"], strict=True):
        np.testing.assert_allclose(w1, w2, atol=1e-4)
        np.testing.assert_allclose(b1, b2, atol=1e-4)
