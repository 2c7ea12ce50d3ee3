"""CIFAR-style stacks: shapes and parameter counts, option A/B shortcuts, seeded init, identity blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnet_viz.experiments import stacks
from resnet_viz.experiments.stacks import StackConfig, build_stack, count_params

pytestmark = pytest.mark.usefixtures("one_thread")


def _bn_params(cfg: StackConfig) -> int:
    w1, w2, w3 = cfg.widths
    n = cfg.blocks_per_stage
    return 2 * (w1 + 2 * n * (w1 + w2 + w3))


def _hand_params(cfg: StackConfig) -> int:
    """Parameters counted by hand: 3x3 conv weights, BatchNorm scale+shift, fc, option-B projections."""
    w1, w2, w3 = cfg.widths
    n = cfg.blocks_per_stage
    convs = 27 * w1 + 9 * (2 * n * w1 * w1 + w1 * w2 + (2 * n - 1) * w2 * w2 + w2 * w3 + (2 * n - 1) * w3 * w3)
    total = convs + w3 * cfg.num_classes + cfg.num_classes
    if cfg.batchnorm:
        total += _bn_params(cfg)
    if cfg.residual and cfg.shortcut == "B":
        total += w1 * w2 + w2 * w3 + (2 * (w2 + w3) if cfg.batchnorm else 0)
    return total


@pytest.mark.parametrize("depth", [8, 14, 20, 56])
def test_depth_is_6n_plus_2(depth: int) -> None:
    model = build_stack(StackConfig(depth=depth))
    n = (depth - 2) // 6
    assert model.cfg.blocks_per_stage == n
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3)] == [n, n, n]
    # 6n+1 convs on the main path plus the fc layer = depth weighted layers.
    assert len(model.main_convs()) + 1 == depth
    assert model.main_convs()[0][0] == "conv1"
    assert model.main_convs()[-1][0] == f"layer3.{n - 1}.conv2"


@pytest.mark.parametrize("depth", [7, 9, 21, 2, 500])
def test_bad_depth_is_refused(depth: int) -> None:
    with pytest.raises(ValueError, match="6n\\+2"):
        StackConfig(depth=depth)


def test_bad_shortcut_is_refused() -> None:
    with pytest.raises(ValueError, match="zero-padding"):
        StackConfig(shortcut="C")


def test_resnet20_has_the_papers_parameter_count() -> None:
    # He et al. 2015 Table 6 lists ResNet-20 at 0.27M; the widely used CIFAR port (akamaster) prints 269,722.
    assert count_params(build_stack(StackConfig(depth=20))) == 269_722


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_parameter_counts_match_hand_count(residual: bool, batchnorm: bool, shortcut: str) -> None:
    cfg = StackConfig(depth=14, residual=residual, batchnorm=batchnorm, shortcut=shortcut, widths=(4, 8, 16))
    assert count_params(build_stack(cfg)) == _hand_params(cfg)


def test_option_a_adds_no_parameters_and_b_adds_projections() -> None:
    plain = count_params(build_stack(StackConfig(depth=20, residual=False)))
    res_a = count_params(build_stack(StackConfig(depth=20, shortcut="A")))
    res_b = count_params(build_stack(StackConfig(depth=20, shortcut="B")))
    assert res_a == plain
    assert res_b - plain == 16 * 32 + 32 * 64 + 2 * (32 + 64)


def test_option_a_shortcut_subsamples_and_zero_pads() -> None:
    x = torch.randn(2, 4, 6, 6)
    out = stacks.PadShortcut(4, 8, 2)(x)
    assert out.shape == (2, 8, 3, 3)
    torch.testing.assert_close(out[:, :4], x[:, :, ::2, ::2])
    assert torch.count_nonzero(out[:, 4:]) == 0


def test_init_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_stack(StackConfig(depth=8, seed=3)).state_dict()
    after = torch.rand(1)
    b = build_stack(StackConfig(depth=8, seed=3)).state_dict()
    c = build_stack(StackConfig(depth=8, seed=4)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
    assert torch.equal(before, after)  # building consumed nothing from the global generator
    # He init (forward form): std = sqrt(2 / fan_in).
    w = build_stack(StackConfig(depth=56, seed=0)).layer3[0].conv2.weight
    assert w.std().item() == pytest.approx((2 / (9 * 64)) ** 0.5, rel=0.03)


@pytest.mark.parametrize("batchnorm", [True, False])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_zeroed_residual_branches_are_exact_identities(batchnorm: bool, shortcut: str) -> None:
    cfg = StackConfig(depth=14, batchnorm=batchnorm, shortcut=shortcut, zero_init_residual=True, widths=(4, 8, 8))
    model = build_stack(cfg).train()
    x = torch.randn(4, 3, 16, 16)
    record: list[torch.Tensor] = []
    with torch.no_grad():
        model(x, record)
    blocks = [b for stage in (model.layer1, model.layer2, model.layer3) for b in stage]
    # record = [stem, (block conv1 out, block out) per block]; block inputs are post-ReLU, so relu(x + 0) = x.
    block_in = record[0]
    for i, block in enumerate(blocks):
        block_out = record[2 + 2 * i]
        with torch.no_grad():
            expected = block_in if block.downsample is None else block.downsample(block_in)
        if block.downsample is None or shortcut == "A":
            assert torch.equal(block_out, expected)
        else:
            torch.testing.assert_close(block_out, torch.relu(expected))
        block_in = block_out


def test_zero_init_leaves_plain_stacks_untouched() -> None:
    a = build_stack(StackConfig(depth=8, residual=False, zero_init_residual=True)).state_dict()
    b = build_stack(StackConfig(depth=8, residual=False)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)



def test_pad_shortcut_has_no_parameters() -> None:
    assert sum(p.numel() for p in stacks.PadShortcut(4, 8, 2).parameters()) == 0
    assert isinstance(build_stack(StackConfig(depth=8, shortcut="B")).layer2[0].downsample, nn.Sequential)

