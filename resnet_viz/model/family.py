"""The ResNet family (He et al. 2015, Table 1) computed from torchvision's own builders: stages, blocks,
parameters, multiply-adds, and which layers the "18" in ResNet-18 counts."""

# Models are built on the meta device (no weights, no memory, no download): every number here comes from the
# modules' hyper-parameters and parameter shapes, through architecture.layer_table.

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn
from torchvision import models
from torchvision.models.resnet import Bottleneck

from resnet_viz.model.architecture import STAGES, Table, block_convs, iter_any_blocks, layer_table

ARCHS: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
# The paper's Table 1 names each stage by its output; torchvision names the modules. Table 1 lists the 3x3 max
# pool at the top of conv2_x, so the paper's conv1 ends at 112x112 (for 224) and conv2_x holds maxpool + layer1.
PAPER_STAGES: dict[str, str] = {"stem": "conv1", "layer1": "conv2_x", "layer2": "conv3_x",
                                "layer3": "conv4_x", "layer4": "conv5_x", "head": "avg pool, fc"}
TORCHVISION_STAGES: dict[str, str] = {"stem": "conv1, bn1, relu", "layer1": "maxpool, layer1",
                                      "layer2": "layer2", "layer3": "layer3", "layer4": "layer4",
                                      "head": "avgpool, fc"}


def check_arch(arch: str) -> str:
    if arch not in ARCHS:
        raise ValueError(f"Unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}.")
    return arch


def build(arch: str, num_classes: int = 1000, device: str | torch.device = "meta") -> nn.Module:
    """torchvision's builder with weights=None: on 'meta' it allocates nothing (numbers only); on 'cpu' it runs."""
    with torch.device(device):
        return getattr(models, check_arch(arch))(weights=None, num_classes=num_classes)


@lru_cache(maxsize=8)
def _meta_model(arch: str, num_classes: int) -> nn.Module:
    return build(arch, num_classes)


@dataclass(frozen=True)
class ConvSpec:
    """One conv of a block's main path (or of its projection shortcut)."""

    name: str  # torchvision's: conv1, conv2, conv3, downsample.0
    kernel: int
    stride: int
    in_c: int
    out_c: int
    params: int


@dataclass(frozen=True)
class BlockSpec:
    """One block's anatomy, read off the module."""

    name: str  # layer2.0
    kind: str  # BasicBlock or Bottleneck
    convs: tuple[ConvSpec, ...]
    shortcut: ConvSpec | None  # the downsample projection, None for the identity
    expansion: int  # output channels / the block's width (1 or 4)
    params: int

    @property
    def stride(self) -> int:
        return max(c.stride for c in self.convs)

    @property
    def strided_conv(self) -> str:
        """Which main-path conv carries the stride (torchvision puts it on the 3x3 conv, 'ResNet v1.5')."""
        return next((c.name for c in self.convs if c.stride > 1), "")


@dataclass(frozen=True)
class Stage:
    """One row of Table 1: the paper's name next to torchvision's, and what the stage holds."""

    key: str  # stem, layer1..layer4, head
    paper: str  # conv1, conv2_x .. conv5_x, "avg pool, fc"
    torchvision: str
    out_c: int
    out_h: int
    out_w: int
    blocks: int  # 0 for stem and head
    block_kind: str  # "" for stem and head
    convs: tuple[tuple[int, int], ...]  # per block, (kernel, out channels) of each main-path conv
    params: int
    macs: int


@dataclass(frozen=True)
class DepthCount:
    """Which layers make the depth in a ResNet's name, and which do not, counted on the model."""

    stem_convs: int  # 1
    block_convs: int  # 2 per BasicBlock, 3 per Bottleneck
    fc: int  # 1
    blocks: int
    convs_per_block: int
    projections: int  # downsample 1x1 convs: weight layers, but off the main path, not counted
    projection_params: int
    batchnorms: int
    pools: int  # maxpool + avgpool
    relus: int  # ReLU applications in a forward pass

    @property
    def depth(self) -> int:
        return self.stem_convs + self.block_convs + self.fc


@dataclass(frozen=True)
class Family:
    """Everything the family view needs for one architecture and input size."""

    arch: str
    in_h: int
    in_w: int
    num_classes: int
    stages: tuple[Stage, ...]
    blocks: tuple[BlockSpec, ...]
    depth: DepthCount
    params: int
    macs: int
    table: Table


def _conv_spec(name: str, m: nn.Conv2d) -> ConvSpec:
    return ConvSpec(name, m.kernel_size[0], m.stride[0], m.in_channels, m.out_channels,
                    sum(p.numel() for p in m.parameters()))


