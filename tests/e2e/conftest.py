"""A real browser against the real server of tests/e2e/hall.py (`streamlit run app.py` on a free loopback port, with
no network), driven by playwright.

Without Debian's chromium the browser tests skip with a hint; under CI (CI=true) a missing browser is a failure.
RESNET_VIZ_E2E_SHOTS=1 writes a full-page screenshot of each page the tests show into tests/e2e/artifacts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.hall import Hall, lecture_hall

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
CHROMIUM = os.environ.get("RESNET_VIZ_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 180_000  # a bound for a stuck run on a loaded machine, not a time goal
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _need_browser() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    message = "Debian's chromium is not installed: `apt-get install chromium` (or `make install-browser`) enables e2e."
    if os.environ.get("CI") == "true":
        pytest.fail(message + " Under CI a missing browser is a failure.")
    pytest.skip(message)


@pytest.fixture(scope="session")
def hall(request, tmp_path_factory) -> Hall:
    """The session's one server (tests/e2e/hall.py): fresh, offline, met by a class at once; then warm."""
    return lecture_hall(request.config, tmp_path_factory)


@pytest.fixture(scope="session")
def server(hall) -> str:
    """The app's URL."""
    return hall.url


@pytest.fixture(scope="session")
def browser():
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def new_context(browser, width: int = 1600, height: int = 1000):
    """A browser context (one visitor) whose waits and reads allow a loaded machine TIMEOUT_MS."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser):
    context = new_context(browser)
    pg = context.new_page()
    yield pg
    context.close()


def settle(page, text: str | None = None, scope=None, timeout_ms: int = TIMEOUT_MS) -> None:
    """The one wait of the e2e tests, event-driven (no sleeps): until `text` shows in `scope` (default: the whole
    app) and the script run that drew it has finished.

    Pass a text the awaited run draws: right after a click the app can still report the previous run as
    finished, so "finished" alone would not prove the new run is done.
    """
    from playwright.sync_api import expect

    app = page.locator('[data-testid="stApp"]')
    if text is not None:
        expect(scope if scope is not None else app).to_contain_text(text, timeout=timeout_ms)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout_ms)


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def main(page):
    return page.locator('[data-testid="stMain"]')


def assert_no_error(page) -> None:
    """No Streamlit exception box and no traceback text anywhere on the page."""
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    assert "Traceback" not in page.content()


def shot(page, name: str) -> Path | None:
    """A full-page screenshot for a person to look at, in tests/e2e/artifacts, when $RESNET_VIZ_E2E_SHOTS is set
    (each costs the browser a full layout and a PNG; nothing asserts on them)."""
    if not os.environ.get("RESNET_VIZ_E2E_SHOTS"):
        return None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def upload(uploader, name: str, data: bytes) -> None:
    """Bytes into a Streamlit file uploader, under a name of the test's choosing (a browser sends both)."""
    uploader.locator('input[type="file"]').set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": data})


def checkpoint_uploader(page, server: str):
    """Home with the weights source switched to "Your own .pth checkpoint": the sidebar's uploader for it."""
    page.goto(server)
    settle(page, "Live: ", sidebar(page))
    sidebar(page).locator('[data-testid="stSelectbox"]').filter(has_text="Weights").click()
    page.get_by_role("option").filter(has_text="Your own .pth checkpoint").first.click()
    settle(page, "ResNet-18 checkpoint", sidebar(page))
    return sidebar(page).locator('[data-testid="stFileUploader"]').filter(has_text="ResNet-18 checkpoint")
