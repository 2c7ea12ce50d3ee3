"""Links a slide can hold (issue 15 item 7): a deep link opened in a fresh browser shows the view it names, and the
view's link comes back in the sidebar."""

import pytest
from playwright.sync_api import expect

from resnet_viz import i18n
from tests.e2e.conftest import assert_no_error, main, settle, shot, sidebar
from ui.lecture import STEPS

pytestmark = pytest.mark.e2e


def test_deep_link_to_feature_maps_in_chinese(server, page):
    page.goto(f"{server}/Feature_Maps?layer=layer3.1&mask=11110000&lang=zh")
    settle(page, i18n.t("common.mask.some_off", "zh", blocks="layer3.0, layer3.1, layer4.0, layer4.1"),
           sidebar(page))
    layer_box = main(page).get_by_role("combobox", name=i18n.t("fm.layer", "zh"), exact=True)
    expect(layer_box).to_have_value("layer3.1")
    expect(sidebar(page).get_by_role("radio", name="中文")).to_be_checked()
    expect(sidebar(page).get_by_role("switch", name=i18n.t("side.shortcuts", "zh"))).to_be_checked()
    link = sidebar(page).locator('[data-testid="stCode"]')
    expect(link).to_contain_text("/Feature_Maps?layer=layer3.1")
    expect(link).to_contain_text("mask=11110000")
    assert_no_error(page)
    shot(page, "deep_link_feature_maps_zh")


def test_deep_link_to_a_lecture_step_with_a_refused_value(server, page):
    page.goto(f"{server}/Lecture?step=3&channel=%2A%2Abold%2A%2A")
    settle(page, i18n.t("lec.step", "en", i=4, n=len(STEPS)), main(page))
    note = main(page).locator('[data-testid="stAlert"]').filter(has_text="“channel”")
    expect(note).to_contain_text("(the link said: **bold**)")  # literally, not bold
    assert note.locator("strong").count() == 0
    assert page.url.endswith("/Lecture?step=3")  # the refused value left the address
    assert_no_error(page)
