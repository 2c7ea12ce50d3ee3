"""The Feature Maps page under AppTest: sample, layer and channel; the mask changes the maps; one forward per key."""

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.explain import featuremaps
from resnet_viz.inputs import images
from resnet_viz.text import i18n
from ui import memo

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages/2_Feature_Maps.py")


@pytest.fixture
def calls(monkeypatch):
    """Count the model runs behind the page's cache (a fresh trace cache, so earlier tests do not hide a run; the
    loaded weights and drawn figures stay cached: they run no forward)."""
    memo.TRACES.clear()
    seen = []
    real = featuremaps.compute

    def counting(handle, image, mask=None, center_crop=True):
        seen.append((tuple(mask), center_crop))
        return real(handle, image, mask, center_crop)

    monkeypatch.setattr(featuremaps, "compute", counting)
    return seen


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["weights_source"] = "random"
    return at


def _stats(at: AppTest) -> list[str]:
    return [m.value for m in at.metric]


def test_sample_layer_channel_and_one_forward_per_key(calls, random_handle):
    at = _page().run()
    assert not at.exception
    assert len(calls) == 1
    at.selectbox(key="pick_sample").set_value("coffee").run()
    assert not at.exception and len(calls) == 2
    at.selectbox(key="fm_layer").set_value("layer2").run()
    at.number_input(key="fm_channel").set_value(100).run()
    assert not at.exception
    # The metrics are channel 100 of layer2's output, traced here without the page.
    x = images.to_tensor(images.load_sample("coffee"), random_handle.mean, random_handle.std)
    ref = random_handle.trace(x).layers["layer2"][0, 100]
    assert _stats(at) == [f"{ref.min():.3g}", f"{ref.mean():.3g}", f"{ref.max():.3g}"]
    # Colour scale, sort, channel, block and layer changes reuse the cached forward.
    at.radio(key="fm_scale").set_value("shared").run()
    at.toggle(key="fm_sort").set_value(True).run()
    at.number_input(key="fm_channel").set_value(3).run()
    at.selectbox(key="fm_block").set_value("layer4.0").run()
    at.selectbox(key="fm_layer").set_value("conv1").run()
    assert not at.exception and len(calls) == 2
    assert any("Whole image" not in c.value and "cropped the central" in c.value for c in at.caption)
    at.toggle(key="fm_whole").set_value(True).run()
    assert not at.exception and len(calls) == 3 and calls[-1] == ((True,) * 8, False)
    assert any("without cropping" in c.value for c in at.caption)


def test_all_shortcuts_off_changes_the_maps_and_shows_the_difference(calls):
    at = _page()
    at.run()
    at.selectbox(key="fm_layer").set_value("layer3.1").run()
    on = _stats(at)
    assert any("nothing to compare" in i.value for i in at.info)
    at.session_state["mask"] = (False,) * 8
    at.run()
    assert not at.exception
    assert _stats(at) != on
    assert not at.info  # the difference view replaced the note
    # The masked run plus the full network's, which the first run had already cached.
    assert calls == [((True,) * 8, True), ((False,) * 8, True)]
    note = next(c.value for c in at.caption if "Largest change" in c.value)
    assert float(re.search(r"Largest change ([0-9.e+-]+)\.", note).group(1)) > 0


def test_channel_index_is_clamped_when_the_layer_shrinks(calls):
    at = _page().run()
    at.selectbox(key="fm_layer").set_value("layer4").run()
    at.number_input(key="fm_channel").set_value(500).run()
    at.selectbox(key="fm_layer").set_value("conv1").run()
    assert not at.exception
    assert at.number_input(key="fm_channel").value == 0
    assert np.isfinite([float(v) for v in _stats(at)]).all()


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_what_one_unit_sees_layer4_box_and_the_worked_conv_output(calls):
    at = _page().run()  # random weights: 224 px
    at.selectbox(key="fm_unit_layer").set_value("layer4.1").run()
    at.number_input(key="fm_unit_channel").set_value(0).run()
    at.number_input(key="fm_unit_row").set_value(0).run()
    at.number_input(key="fm_unit_col").set_value(6).run()
    assert not at.exception
    # The corner cell of layer4 (7×7 at 224 px): its 435 px box hangs far over the border.
    assert "Theoretical receptive field: 435 × 435 px" in _captions(at)
    on = float(re.search(r"435 px, (\d+)% of it on the 224 × 224 px image", _captions(at)).group(1))
    assert 15 < on < 40
    # layer4.1.conv1 worked through by hand equals what the forward pass recorded.
    shown = " ".join(m.value for m in at.markdown)
    assert "One output of layer4.1.conv1 worked through: channel 0, cell (0, 6)" in shown
    err = re.search(r"recorded in the forward pass up to (.+?) \(floating", _captions(at)).group(1)
    assert err == "0" or int(err.split("10")[-1].translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))) <= -4
    # The cell and layer here reuse the page's forward: one trace, and the unit cached on a rerun.
    assert len(calls) == 1
    at.number_input(key="fm_unit_channel").set_value(5).run()
    assert not at.exception and "channel 5, cell (0, 6)" in " ".join(m.value for m in at.markdown)


def test_chinese_page_has_no_english_and_follows_the_weights(calls):
    from resnet_viz.model import weights
    from tests.app.zh_scan import english_leaks

    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["lang"] = "zh"
    at.session_state["weights_source"] = "shapes"
    at.session_state["mask"] = (True, True, False, True, True, True, True, True)  # the difference view too
    at.run()
    assert not at.exception
    labels = weights.handle_for("shapes").labels
    assert at.title[0].value == i18n.t("fm.title", "zh")  # the title from the Chinese locale file
    # The shapes weights are live: the page opens on a generated shape, and says nothing about the fit.
    assert at.session_state["image"][0].startswith("shapes:") and not at.warning
    assert not english_leaks(at, labels), english_leaks(at, labels)
    at.selectbox(key="pick_sample").set_value("cat").run()  # a photo: the weights only know 10 shapes
    assert not at.exception
    assert any("只认识 10 种合成图形" in w.value for w in at.warning)
    assert not english_leaks(at, labels), english_leaks(at, labels)
