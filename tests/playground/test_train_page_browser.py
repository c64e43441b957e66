"""The Train page and the Digits page's first look, in Chromium: the status never runs backwards, the Data choice
reads in full, the epoch axis ends on a whole epoch, the live model's chip shows its accuracy, and before the
first stroke each model's card says what to do. A server of its own (the live model it adds stays here)."""

from __future__ import annotations

import re

import pytest
from conftest import need

import glassnet as gn

expect = need("playwright.sync_api").expect
need("starlette", "playground")

TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A playground on 127.0.0.1 (a free port) with one small digit model and no full MNIST; stops by itself."""
    from glassnet.playground import make_server

    model = gn.Sequential([gn.Dense(784, 10, activation="softmax")], seed=0).compile(loss="cross_entropy")
    model.meta = {"results": {"test_accuracy": 0.5}}
    empty = tmp_path_factory.mktemp("no-mnist")
    with make_server([("small", model, "a test model")], "127.0.0.1", 0, data_dir=str(empty)) as s:
        yield s


@pytest.fixture
def page(page, server):
    page.set_default_timeout(TIMEOUT_MS)
    page.set_viewport_size({"width": 1300, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.base = server.url.rstrip("/")
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


STATUS = re.compile(r"running: preset \w+, epoch (\d+) of (\d+), batch (\d+) of (\d+)")


def test_training_status_runs_forward_the_axis_ends_on_an_epoch_and_the_live_chip_has_accuracy(page, tmp_path):
    page.goto(page.base + "/train")
    page.wait_for_selector("#preset option", state="attached")
    page.evaluate("""() => {  // every status line the page shows, in order
        window.lines = [];
        new MutationObserver(() => window.lines.push(document.getElementById("status").textContent))
            .observe(document.getElementById("status"), { childList: true, characterData: true, subtree: true });
    }""")
    page.select_option("#preset", "default")
    page.fill("#epochs", "3")
    page.click("#start")
    page.wait_for_selector('#status[data-status="done"]', timeout=90_000)
    lines = page.evaluate("window.lines")
    steps = [tuple(int(v) for v in m.groups()) for m in map(STATUS.search, lines) if m]
    assert steps, lines
    progress = [(epoch, batch) for epoch, _, batch, _ in steps]
    assert progress == sorted(progress), lines  # never "batch 36 of 36" then "batch 11 of 36" of one epoch
    assert page.get_attribute("#acc-chart", "data-x-axis") == "1 to 3"  # not "4.0"
    page.screenshot(path=str(tmp_path / "train-done.png"), full_page=True)
    page.goto(page.base + "/")
    chip = page.locator("#model-choice label", has_text="live (")
    chip.wait_for()
    assert re.search(r"live \([\d,]+ weights · \d+\.\d\d%\)", chip.text_content()), chip.text_content()


def test_the_data_choice_reads_in_full(page, tmp_path):
    page.goto(page.base + "/train")
    page.wait_for_selector("#preset option", state="attached")
    room = page.evaluate("""() => {
        const s = document.getElementById("data"), cs = getComputedStyle(s);
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
        const inside = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 24; // the arrow
        return [...s.options].map((o) => [o.textContent, inside - ctx.measureText(o.textContent).width]);
    }""")
    assert all(spare >= 0 for _, spare in room), room
    assert page.text_content("#data-info").startswith("The full MNIST is not here: start the playground with "
                                                      "--data-dir DIR")
    page.locator("section[aria-label='training settings']").screenshot(path=str(tmp_path / "train-settings.png"))


def test_before_the_first_stroke_each_card_says_to_draw(page, tmp_path):
    page.goto(page.base + "/")
    card = page.locator('[data-model="small"]')
    card.wait_for()
    assert card.locator(".prediction").text_content() == ""  # no lone dot
    assert card.locator(".draw-hint").text_content().startswith("Draw a digit on the pad")
    page.screenshot(path=str(tmp_path / "digits-before.png"), full_page=True)
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.2 * box["height"], steps=4)
    page.mouse.move(box["x"] + 0.45 * box["width"], box["y"] + 0.8 * box["height"], steps=4)
    page.mouse.up()
    expect(card.locator(".prediction")).to_have_text(re.compile(r"^\d$"))
    assert card.locator(".draw-hint").count() == 0
    page.click("#clear")
    assert card.locator(".draw-hint").count() == 1 and card.locator(".prediction").text_content() == ""
