"""The Gradient Flow page runs with its defaults and shows numbers computed by the library."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

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


def test_page_runs_with_defaults(page) -> None:
    page.run()
    assert not page.exception, page.exception
    text = " ".join(m.value for m in page.markdown)
    assert "**plain-20**" in text and "**residual-20**" in text
    assert len(page.get("plotly_chart")) >= 2


def test_train_live_draws_the_curves_and_caches_them(page, tmp_path) -> None:
    page.session_state["gf_steps"] = 20
    page.session_state["gf_deep"] = 20
    page.session_state["gf_resnet"] = False  # Figure 1b is covered by the first test
    page.run()
    assert not page.exception
    assert any("Train live" in i.value for i in page.info)  # nothing cached for these settings yet
    page.button(key="gf_train").click().run()
    assert not page.exception, page.exception
    text = " ".join(m.value for m in page.markdown)
    assert "Plain:" in text and "Residual:" in text and "at step 20 of 20" in text
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
    text = " ".join(m.value for m in page.markdown)
    assert "**residual-20**" in text and "**plain-20**" not in text
    assert "(without BatchNorm)" in text and "each block starts as the identity" in text
    assert "Neighbouring inputs' gradients correlate" in text
