"""The traced forward against torchvision's own forward and feature extractor."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import resnet18
from torchvision.models.feature_extraction import create_feature_extractor

from resnet_viz.model.forward import ALL_OFF, ALL_ON, hooks_left, iter_blocks, logits_from, trace
from resnet_viz.model.layers import BLOCK_NAMES, BLOCKS_PER_STAGE, STAGE_NAMES
from resnet_viz.model.weights import weights_digest

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = resnet18(num_classes=10).eval()
    # Non-trivial BatchNorm statistics, so a wrong bn path could not hide behind mean 0 / var 1.
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m


def test_full_mask_equals_model(model):
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        t = trace(model, x)
        ref = model(x)
    assert torch.allclose(t.logits, ref, atol=1e-5)
    assert t.layers["layer4"].shape == (2, 512, 2, 3)


def test_equals_feature_extractor_at_every_named_layer(model):
    # The stock model's ReLUs are inplace, which would overwrite bn1's recorded output; a copy without
    # inplace ReLUs gives the reference values for every node.
    ref_model = copy.deepcopy(model)
    for mod in ref_model.modules():
        if isinstance(mod, torch.nn.ReLU):
            mod.inplace = False
    # FX node names: a block's output is its second relu call ("layer2.0.relu_1").
    ours_to_fx = {n: n for n in ["conv1", "bn1", "relu", "maxpool", "avgpool", "fc"]}
    for b in BLOCK_NAMES:
        ours_to_fx |= {b: f"{b}.relu_1", f"{b}.conv1": f"{b}.conv1", f"{b}.bn1": f"{b}.bn1",
                       f"{b}.relu": f"{b}.relu", f"{b}.bn2": f"{b}.bn2"}
    ours_to_fx |= {f"{b}.downsample": f"{b}.downsample.1" for b in ("layer2.0", "layer3.0", "layer4.0")}
    extractor = create_feature_extractor(ref_model, {fx: ours for ours, fx in ours_to_fx.items()})
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        t = trace(model, x, inner=True)
        ref = extractor(x)
    assert len(ref) == len(ours_to_fx) == 49
    for n in ours_to_fx:
        assert torch.allclose(t.layers[n], ref[n], atol=1e-5), n
    # A stage's output is its last block's (FX gives both names to one node).
    assert t.layers["layer1"] is t.layers["layer1.1"] and t.layers["layer4"] is t.layers["layer4.1"]


def test_block_parts_add_up(model):
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        t = trace(model, x)
    for name in BLOCK_NAMES:
        b = t.blocks[name]
        assert torch.allclose(b.out, F.relu(b.fx + b.x), atol=1e-6)
    # layer1.0 has no downsample: its shortcut is the maxpool output itself.
    assert torch.equal(t.blocks["layer1.0"].x, t.layers["maxpool"])
    assert t.blocks["layer2.0"].x.shape == (1, 128, 8, 8)


def test_shortcut_off_is_relu_of_branch_by_hand(model):
    x = torch.randn(1, 3, 64, 64)
    mask = [True] * 8
    mask[2] = False  # layer2.0
    with torch.no_grad():
        t = trace(model, x, mask)
        blk = model.layer2[0]
        inp = t.layers["layer1.1"]
        h = F.relu(blk.bn1(blk.conv1(inp)))
        expected = F.relu(blk.bn2(blk.conv2(h)))
        full = trace(model, x)
    assert torch.allclose(t.layers["layer2.0"], expected, atol=1e-6)
    assert torch.allclose(t.layers["layer1.1"], full.layers["layer1.1"])  # earlier blocks untouched
    assert not torch.allclose(t.logits, full.logits)


def test_branch_off_keeps_only_the_shortcut(model):
    x = torch.randn(1, 3, 64, 64)
    branches = [True] * 8
    branches[1] = False  # layer1.1: identity shortcut, so the block passes its input through
    with torch.no_grad():
        t = trace(model, x, branches=branches)
    assert torch.allclose(t.layers["layer1.1"], t.layers["layer1.0"])


def test_gradients_flow_and_model_untouched(model):
    before, hooks = weights_digest(model), hooks_left(model)
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    t = trace(model, x, [False] * 8)
    (g,) = torch.autograd.grad(t.logits[0, 3], t.layers["layer3"], retain_graph=True)
    assert g.abs().sum() > 0
    t.logits[0, 3].backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    assert weights_digest(model) == before and hooks_left(model) == hooks == 0


def test_bad_inputs_are_refused(model):
    with pytest.raises(ValueError, match="at least 32"):
        trace(model, torch.randn(1, 3, 16, 64))
    with pytest.raises(ValueError, match="one entry per block"):
        trace(model, torch.randn(1, 3, 64, 64), [True] * 3)
    with pytest.raises(ValueError, match="batch, 3, H, W"):
        trace(model, torch.randn(3, 64, 64))


def test_block_internals_only_on_request(model):
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        lean, full = trace(model, x), trace(model, x, inner=True)
    assert "layer2.0.conv1" not in lean.layers and "layer2.0.conv1" in full.layers
    assert set(lean.layers) == {k for k in full.layers if k.count(".") < 2 and not k.endswith("downsample")}
    assert torch.equal(lean.logits, full.logits)


def test_names_and_masks_match_the_model(model):
    assert [name for name, _ in iter_blocks(model)] == list(BLOCK_NAMES)
    assert [len(getattr(model, s)) for s in STAGE_NAMES] == [BLOCKS_PER_STAGE] * 4
    assert ALL_ON == (True,) * 8 and ALL_OFF == (False,) * 8


@pytest.mark.parametrize("start", [0, 3, 7])
def test_logits_from_a_block_equal_the_whole_trace(model, start):
    torch.manual_seed(4)
    x = torch.randn(2, 3, 64, 64)
    mask = (True, False, True, True, False, True, False, True)
    branches = tuple(i != 5 for i in range(8))
    with torch.no_grad():
        intact = trace(model, x)
        h = intact.layers["maxpool"] if start == 0 else intact.layers[BLOCK_NAMES[start - 1]]
        # Blocks before `start` are left intact, as the lesion study uses it.
        cut = tuple(m or i < start for i, m in enumerate(mask))
        kept = tuple(b or i < start for i, b in enumerate(branches))
        got = logits_from(model, h, start, cut, kept)
        ref = trace(model, x, cut, kept).logits
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
