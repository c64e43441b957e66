"""``glassnet playground`` as a user starts it: a process that prints its address, serves, and stops cleanly."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest
from conftest import need

import glassnet as gn

need("starlette", "playground")


def start(*args):
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "glassnet.cli", "playground", "--port", "0", "--no-browser", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=60)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"no 'serving on' line within 60 s; stderr: {proc.stderr.read()}")
    match = re.fullmatch(r"serving on (http://127\.0\.0\.1:(\d+)/)\n", first)
    assert match, first
    return proc, match.group(1)


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def stop(proc, sig=signal.SIGINT):
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the playground did not stop within 20 s")
    return proc.returncode, proc.stderr.read()


def test_serves_given_models_and_stops_on_ctrl_c(digit_models, tmp_path):
    path = tmp_path / "digits.npz"
    digit_models["mlp"].save(path)
    proc, url = start(str(path))
    assert get(url + "api/health")["models"] == ["digits"]
    with urllib.request.urlopen(url, timeout=10) as r:
        assert b"Draw a digit" in r.read()
    code, err = stop(proc)
    assert code == 0 and err.strip().endswith("glassnet playground: stopped")


def test_without_a_model_it_trains_one_and_stops_on_sigterm():
    proc, url = start()
    models = get(url + "api/models")["models"]
    assert [m["name"] for m in models] == ["mlp"] and models[0]["test_accuracy"] > 0.8
    code, err = stop(proc, signal.SIGTERM)
    assert code == 0 and "no model given; 784-128-64-10 trained at start" in err


def run(*args, prelude=""):
    code = f"{prelude}\nimport sys\nfrom glassnet.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_names_the_missing_extra_before_doing_any_work():
    out = run("playground", "--no-browser", prelude="import sys\nsys.modules['uvicorn'] = None")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == ("glassnet playground: error: this command needs the playground extra (uvicorn missing): "
                          "pip install 'glassnet[playground]'\n")


def test_bad_model_files_and_options(tmp_path):
    out = run("playground", str(tmp_path / "missing.npz"), "--no-browser")
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "no such model file" in out.stderr
    small = gn.Sequential([gn.Dense(2, 1, activation="sigmoid")])
    small.save(tmp_path / "xor.npz")
    out = run("playground", str(tmp_path / "xor.npz"), "--no-browser")
    assert out.returncode == 1 and "the digit page needs models of 28x28 = 784 pixels" in out.stderr
    out = run("playground", "--port", "70000", "--no-browser")
    assert out.returncode == 2 and "--port must be a port number in 0..65535, got 70000" in out.stderr


def test_another_host_than_this_computer_gets_a_warning(capsys):
    from glassnet.playground.server import warn_if_exposed

    warn_if_exposed("127.0.0.1")
    assert capsys.readouterr().err == ""
    warn_if_exposed("0.0.0.0")
    assert "warning: serving on 0.0.0.0 lets anyone who can reach this machine" in capsys.readouterr().err
