"""One unit's theoretical box (by hand), its input-gradient support, and one conv output worked through."""

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from resnet_viz.explain import receptive
from resnet_viz.model import forward, weights

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = resnet18(num_classes=10).eval()
    # Running statistics and affine BN values that are not the identity, so the BN step shows.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
    return m


def test_theoretical_box_by_hand(model):
    r = receptive.theoretical_rf(model, "layer4", (3, 3), 224)
    # 435 px at jump 32; cell 3's centre: conv1 (3-3)*1 + maxpool (1-1)*2 + every 3x3/1x1 pad-matched conv 0 = 0,
    # so the centre is 3 * 32 = 96 and the box runs 96 - 217 .. 96 + 217.
    assert (r.size, r.jump, r.center) == (435, 32, (96.0, 96.0))
    assert (r.box.top, r.box.bottom, r.box.height) == (-121, 313, 435)
    assert (r.clipped.top, r.clipped.bottom) == (0, 223)
    c = receptive.theoretical_rf(model, "conv1", (5, 0), 224)
    assert (c.size, c.box.top, c.box.bottom, c.box.left, c.clipped.left) == (7, 7, 13, -3, 0)
    with pytest.raises(ValueError, match="outside"):
        receptive.theoretical_rf(model, "layer4", (7, 0), 224)


@pytest.mark.parametrize("layer,cell,channel", [("layer1.0.conv1", (5, 6), 3), ("layer3", (1, 2), None),
                                                ("conv1", (10, 0), 0)])
def test_gradient_support_is_the_theoretical_box(model, layer, cell, channel):
    x = torch.randn(1, 3, 96, 96)
    before = weights.weights_digest(model)
    e = receptive.effective_rf(model, x, layer, cell, channel)
    assert weights.weights_digest(model) == before
    nz = np.argwhere(e.grad > 0)
    b = e.theoretical.clipped
    assert nz.min(0).tolist() >= [b.top, b.left] and nz.max(0).tolist() <= [b.bottom, b.right]
    assert e.share_in_box == pytest.approx(1.0)
    assert 1 <= e.side50 <= e.side90


def test_erf_is_autograd_of_the_unit(model):
    x = torch.randn(1, 3, 64, 64)
    e = receptive.effective_rf(model, x, "layer2.1", (2, 3), 7)
    xx = x.clone().requires_grad_(True)
    t = forward.trace(model, xx)
    (g,) = torch.autograd.grad(t.layers["layer2.1"][0, 7, 2, 3], xx)
    assert np.allclose(e.grad, g[0].abs().sum(0).numpy())


@pytest.mark.parametrize("layer,channel,cell", [("conv1", 5, (3, 4)), ("conv1", 0, (0, 0)),
                                                ("layer1.0.conv1", 17, (0, 9)), ("layer3.0.conv1", 100, (2, 2))])
def test_conv_arithmetic_equals_the_recorded_activations(model, layer, channel, cell):
    x = torch.randn(1, 3, 96, 96)
    a = receptive.conv_arithmetic(model, x, layer, channel, cell)
    assert a.conv_sum == pytest.approx(a.recorded_conv, abs=1e-5)
    assert a.bn_out == pytest.approx(a.recorded_bn, abs=1e-5)
    assert a.relu_out == pytest.approx(a.recorded_relu, abs=1e-5)
    assert a.relu_out == max(a.bn_out, 0.0) and a.bias == 0.0
    assert a.window.shape == a.weights.shape == (model.get_submodule(layer).in_channels, a.kernel, a.kernel)
    assert np.allclose(a.products.sum(), a.conv_sum, atol=1e-5)
    # By hand: BN in eval mode is (z - mean) / sqrt(var + eps) * gamma + beta.
    assert a.bn_out == pytest.approx((a.conv_sum - a.bn_mean) / np.sqrt(a.bn_var + a.bn_eps) * a.bn_gamma
                                     + a.bn_beta, abs=1e-5)


def test_conv1_corner_window_hangs_over_the_padding(model):
    x = torch.randn(1, 3, 64, 64)
    a = receptive.conv_arithmetic(model, x, "conv1", 0, (0, 0))
    assert a.window_origin == (-3, -3) and not a.window[:, :3, :].any() and not a.window[:, :, :3].any()
    assert np.array_equal(a.window[:, 3:, 3:], x[0, :, :4, :4].numpy())
    with pytest.raises(ValueError):
        receptive.conv_arithmetic(model, x, "layer1.0.conv2")
