"""Layer table: the seed's shapes, torchvision's parameter count, hand-computed receptive fields."""

import pytest
import torch
from torchvision.models import resnet18

from resnet_viz.model.architecture import (
    block_summary,
    formula_text,
    layer_table,
    out_size,
    parse_size,
    stage_summary,
    worked_steps,
)
from resnet_viz.model.forward import trace


@pytest.fixture(scope="module")
def model():
    return resnet18().eval()


def test_seed_shapes_at_224(model):
    t = layer_table(model, 224)
    expected = {"conv1": "64x112x112", "maxpool": "64x56x56", "layer1.1": "64x56x56", "layer2.1": "128x28x28",
                "layer3.1": "256x14x14", "layer4.1": "512x7x7", "avgpool": "512x1x1", "fc": "1000x1x1"}
    assert {n: t.row(n).shape for n in expected} == expected
    assert t.params == 11_689_512 == sum(p.numel() for p in model.parameters())
    assert round(t.macs / 1e9, 2) == 1.81  # 1,814,073,344: the "1.8 G" usually quoted


def test_shapes_match_a_real_forward_at_odd_sizes(model):
    for h, w in [(240, 320), (33, 47), (97, 97)]:
        table = layer_table(model, h, w)
        with torch.no_grad():
            t = trace(model, torch.randn(1, 3, h, w), inner=True)
        for name in ["conv1", "maxpool", "layer2.0", "layer3.1", "layer4.1", "layer2.0.downsample"]:
            row = table.row(name if name != "layer2.0.downsample" else "layer2.0.downsample.0")
            assert (row.out_c, row.out_h, row.out_w) == tuple(t.layers[name].shape[1:]), (h, w, name)


def test_receptive_field_by_hand(model):
    t = layer_table(model, 224)
    # conv1 7x7/2: rf 7, jump 2. maxpool 3x3/2: 7 + 2*2 = 11, jump 4. layer1.0: two 3x3 at jump 4: 11 + 8 + 8 = 27.
    assert (t.row("conv1").rf, t.row("conv1").jump) == (7, 2)
    assert (t.row("maxpool").rf, t.row("maxpool").jump) == (11, 4)
    assert t.row("layer1.0").rf == 27
    # layer2.0: conv1 3x3/2 at jump 4 -> 43 + 8 = 51, jump 8; conv2 -> 51 + 16 = 67.
    assert (t.row("layer2.0").rf, t.row("layer2.0").jump) == (67, 8)
    assert t.row("layer4.1").rf == 435 and t.row("layer4.1").jump == 32
    # The receptive field does not depend on the input size.
    assert layer_table(model, 64).row("layer4.1").rf == 435


def test_formula_by_hand():
    assert out_size(224, 7, 2, 3) == 112
    assert out_size(112, 3, 2, 1) == 56
    assert out_size(7, 3, 2, 1) == 4
    assert out_size(33, 7, 2, 3) == 17  # floor((33 + 6 - 7) / 2) + 1
    assert formula_text(224, 7, 2, 3) == "floor((224 + 2*3 - 7) / 2) + 1 = floor(223 / 2) + 1 = 112"
    steps = {s["layer"]: s for s in worked_steps(layer_table(resnet18(), 240, 320))}
    assert steps["conv1"]["width"].endswith("= 160") and steps["conv1"]["height"].endswith("= 120")
    assert steps["layer2.0.downsample.0"]["height"] == "floor((60 + 2*0 - 1) / 2) + 1 = floor(59 / 2) + 1 = 30"


def test_summaries(model):
    stages = {s["stage"]: s for s in stage_summary(layer_table(model, 224))}
    assert stages["layer4"]["params"] == 8_393_728 and round(stages["layer4"]["share"], 3) == 0.718
    assert sum(s["params"] for s in stages.values()) == 11_689_512
    compact = {r.name: r for r in layer_table(model, 224).compact()}
    assert compact["layer1.0"].params == 73_984 and compact["layer2.0"].params == 230_144
    blocks = block_summary(model)
    assert [b["projection"] for b in blocks] == [False, False, True, False, True, False, True, False]


def test_sizes_parse_and_too_small_is_refused(model):
    assert parse_size("224") == (224, 224)
    assert parse_size("320x240") == (240, 320)
    with pytest.raises(ValueError):
        parse_size("big")
    with pytest.raises(ValueError, match="at least 32"):
        layer_table(model, 1, 1)
