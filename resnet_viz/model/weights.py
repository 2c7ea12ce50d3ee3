"""Where the weights come from (imagenet > shapes > random, or a user's .pth) -> one shared model handle."""

# The handle owns the model and the lock that every computation on it holds; nothing per request is
# ever written on the model.

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import ResNet18_Weights
from torchvision.transforms._presets import ImageClassification

from resnet_viz import ASSETS
from resnet_viz.inputs.checkpoint import check_state_dict, new_resnet18, read_checkpoint
from resnet_viz.model import fallback, hub
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.device import pick_device
from resnet_viz.model.forward import Trace, trace
from resnet_viz.text.errors import Reason, WeightsError

SHAPES_CHECKPOINT = ASSETS / "shapes" / "resnet18_shapes.pth"
SHAPES_META = ASSETS / "shapes" / "resnet18_shapes.json"
IMAGENET = ResNet18_Weights.IMAGENET1K_V1
CPU = torch.device("cpu")


@dataclass
class ModelHandle:
    """One loaded, shared model with everything needed to feed it and name its outputs."""

    model: nn.Module
    source: str
    labels: list[str]
    preprocess: Callable  # PIL image -> (3, H, W) normalised tensor
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_size: int  # the square the model sees: the preset's crop_size
    resize_size: int  # the shorter side before that crop: the preset's resize_size
    device: torch.device
    live: Reason  # why this source is the live one
    auto: bool = False  # picked by "auto"
    skipped: dict[str, Reason] = field(default_factory=dict)  # source -> why "auto" did not use it
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # A short content digest of the weights, computed once here: caches key results by it, never by id(handle),
    # which a new handle can reuse after the old one is evicted.
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        self.digest = weights_digest(self.model)

    @property
    def why_live(self) -> Reason:
        """Why this source is live, as a key and params (auto's choice says so); .text(lang) or str() for words."""
        return Reason("weights.reason.auto", {"reason": self.live}) if self.auto else self.live

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def trace(self, x: Tensor, mask: Sequence[bool] | None = None, branches: Sequence[bool] | None = None,
              grad: bool = False) -> Trace:
        """Traced forward on this model, under its lock, on its device (the CPU if the GPU runs out of memory)."""
        def forward(model: nn.Module, device: torch.device) -> Trace:
            with torch.set_grad_enabled(grad):
                return trace(model, x.to(device), mask, branches)

        result, note = fallback.run(self.model, self.device, self.lock, forward)
        result.note = note
        return result

    @property
    def description(self) -> Reason:
        """What these weights are and where they run, as a key and params."""
        return Reason("weights.describe", {"weights": Reason(SOURCE_TABLE[self.source].desc_key),
                                           "device": self.device.type})


