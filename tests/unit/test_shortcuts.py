"""Shortcut options A/B/C on ResNet-18's real layer2.0 tensors, against hand counts and torchvision's modules."""

import pytest
import torch
from torchvision.models import resnet18, resnet34, resnet50

from resnet_viz.model import forward, shortcuts
from resnet_viz.model.layers import BLOCK_NAMES


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return resnet18().eval()


@pytest.fixture(scope="module")
def options(model):
    with torch.no_grad():
        t = forward.trace(model, torch.randn(1, 3, 224, 224))
    x = shortcuts.block_input(t.layers, "layer2.0", list(BLOCK_NAMES))
    return x, shortcuts.compare_options(model, x), t


def test_a_and_b_turn_64x56x56_into_128x28x28(model, options):
    x, o, t = options
    assert o.x.shape == (64, 56, 56) and o.a.shape == o.b.shape == o.fx.shape == (128, 28, 28)
    # A: the strided pixels, then 64 zero channels; no parameters.
    assert torch.equal(o.a_tensor[:, :64], x[:, :, ::2, ::2]) and not o.a_tensor[:, 64:].any()
    assert (o.params_a, o.a.zero_channels, o.a.zero_share) == (0, 64, 0.5)
    assert o.a.norm == pytest.approx(float(x[0, :, ::2, ::2].norm()), rel=1e-6)
    # B: torchvision's own downsample; 1x1 conv 64*128 weights, BN scale + shift 2*128.
    with torch.no_grad():
        assert torch.equal(o.b_tensor, model.layer2[0].downsample(x))
    assert (o.params_b_conv, o.params_b_bn) == (8_192, 256)
    assert o.b_reads_only_strided_pixels
    # The network's own block output is relu(F(x) + B(x)).
    assert o.out_b.norm == pytest.approx(float(t.layers["layer2.0"][0].norm()), rel=1e-5)


def test_option_c_costs_by_hand(model):
    c = shortcuts.option_costs(model)
    assert (c.params_a, c.params_b, c.projections_b) == (0, 173_824, 3)
    # C adds a 1x1 conv + BN on layer1.0, layer1.1 (64->64), layer2.1 (128), layer3.1 (256), layer4.1 (512).
    conv = 2 * 64 * 64 + 128 * 128 + 256 * 256 + 512 * 512
    bn = 2 * (64 + 64 + 128 + 256 + 512)
    assert (c.extra_c_conv, c.extra_c) == (conv, conv + bn) == (352_256, 354_304)
    assert c.params_c == 173_824 + 354_304
    # The paper's Table 3 network is ResNet-34: 13 identity shortcuts would become projections.
    c34 = shortcuts.option_costs(resnet34())
    assert c34.extra_c_conv == 3 * 64 * 64 + 3 * 128 * 128 + 5 * 256 * 256 + 2 * 512 * 512
    assert shortcuts.TABLE3_TOP1 == {"A": 25.03, "B": 24.52, "C": 24.19}


def test_main_path_of_layer2_starts_with_a_3x3_not_a_1x1(model):
    m = shortcuts.main_path_start(model, "layer2.0")
    assert (m.kind, m.main_kernels, m.main_strides) == ("BasicBlock", (3, 3), (2, 1))
    assert not m.main_starts_with_1x1 and (m.shortcut_kernel, m.shortcut_stride) == (1, 2)
    b = shortcuts.main_path_start(resnet50(), "layer2.0")
    assert b.main_starts_with_1x1 and b.main_kernels == (1, 3, 1)


def test_refuses_a_block_without_projection(model, options):
    with pytest.raises(ValueError, match="keeps the shape"):
        shortcuts.compare_options(model, options[0], "layer2.1")
