"""The layer-facts table against the network itself: every name a traced forward records, with its channels,
its reduction and which blocks downsample, read off torchvision's ResNet-18."""

import torch
from torchvision.models import resnet18

from resnet_viz.explain import gradcam
from resnet_viz.model import layers
from resnet_viz.model.forward import trace


def test_facts_match_a_traced_forward_of_torchvisions_resnet18(one_thread):
    model = resnet18().eval()
    side = 64
    with torch.no_grad():
        tr = trace(model, torch.zeros(1, 3, side, side), inner=True)
    spatial = [f for f in layers.LAYERS if f.kind != "head"]
    assert {f.name for f in spatial} == set(tr.layers) - {"avgpool", "fc"}
    for f in spatial:
        out = tr.layers[f.name]  # (1, C, H, W)
        assert (out.shape[1], side // out.shape[-1]) == (f.channels, f.reduction), f.name
    for name, module in model.named_modules():
        if name in layers.BLOCK_NAMES:
            assert layers.fact(name).downsampling == (module.downsample is not None), name
            assert layers.fact(name).stride == module.conv1.stride[0], name
    assert layers.fact("avgpool").channels == model.fc.in_features


def test_the_lists_are_filters_of_the_table():
    assert layers.DOWNSAMPLING_BLOCKS == ("layer2.0", "layer3.0", "layer4.0")
    assert layers.pickable()[:5] == ["conv1", "bn1", "relu", "maxpool", "layer1.0"]
    assert layers.pickable()[-4:] == ["layer1", "layer2", "layer3", "layer4"]
    assert layers.resolve("layer3") == "layer3.1" and layers.resolve("layer3.0") == "layer3.0"
    assert "layer2.0.downsample" in layers.cam_layers() and "layer1.0.downsample" not in layers.cam_layers()
    assert gradcam.check_layers("layer3.1.conv2") == ["layer3.1.conv2"]
    for bad in ("fc", "avgpool", "layer1.0.downsample", "layer9"):
        try:
            gradcam.check_layers(bad)
        except gradcam.AttributionError:
            continue
        raise AssertionError(f"{bad} was accepted")
