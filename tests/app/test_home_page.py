"""Home introduces every page, including the new sections, in English and in Chinese (its title from the locale)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.text import i18n
from tests.app.zh_scan import english_on
from ui.lecture import STEPS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_introduces_the_new_sections(lang):
    at = AppTest.from_file(str(ROOT / "pages/0_Home.py"), default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert str(len(STEPS)) in text  # the lecture's step count, from the lecture itself
    assert ("Bottleneck" if lang == "en" else "瓶颈块") in text
    assert at.title[0].value == i18n.t("home.title", lang)  # the title from that language's locale file
    if lang == "zh":
        assert not english_on(at), english_on(at)


def test_home_names_every_page_of_the_menu_in_both_languages():
    from resnet_viz.text import i18n
    from ui.nav import PAGES

    for lang in i18n.LANGUAGES:
        listed = i18n.t("home.pages", lang)
        missing = [i18n.t(p.title_key, lang) for p in PAGES[1:] if f"**{i18n.t(p.title_key, lang)}**" not in listed]
        assert not missing, (lang, missing)
