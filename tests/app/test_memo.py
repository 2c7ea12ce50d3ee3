"""ui.memo.grad_cams: the top class's Grad-CAM is computed once, whether asked for as "top class" or by number."""

import torch

from resnet_viz.explain import gradcam
from resnet_viz.model.forward import ALL_OFF, ALL_ON
from ui import memo


def test_top_class_is_one_computation_under_both_keys(random_handle, monkeypatch):
    calls = []
    real = gradcam.grad_cam
    monkeypatch.setattr(gradcam, "grad_cam", lambda *a, **k: calls.append(a[3:]) or real(*a, **k))
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    auto = memo.grad_cams(random_handle, "cam-cache-test", ALL_ON, None, x)
    assert memo.grad_cams(random_handle, "cam-cache-test", ALL_ON, auto.target, x) is auto
    assert len(calls) == 1
    other = (auto.target + 1) % random_handle.num_classes  # another class, another mask: computed, and different
    assert memo.grad_cams(random_handle, "cam-cache-test", ALL_ON, other, x).target == other
    assert memo.grad_cams(random_handle, "cam-cache-test", ALL_OFF, auto.target, x) is not auto
    assert len(calls) == 3