def block_specs(model: nn.Module) -> list[BlockSpec]:
    """The anatomy of every block, in forward order."""
    out = []
    for name, b in iter_any_blocks(model):
        convs = tuple(_conv_spec(n, c) for n, c, _ in block_convs(b))
        short = _conv_spec("downsample.0", b.downsample[0]) if b.downsample is not None else None
        out.append(BlockSpec(name, type(b).__name__, convs, short, convs[-1].out_c // convs[0].out_c,
                             sum(p.numel() for p in b.parameters())))
    return out


def depth_count(model: nn.Module) -> DepthCount:
    """Count the weight layers on the main path (the name's depth) and what the name leaves out."""
    specs = block_specs(model)
    per_block = {len(s.convs) for s in specs}
    if len(per_block) != 1:
        raise ValueError("Blocks of mixed kinds: no single depth rule applies.")
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    n_pool = sum(isinstance(m, (nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AvgPool2d)) for m in model.modules())
    # One ReLU after the stem, one after each main-path conv but the last, one after each block's sum.
    relus = 1 + sum(len(s.convs) for s in specs)
    return DepthCount(
        stem_convs=1, block_convs=sum(len(s.convs) for s in specs),
        fc=sum(isinstance(m, nn.Linear) for m in model.modules()), blocks=len(specs),
        convs_per_block=per_block.pop(), projections=sum(s.shortcut is not None for s in specs),
        projection_params=sum(s.shortcut.params for s in specs if s.shortcut is not None)
        + sum(sum(p.numel() for p in b.downsample[1].parameters())
              for _, b in iter_any_blocks(model) if b.downsample is not None),
        batchnorms=n_bn, pools=n_pool, relus=relus)


def stages(model: nn.Module, table: Table) -> list[Stage]:
    """Table 1's rows for this model and input size."""
    specs = block_specs(model)
    out = []
    for key in ("stem", *STAGES, "head"):
        if key == "stem":
            rows = [table.row(n) for n in ("conv1", "bn1", "relu")]
        elif key == "head":
            rows = [table.row("avgpool"), table.row("fc")]
        else:
            rows = [table.row("maxpool")] if key == "layer1" else []
            rows += [r for r in table.rows if r.name.startswith(key + ".")]
        main = [r for r in rows if r.path == "main"]
        last = main[-1]
        in_stage = [s for s in specs if s.name.startswith(key + ".")]
        convs = tuple((c.kernel, c.out_c) for c in in_stage[0].convs) if in_stage else ()
        if key == "stem":
            convs = ((model.conv1.kernel_size[0], model.conv1.out_channels),)
        out.append(Stage(key, PAPER_STAGES[key], TORCHVISION_STAGES[key], last.out_c, last.out_h, last.out_w,
                         len(in_stage), in_stage[0].kind if in_stage else "", convs,
                         sum(r.params for r in rows), sum(r.macs for r in rows)))
    return out


@lru_cache(maxsize=32)
def family(arch: str, height: int = 224, width: int | None = None, num_classes: int = 1000) -> Family:
    """The family view of one architecture at one input size (cached: the answer only depends on the args)."""
    model = _meta_model(check_arch(arch), num_classes)
    table = layer_table(model, height, width or height)
    return Family(arch, table.in_h, table.in_w, num_classes, tuple(stages(model, table)),
                  tuple(block_specs(model)), depth_count(model), table.params, table.macs, table)


def compare(height: int = 224, width: int | None = None, num_classes: int = 1000) -> list[dict]:
    """One line per architecture: depth counted, blocks per stage, block kind, parameters, multiply-adds."""
    out = []
    for arch in ARCHS:
        f = family(arch, height, width, num_classes)
        out.append({"arch": arch, "depth": f.depth.depth, "blocks": [s.blocks for s in f.stages[1:-1]],
                    "block": f.blocks[0].kind, "params": f.params, "macs": f.macs})
    return out


@lru_cache(maxsize=8)
def macs_stride_on_first_1x1(arch: str, height: int = 224) -> int:
    """Multiply-adds with every strided Bottleneck's stride on its first 1×1 conv, as in He et al. 2015, instead
    of on its 3×3 conv, where torchvision puts it ("ResNet v1.5"); BasicBlock nets are unchanged. Table 1's
    "FLOPs" (multiply-adds) were counted this way."""
    model = build(arch)  # a fresh meta model: the cached one is never changed
    for m in model.modules():
        if isinstance(m, Bottleneck) and m.conv2.stride != (1, 1):
            m.conv1.stride, m.conv2.stride = m.conv2.stride, (1, 1)
    return layer_table(model, height, height).macs


def is_bottleneck(block: nn.Module) -> bool:
    return isinstance(block, Bottleneck)
