"""What one unit sees: its theoretical receptive field on the input, its effective receptive field (the |input
gradient| of that unit, Luo et al. 2016), and one conv output worked through: window x weights, sum, BN, ReLU."""

# Only the inputs get gradients (torch.autograd.grad); the shared model is read, never changed.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz.model import forward
from resnet_viz.model.architecture import Table, layer_table
from resnet_viz.model.layers import BLOCK_NAMES, STAGE_NAMES


def _row_name(layer: str) -> str:
    """Stage aliases (layer4) are their last block's output (layer4.1)."""
    if layer in STAGE_NAMES:
        return [b for b in BLOCK_NAMES if b.startswith(layer + ".")][-1]
    return layer


@dataclass(frozen=True)
class Box:
    """A square region on the input, in pixel indices, both ends included."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1


@dataclass(frozen=True)
class TheoreticalRF:
    layer: str
    cell: tuple[int, int]  # (row, col) in the layer's output
    out_hw: tuple[int, int]
    size: int  # side of the receptive field in input pixels (435 at layer4)
    jump: int  # input pixels between neighbouring cells
    center: tuple[float, float]  # (row, col) on the input
    box: Box  # unclipped: may reach past the image (those pixels are padding)
    clipped: Box  # the part on the image
    share_on_image: float  # clipped area / box area


def _offsets(table: Table, row_name: str) -> float:
    """Input position (pixel index) of cell 0's centre at `row_name`, along the main path."""
    center, jump = 0.0, 1
    for r in table.rows:
        if r.path == "main" and r.kernel:
            center += ((r.kernel - 1) / 2 - r.padding) * jump
            jump *= r.stride
        if r.name == row_name:
            return center
    raise ValueError(f"Unknown layer {row_name!r}.")


def theoretical_rf(model: nn.Module, layer: str, cell: tuple[int, int], height: int = 224,
                   width: int | None = None) -> TheoreticalRF:
    """The box of input pixels that can influence output cell (row, col) of `layer` (e.g. 'layer3.1', 'conv1')."""
    width = width or height
    table = layer_table(model, height, width)
    name = _row_name(layer)
    try:
        row = table.row(name)
    except StopIteration:
        raise ValueError(f"Unknown layer {layer!r}.") from None
    i, j = cell
    if not (0 <= i < row.out_h and 0 <= j < row.out_w):
        raise ValueError(f"Cell {cell} is outside {layer}'s {row.out_h}x{row.out_w} output.")
    c0 = _offsets(table, name)
    ci, cj = c0 + i * row.jump, c0 + j * row.jump
    half = (row.rf - 1) / 2
    box = Box(round(ci - half), round(cj - half), round(ci + half), round(cj + half))
    clipped = Box(max(box.top, 0), max(box.left, 0), min(box.bottom, height - 1), min(box.right, width - 1))
    share = (clipped.height * clipped.width) / (box.height * box.width)
    return TheoreticalRF(layer, (i, j), (row.out_h, row.out_w), row.rf, row.jump, (ci, cj), box, clipped, share)


@dataclass
class EffectiveRF:
    """|d unit / d input| summed over the colour channels, and how it spreads."""

    layer: str
    cell: tuple[int, int]
    channel: int | None  # None: the sum over the layer's channels at that cell
    grad: np.ndarray  # (H, W), non-negative
    theoretical: TheoreticalRF
    share_in_box: float  # gradient mass inside the theoretical box (1 up to rounding: nothing outside can act)
    side50: int  # side of the smallest square around the centre holding 50% of the mass
    side90: int
    value: float  # the unit's activation


def _central_side(grad: np.ndarray, center: tuple[float, float], share: float) -> int:
    total = grad.sum()
    if total <= 0:
        return 0
    ci, cj = round(center[0]), round(center[1])
    h, w = grad.shape
    for r in range(0, max(h, w) + 1):
        if grad[max(ci - r, 0):ci + r + 1, max(cj - r, 0):cj + r + 1].sum() >= share * total:
            return 2 * r + 1
    return 2 * max(h, w) + 1


