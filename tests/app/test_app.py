"""The app shell and the Architecture page under Streamlit's AppTest."""

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.zh_words import english_words

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


def _rerun(at: AppTest) -> AppTest:
    # AppTest (streamlit 1.67) reruns only the page script once st.navigation has picked a page, so the
    # sidebar in app.py would not run; an empty page hash makes it run app.py again, like a browser does.
    at._finished_page_script_hash = ""
    return at.run()


def test_home_runs_and_sidebar_sets_the_mask():
    at = _app().run()
    assert not at.exception
    assert at.session_state["mask"] == (True,) * 8
    assert any("Live:" in s.value for s in at.success)
    at.toggle(key="shortcuts_all").set_value(False)
    _rerun(at)
    assert not at.exception
    assert at.session_state["mask"] == (False,) * 8
    at.toggle(key="shortcuts_all").set_value(True)
    _rerun(at)
    at.checkbox(key="sc_layer3.0").uncheck()
    _rerun(at)
    assert at.session_state["mask"] == (True,) * 4 + (False,) + (True,) * 3
    assert any(c.value == "shortcuts off in layer3.0" for c in at.sidebar.caption)


def test_architecture_table_follows_the_input_size():
    at = AppTest.from_file(str(ROOT / "pages/1_Architecture.py"), default_timeout=TIMEOUT)
    at.session_state["weights_source"] = "random"  # 1000 ImageNet classes, as in the seed's table
    at.run()
    assert not at.exception
    assert at.metric[0].value == "3×224×224"
    assert at.metric[1].value == "11,689,512"
    first = at.dataframe[0].value
    assert first.loc[first["layer"] == "layer4.1", "output C×H×W"].item() == "512x7x7"
    at.number_input(key="arch_h").set_value(320).run()
    assert not at.exception
    df = at.dataframe[0].value
    assert df.loc[df["layer"] == "layer4.1", "output C×H×W"].item() == "512x10x10"
    at.toggle(key="arch_square").set_value(False).run()
    at.number_input(key="arch_w").set_value(480).run()
    df = at.dataframe[0].value
    assert df.loc[df["layer"] == "layer4.1", "output C×H×W"].item() == "512x10x15"
    assert at.metric[0].value == "3×320×480"


def test_every_page_runs_on_its_own():
    from ui.nav import PAGES

    for path in (p.file for p in PAGES):
        at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT).run()
        assert not at.exception, (path, at.exception)


def test_sidebar_in_chinese_has_no_english():
    """Every text the sidebar shows (labels, the live weights and why, why not the others, the mask, the link's help)
    in Chinese: no English word beyond layer names, units and symbols."""

    at = _app()
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    sb = at.sidebar
    kinds = ("success", "error", "info", "warning", "caption", "markdown")
    texts = [e.value for kind in kinds for e in getattr(sb, kind)]
    texts += [w.label for kind in ("selectbox", "toggle", "checkbox", "radio") for w in getattr(sb, kind)
              if w.label != "Language / 语言"]
    texts += [e.label for e in sb.expander]
    assert any("合成" in x for x in texts)  # the live weights are named, in Chinese
    # Scanned as the visitor reads them (Markdown's backslash escapes removed), file-system paths left out.
    found = {x: english_words(re.sub(r"[\w.\-]*(?:/[\w.\-]+)+/?", " ", re.sub(r"\\(.)", r"\1", x))) for x in texts}
    assert not {x: w for x, w in found.items() if w}, found
