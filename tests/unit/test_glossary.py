"""The glossary (resnet_viz/text/locale/glossary.json): one Chinese term per concept. Wherever an English text
names a concept, its Chinese text uses the glossary's term, and no Chinese text uses a rejected variant."""

import json
import re

import pytest

from resnet_viz.text import i18n

GLOSSARY = json.loads((i18n.LOCALE_DIR / "glossary.json").read_text(encoding="utf-8"))
# Code spans and file paths are not prose: `--degradation` names a flag, not the concept.
_CODE = re.compile(r"`[^`]*`")


def _mentions(term: str, text: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(term) + r"(?:s|es)?(?![\w-])", _CODE.sub(" ", text)) is not None


@pytest.mark.parametrize("term", sorted(GLOSSARY["terms"]))
def test_chinese_uses_the_glossary_term_wherever_english_names_the_concept(term):
    zh_term = GLOSSARY["terms"][term]
    en, zh = i18n.texts("en"), i18n.texts("zh")
    missing = [k for k, v in en.items() if _mentions(term, v) and zh_term not in zh[k]]
    assert not missing, f"{term} -> {zh_term} missing in {missing}"


def test_no_chinese_text_uses_a_rejected_variant():
    zh = i18n.texts("zh")
    found = {(k, bad) for term, rejected in GLOSSARY["rejected"].items() for bad in rejected
             for k, v in zh.items() if bad in v}
    assert not found, sorted(found)


def test_every_rejected_variant_belongs_to_a_glossary_term():
    assert set(GLOSSARY["rejected"]) <= set(GLOSSARY["terms"].values())


def test_the_check_flips_on_a_rejected_variant():
    # the words that issue 21 found mixed: 拆除实验 beside 损伤实验, 演示模式 beside 演示者视图, px beside 像素
    assert _mentions("lesion study", "The lesion study: a ResNet as an ensemble")
    assert not _mentions("degradation", "run `python -m resnet_viz gradflow --degradation`")
    rejected = {bad for bads in GLOSSARY["rejected"].values() for bad in bads}
    assert {"拆除实验", "演示模式", "px"} <= rejected
