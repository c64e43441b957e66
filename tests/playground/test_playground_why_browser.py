"""The Why? lens in a real browser (Debian's Chromium driven by Playwright): turn it on, switch the method,
click a class's bar, Fool it, hover a unit. Screenshots go to $GLASSNET_SCREENSHOTS when set
(``GLASSNET_SCREENSHOTS=docs/gallery`` renews the README's picture), else to the test's temporary folder."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import need
from test_playground_browser import SEVEN, draw, shot
from test_playground_browser import page as page  # fails a test on any JavaScript error or CSP refusal

need("playwright.sync_api")
need("starlette", "playground")


def why_answers(page, model):
    """The /api/why answers for ``model`` as they arrive."""
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/api/why")
            and f'"model":"{model}"' in (r.request.post_data or "").replace(" ", "") else None)
    return answers


def wait_for(answers, count, page, timeout_ms=20_000):
    waited = 0
    while len(answers) < count and waited < timeout_ms:
        page.wait_for_timeout(50)
        waited += 50
    assert len(answers) >= count, f"{len(answers)} answers of /api/why, expected {count}"
    page.wait_for_timeout(150)  # the page draws the answer
    return answers[-1].json()


def test_the_lens_explains_switches_asks_fools_and_shows_what_a_unit_looks_for(page, digit_models, tmp_path):
    page.goto(page.base + "/")
    page.wait_for_selector('[data-model="lstm"]')
    mlp = page.locator('[data-model="mlp"]')
    answers = why_answers(page, "mlp")
    draw(page, "#pad", SEVEN)
    page.wait_for_function("() => document.querySelector('[data-model=mlp] .prediction').textContent !== '·'")
    assert mlp.locator(".why").is_hidden()
    # lens on: the attribution for the predicted class, by integrated gradients
    mlp.locator(".why-toggle").click()
    mlp.locator(".why").wait_for(state="visible")
    w = wait_for(answers, 1, page)
    predicted = int(mlp.locator(".prediction").inner_text())
    assert w["method"] == "ig" and w["target"] == predicted == w["prediction"]
    page.wait_for_function("() => document.querySelector('[data-model=mlp]').dataset.whyMethod === 'ig'")
    assert mlp.locator(".why-question b").inner_text() == str(predicted)
    assert "integrated gradients" in mlp.locator(".why-legend").inner_text()
    assert mlp.locator('.why-layer[data-layer="dense_1"] canvas.why-units').count() == 1
    pixels = page.evaluate("""() => { const c = document.querySelector('[data-model=mlp] .why-map');
        return Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data); }""")
    rgb = np.asarray(pixels).reshape(28, 28, 4)[..., :3]
    assert rgb.std() > 5  # the map is drawn, not blank
    # the method switch asks again
    mlp.locator('.why-head select').select_option("saliency")
    w = wait_for(answers, 2, page)
    assert w["method"] == "saliency"
    page.wait_for_function("() => document.querySelector('[data-model=mlp]').dataset.whyMethod === 'saliency'")
    assert "saliency" in mlp.locator(".why-legend").inner_text()
    # a click on another class's bar: why that class?
    other = (predicted + 3) % 10
    mlp.locator(f'.probs div[data-class="{other}"]').click()
    w = wait_for(answers, 3, page)
    assert w["target"] == other
    page.wait_for_function(f"() => document.querySelector('[data-model=mlp]').dataset.whyTarget === '{other}'")
    assert mlp.locator(".why-question b").inner_text() == str(other)
    assert mlp.locator(f'.probs .asked[data-class="{other}"]').count() == 3
    # hovering a unit of the lens shows what it looks for
    grid = mlp.locator('.why-layer[data-layer="dense_1"] canvas.why-units')
    b = grid.bounding_box()
    page.mouse.move(b["x"] + 4, b["y"] + 4)
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#tooltip').textContent.includes('what it looks for')")
    assert "dense_1 #0" in tip.inner_text() and tip.locator("canvas.looks-for").count() == 1
    # back to integrated gradients; a click on the answer's own bar asks about the answer again
    page.mouse.move(5, 5)
    mlp.locator('.why-head select').select_option("ig")
    wait_for(answers, 4, page)
    mlp.locator(f'.probs div[data-class="{predicted}"]').click()
    w = wait_for(answers, 5, page)
    assert w["target"] == predicted and w["method"] == "ig"
    # Fool it: the nudged digit, its eps and the new answer, which the model really gives
    mlp.locator(".why-fool").click()
    page.wait_for_selector('[data-model="mlp"] .why-nudged')
    after = int(mlp.locator(".why-after").inner_text())
    assert after != predicted
    text = mlp.locator(".why-fooled").inner_text()
    assert "eps = 0." in text and f"not {predicted}" in text
    # the LSTM's lens: which rows it relied on; the CNN's: which channels
    lstm = page.locator('[data-model="lstm"]')
    lstm.locator(".why-toggle").click()
    lstm.locator(".why-steps").wait_for(state="visible")
    page.locator('[data-model="cnn"] .why-toggle').click()
    page.locator('[data-model="cnn"] .why-layer[data-layer="conv2d_1"]').wait_for()
    page.wait_for_timeout(300)
    path = shot(page, tmp_path, "playground_why.png")
    assert path.stat().st_size > 20_000
    # the nudged digit shown to every model: the MLP now gives the fooled answer
    mlp.locator(".why-fooled .btn").click()
    page.wait_for_function(f"() => document.querySelector('[data-model=mlp] .prediction').textContent === '{after}'")
    assert "nudged by FGSM" in page.locator("#digit-info").inner_text()


@pytest.mark.parametrize("model", ["cnn"])
def test_the_lens_on_feature_maps_and_a_hovered_channel(page, model):
    page.goto(page.base + "/")
    page.wait_for_selector(f'[data-model="{model}"]')
    page.click("#test-digit")
    col = page.locator(f'[data-model="{model}"]')
    page.wait_for_function(f"() => document.querySelector('[data-model={model}] .prediction').textContent !== '·'")
    col.locator(".why-toggle").click()
    layer = col.locator('.why-layer[data-layer="conv2d_1"]')
    layer.wait_for()
    assert "per channel" in layer.inner_text()
    b = layer.locator("canvas").bounding_box()
    page.mouse.move(b["x"] + b["width"] - 4, b["y"] + 4)  # the last of the 4 channels
    page.wait_for_function("() => document.querySelector('#tooltip').textContent.includes('what it looks for')")
    assert "conv2d_1 #3" in page.locator("#tooltip").inner_text()
