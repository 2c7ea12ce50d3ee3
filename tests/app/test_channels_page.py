"""The Channels page shows the library's numbers and readings for a channel, shortcuts on and off, in English and
Chinese; a deep link names its block, channel and tensor. Small sizes: 48 px images, 8 steps, 40 shapes."""

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui.channels
from resnet_viz import disk_cache
from resnet_viz.data import shapes
from resnet_viz.explain import channels, dissection
from resnet_viz.model import weights
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.forward import ALL_ON
from resnet_viz.text import channel_readings, i18n
from resnet_viz.text.i18n import t
from tests.app.zh_scan import english_leaks
from ui import keys, links
from ui.text import class_name

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/8_Channels.py")
SMALL = dataclasses.replace(DEFAULTS, channel_size=48, channel_steps=8, channel_snapshots=(4, 8), dissect_n=40,
                            dissect_size=64)
LAYER = "layer3.1"  # past the first stage; the page opens on DEFAULTS.default_layer
OFF = (True, True, True, True, True, False, False, False)  # layer3.1 and layer4 without their shortcuts

pytestmark = pytest.mark.usefixtures("one_thread")  # the page at test sizes: one torch thread is faster here


@pytest.fixture(autouse=True)
def small(monkeypatch, tmp_path):
    monkeypatch.setattr(ui.channels, "DEFAULTS", SMALL)
    monkeypatch.setenv(disk_cache.ENV, str(tmp_path))


def _app(lang: str, mask=ALL_ON, side: bool = False, layer: str = LAYER, channel: int = 17
         ) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["weights_source"] = "shapes"
    at.session_state["lang"] = lang
    at.session_state["mask"] = mask
    at.session_state[keys.CH_LAYER] = layer
    at.session_state[keys.CH_CHANNEL] = channel
    at.session_state[ui.channels.SIDE] = side
    return at.run()


def _expected(mask, lang: str, layer: str = LAYER, c: int = 17) -> tuple[str, str, int, int]:
    """The readings the page must show (about the channel, about the block), from the same cached library results."""
    h = weights.handle_for("shapes", device="cpu")
    vis = channels.cached_visualise(h, layer, c, "out", mask, size=48, steps=8, snapshots=(4, 8))
    now = dissection.cached_dissect(h, layer, "out", mask, n=40, size=64)
    on = dissection.cached_dissect(h, layer, "out", ALL_ON, n=40, size=64)
    concept, iou = now.best(c)
    about = channel_readings.channel(vis.start, vis.final, now.best_mean[c], now.active[c],
                                     class_name(shapes.CLASSES[concept], lang), iou)
    counts = channel_readings.label_counts(layer, len(now.iou), on.labelled(), now.labelled(), mask,
                                           on.best(c)[1], iou)
    return i18n.join(about, lang), i18n.join(counts, lang), on.labelled(), now.labelled()


def _captions(at) -> str:
    return " ".join(i.proto.imgs[0].caption for i in at.get("image"))


# Chinese starts side by side: AppTest formats a translated radio's value in English when a test changes a widget.
@pytest.mark.parametrize(("lang", "mask", "side"), [("en", ALL_ON, False), ("zh", OFF, True)])
def test_channels_page_reads_its_numbers(lang, mask, side):
    at = _app(lang, mask, side)
    assert not at.exception and not at.error
    assert at.title[0].value == t("ch.title", lang)
    about, counts, on, now = _expected(mask, lang)
    assert not at.warning and at.info[0].value == about + ("" if lang == "zh" else " ") + counts
    assert at.metric[0].value == f"{on} / 256" and at.metric[1].value == f"{now} / 256"
    assert len(at.get("image")) == (3 if side else 2) + 9 * 2 + 6  # images, examples and their patches, photos
    assert len(at.get("plotly_chart")) == 1
    if not side:
        assert t("ch.vis.snapshot", lang, step=8) in _captions(at)
        at.toggle(key=ui.channels.SIDE).set_value(True).run()
        assert not at.exception and not at.error
    assert t("ch.target.x", lang) in _captions(at) and t("ch.target.fx", lang) in _captions(at)
    if lang == "zh":
        assert not english_leaks(at, shapes.CLASSES)


def test_a_dead_channel_is_said_to_be_dead_before_its_pictures():
    h = weights.handle_for("shapes", device="cpu")
    d = dissection.cached_dissect(h, "layer4.1", "out", (False,) * 8, n=40, size=64)
    dead = next(c for c, a in enumerate(d.active) if a < channel_readings.THRESHOLDS.channel_dead)
    at = _app("en", (False,) * 8, layer="layer4.1", channel=dead)
    assert not at.exception and not at.error
    about, counts, _, _ = _expected((False,) * 8, "en", "layer4.1", dead)
    assert about.startswith("This channel is dead") and at.warning[0].value == about
    assert at.info[0].value == counts
    assert t("ch.ex.dead", "en") in [c.value for c in at.caption]
    assert len(at.get("image")) == 2  # its snapshots; no examples, patches or photos


def test_a_deep_link_names_block_channel_and_tensor():
    values, notes, _ = links.session_keys({"page": "Channels", "layer": "layer2.1", "channel": "100", "target": "F"},
                                        num_classes=10)
    assert notes == [] and (values[keys.CH_LAYER], values[keys.CH_CHANNEL], values[keys.CH_TARGET]) == (
        "layer2.1", 100, "F")
    _, notes, _ = links.session_keys({"layer": "layer2.1", "channel": "200", "target": "G"}, num_classes=10)
    assert {(n[0], n[1]) for n in notes} == {("channel", "family.url.out_of_range"), ("target", "family.url.unknown")}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params.update({"layer": "layer2.1", "channel": "100", "target": "F"})
    at.session_state["weights_source"] = "shapes"
    at.run()
    at.switch_page("pages/8_Channels.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key=keys.CH_LAYER).value == "layer2.1"
    assert at.number_input(key=keys.CH_CHANNEL).value == 100
    assert at.radio(key=keys.CH_TARGET).value == "F"
    assert dict(at.query_params) == {"layer": "layer2.1", "channel": "100", "target": "F"}
