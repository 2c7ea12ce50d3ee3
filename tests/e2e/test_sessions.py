"""Two sessions on one server (two students): the shortcut switch changes what one session's page shows and only
that session's (the shared model is never mutated per request)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, main, new_context, settle, sidebar

pytestmark = pytest.mark.e2e

EXPLAINING = re.compile(r"Explaining .+? \(class \d+\), probability [\d.]+%")


def _flip_shortcuts(page) -> None:
    sidebar(page).get_by_text("Shortcuts", exact=True).first.click()


def _prediction(page) -> str:
    """Grad-CAM's line naming the explained class and its probability."""
    match = EXPLAINING.search(main(page).inner_text())
    assert match, main(page).inner_text()[:500]
    return match.group(0)


def _open(context, url: str, ready: str):
    page = context.new_page()
    page.goto(url)
    settle(page, ready, main(page))
    return page


def test_two_sessions_keep_their_own_shortcuts(server, browser):
    """Two browser contexts (two students): A switches shortcuts off while B reruns; B's prediction is unchanged."""
    contexts = [new_context(browser, 1400, 900) for _ in range(2)]
    a, b = (_open(c, f"{server}/Grad_CAM", "Explaining") for c in contexts)
    before_a, before_b = _prediction(a), _prediction(b)
    assert before_a == before_b  # same image, same weights, all shortcuts on

    # A flips the switch and B changes its view at the same time: both runs overlap on the one shared model.
    _flip_shortcuts(a)
    box = main(b).locator('[data-testid="stSelectbox"]').filter(has_text="Stage shown large")
    box.click()
    b.get_by_role("option", name="layer3", exact=True).click()
    settle(a, "all shortcuts off", sidebar(a))
    settle(b, "layer3: where", main(b))
    settle(a, "Explaining", main(a))

    assert _prediction(a) != before_a
    assert _prediction(b) == before_b
    assert "all shortcuts on" in sidebar(b).inner_text()
    expect(sidebar(b).get_by_role("switch", name="Shortcuts")).to_be_checked()
    expect(sidebar(a).get_by_role("switch", name="Shortcuts")).not_to_be_checked()
    for page in (a, b):
        assert_no_error(page)
    for c in contexts:
        c.close()
