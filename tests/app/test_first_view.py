"""The first view after a server start (ui.first_view): while the library loads, Home and the language choice are
drawn with a loading status, another page says it is loading, and nothing of the library is needed."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.text import i18n
from ui import first_view

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def still_loading(monkeypatch):
    monkeypatch.setattr(first_view, "ready", lambda: False)


def _infos(at) -> list[str]:
    return [e.value for e in at.info]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_is_drawn_while_the_library_loads(still_loading, lang):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["lang"] = lang  # a link's language holds from the first view on
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == i18n.texts(lang)["home.title"]
    assert i18n.texts(lang)["boot.loading"] in _infos(at)
    assert not at.selectbox  # the weights and device choices wait for the model
    assert [r.key for r in at.sidebar.radio] == ["lang"]
    assert "lang" in at.session_state and at.session_state["lang"] == lang  # set before the menu is built


def test_another_page_says_it_is_loading(still_loading):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/3_Grad_CAM.py").run()
    assert not at.exception, at.exception
    assert i18n.texts("en")["boot.loading_page"] in _infos(at)
    assert not at.title  # the page itself did not run


def test_once_loaded_the_full_app_runs():
    first_view.start()
    assert first_view.wait(300)  # on its own thread, or at once when torch was already loaded in this process
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert i18n.texts("en")["boot.loading"] not in _infos(at)
    assert at.selectbox(key="weights_source") is not None


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_library_that_fails_to_import_is_said_not_swallowed(monkeypatch, lang):
    def broken(name, *args):
        raise ImportError("libtorch_cpu.so: cannot open shared object file")

    monkeypatch.setattr(first_view, "_failure", [])
    monkeypatch.setattr(first_view.importlib, "import_module", broken)
    first_view._import_library()
    assert isinstance(first_view.failure(), ImportError)  # kept, not swallowed
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception  # no traceback: the page says why
    [error] = [e.value for e in at.error]
    assert error.startswith(i18n.texts(lang)["boot.failed"].split("{")[0])
    assert "ImportError" in error and "libtorch\\_cpu" in error  # the cause, shown literally
