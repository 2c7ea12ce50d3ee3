"""Six browsers open a freshly started server at the same moment (a lecturer shows the link): every one gets
its page, with the app's sidebar, and none sees an exception or a traceback (issue 12, item 7)."""

import pytest

from tests.e2e.conftest import start_server, stop, wait_idle

pytestmark = pytest.mark.e2e

# Half arrive on the home page, half on deep links: a deep link on a fresh server must still run app.py.
PATHS = ["", "Architecture", "", "Grad_CAM", "", "Shortcut_Lab"]


def test_six_first_visitors_at_once_all_get_the_page(browser, tmp_path):
    url, proc, log = start_server(tmp_path)
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in PATHS]
    try:
        pages = [c.new_page() for c in contexts]
        for pg, path in zip(pages, PATHS, strict=True):  # all six requests leave before any page has loaded
            pg.goto(f"{url}/{path}", wait_until="commit")
        problems = []
        for pg, path in zip(pages, PATHS, strict=True):
            wait_idle(pg, timeout_ms=180_000)
            html = pg.content()
            if pg.locator('[data-testid="stException"]').count() or "Traceback" in html or "ImportError" in html:
                problems.append((path, "exception", pg.locator('[data-testid="stException"]').all_inner_texts()))
            # The sidebar that app.py draws (the language radio) proves app.py ran, not the page alone.
            if "Language / 语言" not in html:
                problems.append((path, "no sidebar", pg.url))
        assert not problems, problems
    finally:
        for c in contexts:
            c.close()
        stop(proc, log)
