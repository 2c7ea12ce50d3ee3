"""CIFAR-style plain / residual stacks (depth 6n+2, He et al. 2015 §4.2), per-layer gradient norms at
initialisation, and short seeded training runs with a progress callback and an on-disk cache."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.i18n import t

# Bump when the maths behind cached results changes, so old cache files are not replayed.
CACHE_VERSION = 1
SHORTCUTS = ("A", "B")
OPTIMIZERS = ("sgd", "adam")
DATA_SOURCES = ("shapes", "random")
MAX_DEPTH = 218
# Curves shipped with the app, written by `python -m resnet_viz gradflow --degradation --out ...`.
ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "gradflow"


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


@contextmanager
def torch_threads(n: int | None):
    """Run the body with n intra-op CPU threads (None: leave torch's setting), then restore the old count.

    Why: these stacks have 4-64 channels, too small to gain much from threads, and on a busy 2-core CPU
    (a lecture laptop running the app, or a shared machine) two OpenMP threads that wait on each other were
    measured 5-15x slower than one. torch keeps the count per process, so it is restored right after.
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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

    from resnet_viz import shapes

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
        from resnet_viz import shapes

        return len(shapes.CLASSES)
    return 10


def training_batches(settings: TrainSettings, num_classes: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless seeded minibatches drawn from the fixed pool; the same settings give the same batches."""
    x, y = _pool(settings.data, settings.pool_size, settings.image_size, num_classes, settings.seed)
    gen = torch.Generator().manual_seed(settings.seed + 1)
    while True:
        idx = torch.randint(0, x.shape[0], (settings.batch_size,), generator=gen)
        yield x[idx], y[idx]


# ----------------------------------------------------------------------------------------------------------
# Gradient norms at initialisation


@dataclass
class LayerNorms:
    """Per-layer numbers for one network on one batch, at initialisation. Lists follow `layers`."""

    config: StackConfig
    layers: list[str]
    weight_grad: list[float]  # L2 norm of each conv's weight gradient
    output_grad: list[float]  # L2 norm of the loss gradient at each layer's output (after its ReLU)
    activation_std: list[float]  # std of each layer's output on the forward pass
    loss: float

    @property
    def weight_ratio(self) -> float:
        """First conv's weight-gradient norm / last conv's: >> 1 grows toward the input, << 1 vanishes."""
        return _ratio(self.weight_grad[0], self.weight_grad[-1])

    @property
    def output_ratio(self) -> float:
        """Same for the gradient at the layer outputs; not distorted by activation sizes as weight grads are."""
        return _ratio(self.output_grad[0], self.output_grad[-1])


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def layer_norms(cfg: StackConfig, x: torch.Tensor, y: torch.Tensor) -> LayerNorms:
    """One forward + backward of a freshly initialised network (train mode: BatchNorm uses batch statistics).

    Gradients come from torch.autograd.grad on the weights and on the recorded outputs: no hooks, and the
    parameters' .grad stay untouched.
    """
    model = build_stack(cfg).train()
    record: list[torch.Tensor] = []
    loss = F.cross_entropy(model(x, record), y)
    convs = model.main_convs()
    weights = [m.weight for _, m in convs]
    grads = torch.autograd.grad(loss, weights + record)
    w_grads, out_grads = grads[: len(weights)], grads[len(weights):]
    return LayerNorms(
        config=cfg,
        layers=[name for name, _ in convs],
        weight_grad=[float(g.norm()) for g in w_grads],
        output_grad=[float(g.norm()) for g in out_grads],
        activation_std=[float(a.detach().std()) for a in record],
        loss=float(loss.detach()),
    )


def init_batch(batch_size: int = 64, image_size: int = 32, seed: int = 0, data: str = "random",
               num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The one batch for init norms: standard-normal images and random labels by default (seeded)."""
    if batch_size < 2:
        raise ValueError("batch size must be at least 2 (BatchNorm needs a batch)")
    settings = TrainSettings(batch_size=batch_size, image_size=image_size, data=data, seed=seed,
                             pool_size=max(batch_size, 256))
    return next(training_batches(settings, num_classes))


def compare_init(depth: int, batchnorm: bool = True, shortcut: str = "A", zero_init_residual: bool = False,
                 batch_size: int = 64, seed: int = 0, widths: tuple[int, int, int] = (16, 32, 64),
                 variants: tuple[str, ...] = ("plain", "residual"), data: str = "random",
                 image_size: int = 32, threads: int | None = 1) -> dict[str, LayerNorms]:
    """Init norms for plain and/or residual stacks of one depth, on the same batch and the same seed
    (on `threads` CPU threads, see torch_threads)."""
    unknown = set(variants) - {"plain", "residual"}
    if unknown or not variants:
        raise ValueError(f"variants must be 'plain' and/or 'residual'; got {variants}")
    n_classes = num_classes_for(data)
    x, y = init_batch(batch_size, image_size, seed, data, n_classes)
    out = {}
    with torch_threads(threads):
        for variant in variants:
            cfg = StackConfig(depth=depth, residual=variant == "residual", batchnorm=batchnorm, shortcut=shortcut,
                              zero_init_residual=zero_init_residual, widths=widths, num_classes=n_classes,
                              seed=seed)
            out[variant] = layer_norms(cfg, x, y)
    return out


def gradient_correlation(cfg: StackConfig, n_points: int = 32, image_size: int = 32, max_lag: int = 16,
                         threads: int | None = 1) -> list[float]:
    """Shattered gradients (Balduzzi et al. 2017): how alike the input gradients of nearby inputs are.

    Inputs x_i = x0 + (i / n) d on a line (x0, d standard normal), gradient g_i = d(logit 0)/d(x_i) of a freshly
    initialised net. Returns the mean Pearson correlation of g_i with g_(i+k) for lags k = 1..max_lag: near 1
    for a smooth function, near 0 for gradients like white noise. BatchNorm uses the statistics of the n
    points (one pass in training mode), then is frozen, so each point's gradient is its own.
    """
    if n_points < 3 or not 1 <= max_lag < n_points:
        raise ValueError("need at least 3 points and 1 <= max_lag < n_points")
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    x0 = torch.randn(1, 3, image_size, image_size, generator=gen)
    d = torch.randn(1, 3, image_size, image_size, generator=gen)
    t = torch.arange(n_points, dtype=torch.float32).view(-1, 1, 1, 1) / n_points
    x = (x0 + t * d).requires_grad_(True)  # (n, 3, S, S)
    with torch_threads(threads):
        model = build_stack(cfg)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.momentum = None  # cumulative average: after one pass, exactly this batch's statistics
            model.train()(x)
        model.eval()
        (g,) = torch.autograd.grad(model(x)[:, 0].sum(), x)
    g = g.flatten(1)  # (n, 3*S*S)
    g = (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-12)
    corr = (g @ g.T) / (g.shape[1] - 1)  # (n, n) Pearson correlations
    return [float(torch.diagonal(corr, k).mean()) for k in range(1, max_lag + 1)]


def compare_correlation(depth: int, batchnorm: bool = True, shortcut: str = "A", seed: int = 0,
                        widths: tuple[int, int, int] = (16, 32, 64)) -> dict[str, list[float]]:
    """gradient_correlation for the plain and the residual stack of one depth, keyed by their labels."""
    out = {}
    for residual in (False, True):
        cfg = StackConfig(depth=depth, residual=residual, batchnorm=batchnorm, shortcut=shortcut, widths=widths,
                          seed=seed)
        out[cfg.label] = gradient_correlation(cfg)
    return out


# ----------------------------------------------------------------------------------------------------------
# Short training runs


@dataclass
class TrainCurve:
    """One network's run: the training loss (mean over each logging window) and per-layer weight-grad norms."""

    name: str
    config: StackConfig
    layers: list[str]
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    grad_norms: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return self.loss[-1] if self.loss else math.nan


@dataclass
class TrainResult:
    settings: TrainSettings
    curves: dict[str, TrainCurve]
    finished: bool
    from_cache: bool = False
    seconds: float = 0.0
    source: str = "live"  # "live", "cache" or "precomputed"


# progress(curves so far, steps done per net, total steps per net); return True to stop early.
ProgressFn = Callable[[dict[str, TrainCurve], int, int], "bool | None"]


def degradation_configs(shallow: int = 8, deep: int = 32, widths: tuple[int, int, int] = (8, 16, 32),
                        batchnorm: bool = True, shortcut: str = "A", zero_init_residual: bool = False,
                        seed: int = 0, num_classes: int = 10) -> dict[str, StackConfig]:
    """The four nets of the degradation experiment, keyed 'plain-8', 'plain-32', 'residual-8', 'residual-32'."""
    if shallow >= deep:
        raise ValueError(f"the shallow depth ({shallow}) must be below the deep one ({deep})")
    out = {}
    for residual in (False, True):
        for depth in (shallow, deep):
            cfg = StackConfig(depth=depth, residual=residual, batchnorm=batchnorm, shortcut=shortcut,
                              zero_init_residual=zero_init_residual, widths=widths, num_classes=num_classes,
                              seed=seed)
            out[cfg.label] = cfg
    return out


# The degradation run's defaults, chosen by measurement on a shared 2-core CPU. Adam at 16x16 with narrow
# stages learns within 200 steps; with zero_init_residual (tried with Adam and with SGD, lr 0.05-0.1) the shallow
# residual net fell behind the shallow plain one, and SGD learned more slowly. Final losses over seeds 0-4:
# plain-8 1.49-1.66 < plain-32 2.06-2.27, and residual-32 0.87-1.12 < residual-8 1.53-1.77.
# Regenerate the shipped curves with
# `python -m resnet_viz gradflow --degradation --seed S --out assets/gradflow` (S = 0, 1, 2).
DEGRADATION = {"shallow": 8, "deep": 32, "widths": (8, 16, 32), "zero_init_residual": False,
               "settings": {"steps": 200, "batch_size": 32, "lr": 0.002, "optimizer": "adam", "image_size": 16,
                            "log_every": 10}}


def default_degradation(seed: int = 0) -> tuple[dict[str, StackConfig], TrainSettings]:
    """The four nets and the settings the page and the CLI train by default."""
    d = DEGRADATION
    configs = degradation_configs(d["shallow"], d["deep"], d["widths"], zero_init_residual=d["zero_init_residual"],
                                  seed=seed)
    return configs, TrainSettings(seed=seed, **d["settings"])


def _lr_at(step: int, settings: TrainSettings) -> float:
    # Linear warm-up, the paper's remedy for its deepest nets (it used 0.01 until training got going).
    if settings.warmup_steps and step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    return settings.lr


def _optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=settings.lr)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum)


