"""Link state: hostile query values fall back to defaults with reason keys, never an exception; round trips."""

import random

from resnet_viz.inputs import urlstate
from resnet_viz.inputs.urlstate import UrlState, parse, to_query
from resnet_viz.text import i18n

PAGES = ["architecture", "lab", "lecture"]
IMAGES = ["cat", "shapes_star"]


def test_good_values_parse_and_round_trip():
    q = {"page": "lab", "image": "cat", "layer": "layer3.1", "block": "layer2.0", "channel": "255",
         "class": "281", "mask": "10110111", "lang": "zh", "step": "7"}
    p = parse(q, PAGES, IMAGES)
    assert p.notes == []
    assert p.state == UrlState("lab", "cat", "layer3.1", "layer2.0", 255, 281,
                               (True, False, True, True, False, True, True, True), "zh", 7)
    assert to_query(p.state) == q
    assert parse(to_query(p.state), PAGES, IMAGES).state == p.state
    assert to_query(UrlState()) == {} and parse({}).state == UrlState()


def test_each_bad_value_gives_its_reason():
    q = {"page": "nope", "layer": "layer9", "channel": "64", "class": "²", "mask": "1012", "lang": "fr",
         "step": "-1", "image": "x" * 10_000, "block": "１"}
    p = parse(q, PAGES, IMAGES)
    assert p.state == UrlState()
    notes = {n.param: (n.key, dict(n.args)) for n in p.notes}
    assert notes == {
        "page": (urlstate.UNKNOWN, {}), "layer": (urlstate.UNKNOWN, {}),
        "channel": (urlstate.OUT_OF_RANGE, {"low": 0, "high": 63}),  # layer1.0 (the default) has 64
        "class": (urlstate.NOT_A_NUMBER, {}), "mask": (urlstate.BAD_MASK, {"n": 8}),
        "lang": (urlstate.UNKNOWN, {}), "step": (urlstate.OUT_OF_RANGE, {"low": 0, "high": 7}),
        "image": (urlstate.TOO_LONG, {"limit": 200}), "block": (urlstate.UNKNOWN, {})}
    # Full-width digits are digits to int(); a link must use ASCII.
    assert parse({"channel": "１２"}).notes[0].key == urlstate.NOT_A_NUMBER
    assert parse({"class": "99999999999999999999"}).notes[0].key == urlstate.NOT_A_NUMBER
    assert parse({"class": "1000"}, num_classes=1000).notes[0].args == {"low": 0, "high": 999}
    assert parse({"class": "9"}, num_classes=10).state.cls == 9


def test_channel_range_follows_the_layer_and_repeated_keys_take_the_last():
    assert parse({"layer": "layer4", "channel": "511"}).state.channel == 511
    assert parse({"layer": "layer2.1", "channel": "128"}).notes[0].args == {"low": 0, "high": 127}
    assert parse({"step": ["1", "3"]}).state.step == 3
    assert parse({"step": []}).notes[0].key == urlstate.UNKNOWN


def test_every_reason_key_reads_in_both_languages():
    for key in urlstate.REASONS:
        for lang in i18n.LANGUAGES:
            text = i18n.t(key, lang, param="mask", low=0, high=7, n=8, limit=200)
            assert "{" not in text and key not in text


def test_fuzz_never_raises():
    rng = random.Random(0)
    alphabet = "01-² ١２abc.\x00\n%&<>\"'" + "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(200))
    for _ in range(2000):
        q = {}
        for key in rng.sample([*urlstate.PARAMS, "zz", ""], rng.randrange(0, 11)):
            kind = rng.randrange(5)
            if kind == 0:
                value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            elif kind == 1:
                value = str(rng.choice([-1, 0, 7, 8, 511, 512, 10 ** rng.randrange(1, 40), -(10 ** 30)]))
            elif kind == 2:
                value = "1" * rng.choice([10_000, 201, 200])
            elif kind == 3:
                value = [str(rng.randrange(-3, 3)) for _ in range(rng.randrange(0, 4))]
            else:
                value = rng.choice([None, 3, 2.5, b"01", ["x", None]])
            q[key] = value
        p = parse(q, PAGES, IMAGES, num_classes=rng.choice([0, 1, 10, 1000]), steps=rng.choice([0, 1, 8]))
        assert all(n.param in urlstate.PARAMS and n.key in urlstate.REASONS for n in p.notes)
        # Whatever came in, what goes out parses back to the same state without notes.
        assert parse(to_query(p.state), None, None).state == p.state
