"""Nothing lost: Ctrl-C keeps the last finished (or best) epoch, checkpoints resume bit for bit, and a
run killed with SIGKILL at random moments ends exactly as the uninterrupted one."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet._base.blas import blas_threads
from glassnet.datasets import mnist
from glassnet.train.checkpoint import CheckpointError, checkpoints, read


def blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 6)) + 1.5 * np.eye(6)[y]
    return X.astype(np.float32), y


OPTIMIZERS = {
    "sgd-momentum": lambda: gn.SGD(gn.ExponentialDecay(0.02, 0.9), momentum=0.9),
    "nesterov": lambda: gn.SGD(0.05, momentum=0.8, nesterov=True),
    "adam": lambda: gn.Adam(0.01),
    "rmsprop": lambda: gn.RMSProp(0.005),
}


def make(optimizer="sgd-momentum", noise=False):
    layers = [gn.GaussianNoise(0.1)] if noise else []
    layers += [gn.Dense(6, 16, activation="relu"), gn.Dropout(0.3), gn.Dense(16, 3, activation="softmax")]
    model = gn.Sequential(layers, seed=1, input_shape=(6,))
    return model.compile(loss="cross_entropy", optimizer=OPTIMIZERS[optimizer]())


def callbacks(kind):
    if kind == "early":
        return [gn.EarlyStopping(patience=3)]
    if kind == "plateau":
        return [gn.ReduceLROnPlateau(patience=1, factor=0.5, min_delta=1.0)]
    return []


class InterruptAt(gn.Callback):
    """Ctrl-C, really delivered: SIGINT to this process at batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch, batch=3):
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs):
        self.current = epoch

    def on_batch_end(self, batch, logs):
        if self.current == self.epoch and batch == self.batch:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the signal arrives first


FIT = {"epochs": 8, "batch_size": 16, "validation_split": 0.25, "seed": 3, "verbose": 0}


@pytest.mark.parametrize("optimizer,kind", [("sgd-momentum", "early"), ("nesterov", "plain"), ("adam", "plain"),
                                            ("rmsprop", "plateau")])
