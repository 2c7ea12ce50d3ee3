"""The plain / residual pair's lesion forward against the stacks' own forward."""

import pytest
import torch

from resnet_viz.experiments import plainnet
from resnet_viz.experiments.stacks import build_stack

pytestmark = pytest.mark.usefixtures("one_thread")  # small inputs: one torch thread is faster here


def test_forward_without_nothing_is_the_model_and_deleting_is_the_shortcut():
    s = plainnet.PlainSettings(depth=8)
    x = torch.randn(4, 3, 32, 32)
    for name in plainnet.NAMES:
        model = build_stack(plainnet.config(name, s)).eval()
        with torch.no_grad():
            assert torch.allclose(plainnet.forward_without(model, x), model(x), atol=1e-6)
    res = build_stack(plainnet.config("residual", s)).eval()
    with torch.no_grad():
        # Zeroing a residual block's last BN scale and shift makes F(x) = 0: the same as deleting it.
        twin = build_stack(plainnet.config("residual", s)).eval()
        twin.load_state_dict(res.state_dict())
        twin.layer2[0].bn2.weight.zero_()
        twin.layer2[0].bn2.bias.zero_()
        assert torch.allclose(plainnet.forward_without(res, x, 1), twin(x), atol=1e-5)


def test_lesion_reports_every_block():
    s = plainnet.PlainSettings(depth=8)
    x, y = plainnet.make_set(20, 32, 0, plainnet.HELDOUT_STREAM)
    r = plainnet.lesion(build_stack(plainnet.config("plain", s)), x, y)
    assert r["blocks"] == ["layer1.0", "layer2.0", "layer3.0"] and r["downsampling"] == [False, True, True]
    assert len(r["deleted"]) == 3 and r["chance"] == 0.1
