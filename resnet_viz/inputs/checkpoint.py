"""Reading a user's or a shipped ResNet-18 checkpoint safely: zip-index limits before torch.load, weights_only
loading, then keys, shapes and finiteness checked against torchvision's ResNet-18.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import resnet18

from resnet_viz.text.errors import WeightsError

__all__ = ["CHECKPOINT_LIMITS", "CheckpointLimits", "check_archive", "check_finite", "check_state_dict", "new_resnet18",
           "read_checkpoint", "reference_shapes"]


def new_resnet18(num_classes: int = 1000) -> nn.Module:
    return resnet18(weights=None, num_classes=num_classes)


def reference_shapes(num_classes: int = 1000) -> dict[str, torch.Size]:
    """Key -> shape of torchvision's ResNet-18 state dict, for checking a checkpoint."""
    with torch.device("meta"):
        return {k: v.shape for k, v in new_resnet18(num_classes).state_dict().items()}


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
