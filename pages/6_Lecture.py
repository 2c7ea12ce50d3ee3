"""Lecture: the story of residual learning step by step, each with a short text and the live figure; two steps ask
the class first and reveal the measured answer on the next click."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz.explain import gradcam
from ui import keys, lecture, nav, rooms, state
from ui.draw import chart, figures_zip_button, show_error
from ui.lecture import BODY_KEYS, STEPS, TITLE_KEYS
from ui.picker import pick_image
from ui.text import t

PRESENTER_CSS = """<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li {font-size: 1.55rem; line-height: 1.45;}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] h2 {font-size: 2.6rem;}
.block-container {padding-top: 3.6rem; padding-bottom: 0; max-width: 100%;}
</style>"""
NORMAL_CSS = """<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li {font-size: 1.15rem;}
.block-container {padding-top: 3.6rem; padding-bottom: 0;}
</style>"""


def _go(delta: int) -> None:
    step = min(max(int(st.session_state.get(keys.LECTURE_STEP, 0)), 0), len(STEPS) - 1)
    if delta > 0:
        rooms.leaving(STEPS[step])  # moving on from a question reveals it on the students' phones
    st.session_state[keys.LECTURE_STEP] = min(max(step + delta, 0), len(STEPS) - 1)


nav.require_app(__file__)
handle = state.get_handle()
image = pick_image()
presenter = st.sidebar.toggle(t("lec.presenter"), value=False, key=keys.LECTURE_PRESENTER, help=t("lec.presenter_help"))
st.markdown(PRESENTER_CSS if presenter else NORMAL_CSS, unsafe_allow_html=True)
step = min(max(int(st.session_state.get(keys.LECTURE_STEP, 0)), 0), len(STEPS) - 1)
st.session_state[keys.LECTURE_STEP] = step
name = STEPS[step]

nav_cols = st.columns([1, 6, 1], vertical_alignment="center")
nav_cols[0].button(t("lec.prev"), on_click=_go, args=(-1,), disabled=step == 0, key=keys.LEC_PREV, width="stretch")
dots = " ".join("●" if i == step else "○" for i in range(len(STEPS)))
nav_cols[1].markdown(f"<div style='text-align:center; font-size:1.3rem'><b>{t('lec.step', i=step + 1, n=len(STEPS))}"
                     f"</b> &nbsp; {dots}</div>", unsafe_allow_html=True)
nav_cols[2].button(t("lec.next"), on_click=_go, args=(1,), disabled=step == len(STEPS) - 1, key=keys.LEC_NEXT,
                   type="primary", width="stretch")
st.markdown(f"## {step + 1}. {t(TITLE_KEYS[name])}")
if presenter:
    lecture.presenter_notes(name)  # the presenter's side only, never the projected slide
    rooms.presenter_sidebar()

text_col, fig_col = st.columns([2, 3], gap="large")
try:
    with st.spinner(t("lec.computing")):
        fig, caption = lecture.slide(name, handle, image, presenter)
except (ValueError, RuntimeError, gradcam.AttributionError) as exc:
    show_error(exc, t("lec.error"))
    st.stop()
with text_col:
    st.markdown(t(BODY_KEYS[name]))
    if name in lecture.QUESTIONS:
        st.markdown(lecture.choices(name))
        st.markdown(f"**{t('lec.reveal_next')}**")
    if caption:
        st.markdown(caption)
    if presenter:
        rooms.reveal_panel(name)  # on a reveal step: the class's answers beside the measured one
with fig_col:
    if presenter and name in lecture.QUESTIONS and rooms.presenting():  # the class answers from their phones
        rooms.question_panel(name, fig, _go, (1,))
    elif isinstance(fig, list):  # stacked rows
        for f in fig:
            chart(st, f)
    elif isinstance(fig, tuple):
        for col, f in zip(st.columns(2), fig, strict=True):
            chart(col, f)
    elif fig is None and name in lecture.QUESTIONS:
        st.markdown("<div style='font-size:8rem; text-align:center'>?</div>", unsafe_allow_html=True)
    elif fig is not None:
        chart(st, fig)
with text_col:
    figs = dict(enumerate(fig if isinstance(fig, tuple | list) else [fig] if fig is not None else []))
    if figs:  # a question step has no figure to download
        figures_zip_button({f"{name}_{i}": f for i, f in figs.items()}, f"lecture_{step + 1}_{name}")
