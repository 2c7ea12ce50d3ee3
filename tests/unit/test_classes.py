"""The class search parser never raises, for any text, and reads numbers and names."""

import random

import pytest

from resnet_viz.inputs import classes
from resnet_viz.text import i18n

LABELS = [f"class {i}" for i in range(10)] + ["tabby cat", "tiger cat", "Persian cat", "circle"]


@pytest.mark.parametrize("text", ["²", "5" * 5000, "-3", "", "   ", "\t\n", "x" * 10_000, "１２", "+1", "99", "1e3",
                                  "٣", "\ud800", "0" * 13, "-" + "9" * 5000])
def test_hostile_text_gives_a_result_not_an_exception(text):
    q = classes.parse(text, LABELS)
    assert q.reason in ("", "ui.class.no_match", "ui.class.out_of_range", "ui.class.too_long")
    for i in q.choices:
        assert 0 <= i < len(LABELS)
    if q.reason:
        assert i18n.t(q.reason, "en", **q.args) and i18n.t(q.reason, "zh", **q.args)


def test_random_unicode_never_raises():
    rng = random.Random(0)
    alphabet = [chr(c) for c in (*range(32, 127), 0xB2, 0xB3, 0xB9, *range(0xFF10, 0xFF1A), 0x0663, 0x2070,
                                 0x00A0, 0x3000, 0x4E00, 0x1F600, 0xD800)]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        q = classes.parse(text, LABELS)
        assert all(0 <= i < len(LABELS) for i in q.choices)
        assert q.choices or q.reason or not q.text


def test_numbers_and_names():
    assert classes.parse("12", LABELS).choices[0] == 12  # an index first ...
    assert classes.parse("１２", LABELS).index == 12  # fullwidth digits (a Chinese keyboard) read as digits
    assert classes.parse(" 3 ", LABELS).choices == [3]
    assert classes.parse("cat", LABELS).choices == [10, 11, 12]  # ... names by position
    assert classes.parse("CIRCLE", LABELS).choices == [13]
    assert classes.parse("Persian cat", LABELS).choices[0] == 12  # the exact name first
    assert classes.parse("", LABELS).choices == [] and classes.parse("", LABELS).reason == ""


def test_reasons():
    assert classes.parse("-3", LABELS).reason == "ui.class.out_of_range"
    assert classes.parse("14", LABELS).reason == "ui.class.out_of_range"
    assert classes.parse("9" * 5000, LABELS).reason == "ui.class.too_long"
    assert classes.parse("9" * 150, LABELS).reason == "ui.class.out_of_range"
    assert classes.parse("²", LABELS).index == 2  # NFKC reads a superscript two as 2
    q = classes.parse("zebra", LABELS)
    assert q.reason == "ui.class.no_match" and q.choices == []
    assert classes.parse("14", LABELS).args == {"query": "14", "last": 13}
