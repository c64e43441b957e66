"""``glassnet sweep`` and ``glassnet sweep show``: end to end through a subprocess once, the rest in process."""

import contextlib
import json
import socket
import subprocess
import sys

import pytest
from conftest import need
from test_sweep import WAIT_S, plain

import glassnet as gn
from glassnet.cli import main
from glassnet.sweep.log import read_records


def tiny(mnist_dir):
    """A few hundred MNIST images and a small network: each trial takes a fraction of a second."""
    return ["--hidden", "16", "--epochs", "2", "--train-images", "400", "--test-images", "200",
            "--data-dir", str(mnist_dir)]


@pytest.fixture(scope="module")
def swept(mnist_dir, tmp_path_factory):
    """A grid of 2 x 2 settings with 2 seeds each on 2 local processes, run as a user runs it."""
    out = tmp_path_factory.mktemp("cli_sweep") / "lr"
    args = ["sweep", "--grid", "lr=0.05,0.2", "--grid", "hidden=16,32-16", "--seeds", "2", *tiny(mnist_dir)[2:],
            "--jobs", "2", "--out", str(out), "--json"]
    run = subprocess.run([sys.executable, "-m", "glassnet.cli", *args], capture_output=True, text=True,
                         timeout=WAIT_S * 3)
    assert run.returncode == 0, run.stderr
    return out, run, json.loads(run.stdout.strip().splitlines()[-1])


def test_sweep_logs_every_trial_keeps_the_best_model_and_prints_the_table(swept):
    out, run, summary = swept
    logged = read_records(out / "trials.jsonl")
    assert [r["trial"] for r in logged] != [] and sorted(r["trial"] for r in logged) == list(range(8))
    assert {json.dumps(r["params"], sort_keys=True) for r in logged} == {
        json.dumps({"lr": lr, "hidden": h}, sort_keys=True) for lr in (0.05, 0.2) for h in ([16], [32, 16])}
    assert all(r["status"] == "ok" and r["epochs"] == 2 and 0 < r["test_accuracy"] <= 1 for r in logged)
    assert summary["trials"] == 8 and summary["ran"] == 8 and summary["failed"] == 0
    best = max(logged, key=lambda r: (r["val_accuracy"], -r["trial"]))
    assert summary["best"]["trial"] == best["trial"]
    model = gn.load(out / "best.npz")
    assert model.meta["sweep"]["trial"] == best["trial"] and model.meta["config"]["hidden"] == best["params"]["hidden"]
    assert model.meta["task"] == "mnist" and model.input_shape == (784,)
    assert "[8/8] trial" in run.stderr and "on 2 local processes" in run.stderr and "best" in run.stderr
    table = run.stdout.splitlines()
    assert table[0].split()[:4] == ["#", "lr", "hidden", "seeds"] and len(table) == 2 + 4 + 2
    assert "+-" in table[2]


def test_show_sorts_cuts_and_plots(swept, capsys):
    need("matplotlib")
    out = swept[0]
    assert main(["sweep", "show", str(out), "--sort", "lr", "--top", "3", "--plot", str(out / "p.png")]) == 0
    captured = capsys.readouterr()
    rows = captured.out.strip().splitlines()[2:]
    assert len(rows) == 3 and [r.split()[1] for r in rows] == ["0.05", "0.05", "0.2"]
    assert (out / "p.png").stat().st_size > 1000 and f"wrote {out / 'p.png'}" in captured.err


