"""ResNet-18's layers as one table of facts (name, kind, channels, stride, reduction, downsampling), like timm's
FeatureInfo; every list of layer names the app uses is a filter over it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BLOCKS_PER_STAGE", "BLOCK_NAMES", "BLOCK_PARTS", "DOWNSAMPLING_BLOCKS", "HEAD_NAMES", "LAYERS",
           "STAGE_NAMES", "STEM_NAMES", "LayerFact", "cam_layers", "fact", "names", "pickable", "resolve"]

BLOCKS_PER_STAGE = 2
# Inside each block, in forward order (a downsampling block also has a `downsample` on its shortcut).
BLOCK_PARTS: tuple[str, ...] = ("conv1", "bn1", "relu", "conv2", "bn2")
_WIDTHS = (64, 128, 256, 512)  # layer1..layer4


@dataclass(frozen=True)
class LayerFact:
    """One named output of torchvision's ResNet-18 (as in print(model)) for a 3×H×W input."""

    name: str
    kind: str  # "stem", "block", "part" (inside a block), "stage" (a stage's output = its last block's), "head"
    channels: int  # output channels (fc: 0, its width is the live head's class count)
    stride: int  # how much this layer itself shrinks the map
    reduction: int  # input side / output side, counted from the image
    downsampling: bool = False  # a block (or part) whose shortcut is a 1×1 stride-2 projection, not the identity


def _table() -> tuple[LayerFact, ...]:
    rows = [LayerFact("conv1", "stem", 64, 2, 2), LayerFact("bn1", "stem", 64, 1, 2),
            LayerFact("relu", "stem", 64, 1, 2), LayerFact("maxpool", "stem", 64, 2, 4)]
    reduction = 4
    for s, width in enumerate(_WIDTHS):
        stage = f"layer{s + 1}"
        for i in range(BLOCKS_PER_STAGE):
            # Both conv1 and downsample downsample the input when stride != 1 (torchvision's resnet.py).
            down = s > 0 and i == 0
            stride = 2 if down else 1
            reduction *= stride
            block = f"{stage}.{i}"
            rows.append(LayerFact(block, "block", width, stride, reduction, down))
            for part in BLOCK_PARTS:
                part_stride = stride if part == "conv1" else 1
                rows.append(LayerFact(f"{block}.{part}", "part", width, part_stride, reduction, down))
            if down:
                rows.append(LayerFact(f"{block}.downsample", "part", width, 2, reduction, True))
        rows.append(LayerFact(stage, "stage", width, 2 if s > 0 else 1, reduction))
    rows += [LayerFact("avgpool", "head", _WIDTHS[-1], 0, 0), LayerFact("fc", "head", 0, 0, 0)]
    return tuple(rows)


LAYERS: tuple[LayerFact, ...] = _table()
_BY_NAME = {f.name: f for f in LAYERS}


def names(kind: str, downsampling: bool | None = None) -> tuple[str, ...]:
    """Layer names of one kind, in network order; optionally only (non-)downsampling ones."""
    return tuple(f.name for f in LAYERS if f.kind == kind and downsampling in (None, f.downsampling))


STEM_NAMES = names("stem")
STAGE_NAMES = names("stage")
BLOCK_NAMES = names("block")  # layer1.0, layer1.1, layer2.0, ... layer4.1
HEAD_NAMES = names("head")
DOWNSAMPLING_BLOCKS = names("block", downsampling=True)  # layer2.0, layer3.0, layer4.0: where the map halves


def fact(name: str) -> LayerFact:
    """The facts of one layer; KeyError for a name ResNet-18 does not have."""
    return _BY_NAME[name]


def pickable() -> list[str]:
    """Layers a person picks on the feature-map pages, in network order: stem, blocks, then the stage aliases."""
    return [*STEM_NAMES, *BLOCK_NAMES, *STAGE_NAMES]


def resolve(name: str) -> str:
    """A stage alias is its last block (what torchvision's layerN returns); other pickable names map to themselves."""
    if name in STAGE_NAMES:
        return f"{name}.{BLOCKS_PER_STAGE - 1}"
    if name not in (*STEM_NAMES, *BLOCK_NAMES):
        raise ValueError(f"Unknown layer {name!r}; choose one of {', '.join(pickable())}.")
    return name


def cam_layers() -> list[str]:
    """Every traced layer Grad-CAM accepts: the stem, stages, blocks and their parts (the head is not spatial)."""
    return [f.name for f in LAYERS if f.kind != "head"]