def train_stacks(configs: dict[str, StackConfig], settings: TrainSettings, progress: ProgressFn | None = None,
                 cache: bool = True, replay: bool = True, threads: int | None = 1) -> TrainResult:
    """Train every net on the same seeded batches, round-robin one logging window at a time, so that
    all curves grow together and a stop leaves them at the same step.

    With cache, a finished run is saved on disk and, with replay, a saved (or shipped) one is returned
    instead of training again. Runs on `threads` CPU threads (see torch_threads)."""
    if not configs:
        raise ValueError("no networks to train")
    configs = _with_classes(configs, settings)
    key = cache_key(configs, settings)
    if cache and replay:
        hit = load_cached(key)
        if hit is not None:
            if progress is not None:
                progress(hit.curves, settings.steps, settings.steps)
            return hit
    with torch_threads(threads):
        return _train(configs, settings, progress, key if cache else None)


def _train(configs: dict[str, StackConfig], settings: TrainSettings, progress: ProgressFn | None,
           key: str | None) -> TrainResult:
    t0 = time.perf_counter()
    models = {k: build_stack(c).train() for k, c in configs.items()}
    opts = {k: _optimizer(m, settings) for k, m in models.items()}
    streams = {k: training_batches(settings, c.num_classes) for k, c in configs.items()}
    curves = {k: TrainCurve(k, c, [name for name, _ in models[k].main_convs()]) for k, c in configs.items()}
    done, finished = 0, True
    while done < settings.steps:
        window = min(settings.log_every, settings.steps - done)
        for k, model in models.items():
            t = time.perf_counter()
            _train_window(model, opts[k], streams[k], curves[k], done, window, settings)
            curves[k].seconds += time.perf_counter() - t
        done += window
        if progress is not None and progress(curves, done, settings.steps):
            finished = False
            break
    result = TrainResult(settings, curves, finished, seconds=time.perf_counter() - t0)
    if key is not None and finished:
        save_cached(key, result)
    return result


