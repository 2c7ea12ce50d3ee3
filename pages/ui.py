"""Page-side helpers: the language picked in the sidebar, `t()` for page text, and the figures-to-zip button."""

from __future__ import annotations

import streamlit as st

from resnet_viz import export, i18n

LANG_KEY = "lang"
SEEN_KEY = "lang_seen"  # the language of the previous run
# Keys of the radios / selectboxes whose option texts are translated (see _keep_choices_across_a_switch).
TRANSLATED_CHOICES = ("weights_source", "pick_how", "lab_set", "fm_scale", "gf_which", "gf_shortcut", "gf_quantity",
                      "cam_target", "cam_baseline", "cam_del_base")
# Menu titles by page file; a page without an entry keeps its English title from common.PAGE_SPECS.
PAGE_TITLE_KEYS = {
    "pages/0_Home.py": "nav.home",
    "pages/1_Architecture.py": "nav.architecture",
    "pages/2_Feature_Maps.py": "nav.feature_maps",
    "pages/3_Grad_CAM.py": "nav.grad_cam",
    "pages/4_Gradient_Flow.py": "nav.gradient_flow",
    "pages/5_Shortcut_Lab.py": "nav.shortcut_lab",
    "pages/6_Lecture.py": "nav.lecture",
}
# The camera icon in every figure's toolbar saves a PNG; at twice the on-screen pixels it stays sharp on a slide.
PLOTLY_CONFIG = {"toImageButtonOptions": {"format": "png", "scale": 2}}
WEIGHTS_KEYS = {"auto": "weights.auto", "imagenet": "weights.imagenet", "shapes": "weights.shapes",
                "random": "weights.random", "file": "weights.file"}


def lang() -> str:
    """The sidebar's language (English until someone picks another)."""
    value = st.session_state.get(LANG_KEY, i18n.DEFAULT_LANG)
    return value if value in i18n.LANGUAGES else i18n.DEFAULT_LANG


def t(key: str, **kwargs) -> str:
    """The text for `key` in the sidebar's language."""
    return i18n.t(key, lang(), **kwargs)


def page_title(path: str, english: str) -> str:
    key = PAGE_TITLE_KEYS.get(path)
    return t(key) if key else english


def weights_name(source: str) -> str:
    """A weight source's name for people, in the sidebar's language."""
    key = WEIGHTS_KEYS.get(source)
    return t(key) if key else source


def _keep_choices_across_a_switch() -> None:
    """Streamlit remembers a radio's or selectbox's choice by its displayed text; after a language switch the
    browser sends a text that no longer exists, and the choice would fall back to the default (or show nothing
    selected). Writing each choice back before any widget is drawn makes Streamlit send the new text.

    At the start of the run the values are still read with the previous run's (old language's) texts, so they
    are the user's real choices.
    """
    seen = st.session_state.get(SEEN_KEY)
    if seen is not None and seen != lang():
        for key in TRANSLATED_CHOICES:
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]
    st.session_state[SEEN_KEY] = lang()


def language_selector() -> None:
    """English / 中文, at the top of the sidebar; every page reads it through `t`."""
    _keep_choices_across_a_switch()
    if st.session_state.get(LANG_KEY) not in i18n.LANGUAGES:
        st.session_state[LANG_KEY] = i18n.DEFAULT_LANG
    st.radio("Language / 语言", list(i18n.LANGUAGES), key=LANG_KEY, horizontal=True,
             format_func=i18n.LANGUAGES.get)


def figures_zip_button(figs: dict, name: str) -> None:
    """One button downloading every figure of the page as PNGs in a zip, when a server-side renderer works;
    otherwise a hint about the camera icon in each figure's toolbar."""
    if export.renderer() is None:
        st.caption(t("common.png_hint"))
        return
    st.download_button(t("common.zip_button", n=len(figs)), data=lambda: export.figures_zip(figs),
                       file_name=f"{name}_figures.zip", mime="application/zip", key=f"zip_{name}")
