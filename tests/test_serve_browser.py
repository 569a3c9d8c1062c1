"""The page of `seqtool serve` in a real headless Chromium (Debian's, driven by Playwright): the real server
(uvicorn) on 127.0.0.1, tiny trained models, typing, Enter, the heatmap, an analogy, a readable error;
a screenshot of every tab at desktop and phone widths under the test's tmp dir."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seqtool.serve.app import create_app
from seqtool.store.workspace import Workspace
from tests.serve_models import SWEEP, SWEEP_TRIALS, served_workspace  # noqa: F401 - the fixture

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(served_workspace: Path) -> Iterator[str]:  # noqa: F811 - the imported fixture
    import uvicorn

    app = create_app(Workspace(served_workspace), device="cpu")
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("width,height", [(1280, 800), (375, 740)], ids=["desktop", "phone"])
def test_every_tab_works_and_fits(server: str, browser, tmp_path: Path, width: int, height: int) -> None:  # noqa: ANN001
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(30_000)
    page.goto(server + "/")

    # Translate: type, Enter; Shift+Enter is a newline, not a request.
    box = page.locator("#translate-input")
    box.click()
    box.press_sequentially("i can't")
    box.press("Shift+Enter")
    assert box.input_value() == "i can't\n" and page.locator(".translation").count() == 0
    box.fill("i can't swim")
    box.press("Enter")
    page.locator(".translation").first.wait_for()
    assert page.locator(".translation").first.inner_text() == "私は泳げない。"
    # Drawn with a font that has Japanese glyphs (the one the server hands out, or a system CJK font),
    # not with empty boxes of a Latin fallback.
    fonts = _fonts_of(page, ".translation")
    assert "IPAexGothic" in fonts or "DejaVu Sans" not in fonts, fonts
    api = httpx.post(server + "/api/translate", json={"q": "i can't swim", "nbest": 3, "attention": True}).json()
    target = api["translations"][0]["attention"]["target"]
    assert page.locator("table.heatmap tbody tr").count() == len(target) > 1
    assert page.locator("table.heatmap thead th").count() == len(api["translations"][0]["attention"]["source"]) + 1
    assert page.locator(".nbest li").count() == 3
    assert page.locator(".heatmap th[scope=row]").all_inner_texts() == target
    # Each output piece shaded by doubt; hovering shows its probability.
    shaded = page.locator(".confidence span[title]")
    assert shaded.count() == len(target) and "p = " in (shaded.first.get_attribute("title") or "")
    _check_fits(page, width)
    page.screenshot(path=str(tmp_path / f"translate-{width}.png"), full_page=True)

    # Language model: next-word bars and samples.
    page.get_by_role("tab", name="Language model").click()
    page.locator("#next-form button[type=submit]").click()
    page.locator("#next-output li").first.wait_for()
    assert page.locator("#next-output li").count() == 10
    page.locator("#generate-form button[type=submit]").click()
    page.locator("#generate-output li").first.wait_for()
    assert page.locator("#generate-output li").count() == 3
    _check_fits(page, width)
    page.screenshot(path=str(tmp_path / f"lm-{width}.png"), full_page=True)

    # Embeddings: an analogy, then an unknown word shows the API's message, not a blank result.
    page.get_by_role("tab", name="Embeddings").click()
    page.locator("#analogy-input").fill("父 - 男 + 女")
    page.locator("#analogy-form button[type=submit]").click()
    page.locator("#emb-output li").first.wait_for()
    assert page.locator("#emb-output li .word").first.inner_text() == "母"
    assert page.locator("#emb-query").inner_text() == "父 - 男 + 女"
    page.locator("#similar-input").fill("ねこねこ")
    page.locator("#similar-form button[type=submit]").click()
    error = page.locator("#emb-error")
    error.wait_for(state="visible")
    assert "'ねこねこ' is not in the vocabulary" in error.inner_text()
    assert page.locator("#emb-output li").count() == 0
    _check_fits(page, width)
    page.screenshot(path=str(tmp_path / f"embeddings-{width}.png"), full_page=True)

    # Models: the workspace table, a learning curve per model.
    page.get_by_role("tab", name="Models").click()
    page.locator("#models-table svg.curve").nth(2).wait_for()
    assert page.locator("#models-table tbody tr").count() == 3
    assert "dev_bleu" in page.locator("#models-table").inner_text()
    _check_fits(page, width)
    page.screenshot(path=str(tmp_path / f"models-{width}.png"), full_page=True)

    # Runs: a sweep's trials side by side, the best first and marked.
    page.get_by_role("tab", name="Runs").click()
    rows = page.locator("table.runs tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(SWEEP_TRIALS)
    assert rows.first.locator("td").first.inner_text() == "2 *"  # trial 2: the highest dev BLEU
    assert "pruned" in page.locator("table.runs").inner_text() and SWEEP in page.locator("#tab-runs h2").inner_text()
    _check_fits(page, width)
    page.screenshot(path=str(tmp_path / f"runs-{width}.png"), full_page=True)
    page.close()


def test_mbr_and_ensemble_controls(server: str, browser) -> None:  # noqa: ANN001
    """The page asks for MBR when chosen (the answer is the API's for the same request), and for no
    ensemble unless a partner model is picked."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(30_000)
    page.goto(server + "/")
    page.wait_for_function("document.querySelectorAll('#translate-partner option').length > 1")
    partner = page.locator("#translate-partner")
    assert partner.input_value() == "" and partner.locator("option").first.inner_text() == "none"
    page.select_option("#translate-decoding", "chrf")
    page.fill("#translate-samples", "8")
    page.fill("#translate-input", "i can't swim")
    page.press("#translate-input", "Enter")
    page.locator(".translation").first.wait_for()
    ask = {"q": ["i can't swim"], "beam": 5, "nbest": 3, "mbr": 8, "mbr_metric": "chrf"}
    api = httpx.post(server + "/api/translate", json=ask).json()["translations"][0]
    assert page.locator(".translation").first.inner_text() == api["text"]
    assert page.locator(".nbest li").all_inner_texts()[0].startswith(api["nbest"][0]["text"])
    assert "MBR (chrf) over 8 samples" in page.locator("#translate-output p.muted").inner_text()
    page.close()


def _fonts_of(page, selector: str) -> list[str]:  # noqa: ANN001 - a Playwright page
    """The font families Chromium used to draw the element's text (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return [f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]


def _check_fits(page, width: int) -> None:  # noqa: ANN001 - a Playwright page
    """Nothing is wider than the window, and the Japanese font has arrived (for the screenshot)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.evaluate("document.fonts.ready")
