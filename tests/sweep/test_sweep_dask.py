"""Sweeps, restarts and the genetic algorithm on a Dask cluster of two worker processes on 127.0.0.1 (one
cluster for the module): the data scattered once, the same records as in one process, and a worker killed
with SIGKILL in the middle of a sweep without anything lost."""

import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import need
from test_sweep import (
    DATA,
    FIT,
    GRID,
    WAIT_S,
    XTR,
    XV,
    YTR,
    YV,
    Blocking,
    Counting,
    build,
    plain,
    sweep,
    wait_for_pid,
    watchdog,  # noqa: F401 (autouse: no test here may hang)
)

import glassnet as gn
from glassnet import Dense, Sequential
from glassnet.classic import GeneticAlgorithm, restarts
from glassnet.datasets.toy import logic_gate
from glassnet.parallel.executors import getenv
from glassnet.sweep.log import read_records


@pytest.fixture(scope="module")
def client():
    need("distributed")
    from glassnet.sweep import local_cluster

    with local_cluster(2) as c:
        yield c


@pytest.fixture(scope="module")
def reference():
    return sweep(build, seeds=2, jobs=1)


def test_the_data_goes_to_each_worker_once_and_the_records_are_those_of_one_process(client, reference, tmp_path):
    count = tmp_path / "unpickled.txt"
    result = sweep(Counting(count), seeds=2, executor=client.get_executor())
    assert plain(result.records) == plain(reference.records)
    pids = client.run(os.getpid)
    assert {r["worker"] for r in result.records} <= set(pids)
    assert sorted(count.read_text().split()) == sorted(map(str, pids.values()))  # once per worker, 8 trials
    # the local cluster's workers run without the nanny's MALLOC_TRIM_THRESHOLD_, one thread each
    assert set(client.run(getenv, "MALLOC_TRIM_THRESHOLD_").values()) == {None}
    assert set(client.run(getenv, "OPENBLAS_NUM_THREADS").values()) == {"1"}  # the nanny's other settings stay
    assert set(client.nthreads().values()) == {1}


def test_a_worker_killed_in_the_middle_of_a_sweep_loses_nothing(client, reference, tmp_path):
    marker, out = tmp_path / "pid", tmp_path / "sweep"
    workers = set(client.run(os.getpid).values())
    killed = []

    def kill():
        pid = wait_for_pid(marker)
        killed.append(pid in workers)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        result = sweep(Blocking(marker, 4, 0.1), seeds=2, executor=client, out=out)
    finally:
        killer.join(WAIT_S)
    assert killed == [True]
    logged = read_records(out / "trials.jsonl")
    assert sorted(r["trial"] for r in logged) == list(range(8))  # every trial reported exactly once
    assert plain(sorted(logged, key=lambda r: r["trial"])) == plain(reference.records) == plain(result.records)
    client.wait_for_workers(2, timeout=WAIT_S)  # the nanny starts a new worker


def test_restarts_and_the_genetic_algorithm_on_dask(client):
    fit = {"X": XTR, "Y": YTR, "epochs": 5, "batch_size": 16}
    serial = restarts(build, 3, fit, seed=4, validation_data=(XV, YV))
    remote = restarts(build, 3, fit, seed=4, validation_data=(XV, YV), executor=client.get_executor())
    assert [r.val_loss for r in serial.runs] == [r.val_loss for r in remote.runs]
    for a, b in zip(serial.best_model.get_weights(), remote.best_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    X, y = logic_gate("xor")
    histories = []
    for executor in (None, client):
        model = Sequential([Dense(2, 3, activation="tanh"), Dense(3, 1, activation="sigmoid")], seed=0)
        model.compile("binary_cross_entropy", GeneticAlgorithm(population=16, seed=0, executor=executor))
        histories.append(model.fit(X, y, epochs=6, batch_size=None, shuffle=False, verbose=0)["loss"])
    assert histories[0] == histories[1]


def test_glassnet_sweep_on_the_cluster_matches_the_python_api(client, mnist_dir, tmp_path):
    from glassnet.sweep import driver
    from glassnet.sweep.space import Space
    from glassnet.sweep.tasks import TrainSettings, mnist_data

    out = tmp_path / "sweep"
    args = ["--grid", "lr=0.05,0.2", "--hidden", "16", "--epochs", "2", "--train-images", "400",
            "--test-images", "200", "--data-dir", str(mnist_dir)]
    run = subprocess.run([sys.executable, "-m", "glassnet.cli", "sweep", *args, "--scheduler",
                          client.scheduler.address, "--out", str(out), "--json"], capture_output=True, text=True,
                         timeout=WAIT_S * 3)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["trials"] == 2 and summary["failed"] == 0
    logged = read_records(out / "trials.jsonl")
    assert all(r["worker"].startswith("tcp://127.0.0.1:") for r in logged)
    from glassnet.presets import COMMON, PRESETS

    settings = {**COMMON, **PRESETS["default"], "hidden": [16], "epochs": 2}
    local = driver.run(TrainSettings(settings), mnist_data(mnist_dir, 400, 200, quiet=True),
                       Space.build({"lr": [0.05, 0.2]}, None, None), jobs=1, verbose=0)
    assert plain(sorted(logged, key=lambda r: r["trial"])) == plain(local.records)
    assert gn.load(out / "best.npz").meta["sweep"]["trial"] == summary["best"]["trial"]


def test_the_data_placement_api_names_what_it_accepts():
    with pytest.raises(ValueError, match="executor must be a concurrent.futures.Executor or a Dask Client"):
        gn.sweep(build, grid=GRID, fit=FIT, executor="tcp://127.0.0.1:8786", **DATA, verbose=0)
