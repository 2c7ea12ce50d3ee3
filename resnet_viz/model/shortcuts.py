"""Shortcut options A, B and C (He et al. 2015, §3.3 and Table 3) on the live ResNet-18's real tensors."""

# A: subsample by the stride and append zero channels (no parameters). B: projection (1x1 conv + BN, torchvision's
# `downsample`) only where the shape changes. C: a projection on every shortcut. The model is only read.

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz.model.architecture import block_convs, iter_any_blocks

# He et al. 2015, Table 3: ResNet-34 top-1 error (%) on ImageNet validation, 10-crop testing.
TABLE3_TOP1 = {"A": 25.03, "B": 24.52, "C": 24.19}
TABLE3_SOURCE = "He et al. 2015, Table 3 (ResNet-34, ImageNet val, 10-crop)"


def option_a(x: Tensor, out_c: int, stride: int) -> Tensor:
    """Zero-padding shortcut: keep every stride-th pixel, append out_c - C zero channels (B, out_c, H', W')."""
    x = x[:, :, ::stride, ::stride]  # (B, C, ceil(H/s), ceil(W/s))
    return F.pad(x, (0, 0, 0, 0, 0, out_c - x.shape[1]))


def _params(m: nn.Module | None) -> int:
    return 0 if m is None else sum(p.numel() for p in m.parameters())


@dataclass
class TensorStats:
    shape: tuple[int, ...]  # (C, H, W) of the first image
    norm: float  # L2 norm over the first image
    zero_channels: int  # channels that are exactly 0 everywhere
    zero_share: float  # zero_channels / C


def stats(t: Tensor) -> TensorStats:
    t = t[0].detach().float()  # (C, H, W)
    zero = int((t.flatten(1).abs().amax(1) == 0).sum())
    return TensorStats(tuple(t.shape), float(t.norm()), zero, zero / t.shape[0])


@dataclass
class ShortcutOptions:
    """What options A and B make of one block's input, and what each costs."""

    block: str
    x: TensorStats  # the block's input
    fx: TensorStats  # the residual branch F(x) (bn2's output), which the shortcut must match
    a: TensorStats
    b: TensorStats
    a_tensor: Tensor  # (B, out_c, H', W')
    b_tensor: Tensor
    params_a: int  # 0
    params_b_conv: int  # out_c * in_c (1x1, no bias)
    params_b_bn: int  # 2 * out_c (BN scale and shift; running mean/var are buffers)
    b_reads_only_strided_pixels: bool  # the 1x1 stride-2 conv ignores the same 3/4 of positions A drops
    out_a: TensorStats  # relu(F(x) + A(x))
    out_b: TensorStats  # relu(F(x) + B(x)): the network's own output


@torch.no_grad()
def compare_options(model: nn.Module, x: Tensor, block: str = "layer2.0") -> ShortcutOptions:
    """Options A and B on x, the input of `block` (a block with a projection shortcut), e.g. (1, 64, 56, 56)."""
    blocks = dict(iter_any_blocks(model))
    if block not in blocks:
        raise ValueError(f"Unknown block {block!r}.")
    b = blocks[block]
    if b.downsample is None:
        raise ValueError(f"{block} keeps the shape; options A and B only differ where it changes.")
    conv, bn = b.downsample[0], b.downsample[1]
    stride = conv.stride[0]
    fx = x
    for i, (_, c, n) in enumerate(block_convs(b)):
        fx = n(c(fx))
        if i < len(block_convs(b)) - 1:
            fx = F.relu(fx)  # (B, out_c, H', W') after the last BN
    a = option_a(x, conv.out_channels, stride)
    proj = b.downsample(x)
    # Zero every pixel the stride skips: if the projection does not change, it never read them.
    kept = torch.zeros_like(x)
    kept[:, :, ::stride, ::stride] = x[:, :, ::stride, ::stride]
    same = bool(torch.equal(b.downsample(kept), proj))
    return ShortcutOptions(block, stats(x), stats(fx), stats(a), stats(proj), a, proj, 0, _params(conv),
                           _params(bn), same, stats(F.relu(fx + a)), stats(F.relu(fx + proj)))


@dataclass(frozen=True)
class OptionCosts:
    """Shortcut parameters over the whole network for options A, B and C (C: a 1x1 conv + BN on every block)."""

    blocks: int
    projections_b: int  # blocks whose shape changes
    params_a: int
    params_b: int  # torchvision's downsample modules, conv + BN
    params_c: int  # B plus a 1x1 conv + BN on every other block
    extra_c: int  # params_c - params_b
    extra_c_conv: int  # of which 1x1 conv weights
    model_params: int  # the whole network with option B (torchvision's)


def option_costs(model: nn.Module) -> OptionCosts:
    """Count what each option would cost on this model, block by block."""
    b_params = extra_conv = extra_bn = n_proj = n = 0
    for _, blk in iter_any_blocks(model):
        n += 1
        if blk.downsample is not None:
            n_proj += 1
            b_params += _params(blk.downsample)
            continue
        c_in = block_convs(blk)[0][1].in_channels
        c_out = block_convs(blk)[-1][1].out_channels
        extra_conv += c_in * c_out
        extra_bn += 2 * c_out
    return OptionCosts(n, n_proj, 0, b_params, b_params + extra_conv + extra_bn, extra_conv + extra_bn,
                       extra_conv, _params(model))


@dataclass(frozen=True)
class MainPathStart:
    """How a block's main path and its shortcut begin, read off the modules."""

    block: str
    kind: str  # BasicBlock or Bottleneck
    main_first_kernel: int
    main_first_stride: int
    main_kernels: tuple[int, ...]
    main_strides: tuple[int, ...]
    shortcut_kernel: int  # 0: identity
    shortcut_stride: int

    @property
    def main_starts_with_1x1(self) -> bool:
        return self.main_first_kernel == 1


def main_path_start(model: nn.Module, block: str = "layer2.0") -> MainPathStart:
    """For ResNet-18's layer2.0: the main path opens with a 3x3 stride-2 conv; only the shortcut has the 1x1.
    For a Bottleneck (ResNet-50) the main path does open with a 1x1 conv."""
    blocks = dict(iter_any_blocks(model))
    if block not in blocks:
        raise ValueError(f"Unknown block {block!r}.")
    b = blocks[block]
    convs = [c for _, c, _ in block_convs(b)]
    ds = b.downsample[0] if b.downsample is not None else None
    return MainPathStart(block, type(b).__name__, convs[0].kernel_size[0], convs[0].stride[0],
                         tuple(c.kernel_size[0] for c in convs), tuple(c.stride[0] for c in convs),
                         ds.kernel_size[0] if ds is not None else 0, ds.stride[0] if ds is not None else 1)


def block_input(layers: dict[str, Tensor], block: str, names: list[str]) -> Tensor:
    """The input of `block` from a forward.trace's layers: the previous block's output, or maxpool's."""
    i = names.index(block)
    return layers["maxpool"] if i == 0 else layers[names[i - 1]]


def channel_norms(t: Tensor) -> list[float]:
    """L2 norm of each channel of the first image of t (B, C, H, W): what a per-channel bar chart shows."""
    return t[0].detach().float().flatten(1).norm(dim=1).tolist()
