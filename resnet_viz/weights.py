"""Where the weights come from (imagenet > shapes > random, or a user's .pth) -> one shared model handle.

The handle owns the model and the lock that every computation on it holds; nothing per request is
ever written on the model.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import ResNet18_Weights, resnet18
from torchvision.transforms._presets import ImageClassification

from resnet_viz import fallback, i18n
from resnet_viz.config import DEFAULTS
from resnet_viz.device import pick_device
from resnet_viz.forward import Trace, trace

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SHAPES_CHECKPOINT = ASSETS / "shapes" / "resnet18_shapes.pth"
SHAPES_META = ASSETS / "shapes" / "resnet18_shapes.json"
IMAGENET = ResNet18_Weights.IMAGENET1K_V1
IMAGENET_URL = IMAGENET.url
OFFLINE_ENV = "RESNET_VIZ_OFFLINE"
SOURCES = ("auto", "imagenet", "shapes", "random", "file")
# Tried in this order by "auto"; "file" needs a user's upload so it is never automatic.
AUTO_ORDER = ("imagenet", "shapes", "random")
DESCRIPTIONS = {
    "imagenet": "ImageNet (torchvision IMAGENET1K_V1, 1000 classes)",
    "shapes": "Synthetic shapes (trained by this project, offline)",
    "random": "Random init (seeded, for sanity checks)",
    "file": "Your own .pth checkpoint",
}


class WeightsError(RuntimeError):
    """A weight source cannot be used; the message says why, for a person."""


@dataclass
class ModelHandle:
    """One loaded, shared model with everything needed to feed it and name its outputs."""

    model: nn.Module
    source: str
    labels: list[str]
    preprocess: Callable  # PIL image -> (3, H, W) normalised tensor
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    image_size: int
    device: torch.device
    reason_key: str = ""  # why this source is the live one: a locale key (resnet_viz/locale) ...
    reason_args: dict = field(default_factory=dict)  # ... and its placeholders
    auto: bool = False  # picked by "auto"
    skipped: dict[str, str] = field(default_factory=dict)  # source -> why it was not used
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # A short content digest of the weights, computed once here: caches key results by it, never by id(handle),
    # which a new handle can reuse after the old one is evicted.
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        self.digest = weights_digest(self.model)

    def why(self, lang: str = "en") -> str:
        """Why this source is live, in a person's language."""
        text = i18n.t(self.reason_key, lang, **self.reason_args)
        return i18n.t("weights.reason.auto", lang, reason=text) if self.auto else text

    @property
    def reason(self) -> str:
        return self.why("en")

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

    def describe(self) -> str:
        return f"{DESCRIPTIONS.get(self.source, self.source)} on {self.device.type}"


def weights_digest(model: nn.Module, length: int = 16) -> str:
    """sha256 over the state dict's names, dtypes, shapes and bytes, in order; the first `length` hex digits.

    Reads the weights only (a CPU copy of each tensor in turn when they live on a GPU).
    """
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        t = tensor.detach()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # uint8 view: every dtype (bfloat16 too) as its raw bytes; reshape first so 0-dim tensors can be viewed.
        h.update(t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()[:length]


def _hub_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def imagenet_cache_path() -> Path:
    """Where torch hub keeps (and looks for) resnet18-f37072fd.pth, under $TORCH_HOME."""
    return _hub_dir() / Path(IMAGENET_URL).name


def _download(url: str, dst: Path, timeout_s: float) -> None:
    """Fetch url into dst, giving up if no answer comes within timeout_s.

    urllib's timeout does not cover DNS resolution, which can hang for tens of seconds offline, so
    the request runs in a daemon thread and we stop waiting for it after timeout_s.
    """
    answered = threading.Event()
    done = threading.Event()
    error: list[BaseException] = []

    def fetch() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                answered.set()
                dst.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=dst.parent, delete=False) as tmp:
                    shutil.copyfileobj(response, tmp)
                _check_hash(Path(tmp.name), dst.name)
                os.replace(tmp.name, dst)
        except BaseException as exc:
            error.append(exc)
        finally:
            answered.set()
            done.set()

    host = url.split("/")[2]
    threading.Thread(target=fetch, name="imagenet-download", daemon=True).start()
    if not answered.wait(timeout_s + 0.5):
        raise WeightsError(f"No answer from {host} within {timeout_s:.0f} s (offline?).")
    done.wait()
    if error:
        exc = error[0]
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            raise WeightsError(f"No answer from {host} within {timeout_s:.0f} s (offline?).") from exc
        if isinstance(exc, WeightsError):
            raise exc
        raise WeightsError(f"Could not download from {host} (offline?): {exc}") from exc


