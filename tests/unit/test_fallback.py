"""CUDA out of memory -> the request runs again on a CPU copy, with a note; injected with monkeypatch (no GPU here)."""

import pytest
import torch
from PIL import Image

from resnet_viz.explain import featuremaps, gradcam
from resnet_viz.model import fallback, weights
from resnet_viz.model.forward import hooks_left, trace
from resnet_viz.model.weights import weights_digest

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here

MASK = (True, False) * 4


def _oom_on(model, real):
    """A stand-in for `real` that fails like a full GPU whenever it is given `model` (the shared one)."""
    calls = {"oom": 0}

    def fake(m, *args, **kwargs):
        if m is model:
            calls["oom"] += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(m, *args, **kwargs)

    return fake, calls


@pytest.fixture(scope="module")
def random_handle():
    """A handle of this module's own: the CPU twins made here must not leak into other tests' shared handle."""
    return weights.handle_for("random", device="cpu")


@pytest.fixture
def x():
    torch.manual_seed(0)
    return torch.randn(1, 3, 64, 64)


def test_trace_falls_back_to_the_cpu_with_a_note(random_handle, x, monkeypatch):
    before = weights_digest(random_handle.model)
    with torch.no_grad():
        expected = trace(random_handle.model, x, MASK).logits
    assert random_handle.trace(x, MASK).note is None
    fake, calls = _oom_on(random_handle.model, trace)
    monkeypatch.setattr(weights, "trace", fake)
    got = random_handle.trace(x, MASK)
    assert calls["oom"] == 1
    assert got.note == fallback.NOTE and got.note.key == "fallback.cpu_note" and "CPU" in got.note.text("zh")
    assert got.logits.device.type == "cpu"
    torch.testing.assert_close(got.logits, expected)
    # The copy is made once per model and never touches the shared model.
    assert fallback.cpu_copy(random_handle.model) is fallback.cpu_copy(random_handle.model)
    assert fallback.cpu_copy(random_handle.model) is not random_handle.model
    assert weights_digest(random_handle.model) == before and hooks_left(random_handle.model) == 0


def test_grad_cam_falls_back_to_the_cpu_with_a_note(random_handle, x, monkeypatch):
    expected = gradcam.grad_cam(random_handle, x, target=3, mask=MASK)
    assert expected.note is None
    fake, calls = _oom_on(random_handle.model, gradcam.cams_one_pass)
    monkeypatch.setattr(gradcam, "cams_one_pass", fake)
    got = gradcam.grad_cam(random_handle, x, target=3, mask=MASK)
    assert calls["oom"] == 1 and got.note == fallback.NOTE
    assert got.target == expected.target and got.top == expected.top
    for name in expected.raw:
        assert got.raw[name] == pytest.approx(expected.raw[name], abs=1e-6)


def test_feature_maps_carry_the_note(random_handle, monkeypatch):
    image = Image.new("RGB", (80, 64), (120, 30, 200))
    assert featuremaps.compute(random_handle, image, MASK).note is None
    fake, _ = _oom_on(random_handle.model, trace)
    monkeypatch.setattr(weights, "trace", fake)
    assert featuremaps.compute(random_handle, image, MASK).note == fallback.NOTE


def test_other_errors_are_not_swallowed(random_handle, x, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("bad input")

    monkeypatch.setattr(weights, "trace", broken)
    with pytest.raises(ValueError, match="bad input"):
        random_handle.trace(x)


def test_cpu_copy_matches_the_model(random_handle):
    twin = fallback.copy_to_cpu(random_handle.model)
    assert weights_digest(twin) == weights_digest(random_handle.model)
    assert not twin.training
