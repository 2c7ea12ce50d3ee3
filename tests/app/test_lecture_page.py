"""Every lecture step renders in English and in Chinese (no English word on a Chinese slide), the buttons move
between steps, the two questions reveal their measured answers only on the next click, and presenter notes stay
on the presenter's side."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.experiments import gradnorms
from resnet_viz.text import experiment_readings, i18n
from tests.app.zh_scan import class_words, english_on
from ui import lecture
from ui.lecture import STEPS

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/6_Lecture.py")
N_STEPS = len(STEPS)


def _page(lang: str, step: int, presenter: bool = False) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["lang"] = lang
    at.session_state["lecture_step"] = step
    at.session_state["lecture_presenter"] = presenter
    at.session_state["mask"] = (True,) * 8
    return at.run()


def _main(at) -> str:
    return "\n".join(m.value for m in at.main.get("markdown"))


def _check_step(at, lang: str, step: int, extra) -> None:
    """The slide of `step`: no error, its number and title, one filled dot, a chart unless it asks a question, and
    (in Chinese) no English word."""
    assert at.session_state["lecture_step"] == step, (lang, step)
    assert not at.exception, (lang, step, at.exception)
    assert not at.error, (lang, step, [e.value for e in at.error])
    texts = [m.value for m in at.markdown]
    assert any(i18n.t("lec.step", lang, i=step + 1, n=N_STEPS) in m for m in texts), (lang, step)
    assert sum(m.count("●") for m in texts) == 1 and sum(m.count("○") for m in texts) == N_STEPS - 1
    assert any(m.startswith(f"## {step + 1}. ") for m in texts), (lang, step)
    if STEPS[step] not in lecture.QUESTIONS:
        assert len(at.get("plotly_chart")) >= 1, (lang, step)
    if lang == "zh":
        leaks = english_on(at, extra)
        assert not leaks, (step, leaks)


def _ask_grad(at) -> str:
    """On the gradient question: the choices are on the slide and the measured verdict is not (yet)."""
    shown = _main(at)
    for key in lecture.CHOICES["ask_grad"]:
        assert i18n.t(key, "en") in shown  # the choices are on the slide
    norms = gradnorms.compare_init(lecture.GRAD_DEPTH, batch_size=32)
    verdict = i18n.join(experiment_readings.grad_question(norms), "en")
    assert verdict.split(".")[0] not in shown  # no answer before the click
    # The measured plain stack explodes toward the input (the first half of B); the shortcuts cut the growth to
    # 36.9× and it still grows (the second half, judged too).
    assert norms["plain"].output_ratio > 100 and "answer B" in verdict and "explodes" in verdict
    assert "still grows" in verdict and "36.9×" in verdict
    return verdict


def _presenter_notes(at) -> None:
    """On the Grad-CAM step: its presenter note only in the presenter view's sidebar, never on the slide."""
    note = i18n.t(lecture.NOTES["gradcam"], "en")
    assert note not in _main(at) and note not in [i.value for i in at.sidebar.get("alert")]
    at.toggle(key="lecture_presenter").set_value(True).run()
    assert note in [i.value for i in at.sidebar.info]
    assert note not in _main(at)  # never on the projected slide
    at.toggle(key="lecture_presenter").set_value(False).run()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_step_renders_walked_with_the_buttons(lang):
    """One session per language walks the lecture with Next, as a presenter does, and back with Previous: every
    step renders; in English the two questions reveal their measured answers only on the next click and the
    presenter notes stay in the presenter view."""
    extra = class_words()
    at = _page(lang, 0)
    assert at.button(key="lec_prev").disabled
    verdict = None
    for step in range(N_STEPS):
        if step:
            at.button(key="lec_next").click().run()
        _check_step(at, lang, step, extra)
        if lang != "en":
            continue
        name, shown = STEPS[step], _main(at)
        if name == "gradcam":
            _presenter_notes(at)
        elif name == "ask_grad":
            verdict = _ask_grad(at)
        elif name == "grad":
            assert verdict in shown  # revealed by the click
        elif name == "ask_lesion":
            assert all(i18n.t(key, "en") in shown for key in lecture.CHOICES["ask_lesion"])
            assert "Measured:" not in shown
        elif name == "lesion":
            assert "**Measured:** least harm without " in shown
            assert "Veit et al. 2016 (§4, Fig. 3)" in shown and "Evaluated on" in shown
    assert lang != "en" or verdict is not None
    assert at.button(key="lec_next").disabled
    at.button(key="lec_prev").click().run()
    assert at.session_state["lecture_step"] == N_STEPS - 2
    at.toggle(key="lecture_presenter").set_value(True).run()
    assert not at.exception


def test_every_presenter_note_names_a_step_and_exists_in_both_languages():
    from ui.lecture_plan import NOTES, STEPS

    assert set(NOTES) <= set(STEPS)
    for key in NOTES.values():
        assert i18n.t(key, "zh") != key and i18n.t(key, "en") != key
