"""Every page in headless Chromium: no exception box, no traceback, a screenshot each."""

import pytest

from pages.common import PAGE_SPECS
from tests.e2e.conftest import assert_no_error, shot, wait_idle

pytestmark = pytest.mark.e2e


def _url_path(path: str) -> str:
    # st.Page derives the URL from the file name without its number prefix: "pages/1_Architecture.py" -> "Architecture".
    stem = path.rsplit("/", 1)[-1].removesuffix(".py")
    return stem.split("_", 1)[1] if stem[0].isdigit() else stem


@pytest.mark.parametrize("path,title", [(p, t) for p, t, _ in PAGE_SPECS])
def test_page_renders(server, page, path, title):
    url = server if path == PAGE_SPECS[0][0] else f"{server}/{_url_path(path)}"
    page.goto(url)
    wait_idle(page)
    assert_no_error(page)
    assert title.split()[0].lower() in page.content().lower()
    shot(page, _url_path(path))


def test_shortcut_toggle_changes_the_block_view(server, page):
    page.goto(f"{server}/Architecture")
    wait_idle(page)
    assert "all shortcuts on" in page.content()
    page.get_by_text("Shortcuts", exact=True).first.click()
    wait_idle(page)
    assert "all shortcuts off" in page.content()
    assert_no_error(page)
