"""The first minute of a new user: every ordinary mistake on the command line is caught before any work starts,
in one line in the command's own terms, with exit status 2 for a usage error (as argparse gives) and 1 for a path
or a file that is wrong. Run in this process (``cli.main`` with argv) to stay quick; a few subprocesses prove the
real exit codes."""

import os
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import need

import glassnet as gn
from glassnet.cli import main
from glassnet.datasets import mnist

READ_ONLY = "/sys" if os.geteuid() == 0 else "ro"  # root writes into a chmod 555 folder; /sys refuses even root


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder holding a small digit model, a folder, a damaged model, a picture, an empty picture and a
    read-only folder; loading data and training fail loudly here, so a case that started work cannot pass."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GLASSNET_DATA_DIR", raising=False)
    gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0).compile(loss="cross_entropy").save("m.npz")
    (tmp_path / "adir").mkdir()
    (tmp_path / "adir.png").mkdir()
    (tmp_path / "damaged.npz").write_bytes(b"not a zip archive at all")
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "ro").mkdir(mode=0o555)
    from PIL import Image

    X, _ = mnist.load("test", sample=True)
    for i, name in enumerate(("a.png", "b.png")):
        Image.fromarray((255 * X[i].reshape(28, 28)).astype(np.uint8)).save(tmp_path / name)
    (tmp_path / "blank.png").write_bytes(b"")

    def no_work(*args, **kwargs):
        raise AssertionError("work started: data loaded or a model trained")

    monkeypatch.setattr(mnist, "load", no_work)
    monkeypatch.setattr(gn.Sequential, "fit", no_work)
    from glassnet.commands import playground

    monkeypatch.setattr(playground, "_quick_model", no_work)
    yield tmp_path
    (tmp_path / "ro").chmod(0o755)


