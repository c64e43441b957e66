"""The glassnet command end to end, through subprocesses, as a user runs it."""

import json
import os
import subprocess
import sys

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
