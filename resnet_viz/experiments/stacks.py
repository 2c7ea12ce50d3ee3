"""CIFAR-style plain / residual stacks (depth 6n+2, He et al. 2015 §4.2), their settings, and the seeded data
they see. Gradient norms live in gradnorms.py, training runs in degradation.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DATA_SOURCES", "MAX_DEPTH", "OPTIMIZERS", "SHORTCUTS", "BasicBlock", "CifarStack", "PadShortcut",
           "StackConfig", "TrainSettings", "build_stack", "conv3x3", "count_params", "num_classes_for",
           "training_batches"]

SHORTCUTS = ("A", "B")
OPTIMIZERS = ("sgd", "adam")
DATA_SOURCES = ("shapes", "random")
MAX_DEPTH = 218

# ----------------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class StackConfig:
    """One CIFAR-style network. depth = 6n + 2: a stem conv, 3 stages of n two-conv blocks, and the fc layer.

    zero_init_residual zeroes each residual branch's last BatchNorm scale (its last conv when BatchNorm is
    off), so every block starts as the identity; it has no effect on plain stacks, where it would cut the
    signal instead.
    """

    depth: int = 20
    residual: bool = True
    batchnorm: bool = True
    shortcut: str = "A"
    zero_init_residual: bool = False
    widths: tuple[int, int, int] = (16, 32, 64)
    num_classes: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if self.depth < 8 or (self.depth - 2) % 6 != 0 or self.depth > MAX_DEPTH:
            raise ValueError(
                f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110 ...) and at most {MAX_DEPTH}; "
                f"got {self.depth}"
            )
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be 'A' (zero-padding) or 'B' (1x1 projection); got {self.shortcut!r}")
        if len(self.widths) != 3 or any(int(w) < 1 for w in self.widths):
            raise ValueError(f"widths must be three positive channel counts; got {self.widths}")
        if self.shortcut == "A" and any(b < a for a, b in zip(self.widths, self.widths[1:], strict=False)):
            raise ValueError("zero-padding shortcuts (option A) need non-decreasing widths")
        if self.num_classes < 2:
            raise ValueError("num_classes must be at least 2")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    @property
    def blocks_per_stage(self) -> int:
        return (self.depth - 2) // 6

    @property
    def label(self) -> str:
        kind = "residual" if self.residual else "plain"
        return f"{kind}-{self.depth}"


@dataclass(frozen=True)
class TrainSettings:
    """A short training run. Every network in one run sees the same batches in the same order."""

    steps: int = 150
    batch_size: int = 32
    lr: float = 0.02
    optimizer: str = "sgd"
    momentum: float = 0.9
    warmup_steps: int = 0
    image_size: int = 32
    log_every: int = 10
    data: str = "shapes"
    # The training set is a fixed pool: degradation is about *training* loss, so the nets must revisit it.
    pool_size: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.log_every < 1:
            raise ValueError("steps, batch_size and log_every must be positive")
        if not (0 < self.lr < 10):
            raise ValueError(f"learning rate must be in (0, 10); got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {self.optimizer!r}")
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data must be one of {DATA_SOURCES}; got {self.data!r}")
        if self.image_size < 8:
            raise ValueError("image_size must be at least 8 (three stages halve it twice)")



# ----------------------------------------------------------------------------------------------------------
# The networks (names follow torchvision's resnet.py: conv1, bn1, layerK.i.conv1/.bn1/.conv2/.bn2/.downsample)


def conv3x3(in_planes: int, planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)


def _norm(planes: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(planes) if batchnorm else nn.Identity()


class PadShortcut(nn.Module):
    """Option A: subsample by the stride and append zero channels. No parameters."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (B, C_out, H/s, W/s)


