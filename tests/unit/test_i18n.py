"""Locale files: every key the code asks for exists in both languages, every key is used, placeholders match."""

import re
import string
from pathlib import Path

import pytest

from resnet_viz import i18n

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py")),
           *sorted((ROOT / "resnet_viz").glob("*.py"))]
# t("key"...) or t('key'...), with or without a module prefix (ui.t, i18n.t).
CALL = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")
LITERAL = re.compile(r"""["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")


def _code() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in SOURCES)


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_the_scan_finds_calls():
    assert CALL.findall('x = t("lab.title") + ui.t(\'nav.home\', n=1)') == ["lab.title", "nav.home"]


@pytest.mark.parametrize("lang", list(i18n.LANGUAGES))
def test_every_key_used_in_the_code_exists(lang):
    used = set(CALL.findall(_code()))
    assert len(used) > 50
    missing = sorted(used - set(i18n.texts(lang)))
    assert not missing, f"{lang}.json lacks {missing}"


def test_both_languages_have_the_same_keys_and_placeholders():
    en, zh = i18n.texts("en"), i18n.texts("zh")
    assert set(en) == set(zh), sorted(set(en) ^ set(zh))
    for key in en:
        assert _fields(en[key]) == _fields(zh[key]), key
        assert zh[key].strip(), key


def test_no_key_is_unused():
    # A key counts as used when it appears as a string literal (t("...") or a table of keys feeding t()).
    literals = set(LITERAL.findall(_code()))
    unused = sorted(set(i18n.texts("en")) - literals)
    assert not unused, f"keys no code refers to: {unused}"


def test_t_fills_placeholders_and_falls_back():
    assert i18n.t("lec.step", "en", i=2, n=8) == "Step 2 of 8"
    assert i18n.t("lec.step", "zh", i=2, n=8) == "第 2 步，共 8 步"
    assert i18n.t("no.such.key", "zh") == "no.such.key"
    with pytest.raises(ValueError, match="Unknown language"):
        i18n.t("lec.step", "fr")


def test_chinese_has_no_fake_italics():
    # Browsers slant CJK glyphs artificially for *emphasis*, which reads badly; the Chinese uses bold instead.
    italic_cjk = re.compile(r"(?<!\*)\*(?!\*)[^*]*[\u4e00-\u9fff][^*]*(?<!\*)\*(?!\*)")
    bad = {k: v for k, v in i18n.texts("zh").items() if italic_cjk.search(v.replace("**", "")) or "***" in v}
    assert not bad, bad
