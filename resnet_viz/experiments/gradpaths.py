"""Why gradients pass (He et al. 2016b, "Identity Mappings in Deep Residual Networks", eq. 4-5): per block, the
gradient that reaches the block's input x through the shortcut vs through the residual branch F."""

# torchvision's BasicBlock computes out = relu(s) with s = F(x) + x (or + downsample(x)). With g_s = dL/ds (the
# gradient after the ReLU that follows the sum), dL/dx = g_s (identity shortcut; the projection's VJP where there
# is one) + J_F(x)^T g_s (the branch). The two parts add up to autograd's dL/dx exactly. Eq. 4-5 are exact for
# pre-activation blocks (no ReLU after the sum); here the ReLU's mask sits in g_s for both parts alike.
# Only input gradients are taken (torch.autograd.grad), so the model's parameters and .grad are never touched.

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz.model.architecture import STAGES


@dataclass(frozen=True)
class BlockGrad:
    """The split of dL/dx at one block's input x."""

    block: str
    identity_norm: float  # |shortcut part|: g_s itself for an identity shortcut
    branch_norm: float  # |J_F^T g_s|
    total_norm: float  # |dL/dx|, the sum of the two
    projection: bool  # the shortcut is a 1x1 projection (its VJP, not g_s itself)
    cosine: float  # cosine between the two parts (0 when one is zero)
    sum_error: float  # max |identity + branch - autograd's dL/dx|, float rounding only

    @property
    def identity_share(self) -> float:
        """|identity| / (|identity| + |branch|); 1 for a plain block is impossible: it has no shortcut (0)."""
        s = self.identity_norm + self.branch_norm
        return self.identity_norm / s if s else 0.0


@dataclass(frozen=True)
class GradPaths:
    blocks: tuple[BlockGrad, ...]
    target: int
    loss: float  # the differentiated quantity (the target's logit)
    input_norm: float  # |dL/d image|

    def names(self) -> list[str]:
        return [b.block for b in self.blocks]


def _cos(a: Tensor, b: Tensor) -> float:
    na, nb = float(a.norm()), float(b.norm())
    return float((a * b).sum()) / (na * nb) if na and nb else 0.0


def split_block(x: Tensor, branch: Callable[[Tensor], Tensor], shortcut: Callable[[Tensor], Tensor] | None,
                grad_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(identity part, branch part, autograd's total) of dL/dx for out = relu(branch(x) + shortcut(x)).

    shortcut=None is a plain block, out = relu(branch(x)): the identity part is 0.
    """
    x = x.detach().requires_grad_(True)
    fx = branch(x)
    idn = shortcut(x) if shortcut is not None else torch.zeros_like(fx)
    s = fx + idn
    out = F.relu(s)
    (g_s,) = torch.autograd.grad(out, s, grad_out, retain_graph=True)
    (g_br,) = torch.autograd.grad(fx, x, g_s, retain_graph=True)
    g_id = (torch.autograd.grad(idn, x, g_s, retain_graph=True)[0] if idn.requires_grad else torch.zeros_like(x))
    (g_total,) = torch.autograd.grad(out, x, grad_out)
    return g_id, g_br, g_total


def _parts(block: nn.Module) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor] | None]:
    """(branch, shortcut) of a torchvision BasicBlock/Bottleneck or a resnet_viz.experiments.stacks block."""
    n = 3 if hasattr(block, "conv3") else 2

    def branch(x: Tensor) -> Tensor:
        for i in range(1, n + 1):
            x = getattr(block, f"bn{i}")(getattr(block, f"conv{i}")(x))
            if i < n:
                x = F.relu(x)
        return x

    if getattr(block, "residual", True) is False:
        return branch, None
    ds = block.downsample
    return branch, (lambda x: x) if ds is None else ds


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    stages = [s for s in STAGES if hasattr(model, s)]  # a CIFAR stack has three
    return [(f"{stage}.{i}", b) for stage in stages for i, b in enumerate(getattr(model, stage))]


def grad_paths(model: nn.Module, x: Tensor, target: int | None = None,
               mask: tuple[bool, ...] | None = None) -> GradPaths:
    """Per block, how dL/dx splits between shortcut and branch, for L = the target class's logit on x (1, 3, H, W).

    Works on torchvision ResNets (stem with maxpool) and on resnet_viz.experiments.stacks networks (plain or residual).
    The model must be in eval mode (BatchNorm uses running statistics); the caller holds any shared lock.
    `mask` (one bool per block, True = shortcut kept) runs blocks without their shortcut, as forward.py's mask
    does: such a block has no identity part. The model itself is never changed.
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"Expected one image (1, C, H, W), got {tuple(x.shape)}.")
    blocks = _blocks(model)
    if mask is not None and len(mask) != len(blocks):
        raise ValueError(f"mask needs one value per block ({len(blocks)}), got {len(mask)}")
    kept = tuple(mask) if mask is not None else (True,) * len(blocks)

    def parts(i: int, b: nn.Module):
        branch, shortcut = _parts(b)
        return branch, shortcut if kept[i] else None

    with torch.enable_grad():
        img = x.detach().requires_grad_(True)
        out = F.relu(model.bn1(model.conv1(img)))
        if hasattr(model, "maxpool"):
            out = model.maxpool(out)
        inputs = []
        for i, (_, b) in enumerate(blocks):
            h = out  # (1, C, H, W); used by this block only, so dL/dh is all of this block's doing
            inputs.append(h)
            branch, shortcut = parts(i, b)
            fx = branch(h)
            out = F.relu(fx + shortcut(h)) if shortcut is not None else F.relu(fx)
        logits = model.fc(torch.flatten(model.avgpool(out), 1))  # (1, classes)
        target = int(logits.argmax(1)) if target is None else int(target)
        if not 0 <= target < logits.shape[1]:
            raise ValueError(f"target must be in 0..{logits.shape[1] - 1}, got {target}")
        score = logits[0, target]
        # dL/d(output of each block) = dL/d(input of the next); the last block's comes from the head.
        *grads_in, g_last, g_img = torch.autograd.grad(score, [*inputs, out, img])
        outs = [*grads_in[1:], g_last]
        rows = []
        for i, ((name, b), h, g_out) in enumerate(zip(blocks, inputs, outs, strict=True)):
            branch, shortcut = parts(i, b)
            g_id, g_br, g_total = split_block(h, branch, shortcut, g_out)
            rows.append(BlockGrad(name, float(g_id.norm()), float(g_br.norm()), float(g_total.norm()),
                                  shortcut is not None and b.downsample is not None, _cos(g_id, g_br),
                                  float((g_id + g_br - g_total).abs().max())))
    return GradPaths(tuple(rows), target, float(score.detach()), float(g_img.norm()))
