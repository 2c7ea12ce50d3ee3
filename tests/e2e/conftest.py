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


def start_server(tmp: Path) -> tuple[str, subprocess.Popen, object]:
    """A fresh `streamlit run app.py` on a free loopback port, offline, on the CPU: (url, process, log)."""
    _need_browser()
    port = _free_port()
    for name in ("torch-home", "cache", "server"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RESNET_VIZ_OFFLINE": "1", "RESNET_VIZ_DEVICE": "cpu",
           "TORCH_HOME": str(tmp / "torch-home"), "RESNET_VIZ_CACHE": str(tmp / "cache")}
    log = (tmp / "server" / "streamlit.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1).read()
            return url, proc, log
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}") from None
            time.sleep(0.3)
    stop(proc, log)
    raise RuntimeError("streamlit did not start within 60 s")


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
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished the current run, then let figures draw.

    Idle means the app's script state is "notRunning" and no running indicator shows, three polls in a row:
    right after a click the state can still read "notRunning" from the run before.
    """
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_timeout(300)
    busy = page.locator('[data-testid="stApp"]:not([data-test-script-state="notRunning"]), '
                        '[data-testid="stStatusWidget"]')
    deadline = time.monotonic() + timeout_ms / 1000
    calm = 0
    while calm < 3 and time.monotonic() < deadline:
        calm = 0 if busy.count() else calm + 1
        page.wait_for_timeout(150)
    page.wait_for_timeout(400)


def wait_text(scope, text: str, timeout_ms: int = 60_000) -> None:
    """Wait (event-driven) until `text` shows inside the locator `scope`, then until the run ends."""
    from playwright.sync_api import expect

    expect(scope).to_contain_text(text, timeout=timeout_ms)
    wait_idle(scope.page)


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