def test_resume_runs_only_the_missing_trials(swept, tmp_path, capsys):
    out, run, _ = swept
    original = read_records(out / "trials.jsonl")
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "sweep.json").write_bytes((out / "sweep.json").read_bytes())
    lines = (out / "trials.jsonl").read_bytes().splitlines(keepends=True)
    (copy / "trials.jsonl").write_bytes(b"".join(lines[:5]) + lines[5][:30])  # 5 trials and a line cut short
    args = [a if a != str(out) else str(copy) for a in run.args[3:]]
    assert main([*args, "--resume", "--jobs", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["ran"] == 3 and summary["trials"] == 8
    resumed = read_records(copy / "trials.jsonl")
    key = lambda r: r["trial"]  # noqa: E731
    assert sorted(r["trial"] for r in resumed) == list(range(8))
    assert plain(sorted(resumed, key=key)) == plain(sorted(original, key=key))
    assert main([*args, "--resume"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["ran"] == 0


def test_random_search_with_halving(mnist_dir, tmp_path, capsys):
    out = tmp_path / "halving"
    argv = ["sweep", "--random", "lr=loguniform(0.01,0.5)", "--trials", "3", "--halving", "--epochs", "3",
            *tiny(mnist_dir)[:2], *tiny(mnist_dir)[4:], "--jobs", "1", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    logged = read_records(out / "trials.jsonl")
    assert [(r["rung"], r["budget"]) for r in logged] == [(0, 1)] * 3 + [(1, 3)]
    assert all(0.01 <= r["params"]["lr"] <= 0.5 for r in logged) and len({r["params"]["lr"] for r in logged}) == 3
    assert "stopped" in capsys.readouterr().out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args,message", [
    (["--grid", "depth=1,2"], "--grid: unknown option 'depth'; sweepable: activation, augment, batch_norm, batch_size"),
    (["--grid", "lr=abc"], "--grid lr: expected a number, got 'abc'"),
    (["--grid", "lr="], "--grid lr= has no values; give KEY=V1,V2,..."),
    (["--random", "lr=normal(0,1)"], "--random lr: expected uniform(A,B), loguniform(A,B) or choice(V1,V2,...)"),
    (["--grid", "lr=0.1,0.2", "--lr", "0.1"], "lr is both fixed (--lr) and swept (--grid); give one"),
    (["--epochs", "2"], "nothing to sweep: give --grid KEY=V1,V2"),
    (["--grid", "activation=relu,relux", "MNIST"], "configuration {activation=relux}: unknown activation 'relux'"),
    (["--grid", "lr=0.1,0.2", "--scheduler", "tcp://127.0.0.1:8786", "--jobs", "2"], "--jobs counts local processes"),
    (["--grid", "lr=0.1,0.2", "--scheduler", "UNREACHABLE"], "cannot reach the Dask scheduler at tcp://127.0.0.1:"),
])
def test_bad_input_fails_in_one_line_before_any_trial(args, message, mnist_dir, tmp_path, capsys):
    with contextlib.ExitStack() as stack:
        if "UNREACHABLE" in args:  # nothing listens on a port just freed: Dask gives up after 1 s
            dask, _ = need("dask"), need("distributed")
            stack.enter_context(dask.config.set({"distributed.comm.timeouts.connect": "1s"}))
            args = [a if a != "UNREACHABLE" else f"tcp://127.0.0.1:{free_port()}" for a in args]
        if "MNIST" in args:
            args = [*[a for a in args if a != "MNIST"], *tiny(mnist_dir), "--quiet"]
        out = tmp_path / "never"
        assert main(["sweep", *args, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_without_dask_scheduler_names_the_extra_and_out_is_required(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if glassnet[distributed] were not installed
    assert main(["sweep", "--grid", "lr=0.1,0.2", "--scheduler", "tcp://127.0.0.1:8786", "--out",
                 str(tmp_path / "x")]) == 1
    assert capsys.readouterr().err.strip() == ("glassnet sweep: error: --scheduler tcp://127.0.0.1:8786 needs Dask: "
                                               "pip install 'glassnet[distributed]'")
    assert main(["sweep", "--grid", "lr=0.1,0.2"]) == 1
    assert "--out DIR is required" in capsys.readouterr().err
    assert main(["sweep", "show", str(tmp_path / "nothing")]) == 1
    assert "no such sweep folder" in capsys.readouterr().err
