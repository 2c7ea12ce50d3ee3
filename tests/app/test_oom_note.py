"""A CUDA out-of-memory error on the shared model shows as a visible note on the page, and the page still works."""

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from resnet_viz.model import fallback, weights
from ui import memo

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def full_gpu(monkeypatch):
    """Every traced forward on a shared model fails like a full GPU; the CPU copies still work."""
    real = weights.trace

    def fake(model, *args, **kwargs):
        if not any(model is twin for twin in list(fallback._CPU_COPIES.values())):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(model, *args, **kwargs)

    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")
    monkeypatch.setattr(weights, "trace", fake)
    # Results other tests cached (pages share them through ui.memo) would hide the fallback.
    memo.TRACES.clear()
    memo.CAMS.clear()


def test_feature_maps_page_says_it_ran_on_the_cpu(full_gpu):
    at = AppTest.from_file(str(ROOT / "pages/2_Feature_Maps.py"), default_timeout=180)
    at.session_state["mask"] = (False,) * 8  # a mask no other test has cached for this image
    at.run()
    assert not at.exception
    assert any("ran on the CPU" in w.value for w in at.warning)
    assert not at.error
