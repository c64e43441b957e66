"""The Runs page in a real browser: scrub a recorded run with the epoch slider, draw a digit for the model of the
chosen epoch, compare two runs. Screenshots go to $GLASSNET_SCREENSHOTS when set (docs/gallery renews the README's
picture), else to the test's temporary folder."""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import need
from test_playground_browser import SEVEN, TIMEOUT_MS, draw, shot

import glassnet as gn

need("playwright.sync_api")
need("starlette", "playground")
need("tensorboardX", "runs")


@pytest.fixture(scope="module")
def runs_server(tmp_path_factory):
    """Two runs of a 784-32-10 network (seeds 0 and 1) on 2,000 sample digits, served on a free port."""
    from glassnet.datasets import mnist
    from glassnet.playground import make_server

    X, y = mnist.load("train", sample=True)
    X_test, y_test = mnist.load("test", sample=True)
    root = tmp_path_factory.mktemp("runs")
    for seed in (0, 1):
        model = gn.Sequential([gn.Dense(784, 32, activation="relu"), gn.Dense(32, 10, activation="softmax")],
                              seed=seed)
        model.compile("cross_entropy", gn.SGD(0.05, momentum=0.9))
        model.fit(X[:2000], y[:2000], epochs=6, batch_size=64, validation_data=(X_test[:500], y_test[:500]),
                  verbose=0, callbacks=[gn.RunLogger(root / f"seed{seed}", probe=(X_test[:100], y_test[:100]))])
    with make_server([("final", model, "seed 1, epoch 6")], "127.0.0.1", 0, runs=[str(root)]) as server:
        yield server, root


@pytest.fixture
def runs_page(page, runs_server):
    server, root = runs_server
    page.set_default_timeout(TIMEOUT_MS)
    page.set_viewport_size({"width": 1500, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.base = server.url.rstrip("/")
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_slider_moves_every_view_and_a_drawing_is_answered_by_that_epochs_model(runs_page, runs_server,
                                                                                     tmp_path):
    page, (_, root) = runs_page, runs_server
    run = gn.load_run(root / "seed0")
    page.goto(page.base + "/runs#run=seed0")
    page.wait_for_selector('body[data-epoch="6"]')
    assert page.locator("#pictures canvas").count() == 32
    assert page.locator("#layer-table tr[data-layer]").count() == 2
    page.focus("#epoch")
    page.keyboard.press("Home")
    page.wait_for_selector('body[data-epoch="0"]')
    for k in range(1, 4):  # one step at a time: each epoch's view is drawn
        page.keyboard.press("ArrowRight")
        page.wait_for_selector(f'body[data-epoch="{k}"]')
    grad = page.locator('#layer-table tr[data-layer="dense_1"] td').nth(1).inner_text()
    assert float(grad) == pytest.approx(run.stats(3)["dense_1"]["grad_norm"], rel=2e-3)
    answers = run.probe_outputs(3).argmax(axis=1)
    before = run.probe_outputs(2).argmax(axis=1)
    assert page.locator("#changed figure").count() == min(40, int(np.sum(answers != before)))
    assert f"{np.mean(answers == run.probe[1]) * 100:.0f}% of 100 right" in page.text_content("#probe-info")
    assert "epoch=3" in page.url  # the state is in the URL
    replies = []
    page.on("response", lambda r: replies.append(r) if "/epochs/3/predict" in r.url else None)
    draw(page, "#run-pad", SEVEN)
    page.wait_for_selector('#answer[data-epoch="3"]')
    page.wait_for_timeout(500)  # the request sent when the stroke ends
    reply = replies[-1].json()
    expected = int(run.model(3).predict(np.asarray(reply["input"], np.float32)[None]).argmax())
    assert reply["prediction"] == expected and page.inner_text("#answer") == str(expected)
    assert page.locator("#answer-layers .layer").count() == 2
    page.keyboard.press("End")  # the drawing is asked again of the newest epoch
    page.wait_for_selector('#answer[data-epoch="6"]')
    page.select_option("#other", "seed1")
    page.wait_for_selector("#diff-box:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#diff-pictures canvas').length === 32")
    timings = page.evaluate("window.runTimings")
    assert statistics.median(timings) < 1000  # the benchmark measures the default preset's run; here: no stall
    shot(page, tmp_path, "playground_runs.png")


def test_the_runs_api_refuses_bad_epochs_and_runs_in_one_line(runs_server):
    server, _ = runs_server
    base = server.url.rstrip("/")
    for path, status, message in (("/api/runs/seed0/epochs/99", 404, "has no snapshot of epoch 99"),
                                  ("/api/runs/nope", 404, "unknown run 'nope'"),
                                  ("/api/runs/seed0/epochs/two", 400, "epoch must be a whole number"),
                                  ("/api/runs/seed0/diff?epoch=1", 400, "other_epoch must be a whole number")):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + path, timeout=10)
        assert e.value.code == status
        assert message in json.loads(e.value.read())["error"]


def test_the_live_training_is_recorded_as_a_run_the_page_lists(runs_server):
    server, root = runs_server
    base = server.url.rstrip("/")

    def call(path, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Origin": base}  # a same-origin state change, as the page's
        request = urllib.request.Request(base + path, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.load(r)

    call("/api/train", {"preset": "3b1b", "epochs": 1, "data": "sample", "seed": 0})
    deadline = time.monotonic() + 120
    while call("/api/train")["status"]["status"] in ("starting", "running"):
        assert time.monotonic() < deadline, "the live training did not end within 120 s"
        time.sleep(0.2)
    status = call("/api/train")["status"]
    assert status["status"] == "done", status
    live = [r for r in call("/api/runs")["runs"] if r.get("live")]
    assert [r["name"] for r in live] == [status["run_name"]] and live[0]["snapshots"] == [0, 1]
    assert (root / status["run_name"] / "manifest.json").is_file()  # kept in the --runs folder
    view = call(f"/api/runs/{status['run_name']}/epochs/1")
    assert view["pictures"]["shape"] == [28, 28] and sum(map(sum, view["confusion"])) == 100