def _train_window(model: CifarStack, opt: torch.optim.Optimizer, stream: Iterator, curve: TrainCurve,
                  start: int, window: int, settings: TrainSettings) -> None:
    losses = []
    convs = [m for _, m in model.main_convs()]
    for step in range(start, start + window):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, settings)
        x, y = next(stream)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # A diverged net (nan loss) is a result worth showing, not an error.
        losses.append(float(loss.detach()))
    curve.steps.append(start + window)
    curve.loss.append(float(np.mean(losses)))
    curve.grad_norms.append([float(m.weight.grad.norm()) for m in convs])


# ----------------------------------------------------------------------------------------------------------
# Disk cache


def _with_classes(configs: dict[str, StackConfig], settings: TrainSettings) -> dict[str, StackConfig]:
    n_classes = num_classes_for(settings.data)
    return {k: replace(c, num_classes=n_classes) for k, c in configs.items()}


def find_run(configs: dict[str, StackConfig], settings: TrainSettings) -> TrainResult | None:
    """A finished run with exactly these settings, from the disk cache or shipped with the app, else None."""
    return load_cached(cache_key(_with_classes(configs, settings), settings))


def cache_dir() -> Path:
    """RESNET_VIZ_CACHE, else ~/.cache/resnet-viz; gradient-flow runs go in its gradflow/ folder."""
    root = os.environ.get("RESNET_VIZ_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "resnet-viz")
    return Path(root) / "gradflow"


def cache_key(configs: dict[str, StackConfig], settings: TrainSettings) -> str:
    payload = {"v": CACHE_VERSION, "configs": {k: asdict(c) for k, c in sorted(configs.items())},
               "settings": asdict(settings)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def result_to_json(result: TrainResult) -> dict:
    return {"settings": asdict(result.settings), "finished": result.finished, "seconds": result.seconds,
            "curves": {k: asdict(c) for k, c in result.curves.items()}}


def result_from_json(data: dict) -> TrainResult:
    curves = {}
    for k, c in data["curves"].items():
        cfg = StackConfig(**{**c["config"], "widths": tuple(c["config"]["widths"])})
        curves[k] = TrainCurve(name=c["name"], config=cfg, layers=c["layers"], steps=c["steps"], loss=c["loss"],
                               grad_norms=c["grad_norms"], seconds=c["seconds"])
    return TrainResult(TrainSettings(**data["settings"]), curves, data["finished"], seconds=data["seconds"])


def save_cached(key: str, result: TrainResult) -> Path:
    path = cache_dir() / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result_to_json(result)))
    tmp.replace(path)  # atomic, so a concurrent reader never sees half a file
    return path


