"""The playground's HTTP API, endpoint by endpoint, with every kind of bad input, against a real server."""

from __future__ import annotations

import base64
import http.client
import io
import json
import time

import numpy as np
import pytest
from conftest import need

import glassnet as gn
from glassnet.datasets import mnist

need("starlette", "playground")
from glassnet.data.images import preprocess_digit  # noqa: E402

CSV = {"Content-Type": "text/csv"}
NPZ = {"Content-Type": "application/octet-stream"}


def call(server, method, path, body=None, raw=None, headers=None, timeout=30):
    """(status, decoded JSON or bytes) of one request; all but a GET say they come from the server's own page
    (Origin), and a POST, unless ``headers`` say otherwise, that it sends JSON."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    hdrs = {} if method == "GET" else {"Origin": server.url.rstrip("/")}
    if method == "POST":
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers={**hdrs, **(headers or {})})
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    kind = resp.getheader("Content-Type") or ""
    return resp.status, json.loads(payload) if "json" in kind else payload


def error_of(server, method, path, body=None, raw=None, headers=None):
    status, out = call(server, method, path, body, raw, headers)
    assert isinstance(out, dict) and set(out) == {"error"}, out
    assert "\n" not in out["error"]
    return status, out["error"]


# ----------------------------------------------------------------------------- models and predictions
def test_health_and_models(playground, digit_models):
    status, h = call(playground, "GET", "/api/health")
    assert status == 200 and h["status"] == "ok" and h["models"][:3] == ["mlp", "cnn", "lstm"]
    status, out = call(playground, "GET", "/api/models")
    described = {m["name"]: m for m in out["models"]}
    for name, model in digit_models.items():
        m = described[name]
        assert m["parameters"] == model.count_params() and m["input_shape"] == [784]
        assert [layer["output_shape"] for layer in m["layers"]] == [list(layer.output_shape) for layer in model.layers]


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm"])
def test_predict_returns_glassnets_outputs_for_every_layer(playground, digit_models, name):
    X, y = mnist.load("test", sample=True)
    x = X[7]
    status, out = call(playground, "POST", "/api/predict", {"model": name, "pixels": x.tolist()})
    assert status == 200 and out["model"] == name
    model = digit_models[name]
    expected = model.predict(x[None])[0]
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    assert out["prediction"] == int(np.argmax(expected)) and abs(sum(out["probabilities"]) - 1) < 1e-3
    assert [layer["name"] for layer in out["layers"]] == [layer.name for layer in model.layers]
    a = x[None].astype(np.float32)
    for record, layer in zip(out["layers"], model.layers, strict=True):
        a = layer.forward(a)
        assert record["output_shape"] == list(layer.output_shape)
        assert np.shape(record["activations"]) == layer.output_shape
        np.testing.assert_allclose(record["activations"], a[0], atol=1e-4)
    if name == "mlp":
        assert np.shape(out["layers"][0]["z"]) == (64,)
    if name == "lstm":
        assert np.shape(out["layers"][1]["states"]) == (28, 8)  # the hidden state after each row


def test_predict_prepares_a_raw_drawing_like_glassnet_predict(playground):
    drawing = np.zeros((112, 112), np.uint8)
    drawing[20:95, 50:62] = 255  # a thick vertical stroke: a one
    image = {"width": 112, "height": 112, "data": base64.b64encode(drawing.tobytes()).decode()}
    status, out = call(playground, "POST", "/api/predict", {"image": image, "top_units": 4})
    assert status == 200
    np.testing.assert_allclose(out["input"], preprocess_digit(drawing), atol=1e-4)
    assert out["prediction"] == 1
    top = out["top_units"]
    assert top["layer"] == 0 and len(top["units"]) == 4
    acts = [u["a"] for u in top["units"]]
    assert acts == sorted(acts, reverse=True) and top["units"][0]["shape"] == [28, 28]


BAD_PREDICTIONS = [
    ({"pixels": [0.0] * 783}, 400, "list of 784 numbers, got 783"),
    ({"pixels": [0.0] * 783 + ["x"]}, 400, "numbers only"),
    ({"pixels": [0.0] * 783 + [True]}, 400, "numbers only"),
    ({"pixels": [0.0] * 783 + [2.0]}, 400, "lie in [0, 1]"),
    ({"pixels": "0" * 784}, 400, "list of 784 numbers"),
    ({"model": "nope", "pixels": [0.0] * 784}, 404, "unknown model 'nope'; loaded: mlp, cnn, lstm"),
    ({}, 400, "give either pixels"),
    ({"pixels": [0.0] * 784, "image": {}}, 400, "give either pixels"),
    ({"pixels": [0.0] * 784, "colour": 1}, 400, "unknown field 'colour'"),
    ({"pixels": [0.0] * 784, "top_units": 99}, 400, "top_units"),
    ({"image": {"width": 10, "height": 10, "data": "AAAA"}}, 400, "base64 of 100 bytes"),
    ({"image": {"width": 5000, "height": 10, "data": ""}}, 400, "width and height"),
    ({"image": {"width": 10, "height": 10, "data": base64.b64encode(bytes(100)).decode()}}, 422, "blank picture"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_PREDICTIONS)
def test_predict_refuses_bad_input_in_one_line(playground, body, status, message):
    got, error = error_of(playground, "POST", "/api/predict", body)
    assert got == status and message in error


def test_predict_refuses_nan_malformed_json_and_large_bodies(playground):
    text = '{"pixels": [NaN' + ", 0" * 783 + "]}"
    assert error_of(playground, "POST", "/api/predict", raw=text.encode()) == (
        400, "the request body is not valid JSON: NaN is not a number")
    status, error = error_of(playground, "POST", "/api/predict", raw=b"{pixels:")
    assert status == 400 and "not valid JSON" in error
    status, error = error_of(playground, "POST", "/api/predict", raw=b"[1, 2]")
    assert status == 400 and "expected a JSON object" in error
    status, error = error_of(playground, "POST", "/api/predict", raw=b" " * (2 << 20))
    assert status == 413 and "over the limit" in error
    assert call(playground, "GET", "/api/health")[0] == 200  # still serving


def test_unit_pictures_for_dense_conv_and_lstm(playground, digit_models):
    status, out = call(playground, "GET", "/api/models/mlp/layers/0/units?units=3,5")
    assert status == 200 and [u["unit"] for u in out["units"]] == [3, 5]
    W, b = digit_models["mlp"].layers[0].W.value, digit_models["mlp"].layers[0].b.value
    assert out["units"][0]["shape"] == [28, 28]
    np.testing.assert_allclose(out["units"][1]["weights"], W[:, 5], atol=1e-4)
    assert out["units"][1]["bias"] == pytest.approx(float(b[5]), abs=1e-4)
    conv = call(playground, "GET", "/api/models/cnn/layers/1/units")[1]
    assert len(conv["units"]) == 4 and conv["units"][2]["shape"] == [1, 5, 5]
    lstm = call(playground, "GET", "/api/models/lstm/layers/1/units?units=0")[1]
    assert lstm["units"][0]["shape"] == [4, 28] and len(lstm["units"][0]["bias"]) == 4


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/api/models/mlp/layers/9/units", 404, "layers 0..2, not 9"),
    ("/api/models/mlp/layers/1/units", 404, "has no weights"),
    ("/api/models/mlp/layers/0/units?units=64", 404, "units 0..63, not 64"),
    ("/api/models/mlp/layers/0/units?units=a", 400, "comma-separated whole numbers"),
    ("/api/models/zz/layers/0/units", 404, "unknown model 'zz'"),
    ("/api/digits/test?kind=odd", 400, "kind must be 'random' or 'misclassified'"),
    ("/api/digits/test?seed=x", 400, "seed must be a whole number"),
    ("/api/nothing", 404, "no such page or endpoint"),
])
def test_bad_paths_and_queries(playground, path, status, message):
    got, error = error_of(playground, "GET", path)
    assert got == status and message in error


def test_method_not_allowed_is_json(playground):
    assert error_of(playground, "DELETE", "/api/predict") == (405, "DELETE is not allowed on /api/predict")


def test_test_digits_random_and_misclassified(playground, digit_models):
    X, y = mnist.load("test", sample=True)
    status, d = call(playground, "GET", "/api/digits/test?kind=random&seed=3")
    assert status == 200 and np.allclose(d["pixels"], X[d["index"]], atol=1e-4) and d["label"] == y[d["index"]]
    assert call(playground, "GET", "/api/digits/test?kind=random&seed=3")[1]["index"] == d["index"]
    wrong = call(playground, "GET", "/api/digits/test?kind=misclassified&model=mlp&seed=1")[1]
    guess = digit_models["mlp"].predict(X[wrong["index"]][None]).argmax()
    assert guess != wrong["label"] and "sample" in wrong["source"]
    assert wrong["misclassified_count"] == int((digit_models["mlp"].predict(X).argmax(1) != y).sum())


# ----------------------------------------------------------------------------- the 2-D playground
def new_session(server, state=None):
    status, frame = call(server, "POST", "/api/lab", {"state": state or {}})
    assert status == 201, frame
    return frame


def test_a_new_session_has_everything_to_draw(playground):
    f = new_session(playground, {"dataset": "xor", "hidden": [3, 2], "features": ["x1", "x2", "x1x2"]})
    assert f["state"]["dataset"] == "xor" and f["sizes"] == [3, 3, 2, 1] and f["epoch"] == 0
    assert len(f["points"]["train"]) == 250 and len(f["points"]["test"]) == 250
    assert [len(units) for units in f["neurons"]] == [3, 2]
    assert len(base64.b64decode(f["output"]["d"])) == f["grid"] ** 2
    assert len(base64.b64decode(f["neurons"][0][0]["d"])) == f["thumb"] ** 2
    assert [feat["name"] for feat in f["features"]] == ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"]
    assert np.shape(f["weights"][0]) == (3, 3) and f["history"]["epoch"] == []


def test_steps_train_glassnet_and_the_test_loss_falls(playground):
    f = new_session(playground, {"dataset": "gauss", "hidden": [4], "learning_rate": 0.3, "noise": 10})
    sid, first = f["session"], f["test_loss"]
    for _ in range(15):
        f = call(playground, "POST", f"/api/lab/{sid}/action", {"action": "step"})[1]
    assert f["epoch"] == 15 and f["history"]["epoch"] == list(range(1, 16))
    assert f["test_loss"] < 0.5 * first
    assert len(f["history"]["grad_norm"][0]) == 2  # one gradient norm per Dense layer
    f = call(playground, "POST", f"/api/lab/{sid}/action", {"action": "reset"})[1]
    assert f["epoch"] == 0 and f["test_loss"] == pytest.approx(first)  # same initial weights
    f2 = call(playground, "POST", f"/api/lab/{sid}/action", {"action": "new_weights"})[1]
    assert f2["state"]["init_seed"] == 1 and f2["test_loss"] != pytest.approx(first)
    f3 = call(playground, "POST", f"/api/lab/{sid}/action", {"action": "regenerate"})[1]
    assert f3["state"]["seed"] == 1 and f3["points"]["train"] != f2["points"]["train"]


def test_settings_change_the_network_or_only_the_training(playground):
    f = new_session(playground, {"hidden": [2]})
    sid = f["session"]
    f = call(playground, "POST", f"/api/lab/{sid}/action", {"action": "step"})[1]
    kept = call(playground, "POST", f"/api/lab/{sid}/state", {"learning_rate": 0.1, "optimizer": "adam"})[1]
    assert kept["epoch"] == 1 and kept["weights"] == f["weights"]  # training settings keep the weights
    grown = call(playground, "POST", f"/api/lab/{sid}/state", {"hidden": [5, 5], "activation": "relu"})[1]
    assert grown["epoch"] == 0 and grown["sizes"] == [2, 5, 5, 1]
    multi = call(playground, "POST", f"/api/lab/{sid}/state", {"dataset": "spiral", "classes": 3})[1]
    assert multi["classes"] == 3 and multi["sizes"][-1] == 3 and multi["output"]["kind"] == "classes"
    reg = call(playground, "POST", f"/api/lab/{sid}/state", {"problem": "regression", "reg_dataset": "gauss"})[1]
    assert reg["problem"] == "regression" and reg["state"]["loss"] == "mse" and reg["output"]["kind"] == "value"


@pytest.mark.parametrize(("state", "message"), [
    ({"colour": "red"}, "unknown setting 'colour'"),
    ({"hidden": [40]}, "each 1..32"),
    ({"hidden": [4] * 13}, "at most 12 layer sizes"),
    ({"noise": 80}, "noise must be a whole number in [0, 50]"),
    ({"learning_rate": "fast"}, "learning_rate must be a number"),
    ({"features": []}, "non-empty list"),
    ({"features": ["x3"]}, "non-empty list of distinct names"),
    ({"activation": "step"}, "activation must be one of"),
    ({"dataset": "circle", "classes": 3}, "at most 2 classes"),
    ({"show_test": "yes"}, "true or false"),
])
def test_bad_settings_are_refused_in_one_line(playground, state, message):
    status, error = error_of(playground, "POST", "/api/lab", {"state": state})
    assert status == 400 and message in error
    sid = new_session(playground)["session"]
    status, error = error_of(playground, "POST", f"/api/lab/{sid}/state", state)
    assert status == 400 and message in error
    assert call(playground, "GET", f"/api/lab/{sid}")[1]["state"]["hidden"] == [4, 2]  # unchanged


def test_bad_actions_and_unknown_sessions(playground):
    sid = new_session(playground)["session"]
    status, error = error_of(playground, "POST", f"/api/lab/{sid}/action", {"action": "fly"})
    assert status == 400 and "play, pause, step" in error
    status, error = error_of(playground, "GET", "/api/lab/nope")
    assert status == 404 and "no playground session 'nope'" in error


def test_your_own_points_and_csv(playground):
    sid = new_session(playground)["session"]
    f = call(playground, "POST", f"/api/lab/{sid}/points", {"points": [[1, 2, 0], [-3, 1, 1], [2, 2, 2]],
                                                              "replace": True})[1]
    assert f["state"]["dataset"] == "custom" and f["classes"] == 3 and f["sizes"][-1] == 3
    assert len(f["points"]["train"]) + len(f["points"]["test"]) == 3
    f = call(playground, "POST", f"/api/lab/{sid}/points", {"points": [[0, 0, 1]]})[1]
    assert len(f["points"]["train"]) + len(f["points"]["test"]) == 4
    csv = "x1,x2,label\n" + "\n".join(f"{i % 7 - 3},{i % 5 - 2},{i % 2}" for i in range(40))
    f = call(playground, "POST", f"/api/lab/{sid}/csv", raw=csv.encode(), headers=CSV)[1]
    assert len(f["points"]["train"]) + len(f["points"]["test"]) == 40 and f["classes"] == 2


@pytest.mark.parametrize(("csv", "message"), [
    ("1,2,0\n3,x,1\n", "CSV row 2, column 2: 'x' is not a number"),
    ("1,2,0\n3,4\n", "CSV row 2 has 2 columns; expected 3"),
    ("\n\n", "the CSV has no rows"),
    ("1,2,0.5\n", "class labels must be whole numbers"),
    ("1,2,nan\n", "is not a number"),
    ("\n".join(["1,2,0"] * 10_001), "the CSV has 10,001 rows; at most 10,000"),
])
def test_malformed_csv_gets_one_line_errors(playground, csv, message):
    sid = new_session(playground)["session"]
    status, error = error_of(playground, "POST", f"/api/lab/{sid}/csv", raw=csv.encode(), headers=CSV)
    assert status == 400 and message in error
    assert call(playground, "GET", f"/api/lab/{sid}")[1]["state"]["dataset"] == "circle"  # unchanged


def test_bad_points(playground):
    sid = new_session(playground)["session"]
    for body, message in [({"points": []}, "expected"), ({"points": [[1, 2]]}, "[x1, x2, label]"),
                          ({"points": [[1, 2, "a"]]}, "with numbers"), ({"points": [[1, 2, 9]]}, "0..4")]:
        status, error = error_of(playground, "POST", f"/api/lab/{sid}/points", body)
        assert status == 400 and message in error


def test_export_is_a_glassnet_file_and_loads_back(playground, tmp_path):
    sid = new_session(playground, {"dataset": "moons", "hidden": [6, 3], "features": ["x1", "x2", "sinx1"],
                                   "activation": "relu"})["session"]
    for _ in range(3):
        trained = call(playground, "POST", f"/api/lab/{sid}/action", {"action": "step"})[1]
    status, data = call(playground, "GET", f"/api/lab/{sid}/model.npz")
    assert status == 200 and data[:2] == b"PK"
    path = tmp_path / "net.npz"
    path.write_bytes(data)
    model = gn.load(path)  # the file is an ordinary glassnet model
    assert model.meta["features"] == ["x1", "x2", "sinx1"] and model.meta["state"]["hidden"] == [6, 3]
    np.testing.assert_allclose(model.layers[0].W.value, trained["weights"][0], atol=1e-3)
    other = new_session(playground)["session"]
    f = call(playground, "POST", f"/api/lab/{other}/model", raw=data, headers=NPZ)[1]
    assert f["state"]["hidden"] == [6, 3] and f["state"]["dataset"] == "moons" and f["sizes"] == [3, 6, 3, 1]
    np.testing.assert_allclose(f["weights"][1], trained["weights"][1], atol=1e-3)
    status, error = error_of(playground, "POST", f"/api/lab/{other}/model", raw=b"not a zip file", headers=NPZ)
    assert status == 400 and error.startswith("not a glassnet model file")
    digits = io.BytesIO()
    np.savez(digits, x=np.zeros(3))
    status, error = error_of(playground, "POST", f"/api/lab/{other}/model", raw=digits.getvalue(), headers=NPZ)
    assert status == 400 and "not a glassnet model file" in error


def test_a_digit_model_is_not_a_playground_network(playground, digit_models, tmp_path):
    digit_models["mlp"].save(tmp_path / "mlp.npz")
    sid = new_session(playground)["session"]
    status, error = error_of(playground, "POST", f"/api/lab/{sid}/model", raw=(tmp_path / "mlp.npz").read_bytes(),
                             headers=NPZ)
    assert status == 400 and ("Dense layers only" in error or "inputs" in error)


def read_events(server, path, n, timeout=20.0):
    """The first ``n`` data events of a server-sent event stream."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    conn.request("GET", path, headers={"Sec-Fetch-Site": "same-origin"})  # as the page's EventSource says
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream")
    events, deadline = [], time.monotonic() + timeout
    while len(events) < n and time.monotonic() < deadline:
        line = resp.fp.readline().decode()
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
    conn.close()
    return events