def effective_rf(model: nn.Module, x: Tensor, layer: str, cell: tuple[int, int], channel: int | None = None,
                 mask: Sequence[bool] | None = None) -> EffectiveRF:
    """The gradient of one unit of `layer` (channel, or all channels' sum, at cell) w.r.t. the input x (1, 3, H, W)."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"Expected one image (1, 3, H, W), got {tuple(x.shape)}.")
    h, w = x.shape[-2:]
    th = theoretical_rf(model, layer, cell, h, w)
    name = _row_name(layer)
    with torch.enable_grad():
        img = x.detach().requires_grad_(True)
        t = forward.trace(model, img, mask, inner="." in name and name not in BLOCK_NAMES)
        act = t.layers[name][0]  # (C, h, w)
        if channel is not None and not 0 <= channel < act.shape[0]:
            raise ValueError(f"channel must be in 0..{act.shape[0] - 1}, got {channel}")
        unit = act[:, cell[0], cell[1]].sum() if channel is None else act[channel, cell[0], cell[1]]
        (g,) = torch.autograd.grad(unit, img)
    grad = g[0].abs().sum(0).cpu().numpy()  # (H, W)
    b = th.clipped
    total = float(grad.sum())
    inside = float(grad[b.top:b.bottom + 1, b.left:b.right + 1].sum())
    return EffectiveRF(layer, cell, channel, grad, th, min(inside / total, 1.0) if total else 1.0,
                       _central_side(grad, th.center, 0.5), _central_side(grad, th.center, 0.9),
                       float(unit.detach()))


# ---- one conv output, worked through ----------------------------------------------------------------------

# The convs that BN and a ReLU follow directly: their output can be followed all the way to an activation.
ARITHMETIC_LAYERS: tuple[str, ...] = ("conv1", *(f"{b}.conv1" for b in BLOCK_NAMES))


@dataclass
class ConvArithmetic:
    """out[c, i, j] of a conv, then its BatchNorm and ReLU, from the actual numbers."""

    layer: str  # conv1 or layerX.Y.conv1
    channel: int
    cell: tuple[int, int]
    kernel: int
    stride: int
    padding: int
    window: np.ndarray  # (C_in, k, k) input values (zeros where the window hangs over the padding)
    window_origin: tuple[int, int]  # input (row, col) of window[:, 0, 0]; may be negative (padding)
    weights: np.ndarray  # (C_in, k, k)
    products: np.ndarray  # window * weights
    per_channel: np.ndarray  # (C_in,) sums of products per input channel
    bias: float  # 0 when the conv has none (ResNet's convs do not)
    conv_sum: float  # products.sum() + bias
    bn_mean: float
    bn_var: float
    bn_eps: float
    bn_gamma: float
    bn_beta: float
    bn_out: float  # (conv_sum - mean) / sqrt(var + eps) * gamma + beta
    relu_out: float
    recorded_conv: float  # what forward.trace recorded
    recorded_bn: float
    recorded_relu: float

    @property
    def max_error(self) -> float:
        return max(abs(self.conv_sum - self.recorded_conv), abs(self.bn_out - self.recorded_bn),
                   abs(self.relu_out - self.recorded_relu))


def _modules(model: nn.Module, layer: str) -> tuple[nn.Conv2d, nn.BatchNorm2d, str, str, str | None]:
    """(conv, bn, its input's trace name, bn's trace name, relu's trace name)."""
    if layer == "conv1":
        return model.conv1, model.bn1, "", "bn1", "relu"
    block = layer.rsplit(".", 1)[0]
    blk = dict(forward.iter_blocks(model))[block]
    i = BLOCK_NAMES.index(block)
    return blk.conv1, blk.bn1, ("maxpool" if i == 0 else BLOCK_NAMES[i - 1]), f"{block}.bn1", f"{block}.relu"


@torch.no_grad()
def conv_arithmetic(model: nn.Module, x: Tensor, layer: str = "conv1", channel: int = 0,
                    cell: tuple[int, int] = (0, 0), mask: Sequence[bool] | None = None) -> ConvArithmetic:
    """Work one conv output through by hand and compare with the recorded activations of forward.trace."""
    if layer not in ARITHMETIC_LAYERS:
        raise ValueError(f"layer must be one of {', '.join(ARITHMETIC_LAYERS)}, got {layer!r}")
    conv, bn, src, bn_name, relu_name = _modules(model, layer)
    t = forward.trace(model, x[:1], mask, inner=layer != "conv1")
    inp = x[:1] if src == "" else t.layers[src][:1]  # (1, C_in, H, W)
    out = t.layers[layer][0]  # (C_out, h, w)
    if not 0 <= channel < out.shape[0]:
        raise ValueError(f"channel must be in 0..{out.shape[0] - 1}, got {channel}")
    i, j = cell
    if not (0 <= i < out.shape[1] and 0 <= j < out.shape[2]):
        raise ValueError(f"Cell {cell} is outside {layer}'s {out.shape[1]}x{out.shape[2]} output.")
    k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    padded = F.pad(inp[0], (p, p, p, p))  # (C_in, H + 2p, W + 2p): zeros as the conv sees them
    window = padded[:, i * s:i * s + k, j * s:j * s + k]  # (C_in, k, k)
    weights = conv.weight[channel]  # (C_in, k, k)
    products = window * weights
    bias = float(conv.bias[channel]) if conv.bias is not None else 0.0
    conv_sum = products.sum() + bias
    mean, var = bn.running_mean[channel], bn.running_var[channel]
    gamma, beta = bn.weight[channel], bn.bias[channel]
    bn_out = (conv_sum - mean) / torch.sqrt(var + bn.eps) * gamma + beta

    def as_np(v: Tensor) -> np.ndarray:
        return v.float().cpu().numpy()

    return ConvArithmetic(
        layer, channel, (i, j), k, s, p, as_np(window), (i * s - p, j * s - p), as_np(weights), as_np(products),
        as_np(products.sum((1, 2))), bias, float(conv_sum), float(mean), float(var), float(bn.eps), float(gamma),
        float(beta), float(bn_out), float(bn_out.clamp_min(0)), float(out[channel, i, j]),
        float(t.layers[bn_name][0, channel, i, j]), float(t.layers[relu_name][0, channel, i, j]))
