"""Links a slide can hold: a deep link opened fresh shows the view it names, and the view's link
comes back in the sidebar.

The Feature maps link in Chinese is opened the way a browser's first load opens it (its path and query in the
first run, over Streamlit's own protocol: tests/e2e/hall.py), and the widgets it set are read from what the server
sent; the Lecture link is opened in Chromium, where the address bar and the literal rendering of a refused value
can only be seen in a browser.
"""

import asyncio

import pytest
from playwright.sync_api import expect

from resnet_viz.text import i18n
from tests.e2e.conftest import assert_no_error, main, settle
from tests.e2e.hall import in_thread, shown, visit
from ui.lecture import STEPS


def test_deep_link_to_feature_maps_in_chinese(server):
    visitor, result = in_thread(asyncio.run, visit(server, "Feature_Maps", "layer=layer3.1&mask=11110000&lang=zh"))
    assert (result.status, result.exceptions) == ("ok", [])
    assert visitor.landed() == "feature_maps"
    assert i18n.t("common.mask.some_off", "zh", blocks="layer3.0, layer3.1, layer4.0, layer4.1") in result.captions
    assert shown(visitor.widgets["fm_layer"]) == "layer3.1"
    assert shown(visitor.widgets["lang"]) == i18n.LANGUAGES["zh"]
    assert shown(visitor.widgets["shortcuts_all"]) is True  # the master switch on, four blocks off
    assert [shown(visitor.widgets[f"sc_{b}"]) for b in ("layer1.0", "layer3.0", "layer4.1")] == [True, False, False]
    link = visitor.codes[-1]  # the sidebar's link, as the page left it
    assert link.startswith("/Feature_Maps?layer=layer3.1") and "mask=11110000" in link and "lang=zh" in link


@pytest.mark.e2e
def test_deep_link_to_a_lecture_step_with_a_refused_value(server, page):
    page.goto(f"{server}/Lecture?step=3&channel=%2A%2Abold%2A%2A")
    settle(page, i18n.t("lec.step", "en", i=4, n=len(STEPS)), main(page))
    note = main(page).locator('[data-testid="stAlert"]').filter(has_text="“channel”")
    expect(note).to_contain_text("(the link said: **bold**)")  # literally, not bold
    assert note.locator("strong").count() == 0
    assert page.url.endswith("/Lecture?step=3")  # the refused value left the address
    assert_no_error(page)
