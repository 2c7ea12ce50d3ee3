"""The Shortcut Lab page shows the library's lesion numbers and readings, in English and in Chinese."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from resnet_viz.experiments import lesion, unravel
from resnet_viz.model import weights
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.layers import BLOCK_NAMES
from resnet_viz.text import experiment_readings, i18n
from resnet_viz.text.i18n import t
from tests.app.zh_scan import class_words, english_on

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/5_Shortcut_Lab.py")


def _app(lang: str = "en") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["weights_source"] = "shapes"
    at.session_state["lang"] = lang
    return at


def _text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_lab_shows_the_lesion_numbers_in_both_languages():
    at = _app()
    at.run()
    assert not at.exception and not at.error
    shapes = weights.handle_for("shapes", device="cpu")
    ref = lesion.cached_run(shapes, "shapes", DEFAULTS.lesion_n, DEFAULTS.lesion_size)
    assert at.metric[0].label == t("lab.m.intact", "en")
    assert at.metric[0].value == f"{100 * ref.values['intact']:.1f}%"
    assert at.metric[3].value == f"{100 * ref.values['no_shortcuts']:.1f}%"
    text = _text(at)
    assert i18n.join(experiment_readings.lesion(ref.values, ref.metric, ref.chance, ref.n), "en") in text
    assert "layer2.0" in text and "layer3.0" in text and "layer4.0" in text
    # The lesion chart, the unraveled paths, the plain/residual twins.
    assert len(at.get("plotly_chart")) == 3
    assert "2^8 = 256 paths" in text and "2^54 = 18,014,398,509,481,984 paths" in text
    pair = unravel.shipped_lesion()
    assert i18n.join(experiment_readings.twin_lesion(pair), "en") in text
    at.radio(key="lab_set").set_value("photos").run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 4  # agreement and the intact top-1 probability
    n_photos = len(lesion.photo_samples())
    assert f"Evaluated on {n_photos} photos" in _text(at) and f"{100 / n_photos:.0f} points" in _text(at)
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == t("lab.title", "zh")
    assert at.metric[0].label == t("lab.m.intact", "zh")
    assert at.radio(key="lab_set").value == "photos"  # switching the language keeps the choice


def _fake(worst: str, value: float) -> lesion.LesionResult:
    values = {"intact": 0.95, "no_shortcuts": 0.1}
    for b in BLOCK_NAMES:
        values[f"no_shortcut:{b}"] = 0.9
        values[f"no_branch:{b}"] = value if b == worst else 0.93
    return lesion.LesionResult("accuracy", values, dict.fromkeys(values, 0.5), 200, 64, "shapes", chance=0.1)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_two_results_give_two_readings(monkeypatch, lang):
    """The reading follows the numbers: a downsampling block worst, then an ordinary block worst."""
    shown = []
    for fake in (_fake("layer3.0", 0.2), _fake("layer1.1", 0.2)):
        st.cache_data.clear()
        monkeypatch.setattr(lesion, "cached_run", lambda *a, fake=fake, **k: fake)
        at = _app(lang)
        at.session_state["lab_n"] = 200
        at.run()
        assert not at.exception and not at.error
        want = i18n.join(experiment_readings.lesion(fake.values, "accuracy", 0.1, 200), lang)
        assert want in _text(at)
        shown.append(want)
    assert shown[0] != shown[1]
    worse = experiment_readings.lesion(_fake("layer3.0", 0.2).values, "accuracy", 0.1, 200)
    assert "read.lesion.down_worse" in [k for k, _ in worse]
    st.cache_data.clear()


@pytest.mark.parametrize("data", ["shapes", "photos"])
def test_the_lab_in_chinese_has_no_english(data):
    at = _app("zh")
    at.session_state["lab_set"] = data
    at.run()
    assert not at.exception and not at.error
    labels = class_words()  # class labels and sample names are data, not page text
    assert not english_on(at, extra=labels)
