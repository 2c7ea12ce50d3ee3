"""Shortcut vs branch share of dL/dx per block: a hand-computed block, and autograd on whole networks."""

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from resnet_viz.experiments import gradpaths, stacks
from resnet_viz.model import weights

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here


def test_one_block_by_hand():
    # out = relu(0.5 x + x): for x = 1 the sum is 1.5 > 0, so dL/dx = 1 (shortcut) + 0.5 (branch);
    # for x = -3 the ReLU is off and both parts are 0.
    x = torch.tensor([1.0, -3.0])
    g_id, g_br, g_total = gradpaths.split_block(x, lambda v: 0.5 * v, lambda v: v, torch.ones(2))
    assert g_id.tolist() == [1.0, 0.0] and g_br.tolist() == [0.5, 0.0] and g_total.tolist() == [1.5, 0.0]
    # A plain block has no shortcut part.
    g_id, g_br, g_total = gradpaths.split_block(x, lambda v: 0.5 * v, None, torch.ones(2))
    assert g_id.tolist() == [0.0, 0.0] and g_total.tolist() == [0.5, 0.0]


def test_parts_add_up_to_autograd_on_resnet18_and_leave_it_untouched():
    torch.manual_seed(0)
    model = resnet18(num_classes=10).eval()
    before = weights.weights_digest(model)
    x = torch.randn(1, 3, 64, 64)
    r = gradpaths.grad_paths(model, x)
    assert [b.block for b in r.blocks][:3] == ["layer1.0", "layer1.1", "layer2.0"]
    assert [b.projection for b in r.blocks] == [False, False, True, False, True, False, True, False]
    for b in r.blocks:
        assert b.sum_error < 1e-6
        assert 0 < b.identity_share < 1
    xx = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(xx)[0, r.target], xx)
    assert abs(r.input_norm - float(g.norm())) < 1e-6 * float(g.norm())
    assert weights.weights_digest(model) == before and all(p.grad is None for p in model.parameters())


def test_identity_part_is_the_gradient_at_the_sum():
    # For an identity shortcut the shortcut part is g_s exactly; check it against a hook-free recomputation.
    torch.manual_seed(1)
    block = resnet18().layer1[0].eval()
    x = torch.randn(1, 64, 8, 8).relu()
    g_out = torch.randn(1, 64, 8, 8)
    branch, shortcut = gradpaths._parts(block)
    g_id, g_br, _ = gradpaths.split_block(x, branch, shortcut, g_out)
    with torch.no_grad():
        s = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))) + x
    assert torch.equal(g_id, g_out * (s > 0))
    xx = x.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(block(xx.clone()), xx, g_out)
    assert torch.allclose(g_id + g_br, ref, atol=1e-6)


def test_plain_stack_has_no_shortcut_share():
    cfg = stacks.StackConfig(depth=8, residual=False, widths=(4, 8, 8))
    r = gradpaths.grad_paths(stacks.build_stack(cfg).eval(), torch.randn(1, 3, 16, 16))
    assert all(b.identity_norm == 0 and b.identity_share == 0 for b in r.blocks)
    res = gradpaths.grad_paths(stacks.build_stack(stacks.StackConfig(depth=8, widths=(4, 8, 8))).eval(),
                               torch.randn(1, 3, 16, 16))
    assert all(b.identity_norm > 0 and b.sum_error < 1e-6 for b in res.blocks)


def test_bad_input_is_refused():
    import pytest

    with pytest.raises(ValueError):
        gradpaths.grad_paths(nn.Identity(), torch.randn(2, 3, 8, 8))
