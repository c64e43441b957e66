"""Run folders: recorded as training goes, readable after a SIGKILL, resumed, equal to checkpoints bit for bit,
thinned to a cap, read back by TensorBoard's own reader, and refused in one line when damaged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import need

import glassnet as gn
from glassnet.datasets import mnist
from glassnet.train import checkpoint

need("tensorboardX", "runs")
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def digits():
    X, y = mnist.load("train", sample=True)
    return X[:600], y[:600]


def small(seed=0):
    model = gn.Sequential([gn.Dense(784, 16, activation="relu"), gn.Dropout(0.1),
                           gn.Dense(16, 10, activation="softmax")], seed=seed)
    return model.compile("cross_entropy", gn.SGD(0.1, momentum=0.9))


def test_a_recorded_run_trains_bit_identically_and_each_epoch_equals_its_checkpoint(digits, tmp_path):
    X, y = digits
    model = small()
    model.fit(X, y, epochs=4, batch_size=50, validation_split=0.2, verbose=0, log_dir=tmp_path / "run",
              callbacks=[gn.TrainingCheckpoint(tmp_path / "ckpt", keep=10)])
    plain = small()
    plain.fit(X, y, epochs=4, batch_size=50, validation_split=0.2, verbose=0)
    for a, b in zip(model.get_weights(), plain.get_weights(), strict=True):
        assert np.array_equal(a, b)  # recording changes nothing in the training
    run = gn.load_run(tmp_path / "run")
    assert run.epochs == [0, 1, 2, 3, 4] and run.last_epoch == 4
    assert run.history["val_loss"] == pytest.approx(model.history["val_loss"], rel=1e-12)
    for k in (1, 2, 3, 4):
        saved = checkpoint.read(tmp_path / "ckpt" / f"epoch-{k:04d}.npz")["model_arrays"]
        replayed = dict(run.model(k).named_arrays())
        assert set(saved) == set(replayed)
        for key, value in saved.items():
            assert value.dtype == replayed[key].dtype and value.tobytes() == replayed[key].tobytes(), (k, key)
    assert run.model(4).optimizer.lr == pytest.approx(0.1)  # compiled as trained
    stats = run.stats(2)
    assert {"dense_1", "dense_2"} <= set(stats)  # (the dropout layer has a dead fraction too)
    assert set(stats["dense_1"]) == {"grad_norm", "weight_norm", "dead_fraction", "update_ratio"}
    w1, w2 = run.model(1).layers[0].W.value, run.model(2).layers[0].W.value
    assert stats["dense_1"]["update_ratio"] == pytest.approx(np.linalg.norm(w2 - w1) / np.linalg.norm(w2), rel=1e-5)
    assert 0 <= stats["dense_1"]["dead_fraction"] <= 1 and stats["dense_1"]["grad_norm"] > 0
    Xp, yp = run.probe  # the first 100 validation rows
    assert Xp.shape == (100, 784) and yp.shape == (100,)
    out = run.probe_outputs(3)
    assert np.array_equal(out, run.model(3).predict(Xp))


KILLED = """
import os, signal, sys
import glassnet as gn
from glassnet.datasets import mnist
sys.path[:0] = [{tests!r}, {root!r}]  # test_runs, and the conftest it imports
from test_runs import small
X, y = mnist.load("train", sample=True)
X, y = X[:600], y[:600]

class Kill(gn.Callback):
    def on_batch_end(self, batch, logs):
        if self.epoch == 2 and batch == 5:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_epoch_begin(self, epoch, logs):
        self.epoch = epoch

small().fit(X, y, epochs=5, batch_size=50, validation_split=0.2, verbose=0, log_dir={run!r},
            callbacks=[Kill(), gn.TrainingCheckpoint({ckpt!r})])