def _check_hash(path: Path, name: str) -> None:
    # torch hub names files <stem>-<first 8 hex of sha256>.pth; a mismatch means a broken download.
    prefix = name.rsplit("-", 1)[-1].split(".")[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(prefix):
        path.unlink(missing_ok=True)
        raise WeightsError(f"Downloaded file's SHA-256 {digest[:8]} does not match {prefix}.")


def _new_resnet18(num_classes: int = 1000) -> nn.Module:
    return resnet18(weights=None, num_classes=num_classes)


def reference_shapes(num_classes: int = 1000) -> dict[str, torch.Size]:
    """Key -> shape of torchvision's ResNet-18 state dict, for checking a checkpoint."""
    with torch.device("meta"):
        return {k: v.shape for k, v in _new_resnet18(num_classes).state_dict().items()}


def check_state_dict(state: dict) -> int:
    """Check a state dict against ResNet-18's keys and shapes; return its class count.

    Raises:
        WeightsError: naming the first missing, unexpected or mis-shaped key.
    """
    if not isinstance(state, dict) or not state:
        raise WeightsError("The checkpoint holds no state dict (expected a dict of tensors).")
    fc = state.get("fc.weight")
    num_classes = fc.shape[0] if isinstance(fc, Tensor) and fc.dim() == 2 else 1000
    ref = reference_shapes(num_classes)
    for key, shape in ref.items():
        if key not in state:
            raise WeightsError(f"Not a ResNet-18 checkpoint: key '{key}' is missing.")
        value = state[key]
        if not isinstance(value, Tensor):
            raise WeightsError(f"Key '{key}' holds a {type(value).__name__}, not a tensor.")
        if value.shape != shape:
            raise WeightsError(f"Not a ResNet-18 checkpoint: '{key}' has shape {tuple(value.shape)}, "
                               f"ResNet-18 expects {tuple(shape)}.")
    extra = [k for k in state if k not in ref]
    if extra:
        raise WeightsError(f"Not a ResNet-18 checkpoint: unexpected key '{extra[0]}' "
                           f"({len(extra)} unexpected in all).")
    return num_classes


def _unwrap(obj) -> dict:
    # Training scripts often save {"state_dict": ...} or {"model": ...}, and DataParallel adds "module.".
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        if obj and all(isinstance(k, str) and k.startswith("module.") for k in obj):
            obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def read_checkpoint(data: bytes | str | Path) -> dict:
    """torch.load with weights_only=True (no arbitrary code from pickles), then unwrap."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        # Only a blocked GLOBAL (a class or function the pickle would call) is a refusal; torch's message also
        # says "weights_only" for bytes that are no pickle at all ("Unsupported operand 255" for a JPEG).
        if "unsupported global" in text.lower():
            raise WeightsError("Refused: this file contains Python objects other than tensors, which could run "
                               "code when loaded. Save a plain state_dict instead.") from exc
        if "central directory" in text or "zip archive" in text:
            raise WeightsError("This is not a readable PyTorch checkpoint: it is truncated or damaged (its zip "
                               "index is missing). Please upload the complete file again.") from exc
        raise WeightsError(f"This is not a readable PyTorch checkpoint ({type(exc).__name__}).") from exc
    return _unwrap(obj)


def _build(state: dict, num_classes: int, device: torch.device) -> nn.Module:
    model = _new_resnet18(num_classes)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval().requires_grad_(False).to(device)


def _imagenet_handle(device: torch.device, allow_download: bool = True) -> ModelHandle:
    path = imagenet_cache_path()
    if path.exists():
        reason = ("weights.reason.cached", {"path": str(path)})
    else:
        if not allow_download or os.environ.get(OFFLINE_ENV):
            raise WeightsError(f"Not in the torch hub cache ({path}) and downloads are off.")
        t0 = time.monotonic()
        _download(IMAGENET_URL, path, DEFAULTS.download_timeout_s)
        reason = ("weights.reason.downloaded", {"seconds": f"{time.monotonic() - t0:.0f}", "path": str(path)})
    state = read_checkpoint(path)
    num_classes = check_state_dict(state)
    if num_classes != 1000:
        raise WeightsError(f"{path} has {num_classes} classes, not ImageNet's 1000.")
    preset = IMAGENET.transforms()
    return ModelHandle(model=_build(state, 1000, device), source="imagenet", labels=list(IMAGENET.meta["categories"]),
                       preprocess=preset, mean=tuple(preset.mean), std=tuple(preset.std),
                       image_size=preset.crop_size[0], device=device, reason_key=reason[0], reason_args=reason[1])


def shapes_meta() -> dict:
    """The shipped shapes checkpoint's metadata (classes, image_size, mean, std, accuracy, ...)."""
    if not SHAPES_CHECKPOINT.exists() or not SHAPES_META.exists():
        raise WeightsError(f"The offline shapes checkpoint is not in {SHAPES_CHECKPOINT.parent}.")
    return json.loads(SHAPES_META.read_text())


def _shapes_handle(device: torch.device) -> ModelHandle:
    meta = shapes_meta()
    state = read_checkpoint(SHAPES_CHECKPOINT)
    num_classes = check_state_dict(state)
    size = int(meta["image_size"])
    mean, std = tuple(meta["mean"]), tuple(meta["std"])
    # The shapes images are square and generated at `size`: resize, no crop to lose the object.
    preset = ImageClassification(crop_size=size, resize_size=size, mean=mean, std=std)
    accuracy = meta.get("heldout_accuracy")
    reason = (("weights.reason.shapes_acc", {"accuracy": f"{accuracy:.1%}"}) if accuracy
              else ("weights.reason.shapes", {}))
    return ModelHandle(model=_build(state, num_classes, device), source="shapes", labels=list(meta["classes"]),
                       preprocess=preset, mean=mean, std=std, image_size=size, device=device,
                       reason_key=reason[0], reason_args=reason[1])


def _random_handle(device: torch.device, seed: int = DEFAULTS.seed) -> ModelHandle:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _new_resnet18(1000)
    preset = IMAGENET.transforms()
    return ModelHandle(model=model.eval().requires_grad_(False).to(device), source="random",
                       labels=list(IMAGENET.meta["categories"]), preprocess=preset, mean=tuple(preset.mean),
                       std=tuple(preset.std), image_size=preset.crop_size[0], device=device,
                       reason_key="weights.reason.random", reason_args={"seed": seed})


def _file_handle(data: bytes | str | Path, device: torch.device) -> ModelHandle:
    state = read_checkpoint(data)
    num_classes = check_state_dict(state)
    preset = IMAGENET.transforms()
    labels = list(IMAGENET.meta["categories"]) if num_classes == 1000 else [f"class {i}" for i in range(num_classes)]
    return ModelHandle(model=_build(state, num_classes, device), source="file", labels=labels, preprocess=preset,
                       mean=tuple(preset.mean), std=tuple(preset.std), image_size=preset.crop_size[0],
                       device=device, reason_key="weights.reason.file", reason_args={"classes": num_classes})


def load(source: str = "auto", device: str | torch.device | None = None, file: bytes | str | Path | None = None,
         allow_download: bool = True) -> ModelHandle:
    """Load one weight source by name; "auto" takes the first of imagenet, shapes, random that works.

    Raises:
        WeightsError: the named source cannot be used (the message says why).
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    if source == "file":
        if file is None:
            raise WeightsError("Choose a .pth file to load.")
        return _file_handle(file, dev)
    loaders = {"imagenet": lambda: _imagenet_handle(dev, allow_download), "shapes": lambda: _shapes_handle(dev),
               "random": lambda: _random_handle(dev)}
    if source in loaders:
        return loaders[source]()
    if source != "auto":
        raise WeightsError(f"Unknown weights source {source!r}; choose one of {', '.join(SOURCES)}.")
    skipped: dict[str, str] = {}
    for name in AUTO_ORDER:
        try:
            handle = loaders[name]()
        except WeightsError as exc:
            skipped[name] = str(exc)
            continue
        handle.skipped = skipped
        handle.auto = True
        return handle
    raise WeightsError("No weights could be loaded: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))


def availability() -> dict[str, str | None]:
    """Source -> None when usable without waiting, else why not (never downloads)."""
    out: dict[str, str | None] = {"imagenet": None, "shapes": None, "random": None}
    if not imagenet_cache_path().exists():
        out["imagenet"] = (f"not cached at {imagenet_cache_path()}; "
                           + ("downloads are off" if os.environ.get(OFFLINE_ENV) else "will try to download"))
    try:
        shapes_meta()
    except WeightsError as exc:
        out["shapes"] = str(exc)
    return out

