"""The Why? lens's API (/api/why, /api/why/fool, /api/why/looks-for) against a real server: its numbers are
glassnet.explain's, bad input gets one line, and explanations never disturb a model another request uses."""

from __future__ import annotations

import base64
import threading

import numpy as np
import pytest
from conftest import need
from test_playground_api import call, error_of

from glassnet import explain
from glassnet.datasets import mnist

need("starlette", "playground")


@pytest.fixture(scope="module")
def digits():
    X, y = mnist.load("test", sample=True)
    return X[:8].astype(np.float64), y[:8]


def unpack(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8).astype(np.float64)


def flags(model):
    return [(layer.needs_input_grad, layer.needs_param_grad) for layer in model.layers]


@pytest.mark.parametrize("method", ["ig", "saliency", "gradxinput", "occlusion"])
def test_the_attribution_is_glassnet_explains(playground, digit_models, digits, method):
    x = digits[0][3]
    model = digit_models["mlp"]
    before = flags(model)
    status, out = call(playground, "POST", "/api/why", {"model": "mlp", "pixels": x.tolist(), "method": method})
    assert status == 200 and out["method"] == method
    X = np.asarray(x, np.float32)[None]
    predicted = int(model.predict(X)[0].argmax())
    assert out["target"] == out["prediction"] == predicted
    fn = {"ig": explain.integrated_gradients, "saliency": explain.saliency,
          "gradxinput": explain.gradient_x_input, "occlusion": explain.occlusion}[method]
    expected = fn(model, X, predicted)[0]
    m = np.abs(expected).max()
    assert out["attribution"]["m"] == pytest.approx(m, rel=1e-3)
    assert out["attribution"]["total"] == pytest.approx(expected.sum(), rel=1e-3, abs=1e-6)
    shown = unpack(out["attribution"]["d"]) / 255  # 0.5 + 0.5 a / m, in bytes
    np.testing.assert_allclose(shown, 0.5 + 0.5 * expected / m, atol=0.5 / 255 + 1e-6)
    assert flags(model) == before  # the explanation put the flags back


def test_each_layers_units_a_class_of_ones_choice_and_the_lstms_rows(playground, digit_models, digits):
    x = digits[0][5]
    status, out = call(playground, "POST", "/api/why", {"model": "mlp", "pixels": x.tolist(), "target": 2})
    assert status == 200 and out["target"] == 2
    assert [layer["name"] for layer in out["layers"]] == ["dense_1"]  # dropout and the output layer left out
    expected = explain.layer_attribution(digit_models["mlp"], np.float32(x)[None], 0, 2)[0]
    np.testing.assert_allclose(out["layers"][0]["values"], expected, rtol=1e-3, atol=1e-6)
    cnn = call(playground, "POST", "/api/why", {"model": "cnn", "pixels": x.tolist()})[1]
    kinds = {layer["name"]: (layer["kind"], len(layer["values"])) for layer in cnn["layers"]}
    assert kinds == {"conv2d_1": ("channels", 4), "batchnorm_1": ("channels", 4), "maxpool2d_1": ("channels", 4)}
    lstm = call(playground, "POST", "/api/why", {"model": "lstm", "pixels": x.tolist()})[1]
    (rec,) = lstm["layers"]
    assert rec["kind"] == "steps" and len(rec["steps"]) == 28 and len(rec["values"]) == 8
    per_step = explain.layer_attribution(digit_models["lstm"], np.float32(x)[None], "lstm_1", lstm["target"])[0]
    np.testing.assert_allclose(rec["steps"], per_step.sum(axis=1), rtol=1e-3, atol=1e-6)
    assert sum(rec["steps"]) == pytest.approx(sum(rec["values"]), rel=1e-3, abs=1e-5)