EVERY_MISTAKE = [
    # train: values, in the command's words, exit 2
    (["train", "--lr", "nan"], 2, "--lr must be a positive number, got nan"),
    (["train", "--lr", "-1"], 2, "--lr must be a positive number, got -1"),
    (["train", "--lr", "0"], 2, "--lr must be a positive number, got 0"),
    (["train", "--lr", "inf"], 2, "--lr must be a positive number, got inf"),
    (["train", "--lr", "fast"], 2, "--lr must be a positive number, got 'fast'"),
    (["train", "--batch-size", "-5"], 2, "--batch-size must be a whole number >= 1 (or 0: the full batch), got -5"),
    (["train", "--validation", "2"], 2, "--validation must be a number in [0, 1), got 2"),
    (["train", "--validation", "1"], 2, "--validation must be a number in [0, 1), got 1"),
    (["train", "--threads", "-1"], 2, "--threads must be a whole number >= 1, got -1"),
    (["train", "--threads", "0"], 2, "--threads must be a whole number >= 1, got 0"),
    (["train", "--epochs", "0"], 2, "--epochs must be a whole number >= 1, got 0"),
    (["train", "--seed", "-3"], 2, "--seed must be a whole number >= 0, got -3"),
    (["train", "--momentum", "1"], 2, "--momentum must be a number in [0, 1), got 1"),
    (["train", "--dropout", "1.5"], 2, "--dropout must be a number in [0, 1), got 1.5"),
    (["train", "--l2", "-0.1"], 2, "--l2 must be a number >= 0, got -0.1"),
    (["train", "--decay", "0"], 2, "--decay must be a number in (0, 1], got 0"),
    (["train", "--hidden", "12,x"], 2, "--hidden must be comma-separated layer sizes like 128,64, got '12,x'"),
    (["train", "--preset", "lenet5"], 2, "argument --preset: invalid choice: 'lenet5'"),
    (["train", "--activation", "relux"], 2, "unknown activation 'relux'; known:"),
    (["train", "--schedule", "exponential", "--warmup", "2"], 2, "a warm-up goes with the cosine or onecycle"),
    (["train", "--sample", "--data-dir", "adir"], 2, "give either --sample or --data-dir, not both"),
    (["train", "--bogus"], 2, "unrecognized arguments: --bogus"),
    # train: paths, exit 1, before any work
    (["train", "--out", "adir"], 1, "--out adir is a directory; name a file to write"),
    (["train", "--out", f"{READ_ONLY}/m.npz"], 1, f"--out: cannot write into {READ_ONLY}: Permission denied"),
    (["train", "--out", "file.txt/m.npz"], 1, "--out: cannot write into file.txt: it is a file, not a folder"),
    (["train", "--plots", "file.txt"], 1, "--plots: cannot write into file.txt: it is a file, not a folder"),
    (["train", "--data-dir", "/nonexistent"], 1, "--data-dir /nonexistent does not exist"),
    (["train", "--data-dir", "file.txt"], 1, "--data-dir file.txt is not a folder"),
    (["train", "--resume", "nothing-here"], 1, "nothing-here: no complete checkpoint to resume from"),
    # evaluate: the shared options, its own name in the error
    (["evaluate", "--sample"], 2, "the following arguments are required: model"),
    (["evaluate", "m.npz", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["evaluate", "m.npz", "--threads", "0"], 2, "--threads must be a whole number >= 1, got 0"),
    (["evaluate", "m.npz", "--sample", "--data-dir", "adir"], 2, "give either --sample or --data-dir, not both"),
    (["evaluate", "adir", "--sample"], 1, "adir is a directory, not a model file"),
    (["evaluate", "missing.npz", "--sample"], 1, "no such model file: missing.npz"),
    (["evaluate", "damaged.npz", "--sample"], 1, "damaged.npz: not a readable glassnet model file (file is not a zip"),
    (["evaluate", "m.npz", "--data-dir", "/nonexistent"], 1, "--data-dir /nonexistent does not exist"),
    # predict, summary, explain, export, plot
    (["predict", "adir", "a.png"], 1, "adir is a directory, not a model file"),
    (["predict", "m.npz", "a.png", "--top", "0"], 2, "--top must be a whole number >= 1, got 0"),
    (["summary", "adir"], 1, "adir is a directory, not a model file"),
    (["summary", "damaged.npz"], 1, "damaged.npz: not a readable glassnet model file (file is not a zip"),
    (["explain", "m.npz", "adir", "-o", "o.png"], 1, "adir is a directory, not a picture"),
    (["explain", "adir", "a.png", "-o", "o.png"], 1, "adir is a directory, not a model file"),
    (["explain", "m.npz", "a.png", "-o", "adir.png"], 1, "-o adir.png is a directory"),
    (["explain", "m.npz", "a.png", "-o", "o.png", "--threads", "-2"], 2, "--threads must be a whole number >= 1"),
    (["explain", "m.npz", "a.png", "-o", "o.png", "--steps", "0"], 1, "--steps must be >= 1, got 0"),
    (["export", "adir", "m.onnx"], 1, "adir is a directory, not a model file"),
    (["export", "m.npz", "adir"], 1, "OUT adir is a directory; name a file to write"),
    (["export", "m.npz", "m.onnx", "--opset", "-1"], 2, "--opset must be a whole number >= 1, got -1"),
    (["plot", "weights", "adir", "-o", "w.png"], 1, "adir is a directory, not a model file"),
    (["plot", "activations", "-o", "adir"], 1, "-o adir is a directory; name a file to write"),
    (["plot", "confusion", "m.npz", "-o", "c.png", "--limit", "0"], 2, "--limit must be a whole number >= 1, got 0"),
    (["plot", "confusion", "m.npz", "-o", "c.png", "--data-dir", "/nonexistent"], 1,
     "--data-dir /nonexistent does not exist"),
    (["plot", "activations", "m.npz", "-o", "a.png"], 1, "'activations' takes no model file"),
    # autoencoder
    (["autoencoder", "--lr", "nan"], 2, "--lr must be a positive number, got nan"),
    (["autoencoder", "--code", "0"], 2, "--code must be >= 1, got 0"),
    (["autoencoder", "--batch-size", "-5"], 2, "--batch-size must be >= 1, got -5"),
    (["autoencoder", "--threads", "0"], 2, "--threads must be a whole number >= 1, got 0"),
    (["autoencoder", "--out", "adir"], 1, "--out adir is a directory; name a file to write"),
    (["autoencoder", "--data-dir", "/nonexistent"], 1, "--data-dir /nonexistent does not exist"),
    # sweep (glassnet train's options, checked alike, and its own)
    (["sweep", "--threads", "0", "--out", "s"], 2, "--threads must be a whole number >= 1, got 0"),
    (["sweep", "--seeds", "0", "--out", "s"], 2, "--seeds must be a whole number >= 1, got 0"),
    (["sweep", "--grid", "lr=0.1,0.2", "--lr", "nan", "--out", "s"], 2, "--lr must be a positive number, got nan"),
    (["sweep", "--grid", "lr=0,0.1", "--out", "s"], 1, "--grid lr: must be a positive number, got 0"),
    (["sweep", "--grid", "lr=0.1,0.2"], 1, "--out DIR is required"),
    (["sweep", "--grid", "lr=0.1,0.2", "--out", "s", "--data-dir", "/nonexistent"], 1,
     "--data-dir /nonexistent does not exist"),
    # playground: everything before the port is bound and the start model trained
    (["playground", "--port", "70000", "--no-browser"], 2, "--port must be a port number in 0..65535, got 70000"),
    (["playground", "--port", "0", "--no-browser", "--data-dir", "/nonexistent"], 1,
     "--data-dir /nonexistent does not exist"),
    (["playground", "adir", "--port", "0", "--no-browser"], 1, "adir is a directory, not a model file"),
    (["playground", "--port", "0", "--no-browser", "--runs", "adir/none"], 1, "adir/none"),
    (["playground", "--port", "0", "--no-browser", "--allow-host", "a b"], 1, "a b"),
]


@pytest.mark.parametrize("argv, status, message", EVERY_MISTAKE, ids=[" ".join(c[0]) for c in EVERY_MISTAKE])
def test_each_mistake_is_one_line_before_any_work(workdir, capsys, argv, status, message):
    if argv[0] in ("export",):
        need("onnx", "onnx")
    if argv[0] == "playground":
        need("starlette", "playground")
    start = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - start
    out, err = capsys.readouterr()
    assert code == status, err
    assert err.startswith(f"glassnet {argv[0]}: error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err and "Error:" not in err, err  # no "BadZipFile:", no "ValueError:"
    assert seconds < 1.0, f"{seconds:.2f} s"
    assert not re.search(r"^epoch ", out + err, re.M) and not out.strip()
    assert not any((workdir / name).exists() for name in ("model.npz", "o.png", "c.png", "a.png.out", "s"))


def test_a_port_in_use_fails_before_the_start_model_is_trained(workdir, capsys):
    need("starlette", "playground")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        start = time.perf_counter()
        code = main(["playground", "--port", str(port), "--no-browser"])  # _quick_model would raise
        seconds = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"glassnet playground: error: cannot listen on 127.0.0.1:{port}: "), err
    assert err.count("\n") == 1 and seconds < 1.0


def test_predict_reports_each_bad_picture_and_goes_on(workdir, capsys):
    code = main(["predict", "m.npz", "a.png", "blank.png", "adir", "b.png", "--json"])
    out, err = capsys.readouterr()
    assert code == 1  # some failed
    lines = out.strip().splitlines()
    assert lines[0].startswith("a.png: ") and lines[1].startswith("b.png: ")
    assert err.splitlines() == [
        "glassnet predict: error: expected a picture (PNG, JPEG, ...), blank.png is empty (0 bytes)",
        "glassnet predict: error: adir is a directory, not a picture",
        "glassnet predict: 2 of 4 pictures could not be read",
    ]
    import json

    result = json.loads(lines[-1])
    assert result["failed"] == 2 and [p["image"] for p in result["predictions"]] == ["a.png", "blank.png", "adir",
                                                                                      "b.png"]
    assert main(["predict", "m.npz", "a.png", "b.png"]) == 0  # all read: success
    capsys.readouterr()


def test_summary_shows_the_schedule_as_configured_and_results_as_a_table(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--sample", "--hidden", "16", "--epochs", "2", "--threads", "1", "--quiet", "--augment",
                 "off", "--schedule", "cosine", "--lr", "0.05", "--out", "m.npz"]) == 0
    trained = capsys.readouterr().out
    assert "after 2 epochs" in trained
    assert main(["summary", "m.npz"]) == 0
    out = capsys.readouterr().out
    assert "learning rate 0.05, cosine annealing to 0 over 2 epochs" in out, out
    assert "lr=" not in out  # not the annealed rate of the last step
    table = out.split("\nresults\n", 1)[1].splitlines()
    assert re.fullmatch(r"  test accuracy +0\.\d{4}", table[0]) and "{" not in out
    assert any(re.fullmatch(r"  train images +5,000", line) for line in table), table


