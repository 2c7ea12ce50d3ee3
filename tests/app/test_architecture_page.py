"""The Architecture page: the ResNet family, shortcut options A/B/C at layer2.0, the readings beside the numbers,
in English and in Chinese (no English word on the Chinese page)."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.model import family
from resnet_viz.text import i18n, readings
from tests.app.zh_scan import class_words, english_on

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/1_Architecture.py")


def _page(lang: str, source: str = "shapes") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["lang"] = lang
    at.session_state["weights_source"] = source
    at.session_state["mask"] = (True,) * 8
    return at.run()


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def _chart_titles(at) -> list[str]:
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def test_family_follows_the_pick_and_the_numbers_come_from_torchvision():
    at = _page("en")
    assert not at.exception, at.exception
    assert at.selectbox(key="arch_family").value == "resnet18"
    text = _texts(at)
    assert "**18**" in text and "still runs ResNet-18" in text
    at.selectbox(key="arch_family").set_value("resnet50").run()
    assert not at.exception, at.exception
    fam = family.family("resnet50")
    text = _texts(at)
    assert f"= **{fam.depth.depth}**" in text and fam.depth.depth == 50
    assert any("ResNet-50" in title for title in _chart_titles(at))
    # The comparison table: torchvision's own parameter count for ResNet-50 at 224 px.
    df = at.dataframe[-1].value
    assert "25,557,032" in df.astype(str).to_numpy().ravel().tolist()
    # The rest of the page still runs ResNet-18: its metrics do not follow the family pick.
    assert at.metric[1].value == "11,181,642"
    # The scan sees the figures' texts: on the English page it finds the chart titles.
    leaks = english_on(at)
    assert any(title and title[:40] in " ".join(leaks) for title in _chart_titles(at))


def test_shortcut_options_on_the_live_tensors():
    import torchvision

    at = _page("en")
    metrics = {m.label: (m.value, m.proto.delta) for m in at.metric}
    assert metrics["x, the input of layer2.0"][0] == "64×56×56"
    assert metrics["A: zero-padding"][0] == metrics["B: 1×1 projection"][0] == "128×28×28"
    reference = torchvision.models.resnet18(num_classes=10)
    projection = sum(p.numel() for p in reference.layer2[0].downsample.parameters())
    assert metrics["B: 1×1 projection"][1] == f"{projection:,} parameters"
    text = _texts(at)
    assert "64 of its 128 channels are exactly zero" in text  # measured on option A's tensor
    assert "opens with a 3×3 convolution of stride 2" in text and "only 1×1 convolution (stride 2)" in text
    assert "25.03" in text and "24.52" in text and "24.19" in text and "69.758" in text  # Table 3, torchvision


@pytest.mark.parametrize(("source", "classes"), [("shapes", 10), ("random", 1000)])
def test_parameter_counts_say_why_they_differ(source, classes):
    at = _page("en", source)
    expected = i18n.render(readings.param_counts(int(at.metric[1].value.replace(",", "")), classes), "en")
    assert expected in _texts(at)
    assert ("11,689,512" in expected) and (("10-class" in expected) == (classes == 10))


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_no_english_on_the_chinese_page(arch):
    at = _page("zh")
    if arch != "resnet18":
        at.selectbox(key="arch_family").set_value(arch).run()
    assert not at.exception, at.exception
    assert at.title[0].value == i18n.t("arch.title", "zh")
    leaks = english_on(at, class_words())
    assert not leaks, leaks
