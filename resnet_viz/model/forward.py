"""One forward pass through torchvision's own ResNet-18 modules, with a per-block shortcut mask.

The mask is an argument, never a flag on the model: the cached model is shared by every session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from resnet_viz.model.layers import BLOCK_NAMES, STAGE_NAMES

if TYPE_CHECKING:
    from resnet_viz.text.errors import Reason

__all__ = ["ALL_OFF", "ALL_ON", "BlockTrace", "Mask", "Trace", "hooks_left", "iter_blocks",
           "logits_from", "normalise_mask", "run_block", "trace"]

Mask = tuple[bool, ...]
ALL_ON: Mask = (True,) * len(BLOCK_NAMES)
ALL_OFF: Mask = (False,) * len(BLOCK_NAMES)


@dataclass
class BlockTrace:
    """What one BasicBlock saw and made: the shortcut x, the residual branch F(x), and the output."""

    x: Tensor  # shortcut path, after `downsample` where there is one  (B, C, H, W)
    fx: Tensor  # residual branch: bn2's output, before the add          (B, C, H, W)
    out: Tensor  # relu(F(x) + x), or relu(F(x)) with the shortcut off    (B, C, H, W)


@dataclass
class Trace:
    """Logits plus every named layer's output and, per block, x / F(x) / output."""

    logits: Tensor  # (B, classes)
    layers: dict[str, Tensor] = field(default_factory=dict)
    blocks: dict[str, BlockTrace] = field(default_factory=dict)
    mask: Mask = ALL_ON
    note: Reason | None = None  # set by ModelHandle.trace when the request fell back to the CPU (model.fallback)


def normalise_mask(mask: Sequence[bool] | None, what: str = "mask") -> Mask:
    """Turn None (all on) or any 8-long sequence of truthy values into a hashable tuple."""
    if mask is None:
        return ALL_ON
    mask = tuple(bool(m) for m in mask)
    if len(mask) != len(BLOCK_NAMES):
        raise ValueError(f"The {what} needs one entry per block ({len(BLOCK_NAMES)}), got {len(mask)}.")
    return mask


def iter_blocks(model: nn.Module):
    """Yield (name, BasicBlock) for layer1.0 ... layer4.1, in order."""
    for stage in STAGE_NAMES:
        for i, block in enumerate(getattr(model, stage)):
            if not isinstance(block, BasicBlock):
                raise TypeError(f"{stage}.{i} is a {type(block).__name__}; only ResNet-18/34 BasicBlocks are traced.")
            yield f"{stage}.{i}", block


def run_block(block: BasicBlock, name: str, x: Tensor, shortcut: bool, branch: bool,
              layers: dict[str, Tensor], inner: bool = False) -> BlockTrace:
    """One block on x, its output recorded in `layers[name]` (its internals too with `inner`).

    shortcut=False drops the shortcut (output relu(F(x))); branch=False drops the residual branch (relu(x)).
    """
    # Same operations as torchvision's BasicBlock.forward, one per line, but with a non-inplace relu
    # so the recorded tensors keep their values (the module's relu is inplace=True).
    # Without `inner`, the block's internals go into a dict dropped on return, so they are freed as in
    # model(x) (keeping them all costs memory: page faults at batch 16, see `python -m tools bench`).
    outer, layers = layers, (layers if inner else {})
    identity = x if block.downsample is None else block.downsample(x)
    if block.downsample is not None:
        layers[f"{name}.downsample"] = identity
    out = block.conv1(x)
    layers[f"{name}.conv1"] = out
    out = block.bn1(out)
    layers[f"{name}.bn1"] = out
    out = F.relu(out)
    layers[f"{name}.relu"] = out
    out = block.conv2(out)
    layers[f"{name}.conv2"] = out
    fx = block.bn2(out)
    layers[f"{name}.bn2"] = fx
    if not branch:
        # Deleting the block (Veit et al. 2016): only the shortcut path goes on.
        fx = torch.zeros_like(fx)
    # The sum is a fresh tensor nobody recorded, so its relu can run in place; fx is recorded, so not that.
    out = (fx + identity).relu_() if shortcut else F.relu(fx)
    outer[name] = out
    return BlockTrace(x=identity, fx=fx, out=out)


def trace(model: nn.Module, x: Tensor, mask: Sequence[bool] | None = None,
          branches: Sequence[bool] | None = None, inner: bool = False) -> Trace:
    """Run ResNet-18 on x (B, 3, H>=32, W>=32) recording every named layer.

    Args:
        model: a torchvision ResNet with BasicBlocks, in eval mode. Never modified.
        x: normalised images.
        mask: one bool per block; False drops that block's shortcut (output relu(F(x))).
        branches: one bool per block; False drops that block's residual branch (output relu(x)).
        inner: also record each block's conv1, bn1, relu, conv2, bn2 and downsample outputs.

    Grad mode is the caller's: under torch.no_grad() nothing is kept for a backward pass.
    """
    mask = normalise_mask(mask)
    branches = normalise_mask(branches, "branch mask")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"Expected a (batch, 3, H, W) tensor, got shape {tuple(x.shape)}.")
    if min(x.shape[-2:]) < 32:
        raise ValueError(f"Images must be at least 32x32 pixels for ResNet-18, got {x.shape[-2]}x{x.shape[-1]}.")
    layers: dict[str, Tensor] = {}
    blocks: dict[str, BlockTrace] = {}
    out = model.conv1(x)  # (B, 64, H/2, W/2)
    layers["conv1"] = out
    out = model.bn1(out)
    layers["bn1"] = out
    out = F.relu(out)
    layers["relu"] = out
    out = model.maxpool(out)  # (B, 64, H/4, W/4)
    layers["maxpool"] = out
    for i, (name, block) in enumerate(iter_blocks(model)):
        bt = run_block(block, name, out, mask[i], branches[i], layers, inner)
        blocks[name] = bt
        out = bt.out
        layers[name.split(".")[0]] = out  # a stage's output is its last block's
    out = model.avgpool(out)  # (B, 512, 1, 1)
    layers["avgpool"] = out
    out = torch.flatten(out, 1)
    logits = model.fc(out)  # (B, classes)
    layers["fc"] = logits
    return Trace(logits=logits, layers=layers, blocks=blocks, mask=mask)


def logits_from(model: nn.Module, h: Tensor, start: int, mask: Sequence[bool] | None = None,
                branches: Sequence[bool] | None = None) -> Tensor:
    """Run blocks start..7 on h, the input of block `start` (B, C, h, w), then the head: (B, classes).

    With the same mask and branches, equals trace(model, x, mask, branches).logits whenever blocks before
    `start` are intact, given h = the intact network's input to block `start`.
    """
    mask = normalise_mask(mask)
    branches = normalise_mask(branches, "branch mask")
    layers: dict[str, Tensor] = {}  # dropped on return: only the logits are wanted
    for i, (name, block) in enumerate(iter_blocks(model)):
        if i >= start:
            h = run_block(block, name, h, mask[i], branches[i], layers).out
    h = torch.flatten(model.avgpool(h), 1)  # (B, 512)
    return model.fc(h)  # (B, classes)


def hooks_left(model: nn.Module) -> int:
    """How many forward/backward hooks sit on any module (should always be 0 on the shared model)."""
    total = 0
    for m in model.modules():
        total += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        total += len(getattr(m, "_backward_pre_hooks", {}))
    return total