def test_one_epoch_is_singular(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--sample", "--hidden", "8", "--epochs", "1", "--threads", "1", "--quiet",
                 "--augment", "off"]) == 0
    assert "after 1 epoch in" in capsys.readouterr().out


def test_sweep_help_names_show_once(capsys):
    assert main(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    assert "positional arguments" not in out and not re.search(r"show \.\.\.", out)
    assert len(re.findall(r"^\s+show\b", out, re.M)) == 0 and out.count("glassnet sweep show DIR [--sort") == 1


def test_the_same_option_is_spelled_the_same_everywhere():
    """--data-dir, --sample, --threads, --json, --seed and --quiet mean one thing in every command that has them."""
    from glassnet.cli import build_parser

    parser = build_parser()
    commands = parser._defaults["subparsers"]
    have = {name: {s for a in p._actions for s in a.option_strings} for name, p in commands.items()}
    for name in ("train", "evaluate", "autoencoder", "plot", "sweep"):
        assert {"--data-dir", "--sample"} <= have[name], name
    for name in ("train", "evaluate", "predict", "explain", "autoencoder", "sweep"):
        assert "--threads" in have[name], name
    for name in ("train", "evaluate", "predict", "explain", "summary", "autoencoder", "export", "sweep"):
        assert "--json" in have[name], name
    for name in ("train", "autoencoder", "playground", "sweep"):
        assert "--seed" in have[name], name
    for name in ("train", "evaluate", "sweep"):
        assert "--quiet" in have[name], name


# ----------------------------------------------------------------------------- the real exit codes
def _glassnet(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA_DIR"}
    return subprocess.run([sys.executable, "-m", "glassnet.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


@pytest.mark.parametrize("args, status, line", [
    (["train", "--lr", "nan"], 2, "glassnet train: error: --lr must be a positive number, got nan "
                                  "(see glassnet train --help)"),
    (["evaluate", "m.npz", "--bogus"], 2, "glassnet evaluate: error: unrecognized arguments: --bogus "
                                          "(see glassnet evaluate --help)"),
    (["train", "--out", "adir"], 1, "glassnet train: error: --out adir is a directory; name a file to write"),
])
def test_exit_codes_of_the_real_command(tmp_path, args, status, line):
    (tmp_path / "adir").mkdir()
    run = _glassnet(*args, cwd=tmp_path)
    assert run.returncode == status and run.stderr == line + "\n" and run.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]


# ----------------------------------------------------------------------------- the README's first command
def test_the_readme_first_command_offline_prints_one_data_line(tmp_path, monkeypatch, capsys):
    """A fresh clone, no MNIST anywhere, no network (the resolver fails, as offline): ``glassnet train`` (one
    epoch here, to stay quick) says where its data came from in exactly one short line that names the two
    options, tries no download twice, and leaves no empty cache folder behind."""
    for name in ("GLASSNET_DATA_DIR", "GLASSNET_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    clone = tmp_path / "glassnet"
    clone.mkdir()
    monkeypatch.chdir(clone)
    lookups = []

    def offline(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(mnist, "_RETRY_DELAY_S", 60.0)  # a retry would show as a minute's wait
    start = time.perf_counter()
    assert main(["train", "--epochs", "1", "--threads", "1"]) == 0
    seconds = time.perf_counter() - start
    err = capsys.readouterr().err
    data_lines = [line for line in err.splitlines() if "MNIST" in line or "download" in line or "data" in line]
    assert len(data_lines) == 1, err
    line = data_lines[0]
    assert line.startswith("data: embedded MNIST sample (5,000 of 60,000 train images; offline"), line
    assert "--data-dir DIR" in line and "--sample" in line and len(line) < 160, line
    assert len(lookups) == len(mnist.MIRRORS)  # each mirror's name looked up once, for the first file only
    assert not (home / ".cache").exists() and seconds < 30
    assert (clone / "model.npz").is_file()
