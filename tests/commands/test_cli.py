"""The glassnet command end to end, through subprocesses, as a user runs it."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from glassnet.datasets import mnist


def glassnet(*args, cwd=None, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA_DIR"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "glassnet.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir):
    """A small digit recogniser trained by ``glassnet train`` on the full MNIST (2 epochs)."""
    out = tmp_path_factory.mktemp("cli") / "model.npz"
    run = glassnet("train", "--hidden", "128", "--epochs", "2", "--data-dir", mnist_dir, "--out", out, "--json")
    assert run.returncode == 0, run.stderr
    return out, json.loads(run.stdout.strip().splitlines()[-1]), run, mnist_dir


def test_train_reports_json_and_saves(trained):
    out, result, run, _ = trained
    assert out.is_file()
    assert {"test_accuracy", "seconds", "epochs", "parameters"} <= set(result)
    assert result["epochs"] == 2 and result["parameters"] == 784 * 128 + 128 + 128 * 10 + 10
    assert result["test_accuracy"] > 0.95 and result["test_images"] == 10_000
    assert "epoch 2/2" in run.stderr and "val_accuracy" in run.stderr  # progress per epoch


def test_evaluate_prints_accuracy_per_class_and_confusion_matrix(trained):
    out, result, _, mnist_dir = trained
    run = glassnet("evaluate", out, "--data-dir", mnist_dir, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["accuracy"] == pytest.approx(result["test_accuracy"], abs=1e-4)
    cm = np.array(report["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10_000
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(mnist.load("test", mnist_dir)[1]))
    assert "precision" in run.stdout and "confusion matrix" in run.stdout


def test_summary(trained):
    run = glassnet("summary", trained[0])
    assert run.returncode == 0 and "101,770" in run.stdout and "Dense, softmax" in run.stdout


def write_digit(path, image28, size, invert, rgb=False):
    from PIL import Image

    img = Image.fromarray((image28.reshape(28, 28) * 255).astype(np.uint8))
    img = img.resize((size, size), Image.BICUBIC)
    if invert:
        img = Image.eval(img, lambda v: 255 - v)
    if rgb:
        img = img.convert("RGB")
    img.save(path)


def test_predict_reads_pictures_like_mnist(trained, tmp_path):
    out, _, _, mnist_dir = trained
    X, y = mnist.load("test", mnist_dir)
    paths, labels = [], []
    for i in range(24):
        size, invert = [(28, False), (64, True), (150, False), (300, True)][i % 4]
        path = tmp_path / f"d{i}_{y[i]}.{'jpg' if i % 6 == 5 else 'png'}"
        write_digit(path, X[i], size, invert, rgb=path.suffix == ".jpg")
        paths.append(path)
        labels.append(int(y[i]))
    run = glassnet("predict", out, *paths, "--json")
    assert run.returncode == 0, run.stderr
    preds = json.loads(run.stdout.strip().splitlines()[-1])["predictions"]
    top1 = [p["top"][0][0] for p in preds]
    assert all(len(p["top"]) == 3 for p in preds)
    assert np.mean(np.array(top1) == np.array(labels)) >= 0.8, (top1, labels)
    assert f"{paths[0]}: " in run.stdout


@pytest.mark.parametrize("args,message", [
    (["train", "--preset", "lenet5"], "invalid choice: 'lenet5'"),
    (["evaluate", "/nonexistent/model.npz"], "no such model file"),
    (["summary", "/nonexistent/model.npz"], "no such model file"),
    (["train", "--hidden", "12,x"], "layer sizes"),
    (["train", "--activation", "relux", "--epochs", "1"], "unknown activation 'relux'; known:"),
    (["train", "--data-dir", "/nonexistent/dir", "--epochs", "1"], "/nonexistent/dir"),
])
def test_errors_print_one_line_and_exit_non_zero(args, message, tmp_path):
    run = glassnet(*args, cwd=tmp_path)
    assert run.returncode != 0
    assert message in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_predict_bad_image_and_debug_traceback(trained, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    run = glassnet("predict", trained[0], bad)
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1 and str(bad) in run.stderr
    run = glassnet("--debug", "predict", trained[0], bad)
    assert run.returncode == 1 and "Traceback" in run.stderr


def test_train_offline_on_the_embedded_sample(tmp_path):
    """No data anywhere and no network: the main job still runs on the sample shipped in the package."""
    run = glassnet("train", "--hidden", "32", "--epochs", "1", "--json", cwd=tmp_path,
                   env_extra={"GLASSNET_CACHE_DIR": str(tmp_path / "cache"), "http_proxy": "http://127.0.0.1:9",
                              "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["train_images"] == 5000 and result["test_images"] == 1000
    assert "embedded MNIST sample" in run.stderr and (tmp_path / "model.npz").is_file()


def test_default_preset_reaches_98_percent(mnist_dir, tmp_path):
    """The acceptance run of the main job: the default preset on the full MNIST."""
    run = glassnet("train", "--data-dir", mnist_dir, "--out", tmp_path / "m.npz", "--json", "--quiet")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"default preset: {result['test_accuracy']:.4f} in {result['seconds']} s, {result['epochs']} epochs")
    assert result["test_accuracy"] >= 0.980


# ---------------------------------------------------------------- nothing lost: interruption and resume
SMALL = ["--sample", "--hidden", "16", "--early-stopping", "0", "--threads", "1", "--quiet"]


def _start_train(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "GLASSNET_DATA_DIR"}
    return subprocess.Popen([sys.executable, "-m", "glassnet.cli", "train", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def _reference(epochs, snapshots=None):
    """The run of ``glassnet train SMALL --epochs N`` in this process, weights after each epoch."""
    import glassnet as gn
    from glassnet._base.blas import blas_threads
    from glassnet.commands import train

    cfg = {**train.PRESETS["default"], "hidden": [16], "early_stopping": 0, "epochs": epochs}
    X, y = mnist.load("train", sample=True)

    class Keep(gn.Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots.append(self.model.get_weights())

    with blas_threads(1):
        model = train.build(cfg, 0)
        model.fit(X, y, epochs=epochs, batch_size=cfg["batch_size"], validation_split=cfg["validation"], seed=0,
                  verbose=0, callbacks=[Keep()] if snapshots is not None else [])
    return model


def _arrays(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files if k != "__config__"}


def _assert_same(arrays, expected):
    assert sorted(arrays) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)


def test_ctrl_c_saves_the_last_finished_epoch_and_resume_ends_as_if_never_stopped(tmp_path):
    epochs = 12
    proc = _start_train(*SMALL, "--epochs", epochs, "--checkpoint-dir", "ck", "--out", "m.npz", cwd=tmp_path)
    _wait_for(tmp_path / "ck" / "epoch-0003.npz", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    found = re.fullmatch(r"glassnet train: interrupted \(Ctrl-C\) in epoch (\d+)/12: saved the weights of epoch "
                         r"(\d+) \(last finished\) to m.npz; continue with --resume ck", err.strip().splitlines()[-1])
    assert found, err
    saved_epoch = int(found.group(2))
    assert int(found.group(1)) == saved_epoch + 1 and saved_epoch >= 3

    resumed = glassnet("train", "--resume", "ck", "--out", "m2.npz", "--threads", "1", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0 and "glassnet: resuming from ck/epoch-" in resumed.stderr, resumed.stderr

    snapshots = []
    reference = _reference(epochs, snapshots)
    _assert_same(_arrays(tmp_path / "m2.npz"), reference.state_dict())
    keys = [f"layer{i}.{p.name}" for i, layer in enumerate(reference.layers) for p in layer.params]
    _assert_same(_arrays(tmp_path / "m.npz"), dict(zip(keys, snapshots[saved_epoch - 1], strict=True)))


def test_sigterm_saves_and_exits_143(tmp_path):
    proc = _start_train(*SMALL, "--epochs", 200, "--checkpoint-dir", "ck", "--out", "m.npz", cwd=tmp_path)
    _wait_for(tmp_path / "ck" / "epoch-0001.npz", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"glassnet train: interrupted \(SIGTERM\) in epoch \d+/200: saved the weights of epoch \d+ "
                        r"\(last finished\) to m.npz; continue with --resume ck", last), err
    assert "Traceback" not in err and (tmp_path / "m.npz").is_file()


def test_resume_errors_are_one_line(tmp_path, monkeypatch, capsys):
    """In this process (quicker than a subprocess each): what main() prints and returns."""
    from glassnet.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")

    def train(*args):
        code = main(["train", *SMALL, *args])
        return code, capsys.readouterr().err

    for args, message in [
        (["--resume"], "--resume without a folder resumes from --checkpoint-dir"),
        (["--resume", "nothing-here"], "nothing-here: no complete checkpoint to resume from"),
        (["--out", "file.txt/m.npz"], "--out: cannot write into file.txt"),
    ]:
        code, err = train("--epochs", "1", *args)
        assert code == 1 and err.startswith("glassnet train: error: ") and message in err, err
        assert len(err.strip().splitlines()) == 1, err
    assert train("--epochs", "1", "--checkpoint-dir", "ck")[0] == 0
    code, err = train("--epochs", "2", "--resume", "ck", "--lr", "0.5")
    assert code == 1 and "--lr 0.5 differs from the run being resumed (0.05)" in err
    code, err = train("--epochs", "1", "--checkpoint-dir", "ck")
    assert code == 1 and "already holds the checkpoints of a run" in err
    code, err = train("--epochs", "2", "--resume", "ck")  # only --epochs may change
    assert code == 0 and "resuming from ck/epoch-0001.npz (epoch 1 of 2)" in err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler lived only while training


# ---------------------------------------------------------------- optional extras, checked before any work
BLOCK = "import sys; sys.modules[{module!r}] = None; from glassnet.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("module,args,message", [
    ("matplotlib", ["train", "--sample", "--epochs", "1", "--plots", "plots"],
     "glassnet train: error: --plots needs matplotlib: pip install 'glassnet[plot]'"),
    ("matplotlib", ["plot", "weights", "m.npz", "-o", "w.png"],
     "glassnet plot: error: glassnet plot needs matplotlib: pip install 'glassnet[plot]'"),
    ("PIL", ["predict", "m.npz", "digit.png"],
     "glassnet predict: error: glassnet predict needs Pillow: pip install 'glassnet[image]'"),
])
def test_missing_extra_is_named_before_any_work(tmp_path, module, args, message):
    run = subprocess.run([sys.executable, "-c", BLOCK.format(module=module), *args], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert run.returncode == 1 and run.stderr.strip() == message, run.stderr
    assert not list(tmp_path.iterdir())  # no data read, nothing trained, nothing written
