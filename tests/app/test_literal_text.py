"""User text (an uploaded file's name, a class search text) shows literally: no bold, no link."""

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.zh_words import english_words
from ui.text import literal

ROOT = Path(__file__).resolve().parents[2]
NAME = "**bold** [link](https://evil.example/x).jpg"
UNESCAPED_MARKUP = re.compile(r"(?<!\\)(\*\*|\]\(|https?:|<)")


def _picker_app():
    from resnet_viz.inputs import images
    from ui.keys import IMAGE as IMAGE_KEY
    from ui.picker import _choose, pick_image

    sample = images.list_samples()[0].path.read_bytes()
    import streamlit as st

    if IMAGE_KEY not in st.session_state:
        st.session_state[IMAGE_KEY] = ("**bold** [link](https://evil.example/x).jpg", sample)
        _choose("**bold** [link](https://evil.example/x).jpg", b"not an image")  # refused: an error with the name
    pick_image(st)


def test_an_uploaded_name_shows_with_no_bold_and_no_link():
    at = AppTest.from_function(_picker_app, default_timeout=60).run()
    assert not at.exception
    caption = at.get("image")[0].proto.imgs[0].caption
    assert caption.startswith(literal(NAME)) and not UNESCAPED_MARKUP.search(caption)
    assert len(at.error) == 1 and at.error[0].value.startswith(literal(NAME) + ": ")
    assert not UNESCAPED_MARKUP.search(at.error[0].value)


def _search_warnings(at: AppTest) -> list:
    """The page's warnings less the note that random weights predict nothing (readings.weights_fit)."""
    from resnet_viz.text import i18n

    fit = {i18n.render(("read.fit.random", {}), lang) for lang in i18n.LANGUAGES}
    return [w for w in at.warning if w.value not in fit]


def _grad_cam(monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")
    at = AppTest.from_file(str(ROOT / "pages" / "3_Grad_CAM.py"), default_timeout=180)
    at.session_state["weights_source"] = "random"
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_a_hostile_class_search_gets_a_literal_message(monkeypatch):
    at = _grad_cam(monkeypatch)
    for text, words in (("**x** [y](https://z)", "No class name"), ("9" * 5000, "too long"), ("-3", "0 to 999")):
        at.text_input(key="cam_query").input(text).run()
        assert not at.exception, text
        warnings = _search_warnings(at)
        assert len(warnings) == 1 and words in warnings[0].value, text
        assert not UNESCAPED_MARKUP.search(warnings[0].value), warnings[0].value
        assert "9" * 201 not in warnings[0].value
        assert len(at.selectbox(key="cam_target").options) == 1  # only "the top-1 class" is left
    at.text_input(key="cam_query").input("²").run()  # a digit to str.isdigit, not to int(): read as class 2
    assert not at.exception and not _search_warnings(at)
    assert at.selectbox(key="cam_target").options[1].endswith("(2)")


def test_the_class_search_message_in_chinese(monkeypatch):
    # AppTest formats option labels outside the script run (in English), so the Chinese page is run once, with
    # the search text already in the box.
    at = _grad_cam(monkeypatch, lang="zh", cam_query="**x** [y](https://z)")
    assert not at.exception
    warnings = _search_warnings(at)
    assert len(warnings) == 1 and "没有哪个类别名" in warnings[0].value
    assert not UNESCAPED_MARKUP.search(warnings[0].value)


def test_a_refused_image_is_explained_in_the_readers_language():
    # The refusal is kept as a reason, not as English text: switching to 中文 words it in Chinese.

    at = AppTest.from_function(_picker_app, default_timeout=60)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception and len(at.error) == 1
    message = at.error[0].value.removeprefix(literal(NAME) + "：")  # a Chinese sentence takes a Chinese colon
    assert not english_words(message), message
    assert re.search(r"[\u4e00-\u9fff]", message)
