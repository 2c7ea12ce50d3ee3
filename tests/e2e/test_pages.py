"""Navigation in headless Chromium: one tab walks every page through the sidebar's menu; each page draws without an
exception box or a traceback, under app.py's sidebar, and the shortcut switch flipped on the first page stays
flipped on every other (the session's state survives page changes). The server has no network (tests/e2e/hall.py):
the page comes up offline, on the shapes weights, and says so. A screenshot of each page with
$RESNET_VIZ_E2E_SHOTS."""

import pytest
from playwright.sync_api import expect

from resnet_viz.text import i18n
from tests.e2e.conftest import assert_no_error, main, settle, shot, sidebar
from ui.nav import PAGES

pytestmark = pytest.mark.e2e


def test_every_page_through_the_menu(server, page):
    page.goto(server)
    settle(page, "all shortcuts on", sidebar(page))
    assert "Live: Synthetic shapes" in sidebar(page).inner_text()  # offline, and it says which weights it runs
    sidebar(page).get_by_text("Shortcuts", exact=True).first.click()
    settle(page, "all shortcuts off", sidebar(page))
    for spec in PAGES[1:] + PAGES[:1]:
        title = i18n.t(spec.title_key, "en")
        sidebar(page).get_by_role("link", name=title).click()
        # The sidebar's link names the page (app.py draws it in the new run); then the run finishes.
        link = sidebar(page).locator('[data-testid="stCode"]')
        if spec == PAGES[0]:
            expect(link).not_to_contain_text(f"/{PAGES[-1].url_path}")
            settle(page)
        else:
            settle(page, f"/{spec.url_path}?mask=00000000", link)
        assert "all shortcuts off" in sidebar(page).inner_text()
        assert_no_error(page)
        assert main(page).inner_text().strip(), spec.url_path
        shot(page, spec.url_path)
