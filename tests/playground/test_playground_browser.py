"""The playground's pages in a real browser: Debian's Chromium driven by Playwright.

Screenshots go to $GLASSNET_SCREENSHOTS when set (``GLASSNET_SCREENSHOTS=docs/gallery pytest
tests/test_playground_browser.py`` renews the README's pictures), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import need

import glassnet as gn

need("playwright.sync_api")
need("starlette", "playground")

TIMEOUT_MS = 20_000


@pytest.fixture
def page(page, playground):
    """A Chromium page on the playground that fails its test on any JavaScript error or any refusal of the
    Content-Security-Policy; ``page.console_errors`` holds every console error for tests that want none."""
    page.set_default_timeout(TIMEOUT_MS)
    page.set_viewport_size({"width": 1500, "height": 1000})
    errors, page.console_errors = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.base = playground.url.rstrip("/")
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
    refused = [m for m in page.console_errors if "Content Security Policy" in m]
    assert not refused, f"the Content-Security-Policy refused: {refused}"


def shot(page, tmp_path, name):
    folder = Path(os.environ.get("GLASSNET_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=True)
    return folder / name


def draw(page, selector, strokes):
    """Mouse strokes on a canvas, in fractions of its size: [[(x, y), ...], ...]."""
    box = page.locator(selector).bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=4)
        page.mouse.up()


SEVEN = [[(0.3, 0.22), (0.72, 0.22), (0.5, 0.55), (0.42, 0.82)]]


def test_a_drawn_digit_shows_the_apis_prediction_and_every_layer(page, digit_models, tmp_path):
    page.goto(page.base + "/")
    page.wait_for_selector('[data-model="lstm"]')
    answers = []
    page.on("response", lambda r: answers.append(r) if "/api/predict" in r.url
            and '"mlp"' in (r.request.post_data or "") else None)
    draw(page, "#pad", SEVEN)
    page.wait_for_function("() => document.querySelectorAll('.prediction')[0].textContent !== '·'")
    page.wait_for_timeout(800)  # the request sent when the stroke ends
    answer = answers[-1].json()  # requests go one at a time: the last answer is the one shown
    expected = int(digit_models["mlp"].predict(np.asarray(answer["input"], np.float32)[None]).argmax())
    assert answer["prediction"] == expected  # the API answers with glassnet's own forward pass
    col = page.locator('[data-model="mlp"]')
    shown = int(col.locator(".prediction").inner_text())
    assert shown == answer["prediction"] and col.locator(".probs").get_attribute("data-prediction") == str(shown)
    probs = col.locator(".probs span.top").all_inner_texts()
    assert probs[0] == str(shown) and probs[-1] == f"{100 * max(answer['probabilities']):.1f}%"
    # every layer drawn: units, feature maps of the convolution and pooling, the LSTM's states
    assert col.locator(".layer").count() == len(digit_models["mlp"].layers)
    cnn = page.locator('[data-model="cnn"]')
    assert cnn.locator('[data-layer="conv2d_1"] .maps canvas').count() == 4
    assert cnn.locator('[data-layer="maxpool2d_1"] .maps canvas').count() == 4
    assert page.locator('[data-model="lstm"] .states canvas').count() == 1
    assert col.locator(".weights figure").count() == 8  # the most active first-layer units' weights
    # hovering a unit shows its z, a, bias and weight picture
    grid = col.locator('[data-layer="dense_1"] canvas').first
    b = grid.bounding_box()
    page.mouse.move(b["x"] + 5, b["y"] + 5)
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#tooltip').textContent.includes('bias')")
    text = tip.inner_text()
    assert re.search(r"z\s+-?\d", text) and re.search(r"a\s+\d", text) and tip.locator("canvas").count() == 1
    path = shot(page, tmp_path, "playground_digits.png")
    assert path.stat().st_size > 20_000


def test_a_misclassified_test_digit(page, digit_models):
    page.goto(page.base + "/")
    page.wait_for_selector('[data-model="mlp"]')
    page.click("#wrong-digit")
    page.wait_for_function("() => document.querySelector('#digit-info').textContent.includes('gets wrong')")
    label = int(page.locator("#digit-info").get_attribute("data-label"))
    # the answer is cleared while the request is out: wait for a digit, not merely for the placeholder to go
    page.wait_for_function("() => /^[0-9]$/.test(document.querySelector('[data-model=mlp] .prediction')"
                           ".textContent.trim())", timeout=10_000)
    assert int(page.locator('[data-model="mlp"] .prediction').inner_text()) != label


def test_playground_controls_and_the_test_loss_falls(page, tmp_path):
    page.goto(page.base + "/playground#dataset=spiral&noise=0&features=x1,x2,x1sq,x2sq,sinx1,sinx2&hidden=8,8")
    page.wait_for_function("() => document.querySelector('#test-loss').textContent !== '–'")
    page.select_option("#optimizer", "adam")
    page.select_option("#learning_rate", "0.01")
    page.select_option("#activation", "tanh")
    page.click("#add-layer")
    page.wait_for_function("() => document.querySelector('#n-layers').textContent === '3'")
    page.locator("#show_test").check()
    page.wait_for_function("() => location.hash.includes('show_test=true')")
    first = float(page.inner_text("#test-loss"))
    assert "hidden=8%2C8%2C8" in page.url and "optimizer=adam" in page.url  # every setting in the URL
    page.click("#play")
    page.wait_for_function(f"() => parseFloat(document.querySelector('#test-loss').textContent) < {0.2 * first}",
                           timeout=60_000)
    assert page.locator(".hlayer[data-layer='2'] canvas.neuron").count() == 8
    shot(page, tmp_path, "playground_spiral.png")
    page.click("#play")  # pause
    page.wait_for_function("() => document.querySelector('#play').dataset.playing === 'false'")
    # the URL alone brings the same settings back
    url = page.url
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_function("() => document.querySelector('#n-layers').textContent === '3'")
    assert page.locator("#activation").input_value() == "tanh" and page.locator("#show_test").is_checked()


def test_a_bad_csv_shows_the_servers_error(page, tmp_path):
    page.goto(page.base + "/playground")
    page.wait_for_function("() => document.querySelector('#test-loss').textContent !== '–'")
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n1,2,0\n3,oops,1\n")
    page.set_input_files("#csv", str(bad))
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert error.inner_text() == "CSV row 2, column 2: 'oops' is not a number"
    good = tmp_path / "good.csv"
    good.write_text("\n".join(f"{x},{y},{int(x * y > 0)}" for x in range(-5, 6) for y in range(-5, 6)))
    page.set_input_files("#csv", str(good))
    page.wait_for_function("() => document.querySelector('[data-dataset=custom]').classList.contains('active')")


def test_export_and_load_a_network(page, tmp_path):
    page.goto(page.base + "/playground#dataset=xor&hidden=5&features=x1,x2,x1x2")
    page.wait_for_function("() => document.querySelector('#test-loss').textContent !== '–'")
    for _ in range(3):
        page.click("#step")
    page.wait_for_function("() => parseInt(document.querySelector('#epoch').textContent) === 3")
    with page.expect_download() as info:
        page.click("#export")
    path = tmp_path / "net.npz"
    info.value.save_as(path)
    model = gn.load(path)
    assert [layer.n_out for layer in model.layers] == [5, 1] and model.meta["features"] == ["x1", "x2", "x1x2"]
    assert model.predict(np.array([[1.0, 2.0, 2.0]])).shape == (1, 1)
    page.goto(page.base + "/playground#dataset=circle&hidden=2,2")
    page.wait_for_function("() => document.querySelector('#n-layers').textContent === '2'")
    page.set_input_files("#load", str(path))
    page.wait_for_function("() => document.querySelector('#n-layers').textContent === '1'")
    assert "dataset=xor" in page.url and "features=x1%2Cx2%2Cx1x2" in page.url


def test_train_a_preset_live_and_probe_it(page):
    page.goto(page.base + "/train")
    page.wait_for_selector("#preset option[value=nielsen]", state="attached")
    page.select_option("#preset", "3b1b")
    page.fill("#epochs", "2")
    page.click("#start")
    page.wait_for_function("""() => document.querySelector('#status').dataset.status === 'done'
                              && document.querySelector('#status').textContent.includes('preset 3b1b')""",
                           timeout=120_000)  # not an earlier run's "done"
    assert "test accuracy" in page.inner_text("#status")
    assert page.locator("#pictures canvas").count() == 16  # 3b1b: 16 first-layer units
    draw(page, "#probe", [[(0.5, 0.15), (0.5, 0.85)]])
    page.wait_for_function("() => document.querySelector('#probe-result').textContent.startsWith('live says')",
                           timeout=30_000)
    assert page.locator("#probe-probs span.top").count() == 2


READY = {"/": "() => document.querySelectorAll('[data-model] .prediction').length > 0",
         "/playground": "() => document.querySelector('#test-loss').textContent !== '–'",
         "/train": "() => document.querySelector('#preset option[value=nielsen]') !== null"}


@pytest.mark.parametrize("path", list(READY))
def test_each_page_loads_under_the_csp_without_console_errors(page, tmp_path, path):
    response = page.goto(page.base + path)
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'self';") and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    page.wait_for_function(READY[path])
    shot(page, tmp_path, f"csp{path.replace('/', '_')}.png")
    assert page.console_errors == [], page.console_errors
    # the policy is enforced: a script injected inline does not run, and Chromium says why
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text, timeout=TIMEOUT_MS):
        page.evaluate("""() => { const s = document.createElement('script');
                                 s.textContent = 'window.inlineRan = true'; document.body.append(s); }""")
    assert page.evaluate("() => window.inlineRan === undefined")
    page.console_errors.clear()


def test_a_token_url_logs_the_page_in_and_leaves_the_address_bar(page, tmp_path):
    """Off loopback the printed URL carries a token: the page trades it for a cookie, then works as usual."""
    from glassnet.playground import make_server

    with make_server([], "127.0.0.1", 0, token="browser-token") as server:
        base = server.url.rstrip("/")
        assert page.goto(base + "/playground").status == 401  # no token, no page
        page.goto(f"{base}/playground?token=browser-token#dataset=xor&hidden=3")
        page.wait_for_function("() => document.querySelector('#test-loss').textContent !== '–'")
        assert "token" not in page.url and "dataset=xor" in page.url
        page.click("#step")  # a POST, with the cookie and the page's Origin
        page.wait_for_function("() => parseInt(document.querySelector('#epoch').textContent) === 1")
        cookie = next(c for c in page.context.cookies() if c["name"] == f"glassnet-token-{server.port}")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        others = [m for m in page.console_errors if "status of 401" not in m]  # the first visit's (and its icon's)
        assert others == [], others
