import numpy as np
import pytest

from glassnet import SGD, Dense, Sequential
from glassnet.classic import RestartsResult, restart_seeds, restarts
from glassnet.datasets.toy import moons, train_val_test_split

X, Y = moons(120, noise=0.2, seed=0)
XTR, YTR, XV, YV, _, _ = train_val_test_split(X, Y, 0.25, 0.0, seed=0)


def build(seed: int) -> Sequential:
    """Module level, so worker processes can unpickle it."""
    model = Sequential([Dense(2, 4, activation="tanh"), Dense(4, 1, activation="sigmoid")], seed=seed)
    return model.compile("binary_cross_entropy", SGD(lr=0.5))


def build_diverging(seed: int) -> Sequential:
    lr = 1e30 if seed % 2 else 0.1
    model = Sequential([Dense(2, 3, activation="relu"), Dense(3, 1)], seed=seed)
    return model.compile("mse", SGD(lr=lr), metrics=[])


FIT = {"X": XTR, "Y": YTR, "epochs": 15, "batch_size": 16}


def test_best_run_has_lowest_validation_loss():
    result = restarts(build, 4, FIT, seed=0, validation_data=(XV, YV))
    assert isinstance(result, RestartsResult) and result.criterion == "val_loss"
    assert [r.index for r in result.runs] == [0, 1, 2, 3]
    assert result.seeds == restart_seeds(0, 4) and len(set(result.seeds)) == 4
    val = result.val_losses
    assert result.best_index == int(np.argmin(val)) and val.max() > val.min()
    # every run's numbers are those of its own model
    for run in result.runs:
        model = build(run.seed)
        model.set_weights(run.weights)
        assert model.evaluate(XV, YV)["loss"] == pytest.approx(run.val_loss, rel=1e-6)
        assert run.loss == run.history["loss"][-1] and len(run.history["loss"]) == 15
    best = result.best_model
    assert best.evaluate(XV, YV)["loss"] == pytest.approx(val.min(), rel=1e-6)
    assert best.history["loss"] == result.best.history["loss"]
    assert "<- best" in str(result)


def test_run_matches_a_plain_fit():
    result = restarts(build, 2, FIT, seed=3)
    seed = result.runs[1].seed
    model = build(seed)
    model.fit(**FIT, seed=seed, verbose=0)
    for a, b in zip(model.get_weights(), result.runs[1].weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_selection_falls_back_to_fit_validation_then_training_loss():
    by_split = restarts(build, 3, {**FIT, "validation_split": 0.2}, seed=1)
    assert by_split.criterion == "val_loss"
    assert by_split.best_index == int(np.argmin([r.history["val_loss"][-1] for r in by_split.runs]))
    by_train = restarts(build, 3, FIT, seed=1)
    assert by_train.criterion == "loss" and by_train.val_losses is None
    assert by_train.best_index == int(np.argmin(by_train.losses))


def test_reproducible_across_n_jobs():
    serial = restarts(build, 4, FIT, n_jobs=1, seed=11, validation_data=(XV, YV))
    parallel = restarts(build, 4, FIT, n_jobs=2, seed=11, validation_data=(XV, YV))
    assert serial.best_index == parallel.best_index
    assert serial.seeds == parallel.seeds
    for a, b in zip(serial.runs, parallel.runs, strict=True):
        assert a.val_loss == b.val_loss and a.loss == b.loss
        for wa, wb in zip(a.weights, b.weights, strict=True):
            np.testing.assert_array_equal(wa, wb)
    for wa, wb in zip(serial.best_model.get_weights(), parallel.best_model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    other = restarts(build, 4, FIT, seed=12, validation_data=(XV, YV))
    assert other.seeds != serial.seeds


def test_diverging_runs_are_kept_with_infinite_loss():
    result = restarts(build_diverging, 4, FIT, seed=0)
    diverged = [r for r in result.runs if r.seed % 2]
    assert diverged and all(r.loss == np.inf and "loss became" in r.error for r in diverged)
    assert result.best.error is None and np.isfinite(result.best.loss)


def test_bad_arguments():
    with pytest.raises(ValueError, match="fit_kwargs must be a dict with the training data as 'X' and 'Y'"):
        restarts(build, 2, {"epochs": 1})
    with pytest.raises(ValueError, match="n must be a positive integer"):
        restarts(build, 0, FIT)
    with pytest.raises(ValueError, match="n_jobs must be a positive integer or -1, got 0"):
        restarts(build, 2, FIT, n_jobs=0)
    with pytest.raises(ValueError, match="build must be picklable for n_jobs > 1"):
        restarts(lambda s: build(s), 2, FIT, n_jobs=2)
    with pytest.raises(ValueError, match="must return a compiled Sequential"):
        restarts(lambda s: Sequential([Dense(2, 1)], seed=s), 1, FIT)