class BasicBlock(nn.Module):
    """Two 3x3 convs; with residual=True the input is added back before the last ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int, cfg: StackConfig) -> None:
        super().__init__()
        self.residual = cfg.residual
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = _norm(planes, cfg.batchnorm)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = _norm(planes, cfg.batchnorm)
        self.downsample: nn.Module | None = None
        # Only the shortcut must change shape when the stage does (stride 2, more channels).
        if cfg.residual and (stride != 1 or in_planes != planes):
            if cfg.shortcut == "A":
                self.downsample = PadShortcut(in_planes, planes, stride)
            else:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                    _norm(planes, cfg.batchnorm),
                )

    def forward(self, x: torch.Tensor, record: list[torch.Tensor] | None = None) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        if record is not None:
            record.append(out)
        out = self.bn2(self.conv2(out))
        if self.residual:
            identity = x if self.downsample is None else self.downsample(x)
            out = out + identity
        out = self.relu(out)
        if record is not None:
            record.append(out)
        return out


class CifarStack(nn.Module):
    """stem conv -> layer1..layer3 (n blocks each, widths w1/w2/w3, stride 1/2/2) -> global avg pool -> fc."""

    def __init__(self, cfg: StackConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w1, w2, w3 = cfg.widths
        n = cfg.blocks_per_stage
        self.conv1 = conv3x3(3, w1)
        self.bn1 = _norm(w1, cfg.batchnorm)
        self.relu = nn.ReLU()
        self.layer1 = self._stage(w1, w1, n, 1, cfg)
        self.layer2 = self._stage(w1, w2, n, 2, cfg)
        self.layer3 = self._stage(w2, w3, n, 2, cfg)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w3, cfg.num_classes)

    @staticmethod
    def _stage(in_planes: int, planes: int, n: int, stride: int, cfg: StackConfig) -> nn.Sequential:
        blocks = [BasicBlock(in_planes, planes, stride, cfg)]
        blocks += [BasicBlock(planes, planes, 1, cfg) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, record: list[torch.Tensor] | None = None) -> torch.Tensor:
        """record, if given, receives each conv layer's output after its ReLU (6n+1 tensors, in order)."""
        out = self.relu(self.bn1(self.conv1(x)))  # (B, w1, H, W)
        if record is not None:
            record.append(out)
        for stage in (self.layer1, self.layer2, self.layer3):
            for block in stage:
                out = block(out, record)
        out = torch.flatten(self.avgpool(out), 1)  # (B, w3)
        return self.fc(out)  # (B, classes)

    def main_convs(self) -> list[tuple[str, nn.Conv2d]]:
        """The 6n+1 convs on the main path, in forward order (option-B projections are not on it)."""
        return [(name, m) for name, m in self.named_modules()
                if isinstance(m, nn.Conv2d) and "downsample" not in name]


def build_stack(cfg: StackConfig) -> CifarStack:
    """A seeded, deterministic network: He init for convs in its forward form, std = sqrt(2 / (k*k*C_in))
    (He et al. 2015, "Delving deep", eq. 10; torchvision's resnet.py uses the fan-out form instead).
    """
    # Built on the meta device, so module constructors draw nothing from the global RNG; every tensor
    # is then initialised below from a private generator (thread-safe and independent of other code).
    with torch.device("meta"):
        model = CifarStack(cfg)
    model = model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()  # scale 1, shift 0, running mean 0 / var 1
            elif isinstance(m, nn.Linear):
                # PyTorch's default Linear init, but drawn from our generator.
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
                bound = 1 / math.sqrt(m.in_features)
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
        if cfg.zero_init_residual and cfg.residual:
            for m in model.modules():
                if isinstance(m, BasicBlock):
                    # Zeroing the branch's last scale makes F(x) = 0, so the block starts as relu(x + 0).
                    last = m.bn2 if cfg.batchnorm else m.conv2
                    last.weight.zero_()
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------------------
# Data


@lru_cache(maxsize=8)
def _pool(data: str, pool_size: int, image_size: int, num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed training set: (N, 3, S, S) images standardised per channel, and (N,) labels."""
    if data == "shapes":
        x, y = _shapes_pool(pool_size, image_size, seed)
    else:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(pool_size, 3, image_size, image_size, generator=gen)
        y = torch.randint(0, num_classes, (pool_size,), generator=gen)
    x = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / (x.std(dim=(0, 2, 3), keepdim=True) + 1e-6)
    return x.contiguous(), y


def _shapes_pool(pool_size: int, image_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shapes samples drawn at the data set's smallest canvas, then resized: its objects have a fixed pixel
    size, so small inputs such as 32x32 are made by downscaling, not by drawing on a smaller canvas."""
    from PIL import Image

    from resnet_viz.data import shapes

    canvas = max(image_size, shapes.MIN_SIZE)
    images, labels = [], []
    for i in range(pool_size):
        # Stream id 6 (this issue) keeps these seeds apart from the training and held-out streams.
        image, label, _mask = shapes.make_sample((seed, 6, i), canvas)
        if canvas != image_size:
            image = image.resize((image_size, image_size), Image.BILINEAR, reducing_gap=None)
        images.append(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
        labels.append(int(label))
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # (N, 3, S, S)
    return x, torch.tensor(labels, dtype=torch.long)


def num_classes_for(data: str) -> int:
    if data == "shapes":
        from resnet_viz.data import shapes

        return len(shapes.CLASSES)
    return 10


def training_batches(settings: TrainSettings, num_classes: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless seeded minibatches drawn from the fixed pool; the same settings give the same batches."""
    x, y = _pool(settings.data, settings.pool_size, settings.image_size, num_classes, settings.seed)
    gen = torch.Generator().manual_seed(settings.seed + 1)
    while True:
        idx = torch.randint(0, x.shape[0], (settings.batch_size,), generator=gen)
        yield x[idx], y[idx]

