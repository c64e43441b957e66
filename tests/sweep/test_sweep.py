"""glassnet.sweep in Python on this machine: the same records in this process and on worker processes,
successive halving, failed trials, a killed worker process, a killed sweep resumed, and the executor of
restarts and of the genetic algorithm."""

import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import need

import glassnet as gn
from glassnet import SGD, Dense, Sequential
from glassnet.classic import GeneticAlgorithm, restarts
from glassnet.datasets.toy import logic_gate, moons, train_val_test_split
from glassnet.sweep import Halving, trial_seed
from glassnet.sweep.log import read_records

X, Y = moons(160, noise=0.2, seed=0)
XTR, YTR, XV, YV, XT, YT = train_val_test_split(X, Y, 0.25, 0.25, seed=0)
DATA = {"data": (XTR, YTR), "validation_data": (XV, YV), "test_data": (XT, YT)}
FIT = {"epochs": 6, "batch_size": 16}
GRID = {"hidden": [2, 4], "lr": [0.1, 1.0]}
TESTS = str(Path(__file__).resolve().parent)
ROOT = str(Path(__file__).resolve().parents[1])
WAIT_S = 60.0
"""Every wait on another process gives up after this long."""


def build(seed, hidden=4, lr=0.3):
    """Module level, so that worker processes can unpickle it."""
    model = Sequential([Dense(2, hidden, activation="tanh"), Dense(hidden, 1, activation="sigmoid")], seed=seed)
    return model.compile("binary_cross_entropy", SGD(lr, momentum=0.9))


class Counting:
    """build() that notes in ``path`` each time a process unpickles it (once per worker, if the payload
    travels once)."""

    def __init__(self, path):
        self.path = str(path)

    def __setstate__(self, state):
        self.__dict__.update(state)
        with open(self.path, "a") as f:
            f.write(f"{os.getpid()}\n")

    def __call__(self, seed, hidden=4, lr=0.3):
        return build(seed, hidden, lr)


class Blocking:
    """build() that, for one configuration and the first time only, writes its PID to ``marker`` and sleeps,
    waiting to be killed: the event a test waits on before it kills the process."""

    def __init__(self, marker, hidden, lr):
        self.marker, self.at = str(marker), (hidden, lr)

    def __call__(self, seed, hidden=4, lr=0.3):
        if (hidden, lr) == self.at:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                time.sleep(WAIT_S)
        return build(seed, hidden, lr)


def failing(seed, hidden=4, lr=0.3):
    if hidden == 2:
        raise ValueError(f"no network of {hidden} hidden units today\nsecond line")
    return build(seed, hidden, lr)


