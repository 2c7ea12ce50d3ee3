"""The app's texts in English and Simplified Chinese: locale/<lang>.json, flat "page.item" keys, and `t()`."""

# A key missing from a language falls back to English, then to the key itself, so a gap shows up as text
# on the page rather than as a crash; tests/unit/test_i18n.py keeps both files complete.

from __future__ import annotations

import functools
import json
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
DEFAULT_LANG = "en"


@functools.lru_cache(maxsize=len(LANGUAGES))
def texts(lang: str) -> dict[str, str]:
    """Every key -> text of one language (read once per process)."""
    if lang not in LANGUAGES:
        raise ValueError(f"Unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}.")
    return json.loads((LOCALE_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def t(key: str, lang: str = DEFAULT_LANG, **kwargs) -> str:
    """The text for `key` in `lang`, with {placeholders} filled from kwargs."""
    text = texts(lang).get(key)
    if text is None:
        text = texts(DEFAULT_LANG).get(key, key)
    return text.format(**kwargs) if kwargs else text


def _is_reading(value) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict)


def _param(value, lang: str):
    """A reading's param as shown: a nested reading rendered, a list of names joined the language's way
    (layer2.0, layer3.0 / layer2.0、layer3.0)."""
    if _is_reading(value):
        return render(value, lang)
    if isinstance(value, list):
        return t("read.list_sep", lang).join(str(_param(v, lang)) for v in value)
    return value


def render(reading: tuple[str, dict], lang: str = DEFAULT_LANG) -> str:
    """A reading (locale key, params) from resnet_viz.text.readings or .paper as text; a param that is itself a
    reading is rendered first, a list is joined with the language's list separator."""
    key, params = reading
    return t(key, lang, **{k: _param(v, lang) for k, v in params.items()})


def join(readings: list[tuple[str, dict]], lang: str = DEFAULT_LANG) -> str:
    """Several readings as one paragraph (Chinese puts no space between sentences)."""
    return ("" if lang == "zh" else " ").join(render(r, lang) for r in readings)