def load_cached(key: str) -> TrainResult | None:
    """The user's cache first, then the curves shipped in assets/gradflow/ (named by the same key)."""
    for folder, source in ((cache_dir(), "cache"), (ASSET_DIR, "precomputed")):
        path = folder / f"{key}.json"
        if not path.exists():
            continue
        try:
            result = result_from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):
            continue  # a corrupt or stale file is recomputed, not shown
        result.from_cache, result.source = True, source
        return result
    return None


# ----------------------------------------------------------------------------------------------------------
# The real network: ResNet-18's gradient at every conv output


@dataclass
class ResNetGradNorms:
    """‖∂(class logit)/∂(conv output)‖ at ResNet-18's 17 main-path convs, all shortcuts on vs a mask."""

    layers: list[str]
    target: int  # the class whose logit is differentiated: top-1 with all shortcuts on
    all_on: list[float]
    masked: list[float]
    mask: tuple[bool, ...]


def resnet_conv_names() -> list[str]:
    from resnet_viz.config import BLOCK_NAMES

    return ["conv1"] + [f"{b}.{c}" for b in BLOCK_NAMES for c in ("conv1", "conv2")]


def resnet_conv_grad_norms(handle, x: torch.Tensor, mask) -> ResNetGradNorms:
    """Gradient norms at every conv output of the shared model for one image (1, 3, H, W), through the same
    traced forward as every page. torch.autograd.grad on the trace's tensors: no hooks, no requires_grad
    changes on parameters, nothing accumulated in their .grad; all under the handle's lock."""
    from resnet_viz import forward

    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image as a (1, 3, H, W) tensor, got shape {tuple(x.shape)}")
    mask = forward.normalise_mask(mask)
    names = resnet_conv_names()
    # The input (our own copy) requires grad, so a graph exists even if the model's parameters were frozen.
    x = x.detach().to(handle.device).requires_grad_(True)
    with handle.lock, torch.enable_grad():
        full = forward.trace(handle.model, x, forward.ALL_ON, inner=True)
        target = int(full.logits[0].argmax())
        all_on = torch.autograd.grad(full.logits[0, target], [full.layers[n] for n in names])
        cut = forward.trace(handle.model, x, mask, inner=True)
        masked = torch.autograd.grad(cut.logits[0, target], [cut.layers[n] for n in names])
    return ResNetGradNorms(names, target, [float(g.norm()) for g in all_on], [float(g.norm()) for g in masked], mask)