@pytest.fixture(autouse=True)
def watchdog():
    """No test here may hang: after 4 * WAIT_S the process prints every thread's stack and exits."""
    faulthandler.dump_traceback_later(4 * WAIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def wait_for_pid(marker):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if os.path.exists(marker) and open(marker).read():
            return int(open(marker).read())
        time.sleep(0.02)
    raise TimeoutError(f"{marker} never appeared")


def plain(records):
    """Records without what may differ between runs: the time taken and the worker."""
    return [{k: v for k, v in r.items() if k not in ("seconds", "worker")} for r in records]


def sweep(build_fn, **kwargs):
    return gn.sweep(build_fn, grid=kwargs.pop("grid", GRID), fit=kwargs.pop("fit", FIT), verbose=0,
                    **{**DATA, **kwargs})


@pytest.fixture(scope="module")
def reference():
    """The undisturbed sweep, in this process."""
    return sweep(build, seeds=2, jobs=1)


def test_records_are_the_same_in_this_process_and_on_two_worker_processes(reference, tmp_path):
    ref = reference
    assert len(ref.records) == 8 and [r["trial"] for r in ref.records] == list(range(8))
    for r in ref.records:
        assert r["status"] == "ok" and r["seed"] == trial_seed(r["params"], r["seed_index"], 0)
        assert r["epochs"] == 6 and r["worker"].endswith(f":{os.getpid()}")
    # a record's numbers are those of its model, trained as a plain fit
    r = ref.records[5]
    model = build(r["seed"], **r["params"])
    model.fit(XTR, YTR, epochs=6, batch_size=16, validation_data=(XV, YV), seed=r["seed"], verbose=0)
    assert model.evaluate(XV, YV)["loss"] == pytest.approx(r["val_loss"], rel=1e-6)
    assert model.evaluate(XT, YT)["accuracy"] == r["test_accuracy"]
    # mean and spread over the seeds of each configuration
    for row in ref.configurations():
        values = [x["val_accuracy"] for x in ref.records if x["config"] == row["config"]]
        assert row["metric"] == pytest.approx((np.mean(values), np.std(values, ddof=1)), nan_ok=True)
    assert ref.best["val_accuracy"] == max(x["val_accuracy"] for x in ref.records)
    assert ref.best_model.evaluate(XV, YV)["loss"] == pytest.approx(ref.best["val_loss"], rel=1e-6)
    # on two worker processes, which get the data (and the build function) once each
    count = tmp_path / "unpickled.txt"
    two = sweep(Counting(count), seeds=2, jobs=2)
    assert plain(two.records) == plain(ref.records)
    workers = {r["worker"].rsplit(":", 1)[1] for r in two.records}
    unpickled = count.read_text().split()
    assert str(os.getpid()) not in workers and workers <= set(unpickled)
    assert len(unpickled) == len(set(unpickled)) <= 2  # once in each of the (at most 2) worker processes


def test_successive_halving_keeps_the_best_third_and_its_trials_match_full_runs():
    grid = {"lr": [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0]}
    result = sweep(build, grid=grid, fit={"epochs": 9, "batch_size": 16}, halving=Halving(eta=3), metric="val_loss",
                   jobs=1)
    by_rung = {k: [r for r in result.records if r["rung"] == k] for k in range(3)}
    assert [len(by_rung[k]) for k in range(3)] == [9, 3, 1]
    assert [{r["budget"] for r in by_rung[k]} for k in range(3)] == [{1}, {3}, {9}]
    first = sorted(by_rung[0], key=lambda r: (r["val_loss"], r["config"]))
    assert sorted(r["config"] for r in by_rung[1]) == sorted(r["config"] for r in first[:3])
    winner = min(by_rung[1], key=lambda r: (r["val_loss"], r["config"]))
    assert by_rung[2][0]["config"] == winner["config"]
    assert [r["status"] for r in result.configurations()].count("stopped") == 8
    # a promoted trial starts again: its record is that of an undisturbed run with the longer budget
    full = sweep(build, grid={"lr": [winner["params"]["lr"]]}, fit={"epochs": 9, "batch_size": 16}, jobs=1)
    drop = ("trial", "config", "rung", "budget", "seconds", "worker")
    assert {k: v for k, v in by_rung[2][0].items() if k not in drop} == \
        {k: v for k, v in full.records[0].items() if k not in drop}


def test_a_trial_that_raises_is_recorded_as_failed_and_the_sweep_goes_on(tmp_path):
    result = sweep(failing, jobs=1, out=tmp_path)
    logged = read_records(tmp_path / "trials.jsonl")
    assert plain(logged) == plain(result.records) and len(logged) == 4
    failed = [r for r in logged if r["status"] == "failed"]
    assert [r["params"]["hidden"] for r in failed] == [2, 2]
    assert failed[0]["error"] == "ValueError: no network of 2 hidden units today"
    assert all(r["status"] == "ok" and r["val_accuracy"] > 0.5 for r in logged if r["params"]["hidden"] == 4)
    assert "failed 1/1" in str(result) and "no network of 2 hidden units today" in str(result)
    assert gn.load(tmp_path / "best.npz").meta["sweep"]["trial"] == result.best["trial"]


def test_a_killed_worker_process_is_replaced_and_nothing_is_lost(reference, tmp_path):
    marker = tmp_path / "pid"
    killed = []
    killer = threading.Thread(target=lambda: killed.append(os.kill(wait_for_pid(marker), signal.SIGKILL)))
    killer.start()
    try:
        result = sweep(Blocking(marker, 4, 0.1), seeds=2, jobs=2, out=tmp_path / "sweep")
    finally:
        killer.join(WAIT_S)
    assert killed == [None]
    logged = read_records(tmp_path / "sweep" / "trials.jsonl")
    assert sorted(r["trial"] for r in logged) == list(range(8))  # every trial exactly once
    assert plain(sorted(logged, key=lambda r: r["trial"])) == plain(reference.records) == plain(result.records)
    blocked = [r["worker"].rsplit(":", 1)[1] for r in logged if r["params"] == {"hidden": 4, "lr": 0.1}]
    assert str(wait_for_pid(marker)) not in blocked  # the killed trial ran again in another process


def blocking_sweep(out, marker):
    """Run in a child process by the next test, which kills it."""
    sweep(Blocking(marker, 4, 0.1), seeds=2, jobs=1, out=out)


def test_a_killed_sweep_resumes_running_only_the_missing_trials(reference, tmp_path):
    out, marker = tmp_path / "sweep", tmp_path / "pid"
    code = f"import sys; sys.path[:0] = [{TESTS!r}, {ROOT!r}]; import test_sweep; " \
           f"test_sweep.blocking_sweep({str(out)!r}, {str(marker)!r})"  # ROOT: the conftest test_sweep imports
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stderr=subprocess.PIPE)
    try:
        assert wait_for_pid(marker) == child.pid  # jobs=1: the trial runs in the sweep's own process
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(WAIT_S)
    assert child.returncode == -signal.SIGKILL
    logged = read_records(out / "trials.jsonl")
    assert [r["trial"] for r in logged] == [0, 1, 2, 3]  # configuration (4, 0.1) comes third
    with open(out / "trials.jsonl", "ab") as f:
        f.write(b'{"trial": 4, "config": 2, "st')  # as if the process had died in the middle of a line
    with pytest.raises(ValueError, match="already holds a sweep; --resume continues it"):
        sweep(Blocking(marker, 4, 0.1), seeds=2, jobs=1, out=out)
    resumed = sweep(Blocking(marker, 4, 0.1), seeds=2, jobs=1, out=out, resume=True)
    assert resumed.ran == 4
    logged = read_records(out / "trials.jsonl")
    assert [r["trial"] for r in logged] == list(range(8))
    assert plain(logged) == plain(reference.records) == plain(resumed.records)
    again = sweep(Blocking(marker, 4, 0.1), seeds=2, jobs=1, out=out, resume=True)
    assert again.ran == 0 and len(read_records(out / "trials.jsonl")) == 8
    with pytest.raises(ValueError, match="holds a different sweep"):
        sweep(Blocking(marker, 4, 0.1), seeds=3, jobs=1, out=out, resume=True)


