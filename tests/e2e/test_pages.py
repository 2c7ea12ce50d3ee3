"""Every page in headless Chromium: no exception box, no traceback, a screenshot each."""

import pytest

from resnet_viz import i18n
from tests.e2e.conftest import assert_no_error, shot, wait_idle
from ui.nav import PAGES

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_page_renders(server, page, spec):
    url = server if spec == PAGES[0] else f"{server}/{spec.url_path}"
    page.goto(url)
    wait_idle(page)
    assert_no_error(page)
    assert i18n.t(spec.title_key, "en").split()[0].lower() in page.content().lower()
    shot(page, spec.url_path)


def test_shortcut_toggle_changes_the_block_view(server, page):
    page.goto(f"{server}/Architecture")
    wait_idle(page)
    assert "all shortcuts on" in page.content()
    page.get_by_text("Shortcuts", exact=True).first.click()
    wait_idle(page)
    assert "all shortcuts off" in page.content()
    assert_no_error(page)
