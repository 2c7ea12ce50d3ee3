"""Links a slide can hold (ui.links): query parameters -> the widgets' session-state keys on the first run, refused
values fall back with a note in the visitor's language, and the view goes back into the URL."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.inputs import urlstate
from resnet_viz.text import i18n
from tests.zh_words import english_words
from ui import links

ROOT = Path(__file__).resolve().parents[2]


def _app(query: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query)
    return at.run()


def test_session_keys_follow_the_query_and_refusals_keep_defaults():
    keys, notes, page = links.session_keys(
        {"page": "Feature_Maps", "layer": "layer3.1", "mask": "11110000", "lang": "zh", "block": "layer2.0",
         "channel": "255", "class": "281", "step": "3", "image": "shapes: star"}, num_classes=1000)
    assert page == "Feature_Maps" and notes == []
    assert keys["fm_layer"] == "layer3.1" and "cam_stage" not in keys  # layer3.1 is a block, not a stage
    assert keys["shortcuts_all"] is True
    assert [keys[f"sc_{b}"] for b in urlstate.BLOCK_NAMES] == [True] * 4 + [False] * 4
    assert (keys["lang"], keys["fm_block"], keys["fm_channel"], keys["cam_target"], keys["cam_query"],
            keys["lecture_step"]) == ("zh", "layer2.0", 255, 281, "281", 3)
    assert keys["image"][0] == "shapes: star" and keys["image"][1][:4] == b"\x89PNG"
    # All off: the master switch off (the per-block boxes stay as they were: on).
    keys, _, _ = links.session_keys({"mask": "00000000", "layer": "layer2"}, num_classes=10)
    assert keys["shortcuts_all"] is False and keys["fm_layer"] == keys["cam_stage"] == "layer2"
    # A class beyond the live weights' classes is refused by number; nothing else is set.
    keys, notes, page = links.session_keys({"class": "10", "page": "Nowhere"}, num_classes=10)
    assert keys == {} and page is None
    assert {(p, k) for p, k, _, _ in notes} == {("class", urlstate.OUT_OF_RANGE), ("page", urlstate.UNKNOWN)}


HOSTILE = {"layer": "**bold** [x](https://evil.example)", "mask": "1" * 5000, "lang": "<script>", "channel": "１２",
           "class": "9" * 40, "step": "-1", "image": "../../etc/passwd", "block": "\x00", "page": "Lecture?x"}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_hostile_query_values_fall_back_with_a_literal_note(language):
    at = _app({**HOSTILE, "lang": language} if language == "zh" else HOSTILE)
    assert not at.exception
    ss = at.session_state
    assert ss["mask"] == (True,) * 8 and "fm_layer" not in ss and ss["lang"] == language
    assert "image" not in ss  # Home has no picker: no image was chosen for it
    note = at.warning[0].value
    lines = note.split("  \n")
    assert len(lines) == len(HOSTILE) - (language == "zh")  # a zh visitor's lang is fine
    for param in ("layer", "mask", "channel", "class", "step", "image", "block"):
        assert any(f"“{param}”" in line for line in lines), (param, note)
    # The hostile text is quoted literally: its Markdown escaped, never a link; the 5000 ones cut short.
    # (a word joiner after "https:" keeps the browser's Markdown from autolinking the URL)
    assert "\\*\\*bold\\*\\* \\[x\\]\\(https\\:\u2060\\/\\/evil\\.example\\)" in note
    assert "1" * 41 not in note
    if language == "zh":
        # Only the parameter names and the visitor's own words are Latin letters in a Chinese note.
        theirs = {w for v in HOSTILE.values() for w in re.findall("[A-Za-z]+", v)}
        assert not english_words(note, extra={*urlstate.PARAMS, *theirs})
    # Nothing refused goes back into the URL.
    assert dict(at.query_params) == ({"lang": "zh"} if language == "zh" else {})


def test_a_deep_link_sets_the_sidebar_and_goes_back_into_the_url():
    at = _app({"mask": "11110000", "lang": "zh", "step": "3"})
    assert not at.exception and not at.warning
    assert at.session_state["mask"] == (True,) * 4 + (False,) * 4
    assert at.session_state["lecture_step"] == 3
    assert any("layer3.0" in c.value and "已关闭" in c.value for c in at.sidebar.caption)
    assert dict(at.query_params) == {"mask": "11110000", "lang": "zh"}
    assert "mask=11110000" in at.sidebar.code[0].value


def test_later_runs_keep_what_the_visitor_changes():
    at = _app({"mask": "11110000", "step": "3"})  # English: AppTest formats translated options in English
    at.checkbox(key="sc_layer4.1").check()
    at._finished_page_script_hash = ""  # make AppTest run app.py again, as a browser does (see test_app.py)
    at.run()
    assert at.session_state["mask"] == (True,) * 4 + (False,) * 3 + (True,)
    assert at.query_params["mask"] == "11110001"


def test_page_parameter_opens_that_page():
    at = _app({"page": "Architecture", "lang": "zh"})
    assert not at.exception
    assert at.title[0].value == i18n.t("arch.title", "zh")
    assert at.session_state["lang"] == "zh"
