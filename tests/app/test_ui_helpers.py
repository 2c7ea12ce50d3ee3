"""The Streamlit helper package (ui/): literal user text, byte-bounded caches keyed by content, refusals."""

from __future__ import annotations

import dataclasses
import gc
import random
import re
import string
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_viz.inputs import checkpoint
from resnet_viz.model import weights
from resnet_viz.text import errors
from ui import memo, state
from ui.text import WORD_JOINER, literal

HOSTILE = ["**bold** [link](https://evil.example/x).jpg", "<img src=x onerror=alert(1)>", "# heading", "    code",
           "line\nbreak\r\n- item", "`tick` $x^2$ :red[red] :material/home: :smile:", "www.example.com a@b.co",
           "1. list", "> quote", "| a | b |", "~~strike~~ _it_ __b__", "\\*not*", "&amp; &#60;", "", "中文 名字.png"]


def _unescape(s: str) -> str:
    """What a reader sees: escapes resolved, no-break spaces as spaces, the (invisible) word joiners gone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", s).replace("\u00a0", " ").replace(WORD_JOINER, "")


@pytest.mark.parametrize("text", HOSTILE)
def test_literal_escapes_every_markdown_special(text):
    out = literal(text)
    assert _unescape(out) == "".join(" " if ch.isspace() else ch for ch in text)  # the same text, shown
    assert "\n" not in out and "\r" not in out  # cannot start a new block
    assert not out.startswith(" ")  # cannot start an indented code block
    # Every ASCII punctuation character is backslash-escaped, so nothing can be bold, a link, an autolink,
    # HTML, a Streamlit directive or math.
    i = 0
    while i < len(out):
        if out[i] == "\\":
            assert out[i + 1] in string.punctuation
            i += 2
            continue
        assert out[i] not in string.punctuation, (text, out, i)
        i += 1
    assert "://" not in out and "www." not in out and "**" not in out and "](" not in out


def test_literal_breaks_the_autolink_literals_escapes_cannot_stop():
    # Streamlit's Markdown links www.…, http(s)://… and a@b.c found in the text after unescaping; a word joiner
    # where each pattern needs an unbroken run stops it (tests/e2e/test_literal_links.py checks a real browser).
    shown = _unescape(literal("www.example.com a@b.co https://x.y WWW.Z.ORG")).split()
    assert shown == ["www.example.com", "a@b.co", "https://x.y", "WWW.Z.ORG"]
    out = literal("www.example.com a@b.co https://x.y WWW.Z.ORG")
    gfm = re.compile(r"(?i)www\\?\.|:(?:\\/){2}|@(?:\w)")  # the runs GFM's autolink literal needs, escaped or not
    assert not gfm.search(out), out
    assert out.count(WORD_JOINER) == 4


def test_literal_round_trips_random_text():
    rng = random.Random(1)
    alphabet = string.printable.replace("\n", "").replace("\r", "").replace("\t", "").replace("\x0b", "") \
        .replace("\x0c", "") + "中文²８"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))).lstrip(" ")
        assert _unescape(literal(text)) == text


def test_byte_lru_evicts_by_bytes_least_recent_first():
    lru = memo.BoundedLRU(10_000)
    block = lambda: np.zeros(4_000, np.uint8)  # noqa: E731
    lru.get("a", block)
    lru.get("b", block)
    lru.get("a", lambda: pytest.fail("a is cached"))  # a becomes the most recent
    lru.get("c", block)  # 12,000 > 10,000: b (least recent) goes
    assert "a" in lru and "c" in lru and "b" not in lru
    assert lru.weight == 8_000
    big = lru.get("huge", lambda: np.zeros(20_000, np.uint8))  # larger than the budget: returned, not kept
    assert big.nbytes == 20_000 and "huge" not in lru and lru.weight <= lru.budget


def test_byte_lru_computes_once_for_simultaneous_callers():
    lru = memo.BoundedLRU(1 << 20)
    calls, gate = [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(2)
        return np.ones(10)

    threads = [threading.Thread(target=lru.get, args=("k", compute)) for _ in range(6)]
    for th in threads:
        th.start()
    gate.set()
    for th in threads:
        th.join()
    assert len(calls) == 1


def test_nbytes_counts_a_feature_trace_by_its_arrays():
    trace = {"layers": {"a": np.zeros((64, 56, 56), np.float32)}, "picture": np.zeros((224, 224, 3), np.uint8)}
    assert memo.nbytes(trace) >= 64 * 56 * 56 * 4 + 224 * 224 * 3


def test_a_refused_checkpoint_is_not_read_again(monkeypatch):
    calls = []

    def refuse(source, device, digest, data):
        calls.append(digest)
        raise errors.WeightsError("not a ResNet-18 checkpoint")

    monkeypatch.setattr(state, "_shared_handle", refuse)
    monkeypatch.setattr(state, "REFUSED", memo.BoundedLRU(2, weigh=lambda _: 1))
    for _ in range(3):
        with pytest.raises(errors.WeightsError, match="not a ResNet-18"):
            state.checked_handle("file", "cpu", b"bad bytes")
    assert len(calls) == 1
    for data in (b"other 1", b"other 2"):  # bounded: the oldest refusal is forgotten
        with pytest.raises(errors.WeightsError):
            state.checked_handle("file", "cpu", data)
    with pytest.raises(errors.WeightsError):
        state.checked_handle("file", "cpu", b"bad bytes")
    assert len(calls) == 4


def test_feature_cache_is_keyed_by_weights_not_by_object_identity(monkeypatch):
    """Two checkpoints whose handles get the same id() (the first one evicted) get their own feature maps."""
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")
    memo.TRACES.clear()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    a = weights.handle_for("random", device="cpu")
    fields = {f.name: getattr(a, f.name) for f in dataclasses.fields(a) if f.init}
    other = checkpoint.new_resnet18(1000).eval().requires_grad_(False)  # different weights, same architecture
    first = memo.features(a, "img", (True,) * 8, True, image).layers["layer4.1"].copy()
    old_id, old_digest = id(a), a.digest
    del a
    gc.collect()
    b = weights.ModelHandle(**{**fields, "model": other})  # often reuses the freed object's id
    assert b.digest != old_digest
    second = memo.features(b, "img", (True,) * 8, True, image).layers["layer4.1"]
    assert not np.allclose(first, second), f"served the old model's maps (same id: {id(b) == old_id})"
    assert torch.is_tensor(next(b.model.parameters()))


def test_the_shapes_classes_have_chinese_names():
    from resnet_viz.data import shapes
    from resnet_viz.text import i18n
    from tests.zh_words import english_words
    from ui.text import CLASS_KEYS

    assert set(CLASS_KEYS) == set(shapes.CLASSES)
    names = [i18n.t(CLASS_KEYS[c], "zh") for c in shapes.CLASSES]
    assert len(set(names)) == len(names) and not any(english_words(n) for n in names)
    assert [i18n.t(CLASS_KEYS[c], "en") for c in shapes.CLASSES] == list(shapes.CLASSES)
