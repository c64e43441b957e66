"""``glassnet explain``: attributions of digit pictures and what a layer's units look for."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import need

need("matplotlib", "plot")
need("PIL", "image")

import glassnet as gn  # noqa: E402
from glassnet.cli import main  # noqa: E402
from glassnet.data.images import load_digit  # noqa: E402
from glassnet.datasets import mnist  # noqa: E402
from glassnet.explain import integrated_gradients, occlusion  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small digit recogniser trained on the embedded sample, and three test digits as pictures."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("explain")
    X, y = mnist.load("train", sample=True)
    model = gn.Sequential([gn.Dense(784, 32, activation="relu"), gn.Dropout(0.1),
                           gn.Dense(32, 10, activation="softmax")], seed=0)
    model.compile(loss="cross_entropy", optimizer=gn.SGD(0.1, momentum=0.9))
    model.fit(X[:2000], y[:2000], epochs=2, batch_size=50, seed=0, verbose=0)
    model.save(str(folder / "model.npz"))
    Xt, yt = mnist.load("test", sample=True)
    pictures = []
    for i in range(3):
        path = folder / f"digit{i}_{yt[i]}.png"
        Image.fromarray((255 - 255 * Xt[i].reshape(28, 28)).astype(np.uint8)).resize((84, 84)).save(path)
        pictures.append(path)
    return folder, folder / "model.npz", pictures


def _run(capsys, *args):
    code = main(["explain", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _png(path):
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_explain_pictures_with_integrated_gradients(files, capsys):
    folder, model_path, pictures = files
    out = folder / "why.png"
    code, stdout, err = _run(capsys, model_path, *pictures, "-o", out, "--json", "--threads", "1")
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["method"] == "ig" and len(result["explanations"]) == 3
    model = gn.load(str(model_path))
    X = np.stack([load_digit(p) for p in pictures])
    probs = model.predict(X)
    for x, p, e in zip(X, probs, result["explanations"], strict=True):
        ranked = np.argsort(-p)
        assert (e["class"], e["runner_up"]) == (ranked[0], ranked[1])
        assert sum(e["probabilities"]) == pytest.approx(1, abs=1e-3)
        for k in (e["class"], e["runner_up"]):
            expected = integrated_gradients(model, x[None], target=k)[0]
            np.testing.assert_allclose(e["attribution"][str(k)], expected, atol=2e-6)
    assert f"{pictures[0]}: {result['explanations'][0]['class']} (p=" in stdout
    width, height = _png(out)
    assert width > 600 and height > 3 * 150


def test_explain_a_chosen_class_by_occlusion(files, capsys):
    folder, model_path, pictures = files
    out = folder / "occlusion.png"
    code, stdout, err = _run(capsys, model_path, pictures[0], "--method", "occlusion", "--target", "3", "-o", out,
                             "--json")
    assert code == 0, err
    e = json.loads(stdout.strip().splitlines()[-1])["explanations"][0]
    assert e["class"] == 3 and e["runner_up"] != 3
    expected = occlusion(gn.load(str(model_path)), load_digit(pictures[0])[None], target=3)[0]
    np.testing.assert_allclose(e["attribution"]["3"], expected, atol=2e-6)
    _png(out)


def test_explain_units_draws_a_grid_of_maximising_inputs(files, capsys):
    folder, model_path, _ = files
    out = folder / "units.png"
    code, stdout, err = _run(capsys, model_path, "--units", "dense_1", "--max-units", "12", "--steps", "30",
                             "-o", out, "--json")
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1]) == {"layer": "dense_1", "units": list(range(12)), "of": 32,
                                                           "output": str(out)}
    assert "12 of 32 units of dense_1" in stdout
    _png(out)


def test_explain_end_to_end_through_the_console_command(files):
    folder, model_path, pictures = files
    out = folder / "e2e.png"
    run = subprocess.run([sys.executable, "-m", "glassnet.cli", "explain", str(model_path), str(pictures[1]),
                          "--method", "saliency", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"wrote {out}" in run.stdout and _png(out)


@pytest.mark.parametrize(("args", "message"), [
    ([], "give digit pictures to explain, or --units LAYER"),
    (["{pic}", "--units", "dense_1"], "--units takes no pictures"),
    (["--units", "dense_1", "--target", "2"], "--target explains pictures; it does not apply to --units"),
    (["{pic}", "--target", "-1"], "--target must be a class index >= 0, got -1"),
    (["{pic}", "--steps", "0"], "--steps must be >= 1, got 0"),
    (["--units", "0", "--max-units", "0"], "--max-units must be >= 1, got 0"),
    (["{pic}", "-o", "{dir}/out.txt"], "-o must name a .png, .svg, .pdf file, got"),
    (["{dir}/missing.png"], "no such picture: {dir}/missing.png"),
    (["{pic}", "--target", "10"], "--target must be a class index in 0..9, got 10"),
    (["--units", "conv9"], "layer must be an index 0..2, a name (dense_1, dropout_1, dense_2)"),
])
def test_bad_options_fail_in_one_line(files, capsys, args, message):
    folder, model_path, pictures = files
    fill = {"pic": pictures[0], "dir": folder}
    args = [a.format(**fill) for a in args]
    if "-o" not in args:
        args += ["-o", str(folder / "bad.png")]
    code, stdout, err = _run(capsys, model_path, *args)
    assert code == 1 and err.startswith("glassnet explain: error: ") and len(err.strip().splitlines()) == 1
    assert message.format(**fill) in err


def test_options_are_checked_before_the_model_is_read(files, capsys, tmp_path):
    folder, _, pictures = files
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a model")
    code, _, err = _run(capsys, damaged, pictures[0], "--steps", "0", "-o", tmp_path / "x.png")
    assert code == 1 and "--steps must be >= 1" in err
    code, _, err = _run(capsys, tmp_path / "none.npz", pictures[0], "-o", tmp_path / "x.png")
    assert code == 1 and "no such model file" in err
    code, _, err = _run(capsys, damaged, pictures[0], "-o", tmp_path / "x.png")
    assert code == 1 and "damaged.npz" in err and not (tmp_path / "x.png").exists()


def test_a_model_that_is_not_a_digit_recogniser_is_refused(tmp_path, capsys, files):
    model = gn.Sequential([gn.Dense(4, 3, activation="softmax")], seed=0)
    model.save(str(tmp_path / "small.npz"))
    code, _, err = _run(capsys, tmp_path / "small.npz", files[2][0], "-o", tmp_path / "x.png")
    assert code == 1 and "is not a digit recogniser: it takes inputs of shape (4,)" in err
