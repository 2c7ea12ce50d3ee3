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
import zipfile
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
from resnet_viz.errors import Reason, UserError
from resnet_viz.forward import Trace, trace

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SHAPES_CHECKPOINT = ASSETS / "shapes" / "resnet18_shapes.pth"
SHAPES_META = ASSETS / "shapes" / "resnet18_shapes.json"
IMAGENET = ResNet18_Weights.IMAGENET1K_V1
IMAGENET_URL = IMAGENET.url
OFFLINE_ENV = "RESNET_VIZ_OFFLINE"
CPU = torch.device("cpu")


class WeightsError(UserError, RuntimeError):
    """A weight source cannot be used: exc.key / exc.params say why (str(exc) is the English text)."""


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
        """Why this source is live, as a key and params (auto's choice says so)."""
        return Reason("weights.reason.auto", {"reason": self.live}) if self.auto else self.live

    def why(self, lang: str = i18n.DEFAULT_LANG) -> str:
        """Why this source is live, in a person's language."""
        return self.why_live.text(lang)

    @property
    def reason(self) -> str:
        """English why(), for the CLI."""
        return self.why(i18n.DEFAULT_LANG)

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

    def describe(self, lang: str = i18n.DEFAULT_LANG) -> str:
        return self.description.text(lang)


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
        raise WeightsError("weights.err.no_answer", host=host, seconds=timeout_s)
    done.wait()
    if error:
        exc = error[0]
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            raise WeightsError("weights.err.no_answer", host=host, seconds=timeout_s) from exc
        if isinstance(exc, WeightsError):
            raise exc
        raise WeightsError("weights.err.download", host=host, detail=str(exc)) from exc


def _check_hash(path: Path, name: str) -> None:
    # torch hub names files <stem>-<first 8 hex of sha256>.pth; a mismatch means a broken download.
    prefix = name.rsplit("-", 1)[-1].split(".")[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(prefix):
        path.unlink(missing_ok=True)
        raise WeightsError("weights.err.hash", got=digest[:8], want=prefix)


def _new_resnet18(num_classes: int = 1000) -> nn.Module:
    return resnet18(weights=None, num_classes=num_classes)


def reference_shapes(num_classes: int = 1000) -> dict[str, torch.Size]:
    """Key -> shape of torchvision's ResNet-18 state dict, for checking a checkpoint."""
    with torch.device("meta"):
        return {k: v.shape for k, v in _new_resnet18(num_classes).state_dict().items()}


# ---------------------------------------------------------------- reading a checkpoint safely


@dataclass(frozen=True)
class CheckpointLimits:
    """What a checkpoint's zip index may declare; checked before torch.load inflates a single byte.

    A ResNet-18 state dict is 46.8 MB in fp32 with ImageNet's 1000-class head (11,689,512 parameters plus
    BatchNorm buffers). The payload bound is twice that, 93.6 MB: room for float64 weights, or SGD momentum
    saved beside fp32 weights, or an fp32 head of up to ~23,800 classes (ImageNet-21k's 21,843 fit). An Adam
    training checkpoint (three copies) is refused: save model.state_dict() alone.
    """

    max_payload_bytes: int = 2 * 46_811_486  # 2 x the bytes torch.save writes for the fp32 1000-class state dict
    max_entries: int = 1024  # a state dict is 122 tensors + 5 small records
    max_pickle_bytes: int = 1 << 20  # its data.pkl is ~15 kB; a pickle's objects can outgrow its bytes
    # torch.save stores tensors uncompressed (ratio 1); re-zipped real weights reach ~1.1.
    max_ratio: float = 20.0


CHECKPOINT_LIMITS = CheckpointLimits()


def _mb(n: int, digits: int = 1) -> float:
    return round(n / 1e6, digits)


def _head(data: bytes | str | Path, n: int = 4) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data[:n])
    with open(data, "rb") as f:
        return f.read(n)


def check_archive(data: bytes | str | Path, limits: CheckpointLimits = CHECKPOINT_LIMITS) -> None:
    """Refuse a checkpoint whose declared contents are too large, from its size and zip index alone.

    torch.save writes a zip; its central directory declares each record's uncompressed size, which is all
    torch.load will allocate (miniz refuses a record that inflates past its declared size). The legacy
    (pre-1.6, non-zip) format stores tensors raw, so there the file size is the payload.

    Raises:
        WeightsError: too large, too many records, compressed too well, or not a readable zip.
    """
    size = len(data) if isinstance(data, bytes | bytearray) else Path(data).stat().st_size
    if size == 0:
        raise WeightsError("weights.err.empty")
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    if not zipfile.is_zipfile(source):
        if _head(data) == b"PK\x03\x04":  # a zip's first record but no index at its end: cut short
            raise WeightsError("weights.err.damaged", detail="no zip central directory")
        if size > limits.max_payload_bytes:
            raise WeightsError("weights.err.too_large", declared_mb=_mb(size), limit_mb=_mb(limits.max_payload_bytes),
                               file_mb=_mb(size, 2))
        return  # the legacy format, a damaged zip or no checkpoint at all: torch.load says which
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WeightsError("weights.err.damaged", detail=str(exc)) from exc
    if len(infos) > limits.max_entries:
        raise WeightsError("weights.err.too_many_records", count=len(infos), limit=limits.max_entries)
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_payload_bytes:
        raise WeightsError("weights.err.too_large", declared_mb=_mb(declared), limit_mb=_mb(limits.max_payload_bytes),
                           file_mb=_mb(size, 2))
    pickle_bytes = max((i.file_size for i in infos if i.filename.endswith(".pkl")), default=0)
    if pickle_bytes > limits.max_pickle_bytes:
        raise WeightsError("weights.err.pickle_too_large", pickle_kb=round(pickle_bytes / 1e3),
                           limit_kb=round(limits.max_pickle_bytes / 1e3))
    if declared > (1 << 20) and declared > limits.max_ratio * size:
        raise WeightsError("weights.err.ratio", declared_mb=_mb(declared), file_mb=_mb(size, 2),
                           ratio=round(declared / size))