def test_resume_after_ctrl_c_is_bit_identical(tmp_path, optimizer, kind):
    X, y = blobs()
    kind_optimizer = "rmsprop" if kind == "plateau" else optimizer
    whole = make(kind_optimizer, noise=kind == "plain")
    h_whole = whole.fit(X, y, callbacks=callbacks(kind), **FIT)
    if kind == "plateau":  # a constant lr, reduced by the callback
        whole = make("rmsprop")
        whole.optimizer.schedule = None
        h_whole = whole.fit(X, y, callbacks=callbacks(kind), **FIT)

    first = make(kind_optimizer, noise=kind == "plain")
    if kind == "plateau":
        first.optimizer.schedule = None
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, y, callbacks=[*callbacks(kind), gn.TrainingCheckpoint(tmp_path), InterruptAt(3)], **FIT)
    assert first.history.events["interrupted_epoch"] == 3 and len(checkpoints(tmp_path)) == 2

    second = make(kind_optimizer, noise=kind == "plain")
    if kind == "plateau":
        second.optimizer.schedule = None
    h = second.fit(X, y, callbacks=[*callbacks(kind), gn.TrainingCheckpoint(tmp_path)], resume=tmp_path, **FIT)
    for a, b in zip(whole.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert h.history == h_whole.history and h.epoch == h_whole.epoch and h.events == h_whole.events
    assert second.optimizer.iterations == whole.optimizer.iterations and second.optimizer.lr == whole.optimizer.lr


class Snapshots(gn.Callback):
    """The weights at the end of every epoch, in ``self.weights``."""

    def __init__(self):
        self.weights = []

    def on_epoch_end(self, epoch, logs):
        self.weights.append(self.model.get_weights())


def test_ctrl_c_keeps_the_last_finished_epoch(tmp_path):
    X, y = blobs()
    keep = Snapshots()
    snapshots = keep.weights
    model = make()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, callbacks=[keep, InterruptAt(2, batch=5)], **FIT)
    assert model.history.events == {"interrupted_epoch": 2, "weights_epoch": 1} and len(snapshots) == 2
    for a, b in zip(model.get_weights(), snapshots[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_with_early_stopping_keeps_the_best_epoch():
    X, y = blobs()
    keep = Snapshots()
    snapshots = keep.weights
    model = make()
    # val_accuracy with a large min_delta: epoch 0 stays the best
    stop = gn.EarlyStopping("val_accuracy", patience=10, min_delta=0.5)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, callbacks=[stop, keep, InterruptAt(3)], **FIT)
    assert model.history.events["weights_epoch"] == 0 and model.history.events["interrupted_epoch"] == 3
    for a, b in zip(model.get_weights(), snapshots[0], strict=True):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_before_the_first_epoch_keeps_the_initial_weights():
    X, y = blobs()
    model = make()
    before = model.get_weights()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, callbacks=[InterruptAt(0)], **FIT)
    assert model.history.events["weights_epoch"] == -1
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_resuming_a_run_that_stopped_early_trains_no_more(tmp_path):
    X, y = blobs()
    whole = make()
    h_whole = whole.fit(X, y, callbacks=[gn.EarlyStopping(patience=1), gn.TrainingCheckpoint(tmp_path)],
                        **{**FIT, "epochs": 30})
    assert h_whole.events["stopped_epoch"] < 29
    again = make()
    h = again.fit(X, y, callbacks=[gn.EarlyStopping(patience=1), gn.TrainingCheckpoint(tmp_path)],
                  resume=tmp_path, **{**FIT, "epochs": 30})
    assert h.epoch == h_whole.epoch and again.optimizer.iterations == whole.optimizer.iterations
    for a, b in zip(whole.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the best epoch's weights, restored by EarlyStopping


def test_checkpoint_file_is_data_only_and_keeps_the_newest(tmp_path):
    X, y = blobs()
    make().fit(X, y, callbacks=[gn.TrainingCheckpoint(tmp_path, keep=2, meta={"note": "x"})], **FIT)
    assert [p.name for p in checkpoints(tmp_path)] == ["epoch-0007.npz", "epoch-0008.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0007.npz", "epoch-0008.npz"]
    with np.load(tmp_path / "epoch-0008.npz", allow_pickle=False) as npz:
        assert "__checkpoint__" in npz.files and "model/layer0.W" in npz.files
    state = read(tmp_path / "epoch-0008.npz")
    assert state["epoch"] == 7 and state["meta"] == {"note": "x"} and state["optimizer"]["iterations"] == 8 * 12


def test_resume_refuses_another_run(tmp_path):
    X, y = blobs()
    make().fit(X, y, callbacks=[gn.TrainingCheckpoint(tmp_path)], **{**FIT, "epochs": 2})
    with pytest.raises(CheckpointError, match="batch_size=16, fit was given batch_size=8"):
        make().fit(X, y, resume=tmp_path, **{**FIT, "batch_size": 8})
    with pytest.raises(CheckpointError, match=r"other training data \(X differs\)"):
        make().fit(X + 1, y, resume=tmp_path, **FIT)
    with pytest.raises(CheckpointError, match="different model"):
        make("adam").fit(X, y, resume=tmp_path, **FIT)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        make().fit(X, y, resume=tmp_path / "empty", **FIT)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        make().fit(X, y, resume=tmp_path / "absent", **FIT)
    with pytest.raises(ValueError, match="already holds the checkpoints of a run"):
        make().fit(X, y, callbacks=[gn.TrainingCheckpoint(tmp_path)], **FIT)
    make().fit(X, y, callbacks=[gn.TrainingCheckpoint(tmp_path, overwrite=True)], **{**FIT, "epochs": 1})
    assert [p.name for p in checkpoints(tmp_path)] == ["epoch-0001.npz"]


def test_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    X, y = blobs()
    reference = make()
    reference.fit(X, y, **FIT)
    make().fit(X, y, callbacks=[gn.TrainingCheckpoint(tmp_path)], **{**FIT, "epochs": 4})
    newest = tmp_path / "epoch-0004.npz"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    (tmp_path / ".epoch-0005.npz.abc.tmp").write_bytes(b"half a file")  # a write cut short by a kill
    resumed = make()
    resumed.fit(X, y, callbacks=[gn.TrainingCheckpoint(tmp_path)], resume=True, **FIT)
    assert "skipping" in capsys.readouterr().err and not list(tmp_path.glob(".*.tmp"))
    for a, b in zip(reference.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_resume_true_starts_afresh_in_an_empty_folder(tmp_path):
    X, y = blobs()
    reference = make()
    reference.fit(X, y, **FIT)
    model = make()
    model.fit(X, y, callbacks=[gn.TrainingCheckpoint(tmp_path / "new")], resume=True, **FIT)
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_genetic_algorithm_resumes_bit_identically(tmp_path):
    X, y = blobs(60)

    def ga_model():
        m = gn.Sequential([gn.Dense(6, 3, activation="softmax")], seed=0)
        return m.compile(loss="cross_entropy", optimizer=gn.GeneticAlgorithm(population=8, seed=4))

    whole = ga_model()
    whole.fit(X, y, epochs=6, batch_size=None, verbose=0)
    first = ga_model()
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, y, epochs=6, batch_size=None, verbose=0,
                  callbacks=[gn.TrainingCheckpoint(tmp_path), InterruptAt(3, batch=0)])
    second = ga_model()
    second.fit(X, y, epochs=6, batch_size=None, verbose=0, callbacks=[gn.TrainingCheckpoint(tmp_path)],
               resume=tmp_path)
    np.testing.assert_array_equal(whole.get_weights()[0], second.get_weights()[0])
    assert second.optimizer.evaluations == whole.optimizer.evaluations


# ---------------------------------------------------------------- the soak: SIGKILL at 20 random moments
SOAK_EPOCHS, SOAK_KILLS = 60, 20  # a kill lands ~2 epochs on: 20 of them must not finish the run


def _sample_subset():
    X, y = mnist.load("train", sample=True)
    return X[:1500], y[:1500]


def _soak_model():
    model = gn.Sequential([gn.Dense(784, 24, activation="relu"), gn.Dropout(0.2),
                           gn.Dense(24, 10, activation="softmax")], seed=0)
    return model.compile(loss="cross_entropy", optimizer=gn.SGD(gn.ExponentialDecay(0.1, 0.9), momentum=0.9))


class _Started(gn.Callback):
    def __init__(self, event):
        self.event = event

    def on_train_begin(self, logs):
        self.event.set()


def _soak_fit(directory, out=None, started=None):
    X, y = _sample_subset()
    with blas_threads(1):
        model = _soak_model()
        cbs = [gn.EarlyStopping(patience=SOAK_EPOCHS)] + ([gn.TrainingCheckpoint(directory)] if directory else [])
        cbs += [_Started(started)] if started is not None else []
        history = model.fit(X, y, epochs=SOAK_EPOCHS, batch_size=50, validation_split=0.2, seed=5, verbose=0,
                            callbacks=cbs, resume=True if directory else None)
    if out is not None:
        np.savez(out, *model.get_weights(), loss=np.array(history["loss"]))
    return model, history


def _wait_for_new_checkpoint(directory, last, proc, timeout=60.0):
    """Until a checkpoint newer than ``last`` is there (or the process has ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.is_alive():
        found = checkpoints(directory)
        if found and found[-1].name != last:
            return
        time.sleep(0.01)


def test_sigkill_at_random_moments_then_resume_ends_bit_identical(tmp_path):
    ctx = multiprocessing.get_context("fork")
    reference, ref_history = _soak_fit(None)
    started = ctx.Event()
    timed = ctx.Process(target=_soak_fit, args=(tmp_path / "timed", tmp_path / "timed.npz", started))
    timed.start()
    assert started.wait(timeout=60)
    start = time.perf_counter()
    timed.join(timeout=120)
    epoch_s = (time.perf_counter() - start) / SOAK_EPOCHS  # an epoch with its checkpoint, in a child
    rng = np.random.default_rng(2026)
    kills, epochs_seen, out = 0, [], tmp_path / "final.npz"
    while True:
        started = ctx.Event()
        proc = ctx.Process(target=_soak_fit, args=(tmp_path / "ckpt", out, started))
        proc.start()
        if kills < SOAK_KILLS:
            if rng.random() < 0.9:  # else while it starts, reading the checkpoint
                assert started.wait(timeout=60)
                if rng.random() < 0.5:  # after it has made progress, however busy the machine is
                    _wait_for_new_checkpoint(tmp_path / "ckpt", epochs_seen[-1] if epochs_seen else None, proc)
            time.sleep(rng.uniform(0.0, 3.0) * epoch_s)  # anywhere in an epoch, its checkpoint write included
            if proc.is_alive():
                proc.kill()
                kills += 1
        proc.join(timeout=120)
        assert proc.exitcode is not None, "training hung"
        found = checkpoints(tmp_path / "ckpt")
        epochs_seen.append(found[-1].name if found else None)
        if proc.exitcode == 0:
            break
        assert proc.exitcode == -signal.SIGKILL
    assert kills == SOAK_KILLS, f"the run finished after {kills} kills; make it longer"
    for path in (tmp_path / "timed.npz", out):  # checkpointing changes nothing; killing and resuming neither
        with np.load(path) as final:
            for i, w in enumerate(reference.get_weights()):
                np.testing.assert_array_equal(final[f"arr_{i}"], w)
            np.testing.assert_array_equal(final["loss"], ref_history["loss"])
    assert len(set(epochs_seen)) > 5  # the kills fell in many different epochs
    print(f"{kills} kills, checkpoints after each run: {epochs_seen}")
