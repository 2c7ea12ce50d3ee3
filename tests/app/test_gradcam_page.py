"""The Grad-CAM page under Streamlit's AppTest: a sample image, shortcuts on and off, methods on demand."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "3_Grad_CAM.py")
TIMEOUT = 180


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    # No network in tests: "auto" weights fall through to the shapes checkpoint or random init at once.
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")


def _texts(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def test_page_runs_with_a_sample_image():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert not at.error
    assert "Explaining" in _texts(at)
    assert len(at.get("plotly_chart")) >= 3  # top-5, the large overlay, the four stages
    assert "Full network" in _texts(at) and "all shortcuts off" in _texts(at)
    # Moving the opacity slider redraws from the cache: the page still runs, nothing is recomputed.
    at.slider(key="cam_opacity").set_value(0.8).run()
    assert not at.exception


def test_page_runs_with_the_shortcuts_off_and_methods_on_demand():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["mask"] = (False,) * 8
    at.run()
    assert not at.exception and not at.error
    assert "all shortcuts off" in _texts(at)
    at.multiselect(key="cam_methods").set_value(["saliency"])
    at.button(key="cam_methods_go").click().run()
    assert not at.exception and not at.error
    assert "Saliency is" in _texts(at)


@pytest.mark.parametrize(("source", "size", "grid"), [("shapes", 128, "4×4"), ("random", 224, "7×7")])
def test_the_grid_sentence_states_the_measured_grid(source, size, grid):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["weights_source"] = source
    at.run()
    assert not at.exception
    # Two weights, two input sizes, two sentences: the grid is read from the map the page drew.
    assert f"At {size}×{size} px, layer4's map is a {grid} grid: each cell covers about 32 px" in _texts(at)
    at.selectbox(key="cam_stage").set_value("layer2").run()
    assert f"layer2's map is a {size // 8}×{size // 8} grid" in _texts(at)


def test_the_prediction_says_when_the_weights_cannot_describe_the_image():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["weights_source"] = "shapes"
    at.run()
    # The shapes weights are live: the picker opens on a generated shape; no warning for a shape.
    assert at.session_state["image"][0].startswith("shapes:") and not at.warning
    at.selectbox(key="pick_sample").set_value("coffee").run()
    assert not at.exception
    assert any("only know 10 synthetic shapes, so they cannot describe this photo" in w.value for w in at.warning)


def test_chinese_page_has_no_english_with_integrated_gradients():
    from resnet_viz.model import weights
    from resnet_viz.text import i18n
    from tests.app.zh_scan import english_leaks

    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["lang"] = "zh"
    at.session_state["weights_source"] = "shapes"
    at.run()
    labels = weights.handle_for("shapes").labels
    assert not at.exception and not english_leaks(at, labels), english_leaks(at, labels)
    assert at.title[0].value == i18n.t("cam.title", "zh")  # the title from the Chinese locale file
    at.multiselect(key="cam_methods").set_value(["integrated_gradients"])
    at.slider(key="cam_ig_steps").set_value(4)
    at.button(key="cam_methods_go").click().run()
    assert not at.exception and not at.error
    # Completeness as eq. 1 states it: (x − x′) × the averaged gradients, with the measured gap.
    assert "公式 1" in _texts(at) and "此处的完备性误差" in _texts(at)
    assert not english_leaks(at, labels), english_leaks(at, labels)
    at.selectbox(key="pick_sample").set_value("cat").run()
    assert any("只认识 10 种合成图形" in w.value for w in at.warning)
    assert not english_leaks(at, labels), english_leaks(at, labels)
