"""Imported ONNX networks in the playground beside native ones, in Debian's Chromium driven by Playwright.

``GLASSNET_SCREENSHOTS=docs/gallery pytest tests/test_playground_onnx.py`` renews the README's picture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import need

import glassnet as gn

need("playwright.sync_api")
need("starlette", "playground")
need("onnx", "onnx")
need("onnxruntime", "onnx")

DATA = Path(__file__).parents[1] / "bridges" / "fixtures" / "onnx"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def imported():
    return {"cnn-onnx": gn.load(DATA / "cnn_bn.ts17-nofold.onnx"), "gru-onnx": gn.load(DATA / "gru.ts17.onnx")}


@pytest.fixture(scope="module")
def server(digit_models, imported, tmp_path_factory):
    from glassnet.playground import make_server

    models = [("mlp", digit_models["mlp"], "native"),
              *((name, model, f"imported from {model.meta['source']['onnx']}") for name, model in imported.items())]
    with make_server(models, "127.0.0.1", 0, data_dir=str(tmp_path_factory.mktemp("no-mnist"))) as s:
        yield s


def test_a_digit_drawn_through_an_imported_cnn_shows_every_layer(page, server, imported, tmp_path):
    page.set_default_timeout(TIMEOUT_MS)
    page.set_viewport_size({"width": 1500, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url.rstrip("/") + "/")
    page.wait_for_selector('[data-model="cnn-onnx"]')
    box = page.locator("#pad").bounding_box()
    stroke = [(0.3, 0.22), (0.72, 0.22), (0.5, 0.55), (0.42, 0.82)]  # a seven
    page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
    page.mouse.down()
    for x, y in stroke[1:]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=4)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('[data-model=\"cnn-onnx\"] .prediction').textContent"
                           " !== '·'")
    page.wait_for_timeout(800)
    cnn = page.locator('[data-model="cnn-onnx"]')
    model = imported["cnn-onnx"]
    assert cnn.locator(".layer").count() == len(model.layers)  # every layer read, the Reshape included
    for name, maps in (("conv2d_1", 4), ("batchnorm_1", 4), ("maxpool2d_1", 4), ("conv2d_2", 8), ("maxpool2d_2", 8)):
        assert cnn.locator(f'[data-layer="{name}"] .maps canvas').count() == maps, name
    assert 0 <= int(cnn.locator(".prediction").inner_text()) <= 9
    gru = page.locator('[data-model="gru-onnx"]')
    assert gru.locator(".states canvas").count() == 1  # the GRU's h after every row
    assert "-" not in gru.locator(".probs").inner_text()  # its logits shown through the softmax
    folder = Path(os.environ.get("GLASSNET_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "playground_onnx.png"), full_page=True)
    assert (folder / "playground_onnx.png").stat().st_size > 20_000
    assert not errors, f"JavaScript errors on the page: {errors}"