def test_fool_it_finds_a_small_nudge_that_changes_the_answer(playground, digit_models, digits):
    x = digits[0][0]
    model = digit_models["mlp"]
    weights = [p.value.copy() for layer in model.layers for p in layer.params]
    for method in ("fgsm", "pgd"):
        body = {"model": "mlp", "pixels": x.tolist(), "method": method}
        status, out = call(playground, "POST", "/api/why/fool", body)
        assert status == 200 and out["fooled"], out
        nudged = np.asarray(out["pixels"])
        assert 0 < out["eps"] <= 0.5 and np.abs(nudged - x).max() <= out["eps"] + 1e-4
        assert out["change"] == pytest.approx(np.abs(nudged - x).max(), abs=1e-4)
        assert 0 <= nudged.min() and nudged.max() <= 1
        after = int(model.predict(nudged[None].astype(np.float32))[0].argmax())
        assert out["before"] == int(model.predict(np.float32(x)[None])[0].argmax()) != after == out["after"]
        smallest = explain.minimal_eps(model, np.float32(x)[None], method=method, max_eps=0.5)[0]
        assert smallest <= out["eps"] <= 1.1 * smallest + 1e-4
    assert all(np.array_equal(w, p.value) for w, p in zip(weights, (p for layer in model.layers
                                                                    for p in layer.params), strict=True))
    status, out = call(playground, "POST", "/api/why/fool", {"model": "mlp", "pixels": x.tolist(), "max_eps": 1e-4})
    assert status == 200 and out == {"model": "mlp", "version": out["version"], "method": "fgsm",
                                     "before": out["before"], "max_eps": 1e-4, "fooled": False}


def test_what_a_unit_looks_for_is_maximize_cached_per_version(playground, digit_models):
    body = {"model": "cnn", "layer": 1, "unit": 2}
    status, first = call(playground, "POST", "/api/why/looks-for", body)
    assert status == 200 and first["cached"] is False and first["name"] == "conv2d_1"
    expected = explain.maximize(digit_models["cnn"], 1, 2, steps=200)
    np.testing.assert_allclose(unpack(first["picture"]), np.rint(np.clip(expected, 0, 1) * 255), atol=1)
    again = call(playground, "POST", "/api/why/looks-for", body)[1]
    assert again["cached"] is True and again["picture"] == first["picture"]
    entry = playground.pg.models.get("cnn")
    entry.set_state(entry.model.state_dict())  # new weights (the same ones): a new version, computed afresh
    fresh = call(playground, "POST", "/api/why/looks-for", body)[1]
    assert fresh["cached"] is False and fresh["version"] == first["version"] + 1
    lstm = call(playground, "POST", "/api/why/looks-for", {"model": "lstm", "layer": 1, "unit": 7})
    assert lstm[0] == 200 and unpack(lstm[1]["picture"]).size == 784