def test_restarts_and_the_genetic_algorithm_take_an_executor():
    fit = {"X": XTR, "Y": YTR, "epochs": 5, "batch_size": 16}
    serial = restarts(build, 3, fit, seed=4, validation_data=(XV, YV))
    with ThreadPoolExecutor(2) as ex:
        threaded = restarts(build, 3, fit, seed=4, validation_data=(XV, YV), executor=ex)
    assert [r.val_loss for r in serial.runs] == [r.val_loss for r in threaded.runs]
    assert serial.best_index == threaded.best_index
    Xg, yg = logic_gate("xor")

    def evolve(executor):
        ga = GeneticAlgorithm(population=24, seed=0, executor=executor)
        model = Sequential([Dense(2, 3, activation="tanh"), Dense(3, 1, activation="sigmoid")], seed=0)
        model.compile("binary_cross_entropy", ga)
        return model.fit(Xg, yg, epochs=15, batch_size=None, shuffle=False, verbose=0)["loss"], ga, model

    losses, ga, model = evolve(None)
    with ThreadPoolExecutor(3) as ex:
        losses_par, ga_par, model_par = evolve(ex)
    assert losses_par == losses and ga_par.evaluations == ga.evaluations == 15 * 24
    for a, b in zip(model.get_weights(), model_par.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments_fail_in_one_line_before_any_trial(tmp_path, monkeypatch):
    out = tmp_path / "never"
    cases = [
        ({"grid": {"depth": [1, 2]}}, "unknown option 'depth': .*build takes hidden, lr"),
        ({"grid": {"lr": []}}, r"grid\['lr'\] is empty"),
        ({"validation_data": None}, "metric val_accuracy needs validation data"),
        ({"grid": {"epochs": [2, 4]}, "halving": True}, "do not sweep epochs with it"),
        ({"seeds": 0}, "seeds must be a whole number >= 1, got 0"),
        ({"jobs": 0}, "jobs must be a whole number >= 1, got 0"),
        ({"grid": {"hidden": [0]}}, "configuration {hidden=0}: "),
        ({"fit": {"epochs": 2, "seed": 1}}, "fit must not hold 'seed'"),
    ]
    for kwargs, message in cases:
        if "validation_data" in kwargs:
            kwargs["metric"] = "val_accuracy"
        with pytest.raises(ValueError, match=message):
            sweep(build, out=out, **kwargs)
        assert not out.exists()
    with pytest.raises(ValueError, match="picklable"):
        sweep(lambda seed, hidden=4, lr=0.3: build(seed, hidden, lr), jobs=2, out=out)
    assert not out.exists()

    def interactive(seed, hidden=4, lr=0.3):
        return build(seed, hidden, lr)

    interactive.__module__ = "__main__"  # as if typed into a notebook: worker processes cannot import it
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
    with pytest.raises(ValueError, match="interactive is defined in an interactive session or a notebook"):
        sweep(interactive, jobs=2, out=out)
    assert not out.exists()
    with pytest.raises(ValueError, match="a build function needs data"):
        gn.sweep(build, grid=GRID)
    with pytest.raises(ValueError, match="unknown setting 'speed'"):
        gn.sweep(None, settings={"speed": 1})


def test_record_runs_keeps_every_trials_epochs_to_replay(tmp_path):
    need("tensorboardX", "runs")
    from glassnet.train.runs import load_run

    result = gn.sweep(build, grid={"hidden": [2, 4]}, data=DATA["data"], validation_data=DATA["validation_data"],
                   fit=FIT, jobs=1, out=tmp_path / "s", record_runs=True, verbose=0)
    folders = sorted(p.name for p in (tmp_path / "s" / "runs").iterdir())
    assert folders == [f"trial-{r['trial']:04d}" for r in sorted(result.trials, key=lambda r: r["trial"])]
    for r in result.trials:
        run = load_run(tmp_path / "s" / "runs" / f"trial-{r['trial']:04d}")
        assert run.epochs[-1] == FIT["epochs"]
        final = run.model(run.epochs[-1])
        again = build(r["seed"], **r["params"])
        again.fit(*DATA["data"], validation_data=DATA["validation_data"], seed=r["seed"], verbose=0, **FIT)
        for a, b in zip(final.get_weights(), again.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b.astype(np.float32))
    with pytest.raises(ValueError, match="record_runs=True needs out=DIR"):
        gn.sweep(build, grid={"hidden": [2]}, data=DATA["data"], fit=FIT, jobs=1, record_runs=True, verbose=0)
