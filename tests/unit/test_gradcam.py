"""One-pass Grad-CAM against captum's LayerGradCam, shortcut masks, targets, thread safety, the peak rule."""

from __future__ import annotations

import copy
import threading
import types

import numpy as np
import pytest
import torch
from captum.attr import LayerGradCam
from torch import nn

from resnet_viz.explain import gradcam as A
from resnet_viz.inputs import classes
from resnet_viz.model.forward import ALL_OFF, iter_blocks, trace
from resnet_viz.model.layers import STAGE_NAMES

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here

OFF = (True, True, False, True, False, False, True, False)  # some shortcuts off, including projections


def _no_shortcut_forward(self, x):
    # Reference for a masked block, written independently of gradcam.py: torchvision's BasicBlock
    # without `out += identity`.
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    return self.relu(out)


def _reference_model(model: nn.Module, mask) -> nn.Module:
    """A deep copy running torchvision's own forward, with the masked blocks' shortcuts removed."""
    ref = copy.deepcopy(model)
    for (_, block), on in zip(iter_blocks(ref), mask, strict=True):
        if not on:
            block.forward = types.MethodType(_no_shortcut_forward, block)
    return ref


def _captum(model: nn.Module, x, layer: str, target: int) -> np.ndarray:
    cam = LayerGradCam(model, model.get_submodule(layer)).attribute(x, target=target, relu_attributions=True)
    return cam.detach()[0, 0].numpy()


@pytest.mark.parametrize("layer", ["conv1", "maxpool", "layer1", "layer2.0", "layer3", "layer4", "layer4.1",
                                   "layer2.0.conv2", "layer3.0.downsample"])
def test_each_layer_equals_captum(handle, image, layer):
    ref = copy.deepcopy(handle.model)
    ours = A.grad_cam(handle, image, [layer], target=7)
    np.testing.assert_allclose(ours.raw[layer], _captum(ref, image, layer, 7), atol=1e-5, rtol=0)
    assert ours.raw[layer].max() > 0  # a non-trivial map, so the comparison means something


def test_one_pass_four_stages_equals_four_captum_calls(handle, image):
    ours = A.grad_cam(handle, image, STAGE_NAMES)  # top-1 target
    top1 = int(trace(handle.model, image).logits.argmax())
    assert ours.target == top1 and ours.label == handle.labels[top1]
    ref = copy.deepcopy(handle.model)
    for layer in STAGE_NAMES:
        np.testing.assert_allclose(ours.raw[layer], _captum(ref, image, layer, top1), atol=1e-5, rtol=0)
        assert ours.maps[layer].shape == (64, 64)


def test_upsampling_is_captums_bilinear(handle, image):
    from captum.attr import LayerAttribution

    ours = A.grad_cam(handle, image, ["layer3"], target=3)
    raw = torch.from_numpy(ours.raw["layer3"])[None, None]
    expected = LayerAttribution.interpolate(raw, (64, 64), interpolate_mode="bilinear")[0, 0].numpy()
    np.testing.assert_allclose(ours.maps["layer3"], expected, atol=1e-6)


def test_masked_gradcam_is_the_masked_networks(handle, image):
    full = A.grad_cam(handle, image, ["layer3", "layer4"], target=5)
    masked = A.grad_cam(handle, image, ["layer3", "layer4"], target=5, mask=OFF)
    assert not np.allclose(full.raw["layer3"], masked.raw["layer3"], atol=1e-4)
    ref = _reference_model(handle.model, OFF)
    for layer in ("layer3", "layer4"):
        np.testing.assert_allclose(masked.raw[layer], _captum(ref, image, layer, 5), atol=1e-5, rtol=0)


def test_batch_with_per_image_targets(handle):
    # Compared with captum on the same batch: CPU convolutions round differently for other batch sizes.
    torch.manual_seed(1)
    x = torch.randn(2, 3, 48, 48)
    _, cams = A.cams_one_pass(handle.model, x, ["layer2"], torch.tensor([1, 2]))
    ref = copy.deepcopy(handle.model)
    expected = LayerGradCam(ref, ref.layer2).attribute(x, target=[1, 2], relu_attributions=True).detach()
    np.testing.assert_allclose(cams["layer2"].numpy(), expected.numpy(), atol=1e-5, rtol=0)


