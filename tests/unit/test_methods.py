"""captum's other methods on a private copy: equal to captum on the model itself, the shared model untouched."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from resnet_viz.explain import gradcam
from resnet_viz.explain import methods as A
from resnet_viz.model.forward import hooks_left
from resnet_viz.model.layers import STAGE_NAMES
from resnet_viz.model.weights import weights_digest
from resnet_viz.text.i18n import t

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here

OFF = (True, True, False, True, False, False, True, False)  # some shortcuts off, including projections


def test_shared_model_untouched_even_when_calls_raise(handle, image):
    before = weights_digest(handle.model)
    gradcam.grad_cam(handle, image, STAGE_NAMES, target=1, mask=OFF)
    for method in A.METHODS:
        A.other_method(handle, image, method, target=1, mask=OFF, ig_steps=2, window=32, stride=32)
    with pytest.raises(gradcam.AttributionError, match="Unknown layer"):
        gradcam.grad_cam(handle, image, ["layer9"])
    with pytest.raises(gradcam.AttributionError, match="out of range"):
        gradcam.grad_cam(handle, image, ["layer4"], target=5000)
    with pytest.raises(gradcam.AttributionError, match="module layer"):
        A.other_method(handle, image, "guided_gradcam", target=1, layer="layer3.1.conv2")
    with pytest.raises(gradcam.AttributionError):
        A.other_method(handle, image, "occlusion", target=1, window=8, stride=16)
    twin = A._twin(handle).model
    with pytest.raises(gradcam.AttributionError, match="32"):
        A.other_method(handle, torch.randn(1, 3, 8, 8), "saliency", target=1)
    # captum's own hooks must be gone from the private copy too when the forward fails half-way.
    def broken(x):
        raise RuntimeError("boom")

    twin.fc.forward = broken
    try:
        with pytest.raises(RuntimeError, match="boom"):
            A.other_method(handle, image, "guided_gradcam", target=1)
    finally:
        del twin.fc.forward
    assert hooks_left(handle.model) == 0 and hooks_left(twin) == 0
    assert weights_digest(handle.model) == before
    assert all(not p.requires_grad for p in handle.model.parameters())


def test_baselines(handle, image):
    black = A.baseline(image, "black", handle.mean, handle.std)
    pixels = black * torch.tensor(handle.std).view(1, 3, 1, 1) + torch.tensor(handle.mean).view(1, 3, 1, 1)
    assert pixels.abs().max() < 1e-6
    assert torch.equal(A.baseline(image, "mean", handle.mean, handle.std), torch.zeros_like(image))
    blurred = A.baseline(image, "blurred", handle.mean, handle.std)
    assert blurred.std() < image.std() / 2
    with pytest.raises(gradcam.AttributionError):
        A.baseline(image, "grey", handle.mean, handle.std)


def test_other_methods_match_captum_on_the_model(handle, image):
    from captum.attr import IntegratedGradients, Saliency

    ref = copy.deepcopy(handle.model)
    sal = A.other_method(handle, image, "saliency", target=2)
    expected = Saliency(ref).attribute(image, target=2, abs=True).detach()[0].numpy()
    np.testing.assert_allclose(sal.attr, expected, atol=1e-6)
    ig = A.other_method(handle, image, "integrated_gradients", target=2, ig_steps=4, baseline_kind="black")
    base = A.baseline(image, "black", handle.mean, handle.std)
    expected = IntegratedGradients(ref).attribute(image, base, target=2, n_steps=4).detach()[0].numpy()
    np.testing.assert_allclose(ig.attr, expected, atol=1e-5)
    assert "Adebayo" in t(A.other_method(handle, image, "guided_gradcam", target=2).note_key)


@pytest.mark.parametrize("method", A.METHODS)
def test_every_method_in_the_table_runs_and_names_its_note(handle, image, method):
    res = A.other_method(handle, image, method, target=1, ig_steps=2, window=32, stride=32)
    assert res.method == method and res.attr.shape == (3, 64, 64) and res.map.shape == (64, 64)
    assert np.isfinite(res.map).all()
    if not res.signed:
        assert (res.map >= 0).all()  # unsigned methods show a magnitude
    for lang in ("en", "zh"):
        assert t(res.note_key, lang) != res.note_key  # the page can translate the key it is given