def test_explaining_never_disturbs_a_prediction_running_beside_it(playground, digit_models, digits):
    X = digits[0]
    expected = digit_models["cnn"].predict(X.astype(np.float32))
    answers, failures = [], []

    def predict(i):
        status, out = call(playground, "POST", "/api/predict", {"model": "cnn", "pixels": X[i].tolist()})
        answers.append((i, status, out.get("probabilities")))

    def explain_it(i):
        status, out = call(playground, "POST", "/api/why", {"model": "cnn", "pixels": X[i].tolist(), "method": "ig"})
        if status != 200:
            failures.append(out)

    threads = [threading.Thread(target=f, args=(i,)) for i in range(len(X)) for f in (predict, explain_it)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures and len(answers) == len(X)
    for i, status, probs in answers:
        assert status == 200
        np.testing.assert_allclose(probs, expected[i], atol=1e-5)


PIX = [0.0] * 784
BAD = [
    ("/api/why", {"pixels": PIX, "colour": 1}, 400, "unknown field 'colour'; expected model, pixels, method, target"),
    ("/api/why", {"model": "mlp"}, 400, "missing field 'pixels'"),
    ("/api/why", {"pixels": PIX[:10]}, 400, "pixels must be a list of 784 numbers, got 10 values"),
    ("/api/why", {"pixels": PIX[:-1] + [1.5]}, 400, "pixels must lie in [0, 1]"),
    ("/api/why", {"pixels": PIX, "method": "lime"}, 400, "method must be one of ig, saliency, gradxinput, occlusion"),
    ("/api/why", {"pixels": PIX, "target": 10}, 400, "target must be a whole number in [0, 9], got 10"),
    ("/api/why", {"pixels": PIX, "target": "3"}, 400, "target must be a whole number in [0, 9], got '3'"),
    ("/api/why", {"pixels": PIX, "target": True}, 400, "target must be a whole number"),
    ("/api/why", {"model": "nope", "pixels": PIX}, 404, "unknown model 'nope'"),
    ("/api/why/fool", {"pixels": PIX, "method": "bim"}, 400, "method must be one of fgsm, pgd, got 'bim'"),
    ("/api/why/fool", {"pixels": PIX, "max_eps": 0}, 400, "max_eps must be a number in (0, 1], got 0"),
    ("/api/why/fool", {"pixels": PIX, "max_eps": 2}, 400, "max_eps must be a number in (0, 1]"),
    ("/api/why/fool", {"pixels": PIX, "max_eps": "0.1"}, 400, "max_eps must be a number in (0, 1]"),
    ("/api/why/fool", {"pixels": PIX, "steps": 3}, 400, "unknown field 'steps'"),
    ("/api/why/looks-for", {"layer": 0}, 400, "missing field 'unit'"),
    ("/api/why/looks-for", {"layer": -1, "unit": 0}, 400, "layer must be a whole number >= 0, got -1"),
    ("/api/why/looks-for", {"layer": 1.5, "unit": 0}, 400, "layer must be a whole number >= 0, got 1.5"),
    ("/api/why/looks-for", {"model": "mlp", "layer": 9, "unit": 0}, 404, "model 'mlp' has layers 0..2, not 9"),
    ("/api/why/looks-for", {"model": "mlp", "layer": 0, "unit": 64}, 404, "layer 0 (dense_1) has units 0..63, not 64"),
    ("/api/why/looks-for", {"model": "cnn", "layer": 1, "unit": 4}, 404, "layer 1 (conv2d_1) has units 0..3, not 4"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), BAD, ids=[f"{p}-{i}" for i, (p, *_) in enumerate(BAD)])
def test_bad_input_gets_one_line(playground, path, body, status, message):
    got, error = error_of(playground, "POST", path, body)
    assert got == status and message in error, error


def test_only_json_posts_from_the_page_itself(playground):
    body = b'{"pixels": []}'
    status, error = error_of(playground, "POST", "/api/why", raw=body, headers={"Content-Type": "text/plain"})
    assert status == 415
    status, error = error_of(playground, "POST", "/api/why/fool", raw=body, headers={"Origin": "http://evil.example"})
    assert status == 403
    status, error = error_of(playground, "GET", "/api/why/looks-for")
    assert status == 405 and error == "GET is not allowed on /api/why/looks-for"


def test_a_grus_lens_is_per_row_too(digits):
    import glassnet as gn
    from glassnet.playground.digits import ModelEntry
    from glassnet.playground.why import why

    model = gn.Sequential([gn.Reshape((28, 28)), gn.GRU(28, 4), gn.Dense(4, 10, activation="softmax")], seed=0,
                          input_shape=(784,))
    x = digits[0][1]
    out = why(ModelEntry("gru", model, "an untrained GRU"), x, "saliency", 3)
    (rec,) = out["layers"]
    assert rec["kind"] == "steps" and len(rec["steps"]) == 28 and len(rec["values"]) == 4
    expected = explain.layer_attribution(model, np.float32(x)[None], 1, 3)[0]
    np.testing.assert_allclose(rec["steps"], expected.sum(axis=1), rtol=1e-3, atol=1e-7)
