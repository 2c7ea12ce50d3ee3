"""A torchvision ResNet's per-layer table for any input size: shape, parameters, multiply-adds, receptive field."""

# Worked out with the conv output-size formula, module by module, from the model's own hyper-parameters
# (no forward pass): out = floor((in + 2*padding - kernel) / stride) + 1.

from __future__ import annotations

from dataclasses import dataclass, replace

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

STAGES: tuple[str, ...] = ("layer1", "layer2", "layer3", "layer4")


@dataclass(frozen=True)
class Row:
    """One line of the table. `rf` is the receptive field side in input pixels, `jump` its stride there."""

    name: str
    kind: str
    kernel: int
    stride: int
    padding: int
    out_c: int
    out_h: int
    out_w: int
    params: int
    macs: int
    rf: int
    jump: int
    path: str = "main"  # "shortcut" for downsample rows, which sit beside the main path

    @property
    def shape(self) -> str:
        return f"{self.out_c}x{self.out_h}x{self.out_w}"


@dataclass(frozen=True)
class Table:
    """The rows plus totals for one input size."""

    in_h: int
    in_w: int
    rows: tuple[Row, ...]

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def compact(self) -> list[Row]:
        """Stem, blocks and head only; each block row carries the parameters and multiply-adds inside it."""
        out = []
        for r in self.rows:
            if r.name.count(".") >= 2:
                continue
            if r.name.count(".") == 1:
                inner = [i for i in self.rows if i.name.startswith(r.name + ".")]
                r = replace(r, params=sum(i.params for i in inner), macs=sum(i.macs for i in inner))
            out.append(r)
        return out


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """The conv/pool output-size formula: floor((in + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def formula_text(size: int, kernel: int, stride: int, padding: int) -> str:
    """The formula worked through for one layer, e.g. 'floor((224 + 2*3 - 7) / 2) + 1 = 112'."""
    return (f"floor(({size} + 2*{padding} - {kernel}) / {stride}) + 1 = "
            f"floor({size + 2 * padding - kernel} / {stride}) + 1 = {out_size(size, kernel, stride, padding)}")


def _pair(v) -> int:
    # torchvision's ResNets use square kernels, strides and paddings everywhere.
    return v[0] if isinstance(v, tuple) else v


class _Walker:
    """Carries (C, H, W, receptive field, jump) along the main path and writes rows."""

    def __init__(self, h: int, w: int) -> None:
        self.c, self.h, self.w, self.rf, self.jump = 3, h, w, 1, 1
        self.rows: list[Row] = []

    def spatial(self, name: str, kind: str, k: int, s: int, p: int, out_c: int, params: int,
                macs_per_out: int, path: str = "main", state=None) -> tuple:
        _, h, w, rf, jump = state or (self.c, self.h, self.w, self.rf, self.jump)
        oh, ow = out_size(h, k, s, p), out_size(w, k, s, p)
        if oh < 1 or ow < 1:
            raise ValueError(f"The input is too small: {name} would output {oh}x{ow}.")
        rf, jump = rf + (k - 1) * jump, jump * s
        self.rows.append(Row(name, kind, k, s, p, out_c, oh, ow, params, macs_per_out * oh * ow, rf, jump, path))
        return out_c, oh, ow, rf, jump

    def conv(self, name: str, m: nn.Conv2d, path: str = "main", state=None) -> tuple:
        k, s, p = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
        macs = m.out_channels * (m.in_channels // m.groups) * k * k
        params = sum(t.numel() for t in m.parameters())
        return self.spatial(name, "Conv2d", k, s, p, m.out_channels, params, macs, path, state)

    def same(self, name: str, kind: str, m: nn.Module, path: str = "main", state=None) -> tuple:
        params = sum(t.numel() for t in m.parameters())
        result = self.spatial(name, kind, 1, 1, 0, (state or (self.c,))[0], params, 0, path, state)
        # Shape-keeping layers have no kernel to speak of; 0 marks "not applicable" in the table.
        self.rows[-1] = replace(self.rows[-1], kernel=0, stride=1, padding=0)
        return result

    def advance(self, state: tuple) -> None:
        self.c, self.h, self.w, self.rf, self.jump = state


def iter_any_blocks(model: nn.Module):
    """Yield (name, block) for every BasicBlock or Bottleneck, layer1.0 ... layer4.N-1, in order."""
    for stage in STAGES:
        for i, block in enumerate(getattr(model, stage)):
            if not isinstance(block, (BasicBlock, Bottleneck)):
                raise TypeError(f"{stage}.{i} is a {type(block).__name__}, not a torchvision ResNet block.")
            yield f"{stage}.{i}", block


def block_convs(block: nn.Module) -> list[tuple[str, nn.Conv2d, nn.BatchNorm2d]]:
    """The main path's (name, conv, bn) in order: conv1, conv2 for a BasicBlock; conv1..conv3 for a Bottleneck."""
    n = 3 if isinstance(block, Bottleneck) else 2
    return [(f"conv{i}", getattr(block, f"conv{i}"), getattr(block, f"bn{i}")) for i in range(1, n + 1)]


