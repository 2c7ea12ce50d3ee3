"""The Shortcut Lab page shows the library's lesion numbers, in English and in Chinese."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_viz import lesion, weights
from resnet_viz.config import DEFAULTS
from resnet_viz.i18n import t

ROOT = Path(__file__).resolve().parents[2]


def test_lab_shows_the_lesion_numbers_in_both_languages():
    at = AppTest.from_file(str(ROOT / "pages/5_Shortcut_Lab.py"), default_timeout=300)
    at.session_state["weights_source"] = "shapes"
    at.run()
    assert not at.exception and not at.error
    ref = lesion.cached_run(weights.load("shapes", device="cpu"), "shapes", DEFAULTS.lesion_n, DEFAULTS.lesion_size)
    assert at.metric[0].label == t("lab.m.intact", "en")
    assert at.metric[0].value == f"{100 * ref.values['intact']:.1f}%"
    assert at.metric[3].value == f"{100 * ref.values['no_shortcuts']:.1f}%"
    assert len(at.get("plotly_chart")) == 1
    at.radio(key="lab_set").set_value("photos").run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 2  # agreement and the intact top-1 probability
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == t("lab.title", "zh")
    assert at.metric[0].label == t("lab.m.intact", "zh")
    assert at.radio(key="lab_set").value == "photos"  # switching the language keeps the choice