def test_the_stream_sends_frames_while_playing(playground):
    sid = new_session(playground, {"dataset": "circle", "hidden": [4, 4]})["session"]
    call(playground, "POST", f"/api/lab/{sid}/action", {"action": "play"})
    try:
        events = read_events(playground, f"/api/lab/{sid}/stream", 12)
    finally:
        call(playground, "POST", f"/api/lab/{sid}/action", {"action": "pause"})
    assert len(events) == 12 and "state" in events[0] and events[0]["history_reset"]
    epochs = [e["epoch"] for e in events]
    assert epochs == sorted(epochs) and epochs[-1] > epochs[0]
    seen = [ep for e in events for ep in e["history"]["epoch"]]
    assert seen == list(range(1, len(seen) + 1))  # every epoch of the curves exactly once
    assert all("points" not in e for e in events[1:])  # the data travels once


# ----------------------------------------------------------------------------- live MNIST training
def test_live_training_from_the_api(playground):
    status, s = call(playground, "GET", "/api/train")
    assert status == 200 and "cnn" in s["presets"] and s["full_data"] is False
    for body, code, message in [({"preset": "huge"}, 400, "unknown preset 'huge'"),
                                ({"epochs": 0}, 400, "epochs must be a whole number"),
                                ({"data": "full"}, 409, "the full MNIST is not here"),
                                ({"speed": 1}, 400, "unknown field 'speed'")]:
        assert error_of(playground, "POST", "/api/train", body)[0] == code
        assert message in error_of(playground, "POST", "/api/train", body)[1]
    status, s = call(playground, "POST", "/api/train", {"preset": "nielsen", "epochs": 2, "data": "sample"})
    assert status == 202 and s["status"]["preset"] == "nielsen"
    assert error_of(playground, "POST", "/api/train", {"preset": "default"})[0] == 409  # one run at a time
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        s = call(playground, "GET", "/api/train")[1]
        if s["status"]["status"] not in ("starting", "running"):
            break
        time.sleep(0.2)
    st = s["status"]
    assert st["status"] == "done", st
    assert st["epoch"] == 2 and len(st["history"]["loss"]) == 2 and st["test_accuracy"] > 0.5
    assert s["pictures"]["shape"] == [28, 28] and len(s["pictures"]["units"]) == 30  # nielsen: 30 hidden units
    names = [m["name"] for m in call(playground, "GET", "/api/models")[1]["models"]]
    assert "live" in names
    X, _ = mnist.load("test", sample=True)
    assert call(playground, "POST", "/api/predict", {"model": "live", "pixels": X[0].tolist()})[0] == 200


def test_eight_sigmoid_layers_show_vanishing_gradients(playground):
    sid = new_session(playground, {"hidden": [8] * 8, "activation": "sigmoid", "learning_rate": 0.3})["session"]
    f = call(playground, "POST", f"/api/lab/{sid}/action", {"action": "step"})[1]
    norms = f["history"]["grad_norm"][0]  # ||dC/dW|| of the 8 hidden layers and the output, first to last
    assert len(norms) == 9 and norms[0] < 1e-3 * norms[-1]
    assert all(a < b for a, b in zip(norms[:-1], norms[1:], strict=True))  # shrinking on the way back


def test_the_icon_browsers_ask_for_by_themselves_is_there(playground):
    """Chromium may ask for /favicon.ico beside a page's declared icon: a 404 there is a console error."""
    status, body = call(playground, "GET", "/favicon.ico")
    assert status == 200 and body.startswith(b"<svg")