def check_finite(state: dict) -> None:
    """Refuse the first floating tensor holding NaN or ±Inf, by name, with how many such values it has."""
    for key, value in state.items():
        if not isinstance(value, Tensor) or not (value.is_floating_point() or value.is_complex()):
            continue
        # A NaN or ±Inf anywhere makes the sum non-finite, and one reduction is several times cheaper than
        # isfinite on fp16 weights; only a non-finite sum (or one that overflowed) is counted exactly.
        if value.is_floating_point():
            wide = torch.float64 if value.dtype == torch.float64 else torch.float32
            if torch.isfinite(value.sum(dtype=wide)):
                continue
        bad = int((~torch.isfinite(value)).sum())
        if bad:
            raise WeightsError("weights.err.nonfinite", key=key, count=bad, numel=value.numel())


def check_state_dict(state: dict) -> int:
    """Check a state dict against ResNet-18's keys and shapes, and that every value is finite; return its class count.

    Raises:
        WeightsError: naming the first missing, unexpected, mis-shaped or non-finite key.
    """
    if not isinstance(state, dict) or not state:
        raise WeightsError("weights.err.no_state_dict")
    fc = state.get("fc.weight")
    num_classes = fc.shape[0] if isinstance(fc, Tensor) and fc.dim() == 2 else 1000
    ref = reference_shapes(num_classes)
    for key, shape in ref.items():
        if key not in state:
            raise WeightsError("weights.err.missing", key=key)
        value = state[key]
        if not isinstance(value, Tensor):
            raise WeightsError("weights.err.not_tensor", key=key, type=type(value).__name__)
        if value.shape != shape:
            raise WeightsError("weights.err.shape", key=key, shape=tuple(value.shape), expected=tuple(shape))
    extra = [k for k in state if k not in ref]
    if extra:
        raise WeightsError("weights.err.unexpected", key=str(extra[0]), count=len(extra))
    check_finite({key: state[key] for key in ref})
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


def read_checkpoint(data: bytes | str | Path, limits: CheckpointLimits = CHECKPOINT_LIMITS) -> dict:
    """check_archive, then torch.load with weights_only=True (no arbitrary code from pickles), then unwrap."""
    check_archive(data, limits)
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        # Only a blocked GLOBAL (a class or function the pickle would call) is a refusal; torch's message also
        # says "weights_only" for bytes that are no pickle at all ("Unsupported operand 255" for a JPEG).
        if "unsupported global" in text.lower():
            raise WeightsError("weights.err.unsafe", detail=text) from exc
        if "central directory" in text or "zip archive" in text:
            raise WeightsError("weights.err.damaged", detail=text) from exc
        raise WeightsError("weights.err.unreadable", kind=type(exc).__name__, detail=text) from exc
    return _unwrap(obj)


# ---------------------------------------------------------------- the sources


def _build(state: dict, num_classes: int, device: torch.device) -> nn.Module:
    model = _new_resnet18(num_classes)
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