def weights_digest(model: nn.Module, length: int = 16) -> str:
    """sha256 over the state dict's names, dtypes, shapes and bytes, in order, and which parameters require grad;
    the first `length` hex digits. The model's identity in every cache key, and the proof a request wrote
    nothing to the shared model (equal before and after).

    Reads the weights only (a CPU copy of each tensor in turn when they live on a GPU).
    """
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # uint8 view: every dtype (bfloat16 too) as its raw bytes; reshape first so 0-dim tensors can be viewed.
        h.update(t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    h.update(bytes(p.requires_grad for p in model.parameters()))
    return h.hexdigest()[:length]


# ---------------------------------------------------------------- the sources


def _build(state: dict, num_classes: int, device: torch.device) -> nn.Module:
    model = new_resnet18(num_classes)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval().requires_grad_(False).to(device)


@dataclass(frozen=True)
class _Loaded:
    """What a source's loader hands the one handle constructor."""

    model: nn.Module  # on the CPU, eval, no grad
    labels: list[str]
    preset: ImageClassification  # its mean, std, crop_size feed the handle
    live: Reason


def _imagenet_labels() -> list[str]:
    return list(IMAGENET.meta["categories"])


def _read_imagenet(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
    path = hub.imagenet_cache_path()
    if path.exists():
        live = Reason("weights.reason.cached", {"path": str(path)})
    else:
        if not allow_download or os.environ.get(hub.OFFLINE_ENV):
            raise WeightsError("weights.err.offline", path=str(path))
        t0 = time.monotonic()
        hub.download(hub.IMAGENET_URL, path, DEFAULTS.download_timeout_s)
        live = Reason("weights.reason.downloaded", {"seconds": round(time.monotonic() - t0), "path": str(path)})
    state = read_checkpoint(path)
    num_classes = check_state_dict(state)
    if num_classes != 1000:
        raise WeightsError("weights.err.imagenet_classes", path=str(path), classes=num_classes)
    return _Loaded(_build(state, 1000, CPU), _imagenet_labels(), IMAGENET.transforms(), live)


def shapes_meta() -> dict:
    """The shipped shapes checkpoint's metadata (classes, image_size, mean, std, accuracy, ...)."""
    if not SHAPES_CHECKPOINT.exists() or not SHAPES_META.exists():
        raise WeightsError("weights.err.no_shapes", folder=str(SHAPES_CHECKPOINT.parent))
    return json.loads(SHAPES_META.read_text())


def _read_shapes(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
    meta = shapes_meta()
    state = read_checkpoint(SHAPES_CHECKPOINT)
    num_classes = check_state_dict(state)
    size = int(meta["image_size"])
    # The shapes images are square and generated at `size`: resize, no crop to lose the object.
    preset = ImageClassification(crop_size=size, resize_size=size, mean=tuple(meta["mean"]), std=tuple(meta["std"]))
    accuracy = meta.get("heldout_accuracy")
    live = (Reason("weights.reason.shapes_acc", {"accuracy": accuracy}) if accuracy
            else Reason("weights.reason.shapes"))
    return _Loaded(_build(state, num_classes, CPU), list(meta["classes"]), preset, live)


def _read_random(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
    seed = DEFAULTS.seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = new_resnet18(1000)
    return _Loaded(model.eval().requires_grad_(False), _imagenet_labels(), IMAGENET.transforms(),
                   Reason("weights.reason.random", {"seed": seed}))


def _read_file(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
    if file is None:
        raise WeightsError("weights.err.no_file")
    state = read_checkpoint(file)
    num_classes = check_state_dict(state)
    labels = _imagenet_labels() if num_classes == 1000 else [f"class {i}" for i in range(num_classes)]
    return _Loaded(_build(state, num_classes, CPU), labels, IMAGENET.transforms(),
                   Reason("weights.reason.file", {"classes": num_classes}))


@dataclass(frozen=True)
class WeightSource:
    """One row of the table of weight sources: its name, how to load it, and the locale key describing it."""

    name: str
    read: Callable[[bytes | str | Path | None, bool], _Loaded]  # (file, allow_download) -> _Loaded
    desc_key: str
    auto: bool  # tried by "auto", in table order


SOURCE_TABLE: dict[str, WeightSource] = {s.name: s for s in (
    WeightSource("imagenet", _read_imagenet, "weights.imagenet", auto=True),
    WeightSource("shapes", _read_shapes, "weights.shapes", auto=True),
    WeightSource("random", _read_random, "weights.random", auto=True),
    WeightSource("file", _read_file, "weights.file", auto=False),  # needs a user's upload, so never automatic
)}
SOURCES = ("auto", *SOURCE_TABLE)
AUTO_ORDER = tuple(name for name, s in SOURCE_TABLE.items() if s.auto)


def _handle(source: str, loaded: _Loaded, device: torch.device) -> ModelHandle:
    """The one handle constructor: the model on its device, and mean/std/size from the source's preset."""
    preset = loaded.preset
    return ModelHandle(model=loaded.model.to(device), source=source, labels=loaded.labels, preprocess=preset,
                       mean=tuple(preset.mean), std=tuple(preset.std), image_size=preset.crop_size[0],
                       resize_size=preset.resize_size[0], device=device, live=loaded.live)


def handle_for(source: str = "auto", device: str | torch.device | None = None, file: bytes | str | Path | None = None,
         allow_download: bool = True, background_download: bool = False) -> ModelHandle:
    """Load one weight source by name; "auto" takes the first of imagenet, shapes, random that works.

    With background_download, "auto" never waits for the network: ImageNet is used only if already cached,
    and otherwise downloaded by hub.imagenet_probe() in the background while this call goes on to shapes.

    Raises:
        WeightsError: the named source cannot be used (exc.key and exc.params say why).
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    if source in SOURCE_TABLE:
        return _handle(source, SOURCE_TABLE[source].read(file, allow_download), dev)
    if source != "auto":
        raise WeightsError("weights.err.unknown_source", source=str(source), choices=", ".join(SOURCES))
    skipped: dict[str, Reason] = {}
    for name in AUTO_ORDER:
        if name == "imagenet" and background_download and allow_download and not hub.imagenet_cache_path().exists():
            probe = hub.imagenet_probe()
            if probe is None or probe.state != "cached":
                skipped[name] = probe.reason if probe else Reason("weights.err.offline",
                                                                  {"path": str(hub.imagenet_cache_path())})
                continue
        try:
            loaded = SOURCE_TABLE[name].read(None, allow_download)
        except WeightsError as exc:
            skipped[name] = exc.reason
            continue
        handle = _handle(name, loaded, dev)
        handle.skipped = skipped
        handle.auto = True
        return handle
    raise WeightsError("weights.err.none_loaded", **{f"{k}_why": v for k, v in skipped.items()})


def availability() -> dict[str, Reason | None]:
    """Source -> None when usable without waiting, else why not (a key and params; never downloads)."""
    out: dict[str, Reason | None] = {"imagenet": None, "shapes": None, "random": None}
    if not hub.imagenet_cache_path().exists():
        offline = os.environ.get(hub.OFFLINE_ENV)
        key = "weights.why_not.imagenet_offline" if offline else "weights.why_not.imagenet_download"
        probe = hub.imagenet_probe(start=False)
        out["imagenet"] = probe.reason if probe else Reason(key, {"path": str(hub.imagenet_cache_path())})
    try:
        shapes_meta()
    except WeightsError as exc:
        out["shapes"] = exc.reason
    return out
