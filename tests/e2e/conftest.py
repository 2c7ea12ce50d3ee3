"""A real browser against a real server: `streamlit run app.py` on a free loopback port, driven by playwright.

Without Debian's chromium the tests skip with a hint; under CI (CI=true) a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
CHROMIUM = os.environ.get("RESNET_VIZ_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 180_000  # a bound for a stuck run on a loaded machine, not a time goal
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _need_browser() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    message = "Debian's chromium is not installed: `apt-get install chromium` (or `make install-browser`) enables e2e."
    if os.environ.get("CI") == "true":
        pytest.fail(message + " Under CI a missing browser is a failure.")
    pytest.skip(message)


def start_server(tmp: Path, env: dict | None = None) -> tuple[str, subprocess.Popen, object]:
    """A fresh `streamlit run app.py` on a free loopback port, on the CPU: (url, process, log).

    Offline ($RESNET_VIZ_OFFLINE) unless `env` says otherwise; an empty torch hub (no ImageNet weights); the disk
    cache of this test process (results AppTests already computed, e.g. gradient-flow runs, are not computed twice).
    """
    _need_browser()
    port = _free_port()
    for name in ("torch-home", "server"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    env = env if env is not None else {**os.environ, "RESNET_VIZ_OFFLINE": "1"}
    env = {**env, "RESNET_VIZ_DEVICE": "cpu", "TORCH_HOME": str(tmp / "torch-home"),
           "RESNET_VIZ_CACHE": os.environ.get("RESNET_VIZ_CACHE", str(tmp / "cache"))}
    log = (tmp / "server" / "streamlit.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the test itself goes direct
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            opener.open(url + "/_stcore/health", timeout=1).read()
            return url, proc, log
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}") from None
            time.sleep(0.2)
    stop(proc, log)
    raise RuntimeError("streamlit did not start within 120 s")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The app on a free port, offline, on the CPU; stopped after the session."""
    url, proc, log = start_server(tmp_path_factory.mktemp("app"))
    yield url
    stop(proc, log)


def stop(proc: subprocess.Popen, log) -> None:
    """Terminate a server started by a test, kill it if it lingers, close its log."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


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


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