"""


def test_a_run_killed_mid_epoch_loads_its_finished_epochs_and_resumes(digits, tmp_path):
    run_dir, ckpt = str(tmp_path / "run"), str(tmp_path / "ckpt")
    script = tmp_path / "killed.py"
    here = Path(__file__).resolve()
    script.write_text(textwrap.dedent(KILLED.format(tests=str(here.parent), root=str(here.parents[1]), run=run_dir,
                                                    ckpt=ckpt)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], env=env, timeout=120, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    run = gn.load_run(run_dir)
    assert run.epochs == [0, 1, 2] and len(run.history["loss"]) == 2  # epoch 3 never finished
    assert run.model(2).predict(run.probe[0]).shape == (100, 10)
    X, y = digits
    model = small()
    model.fit(X, y, epochs=5, batch_size=50, validation_split=0.2, verbose=0, log_dir=run_dir,
              callbacks=[gn.TrainingCheckpoint(ckpt)], resume=ckpt)
    run = gn.load_run(run_dir)
    assert run.epochs == [0, 1, 2, 3, 4, 5] and len(run.history["loss"]) == 5
    whole = small()
    whole.fit(X, y, epochs=5, batch_size=50, validation_split=0.2, verbose=0, log_dir=tmp_path / "whole")
    assert gn.load_run(tmp_path / "whole").history["loss"] == run.history["loss"]
    for a, b in zip(run.model(5).get_weights(), whole.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir()) == [
        f"epoch-{k:04d}.npz" for k in range(6)]  # nothing left over from the killed process


def test_snapshots_are_thinned_evenly_past_the_cap_keeping_the_newest(tmp_path):
    X, y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array([0, 1, 1, 0])
    model = gn.Sequential([gn.Dense(2, 3, "tanh"), gn.Dense(3, 1, "sigmoid")], seed=0)
    model.compile("binary_cross_entropy", gn.SGD(0.5))
    model.fit(X, y, epochs=11, batch_size=None, verbose=0, callbacks=[gn.RunLogger(tmp_path, cap=4,
                                                                                    tensorboard=False)])
    run = gn.load_run(tmp_path)
    assert run.epochs == [0, 4, 8, 11]  # stride 4 after 0..11 went past 4 twice, and the newest
    assert len(run.history["loss"]) == 11  # every epoch's row stays
    assert len(list((tmp_path / "snapshots").iterdir())) == 4


def test_tensorboards_own_reader_reads_the_scalars_histograms_and_images(digits, tmp_path):
    need("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X, y = digits
    small().fit(X, y, epochs=3, batch_size=100, validation_split=0.2, verbose=0, log_dir=tmp_path)
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    run = gn.load_run(tmp_path)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        events = acc.Scalars(f"epoch/{key}")
        assert [e.step for e in events] == [1, 2, 3]
        assert [e.value for e in events] == pytest.approx(run.history[key], rel=1e-6)
    assert "grad_norm/dense_1" in tags["scalars"]
    assert {"weights/dense_1.W", "gradients/dense_1.W", "weights/dense_2.b"} <= set(tags["histograms"])
    hist = acc.Histograms("weights/dense_1.W")
    assert [h.step for h in hist] == [0, 1, 2, 3]
    assert hist[-1].histogram_value.num == 784 * 16
    assert hist[-1].histogram_value.max == pytest.approx(float(run.model(3).layers[0].W.value.max()))
    image = acc.Images("first_layer/dense_1")[-1]
    assert image.step == 3 and image.width == 8 * 29 - 1 and image.height == 2 * 29 - 1


def test_not_a_run_a_damaged_snapshot_and_a_missing_epoch_each_say_so_in_one_line(digits, tmp_path):
    with pytest.raises(gn.RunError, match="not a glassnet run"):
        gn.load_run(tmp_path)
    X, y = digits
    small().fit(X[:200], y[:200], epochs=3, batch_size=100, verbose=0,
                callbacks=[gn.RunLogger(tmp_path / "run", tensorboard=False)])
    snap = tmp_path / "run" / "snapshots" / "epoch-0002.npz"
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0xFF
    snap.write_bytes(bytes(data))
    run = gn.load_run(tmp_path / "run")  # the rest of the run loads
    with pytest.raises(gn.RunError) as e:
        run.model(2)
    assert str(snap) in str(e.value) and "\n" not in str(e.value)
    assert run.model(3).predict(X[:2]).shape == (2, 10)
    with pytest.raises(gn.RunError, match="no snapshot of epoch 9; it has epochs 0, 1, 2, 3"):
        run.model(9)
    (tmp_path / "run" / "manifest.json").write_text('{"format": "glassnet.RunManifest", "epochs": 3}')
    with pytest.raises(gn.RunError, match="manifest.json: damaged run manifest"):
        gn.load_run(tmp_path / "run")
    with pytest.raises(ValueError, match="already holds a run"):
        small().fit(X[:100], y[:100], epochs=1, verbose=0, log_dir=tmp_path / "run")
    config = json.loads((tmp_path / "run" / "run.json").read_text())
    (tmp_path / "run" / "run.json").write_text(json.dumps({**config, "version": 7}))
    with pytest.raises(gn.RunError, match="newer glassnet"):
        gn.load_run(tmp_path / "run")


def test_glassnet_train_records_a_run_and_resume_appends_to_it(tmp_path):
    from glassnet.cli import main

    run_dir = tmp_path / "run"
    common = ["--sample", "--hidden", "16", "--augment", "off", "--quiet", "--out", str(tmp_path / "m.npz")]
    assert main(["train", *common, "--epochs", "2", "--log-dir", str(run_dir)]) == 0
    assert gn.load_run(run_dir).epochs == [0, 1, 2]
    assert main(["train", *common, "--epochs", "3", "--resume", str(run_dir)]) == 0
    run = gn.load_run(run_dir)
    assert run.epochs == [0, 1, 2, 3] and run.meta["preset"] == "default"
    assert run.probe[0].shape == (100, 784)  # the first 100 test digits
    assert np.array_equal(run.model(3).get_weights()[0], gn.load(tmp_path / "m.npz").get_weights()[0])


def test_an_autoencoders_run_keeps_the_reconstructions_of_the_probe_digits(digits, tmp_path):
    from glassnet.classic.autoencoder import Autoencoder

    X, y = digits
    ae = Autoencoder.from_sizes(784, [32], 8, seed=0)
    ae.compile("binary_cross_entropy", gn.Adam(0.01))
    ae.fit(X, epochs=2, batch_size=100, verbose=0,
           callbacks=[gn.RunLogger(tmp_path / "ae", probe=(X[:100], y[:100]), tensorboard=False)])
    run = gn.load_run(tmp_path / "ae")
    assert run.epochs == [0, 1, 2] and run.probe[1].max() <= 9  # the digits' own labels
    assert run.probe_outputs(2).shape == (100, 784)
    assert np.array_equal(run.probe_outputs(2), run.model(2).predict(X[:100]))


def test_the_command_lines_refuse_a_folder_that_is_not_a_run_in_one_line(tmp_path, capsys):
    from glassnet.cli import main

    need("starlette", "playground")
    assert main(["playground", "--runs", str(tmp_path), "--no-browser", "--port", "0"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("glassnet playground: error:") and "neither a run nor a folder of runs" in err
    assert len(err.splitlines()) == 1
