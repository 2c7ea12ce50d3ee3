"""The Gradient Flow page runs with its defaults and shows numbers computed by the library, in English and in
Chinese (with no English word anywhere in its main area when Chinese is chosen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.experiments import gradnorms
from resnet_viz.text import experiment_readings, i18n
from tests.app.zh_scan import class_words, english_on

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Gradient_Flow.py")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def page(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_CACHE", str(tmp_path))
    at = AppTest.from_file(PAGE, default_timeout=240)
    # A cheaper Figure 1 than the default depth 56 keeps the test quick; the maths is tested in unit tests.
    at.session_state["gf_depth"] = 20
    at.session_state["gf_batch"] = 16
    return at


def _text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_page_runs_with_defaults(page) -> None:
    page.session_state["gf_why"] = True  # the identity/branch split is measured on request
    page.run()
    assert not page.exception, page.exception
    text = _text(page)
    assert "**plain-20**" in text and "**residual-20**" in text
    # The readings are the library's, rendered from the same numbers the figure shows.
    norms = gradnorms.compare_init(20, batch_size=16, seed=0)
    for r in experiment_readings.gradflow_init(norms):
        assert i18n.render(r, "en") in text
    # Figure 1, ResNet-18's norms, the identity/branch split, the degradation run.
    assert len(page.get("plotly_chart")) >= 4
    assert "Table 3" in text and "option B" in text  # the shortcut options, cited
    assert "After 200 steps" in text and "Fig. 1" in text and "Table 2" in text
    assert page.latex  # eq. 4 and 5


def test_the_identity_split_follows_the_sidebar_mask(page) -> None:
    page.session_state["gf_why"] = True
    page.run()
    all_on = _text(page)
    page.session_state["mask"] = (True, False, True, True, True, True, True, True)
    page.run()
    assert not page.exception, page.exception
    one_off = _text(page)
    assert "Over the 8 blocks with a shortcut" in all_on and "no identity path" not in all_on
    assert "Over the 7 blocks with a shortcut" in one_off and "shortcut of layer1.1 off" in one_off
    page.session_state["mask"] = (False,) * 8
    page.run()
    assert "no identity path at all" in _text(page)


def test_train_live_draws_the_curves_and_caches_them(page, tmp_path) -> None:
    page.session_state["gf_steps"] = 20
    page.session_state["gf_deep"] = 20
    page.session_state["gf_resnet"] = False  # Figure 1b is covered by the first test
    page.run()
    assert not page.exception
    assert any("Train live" in i.value for i in page.info)  # nothing cached for these settings yet
    page.button(key="gf_train").click().run()
    assert not page.exception, page.exception
    # Exactly one verdict on the run, labelled with its step count.
    verdicts = [m.value for m in page.markdown if m.value.startswith("- After ")]
    assert len(verdicts) == 1 and verdicts[0].startswith("- After 20 steps:"), verdicts
    assert any("at step 20 of 20" in c.value for c in page.caption)
    assert list((tmp_path / "gradflow").glob("*.json"))
    page.run()  # a rerun replays the cache instead of training
    assert any("cache" in c.value for c in page.caption)


def test_zero_init_without_batchnorm_is_explained(page) -> None:
    page.session_state["gf_bn"] = False
    page.session_state["gf_zero"] = True
    page.session_state["gf_shortcut"] = "B"
    page.session_state["gf_which"] = "residual"
    page.session_state["gf_resnet"] = False
    page.session_state["gf_shatter"] = True
    page.run()
    assert not page.exception, page.exception
    text = _text(page)
    assert "**residual-20**" in text and "**plain-20**" not in text
    assert "(without BatchNorm)" in text
    assert "each identity block starts as the identity and each downsampling block as its shortcut" in text
    corr = gradnorms.compare_correlation(20, batchnorm=False, shortcut="B", seed=0)
    assert i18n.render(experiment_readings.shattered(corr)[-1], "en") in text


def test_the_page_in_chinese_has_no_english(page) -> None:
    page.session_state["lang"] = "zh"
    page.session_state["gf_shatter"] = True
    page.session_state["gf_why"] = True
    page.session_state["mask"] = (True, False, True, True, True, True, True, True)
    page.run()
    assert not page.exception, page.exception
    assert page.title[0].value == i18n.t("gf.title", "zh")

    labels = class_words()  # class labels and sample names are data, not page text
    assert not english_on(page, extra=labels)