def layer_table(model: nn.Module, height: int = 224, width: int | None = None) -> Table:
    """Every layer of a torchvision ResNet (18/34/50/101/152) for a 3 x height x width input, in forward order."""
    width = width or height
    if min(height, width) < 32:
        # Same floor as the traced forward: below 32 px layer4's map would be under 1x1 before padding.
        raise ValueError(f"Input sides must be at least 32 px, got {height}x{width}.")
    w = _Walker(height, width)
    w.advance(w.conv("conv1", model.conv1))
    w.advance(w.same("bn1", "BatchNorm2d", model.bn1))
    w.advance(w.same("relu", "ReLU", model.relu))
    mp = model.maxpool
    w.advance(w.spatial("maxpool", "MaxPool2d", _pair(mp.kernel_size), _pair(mp.stride), _pair(mp.padding),
                        w.c, 0, 0))
    for name, block in iter_any_blocks(model):
        block_in = (w.c, w.h, w.w, w.rf, w.jump)
        convs = block_convs(block)
        for i, (conv_name, conv, bn) in enumerate(convs, start=1):
            w.advance(w.conv(f"{name}.{conv_name}", conv))
            w.advance(w.same(f"{name}.bn{i}", "BatchNorm2d", bn))
            if i < len(convs):
                w.advance(w.same(f"{name}.relu" + ("" if i == 1 else f"{i}"), "ReLU", block.relu))
        if block.downsample is not None:
            # Both the strided conv and downsample halve the size when stride != 1; the shortcut's 1x1 conv
            # sees a smaller window, so the block's receptive field is the main path's.
            short = w.conv(f"{name}.downsample.0", block.downsample[0], "shortcut", block_in)
            w.same(f"{name}.downsample.1", "BatchNorm2d", block.downsample[1], "shortcut", short)
        kind = type(block).__name__
        w.rows.append(Row(name, f"{kind} (+ shortcut, ReLU)", 0, 1, 0, w.c, w.h, w.w, 0, 0, w.rf, w.jump))
    w.rows.append(Row("avgpool", "AdaptiveAvgPool2d", 0, 1, 0, w.c, 1, 1, 0, 0, w.rf, w.jump))
    fc = model.fc
    w.rows.append(Row("fc", "Linear", 0, 1, 0, fc.out_features, 1, 1, sum(t.numel() for t in fc.parameters()),
                      fc.in_features * fc.out_features, w.rf, w.jump))
    return Table(height, width, tuple(w.rows))


def stage_summary(table: Table) -> list[dict]:
    """Per stage (stem, layer1..4, head): output shape, parameters and their share, multiply-adds."""
    groups = {"stem": ("conv1", "bn1", "relu", "maxpool"), "head": ("avgpool", "fc")}
    order = ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    total = table.params
    out = []
    for stage in order:
        rows = [r for r in table.rows
                if (r.name in groups[stage] if stage in groups else r.name.startswith(stage + "."))]
        last = [r for r in rows if r.path == "main"][-1]
        params = sum(r.params for r in rows)
        out.append({"stage": stage, "out_c": last.out_c, "out_h": last.out_h, "out_w": last.out_w,
                    "params": params, "share": params / total, "macs": sum(r.macs for r in rows),
                    "rf": last.rf})
    return out


def block_summary(model: nn.Module) -> list[dict]:
    """Every block: in/out channels, stride, and whether the shortcut is a 1x1 projection."""
    out = []
    for name, b in iter_any_blocks(model):
        convs = [c for _, c, _ in block_convs(b)]
        out.append({"block": name, "in_c": convs[0].in_channels, "out_c": convs[-1].out_channels,
                    "stride": max(_pair(c.stride) for c in convs), "projection": b.downsample is not None})
    return out


def parse_size(text: str) -> tuple[int, int]:
    """'224' -> (224, 224); '320x240' -> (240, 320) as (height, width), width first like screen sizes."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"Size {text!r} is not a number or WIDTHxHEIGHT.") from None
    if len(nums) == 1:
        return nums[0], nums[0]
    if len(nums) == 2:
        return nums[1], nums[0]
    raise ValueError(f"Size {text!r} is not a number or WIDTHxHEIGHT.")


def worked_steps(table: Table) -> list[dict]:
    """The formula worked through for every layer that changes the size, plus one that keeps it."""
    out = []
    prev = {"main": (table.in_h, table.in_w)}
    for r in table.rows:
        if r.kernel == 0:
            continue
        # A shortcut conv reads the block's input, which is what the main path had before the block.
        h, w = prev.get(r.name.rsplit(".", 2)[0], prev["main"]) if r.path == "shortcut" else prev["main"]
        if r.path == "main" and r.name.endswith(".conv1"):
            prev[r.name.rsplit(".", 1)[0]] = prev["main"]
        # Stride-1 3x3 convs with padding 1 keep the size; one of them is shown as the example.
        if r.stride > 1 or r.name == "layer1.0.conv1":
            out.append({"layer": r.name, "kernel / stride / padding": f"{r.kernel} / {r.stride} / {r.padding}",
                        "height": formula_text(h, r.kernel, r.stride, r.padding),
                        "width": formula_text(w, r.kernel, r.stride, r.padding)})
        if r.path == "main":
            prev["main"] = (r.out_h, r.out_w)
    return out