def test_targets_by_name_and_index(handle):
    labels = handle.labels
    assert classes.resolve_target("tabby", labels) == labels.index("tabby")
    assert classes.resolve_target("281", labels) == classes.resolve_target("２８１", labels) == 281
    assert classes.find_labels(labels, "TABBY")[0] == (labels.index("tabby"), "tabby")
    assert classes.resolve_target(None, labels, torch.tensor([[0.0, 3.0, 1.0]])) == 1
    for far in (1000, "1000", "9" * 5000, "-1"):
        with pytest.raises(A.AttributionError, match="out of range"):
            classes.resolve_target(far, labels)
    with pytest.raises(A.AttributionError, match="No class"):
        classes.resolve_target("no such thing at all", labels)
    with pytest.raises(A.AttributionError, match="several"):
        classes.resolve_target("dog", labels)


def test_threads_with_different_masks_and_targets_match_sequential(handle):
    torch.manual_seed(2)
    jobs = [(torch.randn(1, 3, 64, 64), t, m) for t, m in ((3, None), (9, OFF), (3, OFF), (11, ALL_OFF))]
    sequential = [A.grad_cam(handle, x, STAGE_NAMES, t, m).raw for x, t, m in jobs]
    results: dict[int, dict] = {}

    def work(i):
        x, t, m = jobs[i]
        for _ in range(3):
            results.setdefault(i, []).append(A.grad_cam(handle, x, STAGE_NAMES, t, m).raw)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i, expected in enumerate(sequential):
        for got in results[i]:
            for layer in STAGE_NAMES:
                np.testing.assert_array_equal(got[layer], expected[layer])


def test_for_display():
    v = np.array([[0.0, 2.0], [1.0, 4.0]])
    np.testing.assert_allclose(A.for_display(v), v / 4)
    assert not A.for_display(np.zeros((2, 2))).any()
    np.testing.assert_allclose(A.for_display(np.array([-2.0, 1.0]), signed=True), [-1.0, 0.5])


def test_cli_writes_overlays_and_prints_the_prediction(tmp_path, capsys):
    from PIL import Image

    from resnet_viz.__main__ import main

    rng = np.random.default_rng(0)
    src = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(src)
    code = main(["gradcam", str(src), str(tmp_path / "missing.png"), "--weights", "random", "--target", "auto",
                 "--out", str(tmp_path / "out"), "--no-shortcuts"])
    printed = capsys.readouterr()
    assert code == 1 and "missing.png: error" in printed.err  # one bad file, the other still done
    written = list((tmp_path / "out").glob("noise_layer4_*.png"))
    assert len(written) == 1 and Image.open(written[0]).size == (224, 224)
    assert "noise.png: predicted" in printed.out and "all shortcuts off" in printed.out
    assert main(["gradcam", str(src), "--weights", "random", "--layer", "layer9", "--out", str(tmp_path)]) == 2


def test_pointing_game_on_the_shapes_checkpoint(shapes_scores):
    # The rate recorded by `evaluate-shapes --write-meta` for the shipped checkpoint is reproduced on 200
    # held-out images (scored once per session, tests/unit/conftest.py), and a randomly initialised network
    # points clearly worse.
    evaluation = shapes_scores.meta.get("evaluation", {})
    recorded = evaluation.get("pointing_layer4")
    if not shapes_scores.meta.get("final") or recorded is None:
        pytest.skip("the shapes checkpoint is not final or has no recorded pointing-game rate")
    assert evaluation.get("size", 128) == shapes_scores.size  # scored at the size the rate was recorded at
    trained, rand = shapes_scores.trained["layer4"], shapes_scores.random["layer4"]
    assert trained >= recorded - 0.05
    assert rand <= trained - 0.15


def test_peak_cell_center_uses_the_winning_cell_centre():
    cam = np.zeros((4, 4))
    cam[1, 2] = 3.0
    # 128 px / 4 cells = 32 px per cell: cell (1, 2) spans rows 32..64 and columns 64..96.
    assert A.peak_cell_center(cam, (128, 128)) == (48.0, 80.0)
    cam[2, 2] = 3.0  # a tie: centroid of the tied cells
    assert A.peak_cell_center(cam, (128, 128)) == (64.0, 80.0)
    # All-zero map (e.g. relu removed everything): every cell ties, the answer is the image centre.
    assert A.peak_cell_center(np.zeros((2, 2)), (64, 96)) == (32.0, 48.0)
    with pytest.raises(ValueError):
        A.peak_cell_center(np.zeros(4), (8, 8))
