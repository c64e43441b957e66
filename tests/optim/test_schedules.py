"""Cosine and one-cycle learning rates (values at known steps, per batch in fit) and label smoothing."""

import math

import numpy as np
import pytest

import glassnet as gn

TOL = 1e-6


def test_cosine_warmup_then_annealing_at_known_steps():
    s = gn.CosineDecay(0.1, epochs=10, warmup=2, warmup_from=0.1)
    assert s(0) == pytest.approx(0.01)
    assert s(1) == pytest.approx(0.1 * (0.1 + 0.9 * 0.5))
    assert s(2) == pytest.approx(0.1)
    assert s(6) == pytest.approx(0.05)  # half way through the annealing: (1 + cos(pi/2)) / 2
    assert s(4) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    assert s(10) == pytest.approx(0.0, abs=1e-15)
    plain = gn.CosineDecay(1.0, epochs=4, min_lr=0.2)
    assert (plain(0), plain(2), plain(4)) == pytest.approx((1.0, 0.6, 0.2))


def test_one_cycle_rises_then_falls_at_known_steps():
    s = gn.OneCycle(0.5, epochs=10, pct_start=0.3, div=25, final_div=1e4)
    assert s(0) == pytest.approx(0.02)
    assert s(1.5) == pytest.approx((0.02 + 0.5) / 2)
    assert s(3) == pytest.approx(0.5)
    assert s(6.5) == pytest.approx((0.5 + 0.5 / 25e4) / 2)
    assert s(10) == pytest.approx(0.5 / 25e4)
    values = [s(t / 10) for t in range(101)]
    peak = int(np.argmax(values))
    assert peak == 30 and all(np.diff(values[:31]) > 0) and all(np.diff(values[30:]) < 0)


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(epochs=3, warmup=4), dict(epochs=3, min_lr=1.0)])
def test_cosine_refuses_bad_settings(bad):
    with pytest.raises(ValueError, match="CosineDecay needs"):
        gn.CosineDecay(0.1, **bad)


def test_fit_sets_the_rate_before_every_batch():
    """With 4 batches an epoch, batch b of epoch e trains with schedule(e + b / 4)."""
    seen = []

    class Spy(gn.Callback):
        def on_batch_end(self, batch, logs):
            seen.append(self.model.optimizer.lr)

    schedule = gn.OneCycle(0.2, epochs=2)
    model = gn.Sequential([gn.Dense(3, 2, activation="softmax")], seed=0).compile(
        "cross_entropy", gn.SGD(schedule))
    X = np.random.default_rng(0).normal(size=(16, 3))
    history = model.fit(X, np.arange(16) % 2, epochs=2, batch_size=4, callbacks=[Spy()], verbose=0, seed=0)
    assert seen == pytest.approx([schedule(e + b / 4) for e in range(2) for b in range(4)])
    assert history["lr"] == pytest.approx([seen[3], seen[7]])


def test_label_smoothing_targets_and_loss_value():
    loss = gn.CrossEntropy(label_smoothing=0.1)
    y = gn.one_hot(np.array([0, 2]), 4).astype(np.float64)
    np.testing.assert_allclose(loss.smoothed(y)[0], [0.925, 0.025, 0.025, 0.025])
    p = np.full((2, 4), 0.25)
    assert loss.value(p, y) == pytest.approx(math.log(4))  # any target, uniform p: ln K
    z = np.random.default_rng(0).normal(size=(2, 4))
    a = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    expected = -np.sum(loss.smoothed(y) * np.log(a)) / 2
    assert loss.value(a, y) == pytest.approx(expected)
    with pytest.raises(ValueError, match="label_smoothing"):
        gn.CrossEntropy(label_smoothing=1.0)


@pytest.mark.parametrize("fused", [True, False])
def test_label_smoothed_gradient_matches_finite_differences(fused, rng):
    X, y = rng.normal(size=(7, 4)), rng.integers(0, 3, 7)

    def net():
        out = [gn.Dense(5, 3, activation="softmax")] if fused else [gn.Dense(5, 3), gn.Softmax()]
        return gn.Sequential([gn.Dense(4, 5, activation="tanh"), *out], dtype=np.float64, seed=1)

    model = net().compile(loss=gn.CrossEntropy(label_smoothing=0.2))
    result = gn.gradcheck(model, X, y)
    assert result.errors and result.max_error < TOL, str(result)
    unsmoothed = net()
    Y = gn.one_hot(y, 3).astype(np.float64)
    assert model.loss_value(X, Y) != pytest.approx(unsmoothed.compile("cross_entropy").loss_value(X, Y))


def test_label_smoothing_is_saved_with_the_model(tmp_path):
    model = gn.Sequential([gn.Dense(4, 3, activation="softmax")], seed=0).compile(
        gn.CrossEntropy(label_smoothing=0.1), "adam")
    model.save(tmp_path / "m.npz")
    assert gn.load(tmp_path / "m.npz").loss.label_smoothing == 0.1
