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
