"""Every lecture step renders in English and in Chinese, and the buttons move between steps."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/6_Lecture.py")
N_STEPS = 8


def _page(lang: str, step: int) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["lang"] = lang
    at.session_state["lecture_step"] = step
    at.session_state["mask"] = (True,) * 8
    return at.run()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_step_renders(lang):
    from resnet_viz.i18n import t

    for step in range(N_STEPS):
        at = _page(lang, step)
        assert not at.exception, (lang, step, at.exception)
        assert not at.error, (lang, step, [e.value for e in at.error])
        texts = [m.value for m in at.markdown]
        assert any(t("lec.step", lang, i=step + 1, n=N_STEPS) in m for m in texts), (lang, step)
        assert any(m.startswith(f"## {step + 1}. ") for m in texts), (lang, step)
        assert len(at.get("plotly_chart")) >= 1, (lang, step)


def test_buttons_move_and_stop_at_the_ends():
    at = _page("en", 0)
    assert at.button(key="lec_prev").disabled
    at.button(key="lec_next").click().run()
    assert at.session_state["lecture_step"] == 1
    at.button(key="lec_prev").click().run()
    assert at.session_state["lecture_step"] == 0
    at.session_state["lecture_step"] = N_STEPS - 1
    at.run()
    assert at.button(key="lec_next").disabled
    at.toggle(key="lecture_presenter").set_value(True).run()
    assert not at.exception