# ----------------------------------------------------------------------------------------------------------
# Plain-language readings of the numbers above (the page shows them next to the figures)


def _times(r: float) -> str:
    return f"{r:,.0f}×" if r >= 100 else f"{r:.2g}×"


def explain_init(norms: dict[str, LayerNorms], lang: str = "en") -> list[str]:
    """One markdown sentence per network saying what its gradient and forward signal do along the depth."""
    lines = []
    for n in norms.values():
        cfg = n.config
        what = t("gf.ex.bn_with" if cfg.batchnorm else "gf.ex.bn_without", lang, label=cfg.label)
        r = n.output_ratio
        if r >= 3:
            grad = t("gf.ex.grad_grows_steep" if r >= 100 else "gf.ex.grad_grows", lang, times=_times(r))
        elif r <= 1 / 3:
            grad = t("gf.ex.grad_fades", lang, times=_times(1 / r))
        else:
            grad = t("gf.ex.grad_keeps", lang, ratio=f"{r:.2g}")
        a0, a1 = n.activation_std[0], n.activation_std[-1]
        std = {"a0": f"{a0:.2g}", "a1": f"{a1:.3g}"}
        if a1 < 0.1 * a0:
            fwd = t("gf.ex.fwd_fades", lang, **std)
        elif a1 > 10 * a0:
            fwd = t("gf.ex.fwd_blows", lang, **std)
        else:
            fwd = t("gf.ex.fwd_keeps", lang, **std)
        line = t("gf.ex.line", lang, what=what, grad=grad, fwd=fwd)
        w = n.weight_ratio
        if 0 < w < math.inf and max(w, r) > 10 * min(w, r):
            line += t("gf.ex.weight_ratio", lang, w=f"{w:.3g}")
        if cfg.residual and cfg.zero_init_residual:
            line += t("gf.ex.zero_init", lang)
        lines.append(line)
    return lines


def chance_loss(settings: TrainSettings) -> float:
    """Cross-entropy of a uniform guess: where an untrained net starts."""
    return math.log(num_classes_for(settings.data))


def degradation_shows(result: TrainResult) -> bool:
    """True when the run shows the paper's pattern: the deep plain net ends above the shallow one, and the
    deep residual net ends at or below the shallow one."""
    final = {k: c.final_loss for k, c in result.curves.items()}
    pairs = {}
    for name, loss in final.items():
        kind, depth = name.rsplit("-", 1)
        pairs.setdefault(kind, []).append((int(depth), loss))
    if set(pairs) != {"plain", "residual"} or any(len(v) != 2 for v in pairs.values()):
        return False
    (_, p_shallow), (_, p_deep) = sorted(pairs["plain"])
    (_, r_shallow), (_, r_deep) = sorted(pairs["residual"])
    return p_deep > p_shallow and r_deep <= r_shallow


def explain_degradation(result: TrainResult, lang: str = "en") -> list[str]:
    """What the final training losses say: did depth hurt the plain nets, and did it hurt the residual ones?"""
    final = {k: c.final_loss for k, c in result.curves.items()}
    groups: dict[str, list[tuple[int, str, float]]] = {}
    for name, loss in final.items():
        kind, depth = name.rsplit("-", 1)
        groups.setdefault(kind, []).append((int(depth), name, loss))
    lines = []
    for kind, items in groups.items():
        if len(items) < 2:
            continue
        (_, s_name, s_loss), (_, d_name, d_loss) = min(items), max(items)
        losses = {"deep": f"{d_name} {d_loss:.2f}", "shallow": f"{s_name} {s_loss:.2f}"}
        if d_loss > s_loss + 0.02:
            verdict = t("gf.ex.deep_worse", lang, **losses)
        elif d_loss < s_loss - 0.02:
            verdict = t("gf.ex.deep_better", lang, **losses)
        else:
            verdict = t("gf.ex.deep_same", lang, **losses)
        name = t("gf.ex.kind_plain", lang) if kind == "plain" else t("gf.ex.kind_residual", lang)
        lines.append(t("gf.ex.verdict", lang, kind=name, verdict=verdict))
    step = max((c.steps[-1] for c in result.curves.values() if c.steps), default=0)
    lines.append(t("gf.ex.loss_note", lang, every=result.settings.log_every, step=step, steps=result.settings.steps,
                   k=num_classes_for(result.settings.data), chance=f"{chance_loss(result.settings):.2f}"))
    return lines