def _load_imagenet(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
    path = imagenet_cache_path()
    if path.exists():
        live = Reason("weights.reason.cached", {"path": str(path)})
    else:
        if not allow_download or os.environ.get(OFFLINE_ENV):
            raise WeightsError("weights.err.offline", path=str(path))
        t0 = time.monotonic()
        _download(IMAGENET_URL, path, DEFAULTS.download_timeout_s)
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


def _load_shapes(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
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


def _load_random(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
    seed = DEFAULTS.seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _new_resnet18(1000)
    return _Loaded(model.eval().requires_grad_(False), _imagenet_labels(), IMAGENET.transforms(),
                   Reason("weights.reason.random", {"seed": seed}))


def _load_file(file: bytes | str | Path | None, allow_download: bool) -> _Loaded:
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
    load: Callable[[bytes | str | Path | None, bool], _Loaded]  # (file, allow_download) -> _Loaded
    desc_key: str
    auto: bool  # tried by "auto", in table order


SOURCE_TABLE: dict[str, WeightSource] = {s.name: s for s in (
    WeightSource("imagenet", _load_imagenet, "weights.imagenet", auto=True),
    WeightSource("shapes", _load_shapes, "weights.shapes", auto=True),
    WeightSource("random", _load_random, "weights.random", auto=True),
    WeightSource("file", _load_file, "weights.file", auto=False),  # needs a user's upload, so never automatic
)}
SOURCES = ("auto", *SOURCE_TABLE)
AUTO_ORDER = tuple(name for name, s in SOURCE_TABLE.items() if s.auto)


def _handle(source: str, loaded: _Loaded, device: torch.device) -> ModelHandle:
    """The one handle constructor: the model on its device, and mean/std/size from the source's preset."""
    preset = loaded.preset
    return ModelHandle(model=loaded.model.to(device), source=source, labels=loaded.labels, preprocess=preset,
                       mean=tuple(preset.mean), std=tuple(preset.std), image_size=preset.crop_size[0],
                       resize_size=preset.resize_size[0], device=device, live=loaded.live)


class ImagenetProbe:
    """One background download of the ImageNet weights into the torch hub cache, per (url, path), per process.

    Lets "auto" answer at once with the shapes weights while the download runs or fails (offline it costs up
    to download_timeout_s + 0.5 s); a later load("auto") finds the cached file. The outcome is remembered:
    a failed probe is not retried in this process unless asked (retry=True).
    """

    def __init__(self, url: str, path: Path) -> None:
        self.url, self.path = url, path
        self._done = threading.Event()
        self._error: Reason | None = None
        threading.Thread(target=self._run, name="imagenet-probe", daemon=True).start()

    def _run(self) -> None:
        try:
            _download(self.url, self.path, DEFAULTS.download_timeout_s)
        except WeightsError as exc:
            self._error = exc.reason
        except Exception as exc:  # never let the thread die silently: the reason is shown in the sidebar
            self._error = Reason("weights.err.download", {"host": self.url.split("/")[2], "detail": str(exc)})
        finally:
            self._done.set()

    @property
    def state(self) -> str:
        """"running", "cached" (the file is in the hub cache) or "failed" (see reason)."""
        if not self._done.is_set():
            return "running"
        return "cached" if self._error is None and self.path.exists() else "failed"

    @property
    def reason(self) -> Reason | None:
        """Why ImageNet is not usable yet: None once cached."""
        state = self.state
        if state == "running":
            return Reason("weights.why_not.imagenet_probing", {"path": str(self.path)})
        return None if state == "cached" else (self._error or Reason("weights.err.offline", {"path": str(self.path)}))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the probe has finished (True) or timeout seconds have passed (False)."""
        return self._done.wait(timeout)


_PROBES: dict[tuple[str, Path], ImagenetProbe] = {}
_PROBES_LOCK = threading.Lock()


def imagenet_probe(start: bool = True, retry: bool = False) -> ImagenetProbe | None:
    """The background ImageNet download for the current URL and cache path; never blocks.

    Starts it when none has run yet (start=True), or again after a failure (retry=True); returns None when
    none has started and start is False, or when downloads are off ($RESNET_VIZ_OFFLINE).
    """
    if os.environ.get(OFFLINE_ENV):
        return None
    key = (IMAGENET_URL, imagenet_cache_path())
    with _PROBES_LOCK:
        probe = _PROBES.get(key)
        if (probe is None and start) or (probe is not None and retry and probe.state == "failed"):
            probe = _PROBES[key] = ImagenetProbe(*key)
        return probe


def load(source: str = "auto", device: str | torch.device | None = None, file: bytes | str | Path | None = None,
         allow_download: bool = True, background_download: bool = False) -> ModelHandle:
    """Load one weight source by name; "auto" takes the first of imagenet, shapes, random that works.

    With background_download, "auto" never waits for the network: ImageNet is used only if already cached,
    and otherwise downloaded by imagenet_probe() in the background while this call goes on to shapes.

    Raises:
        WeightsError: the named source cannot be used (exc.key and exc.params say why).
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    if source in SOURCE_TABLE:
        return _handle(source, SOURCE_TABLE[source].load(file, allow_download), dev)
    if source != "auto":
        raise WeightsError("weights.err.unknown_source", source=str(source), choices=", ".join(SOURCES))
    skipped: dict[str, Reason] = {}
    for name in AUTO_ORDER:
        if name == "imagenet" and background_download and allow_download and not imagenet_cache_path().exists():
            probe = imagenet_probe()
            if probe is None or probe.state != "cached":
                skipped[name] = probe.reason if probe else Reason("weights.err.offline",
                                                                  {"path": str(imagenet_cache_path())})
                continue
        try:
            loaded = SOURCE_TABLE[name].load(None, allow_download)
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
    if not imagenet_cache_path().exists():
        key = "weights.why_not.imagenet_offline" if os.environ.get(OFFLINE_ENV) else "weights.why_not.imagenet_download"
        probe = imagenet_probe(start=False)
        out["imagenet"] = probe.reason if probe else Reason(key, {"path": str(imagenet_cache_path())})
    try:
        shapes_meta()
    except WeightsError as exc:
        out["shapes"] = exc.reason
    return out
