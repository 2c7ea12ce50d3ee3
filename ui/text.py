"""The sidebar's language, `t()` for page text, and `literal()` for any text a user typed or uploaded."""

from __future__ import annotations

import string

import streamlit as st

from resnet_viz.text import i18n
from resnet_viz.text.errors import Reason, UserError
from ui import keys

# Every ASCII punctuation character may be backslash-escaped in (GitHub-flavoured) Markdown, and escaping all of
# them also breaks autolinks (https\:\/\/…, www\.…, a\@b), Streamlit's :color[…] / :icon: directives, $math$ and
# HTML tags.
_ESCAPE = {ord(c): "\\" + c for c in string.punctuation}


def literal(text: object) -> str:
    """`text` as Streamlit's Markdown elements (markdown, caption, error, warning, success, image caption) show
    it literally: no bold, no link, no heading, no HTML. Line breaks and tabs become spaces (a file name cannot
    start a new Markdown block) and leading spaces become no-break spaces (they cannot start a code block)."""
    s = "".join(" " if ch.isspace() else ch for ch in str(text))
    stripped = s.lstrip(" ")
    s = "\u00a0" * (len(s) - len(stripped)) + stripped
    return s.translate(_ESCAPE)


def lang() -> str:
    """The sidebar's language (English until someone picks another)."""
    value = st.session_state.get(keys.LANG, i18n.DEFAULT_LANG)
    return value if value in i18n.LANGUAGES else i18n.DEFAULT_LANG


def t(key: str, **kwargs) -> str:
    """The text for `key` in the sidebar's language."""
    return i18n.t(key, lang(), **kwargs)


def reason_text(reason: Reason | UserError, lang_: str | None = None) -> str:
    """A reason (or a refusal) in the sidebar's language; its text placeholders (file names, tensor names, paths:
    possibly a user's) are shown literally, nested reasons are translated the same way."""
    if isinstance(reason, UserError):
        reason = reason.reason
    lang_ = lang_ or lang()
    params = {k: reason_text(v, lang_) if isinstance(v, Reason) else literal(v) if isinstance(v, str) else v
              for k, v in reason.params.items()}
    return i18n.t(reason.key, lang_).format(**params)


def weights_name(source: str) -> str:
    """A weight source's name for people, in the sidebar's language."""
    from resnet_viz.model.weights import SOURCE_TABLE  # late: ui.text is imported before torch is needed

    key = "weights.auto" if source == "auto" else SOURCE_TABLE[source].desc_key if source in SOURCE_TABLE else None
    return t(key) if key else literal(source)


def _keep_choices_across_a_switch() -> None:
    """Streamlit remembers a radio's or selectbox's choice by its displayed text; after a language switch the
    browser sends a text that no longer exists, and the choice would fall back to the default (or show nothing
    selected). Writing each choice back before any widget is drawn makes Streamlit send the new text.

    At the start of the run the values are still read with the previous run's (old language's) texts, so they
    are the user's real choices.
    """
    seen = st.session_state.get(keys.LANG_SEEN)
    if seen is not None and seen != lang():
        for key in keys.TRANSLATED_CHOICES:
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]
    st.session_state[keys.LANG_SEEN] = lang()


def language_selector() -> None:
    """English / 中文, at the top of the sidebar; every page reads it through `t`."""
    _keep_choices_across_a_switch()
    if st.session_state.get(keys.LANG) not in i18n.LANGUAGES:
        st.session_state[keys.LANG] = i18n.DEFAULT_LANG
    st.radio("Language / 语言", list(i18n.LANGUAGES), key=keys.LANG, horizontal=True,
             format_func=i18n.LANGUAGES.get)


def say(readings: tuple[str, dict] | list[tuple[str, dict]]) -> str:
    """One reading (locale key, params) or several, as one paragraph in the page's language."""
    if isinstance(readings, tuple):
        return i18n.render(readings, lang())
    return i18n.join(readings, lang())
