"""The global shortcut switch changes what the pages show, and only for the session that flips it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, shot, wait_idle
from tests.e2e.test_hostile import settled

pytestmark = pytest.mark.e2e

EXPLAINING = re.compile(r"Explaining .+? \(class \d+\), probability [\d.]+%")


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def _main(page):
    return page.locator('[data-testid="stMain"]')


def _flip_shortcuts(page) -> None:
    _sidebar(page).get_by_text("Shortcuts", exact=True).first.click()


def _prediction(page) -> str:
    """Grad-CAM's line naming the explained class and its probability."""
    match = EXPLAINING.search(_main(page).inner_text())
    assert match, _main(page).inner_text()[:500]
    return match.group(0)


def _channel_stats(page) -> list[str]:
    """Feature maps: min / mean / max of the chosen channel (layer1.0, channel 0 by default)."""
    metrics = page.locator('[data-testid="stMetric"]')
    expect(metrics).to_have_count(3, timeout=60_000)
    wait_idle(page)
    return metrics.all_inner_texts()


def _open(context, url: str, ready: str):
    page = context.new_page()
    page.goto(url)
    settled(page, _main(page), ready)
    return page


def test_shortcut_switch_changes_feature_maps_and_grad_cam(server, browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = _open(context, f"{server}/Feature_Maps", "all shortcuts on.")
    stats_on = _channel_stats(page)
    _flip_shortcuts(page)
    settled(page, _main(page), "all shortcuts off.")
    stats_off = _channel_stats(page)
    assert stats_off != stats_on  # layer1.0 without its shortcut: relu(F(x)) alone
    assert_no_error(page)
    shot(page, "Feature_Maps_shortcuts_off")

    # Same session on Grad-CAM: the switch is still off there; switching it on changes the prediction.
    _sidebar(page).get_by_role("link", name="Grad-CAM").click()
    settled(page, _main(page), "Explaining")
    assert "all shortcuts off" in _sidebar(page).inner_text()
    off = _prediction(page)
    _flip_shortcuts(page)
    settled(page, _sidebar(page), "all shortcuts on")
    settled(page, _main(page), "Explaining")
    on = _prediction(page)
    assert on != off, on
    assert_no_error(page)
    context.close()


def test_two_sessions_keep_their_own_shortcuts(server, browser):
    """Two browser contexts (two students): A switches shortcuts off while B reruns; B's prediction is unchanged."""
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(2)]
    a, b = (_open(c, f"{server}/Grad_CAM", "Explaining") for c in contexts)
    before_a, before_b = _prediction(a), _prediction(b)
    assert before_a == before_b  # same image, same weights, all shortcuts on

    # A flips the switch and B changes its view at the same time: both runs overlap on the one shared model.
    _flip_shortcuts(a)
    box = _main(b).locator('[data-testid="stSelectbox"]').filter(has_text="Stage shown large")
    box.click()
    b.get_by_role("option", name="layer3", exact=True).click()
    settled(a, _sidebar(a), "all shortcuts off")
    settled(b, _main(b), "layer3: where")
    settled(a, _main(a), "Explaining")

    assert _prediction(a) != before_a
    assert _prediction(b) == before_b
    assert "all shortcuts on" in _sidebar(b).inner_text()
    expect(_sidebar(b).get_by_role("switch", name="Shortcuts")).to_be_checked()
    expect(_sidebar(a).get_by_role("switch", name="Shortcuts")).not_to_be_checked()
    for page in (a, b):
        assert_no_error(page)
    for c in contexts:
        c.close()
