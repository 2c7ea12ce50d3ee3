"""Bytes -> checked RGB image -> normalised tensor, plus the shipped sample photos.

Every refusal is an ImageError: exc.key / exc.params for a page to translate, str(exc) the English text.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from resnet_viz import ASSETS
from resnet_viz.model.config import DEFAULTS, IMAGE_LIMITS, ImageLimits
from resnet_viz.text.errors import Reason, UserError

if TYPE_CHECKING:  # torch is heavy; only to_tensor/denormalise need it, so it is imported there.
    import torch

SAMPLES_DIR = ASSETS / "samples"

# Pillow's format names; only these decoders ever decode pixels (others may read a header to name it).
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
# MPO (what many phone cameras write: a JPEG with extra frames) is opened by the JPEG decoder.
_ACCEPTED_FORMATS = (*ALLOWED_FORMATS, "MPO")


class ImageError(UserError):
    """An image was refused: exc.key and exc.params say why (str(exc) is the English text)."""


@dataclass(frozen=True)
class Sample:
    """One shipped image: `name` is its key, `licence` a short licence line (details in LICENSES.md).

    Generated shapes also carry their object's mask (white = object), for a "where is it" outline.
    """

    name: str
    path: Path
    caption: str
    licence: str
    source: str
    mask: Path | None = None


# ---------------------------------------------------------------- loading


def load_image(data: bytes, limits: ImageLimits = IMAGE_LIMITS) -> Image.Image:
    """Decode uploaded bytes into an upright RGB image, or raise ImageError saying why not."""
    _check_bytes(data, limits)
    img = _open(data)
    _check_size(img.size, limits)  # header only: nothing has been decoded yet
    _decode(img)
    img = _upright(img)
    return _to_rgb(img)


def _check_bytes(data: bytes, limits: ImageLimits) -> None:
    if not data:
        raise ImageError("image.err.empty")
    if len(data) > limits.max_bytes:
        raise ImageError("image.err.too_many_bytes", mb=len(data) / 2**20, limit_mb=limits.max_bytes / 2**20)


def _open(data: bytes) -> Image.Image:
    """Read the header with only the allowed decoders; name what the bytes are when refused."""
    Image.init()  # register every plugin, else formats= naming "WEBP" or "TIFF" raises KeyError
    try:
        img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except UnidentifiedImageError as exc:
        raise _describe_unreadable(data) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # the warning: with -W error
        raise _too_many_pixels(_pixels_from_bomb_message(str(exc))) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow's header parsers raise these on a mangled header of a known format, and ValueError for
        # a compressed text or colour-profile chunk that would inflate past its limit (a metadata bomb).
        raise _damaged_header(exc) from exc
    if img.format not in _ACCEPTED_FORMATS:  # belt and braces: formats= already restricts
        raise ImageError("image.err.unsupported_format", format=img.format)
    return img


def _damaged_header(exc: BaseException) -> ImageError:
    if _is_metadata_bomb(exc):
        from PIL import PngImagePlugin

        return ImageError("image.err.metadata_too_large", chunk="zTXt/iTXt/iCCP",
                          limit_mb=PngImagePlugin.MAX_TEXT_CHUNK / 2**20, detail=str(exc))
    return ImageError("image.err.damaged_header", detail=str(exc))


def _is_metadata_bomb(exc: BaseException) -> bool:
    # PngImagePlugin inflates a compressed chunk (zTXt, iTXt, iCCP) to at most MAX_TEXT_CHUNK (1 MB) and all
    # text to MAX_TEXT_MEMORY (64 MB), then raises ValueError with one of these messages.
    text = str(exc).lower()
    return isinstance(exc, ValueError) and ("decompressed data too large" in text or "max_text_memory" in text)


def _check_size(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if width * height > limits.max_pixels:
        raise ImageError("image.err.pixels", width=width, height=height, megapixels=width * height / 1e6,
                         limit_mp=limits.max_pixels / 1e6)
    if min(width, height) < limits.min_side:
        raise ImageError("image.err.min_side", width=width, height=height, min_side=limits.min_side)
    aspect = max(width, height) / min(width, height)
    if aspect > limits.max_aspect:
        raise ImageError("image.err.aspect", width=width, height=height, aspect=aspect, limit=limits.max_aspect)


def _too_many_pixels(pixels: int | None, limits: ImageLimits = IMAGE_LIMITS) -> ImageError:
    """Pillow's own bomb check fired (its message gives the pixel count, not the sides)."""
    if pixels is None:
        return ImageError("image.err.pixels_unknown", limit_mp=limits.max_pixels / 1e6)
    return ImageError("image.err.pixels_count", megapixels=pixels / 1e6, limit_mp=limits.max_pixels / 1e6)


def _pixels_from_bomb_message(message: str) -> int | None:
    # Pillow says "Image size (400000000 pixels) exceeds limit of ...".
    match = re.search(r"\((\d+) pixels\)", message)
    return int(match.group(1)) if match else None


def _decode(img: Image.Image) -> None:
    """Decode every pixel now, so a truncated or corrupt file fails here and not later in a figure."""
    try:
        img.load()
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(_pixels_from_bomb_message(str(exc))) from exc
    except Exception as exc:  # Pillow's decoders raise OSError, SyntaxError, ValueError, struct.error...
        if _is_metadata_bomb(exc):  # a text chunk after the pixels (PNG reads those here)
            raise _damaged_header(exc) from exc
        raise ImageError("image.err.decode", format=img.format, detail=str(exc)) from exc


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation, as phone photos are stored sideways with a tag saying so."""
    try:
        upright = ImageOps.exif_transpose(img)
    except Exception:  # a corrupt EXIF block should not cost the user their photo
        return img
    return upright if upright is not None else img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any decoded mode to 8-bit RGB; transparency is composited on white."""
    mode = img.mode
    if mode == "RGB" and not img.has_transparency_data:
        return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(img))).convert("RGB")  # (H, W) uint8 -> L
    if mode == "LAB":  # Pillow's plain convert() does not do colour science for L*a*b*; littleCMS does
        return ImageCms.applyTransform(img, _lab_to_srgb())
    try:
        if img.has_transparency_data:  # LA, PA, RGBA, RGBa, or P/L/RGB with a transparent colour
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return img.convert("RGB")  # L, 1, P, CMYK, YCbCr...
    except ValueError as exc:
        raise ImageError("image.err.mode", mode=mode) from exc


@functools.cache
def _lab_to_srgb() -> ImageCms.ImageCmsTransform:
    lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
    return ImageCms.buildTransform(lab, srgb, "LAB", "RGB")


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map high-bit-depth pixels to 0..255 by scaling, never by clipping.

    Integers in 0..65535 are 16-bit data (how PNG and TIFF store them), so 65535 -> 255;
    floats in [0, 1] are fractions, so 1.0 -> 255; anything else is stretched from its min to its max.
    """
    is_float = np.issubdtype(values.dtype, np.floating)
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    if is_float and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0
    elif not is_float and low >= 0.0 and high <= 65535.0:
        scaled = values * (255.0 / 65535.0)
    elif high > low:
        scaled = (values - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros_like(values)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _describe_unreadable(data: bytes) -> ImageError:
    """Say what the bytes look like, so 'not an image' is actionable."""
    head = data[:4096]
    lowered = head.lstrip().lower()
    unsupported = _other_image_format(data)
    if unsupported:
        return ImageError("image.err.unsupported_format", format=unsupported)
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftypavif"):
        return ImageError("image.err.heic")
    if head.startswith(b"PK\x03\x04"):
        if b"data.pkl" in head or b"/version" in head:
            return ImageError("image.err.checkpoint")
        return ImageError("image.err.zip")
    if head.startswith(b"\x80") and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return ImageError("image.err.pickle")
    if head.startswith(b"%PDF"):
        return ImageError("image.err.pdf")
    if b"<svg" in lowered:
        return ImageError("image.err.svg")
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        return ImageError("image.err.html")
    if _looks_like_text(head):
        return ImageError("image.err.text")
    return ImageError("image.err.not_image")


def _other_image_format(data: bytes) -> str | None:
    """Name an image format Pillow knows but this app does not accept (header only, nothing decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as other:
            return other.format
    except Exception:  # any failure simply means 'not a known image format'
        return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return len(text) > 0 and printable / len(text) > 0.95


# ---------------------------------------------------------------- to the model


@functools.cache
def _imagenet_ratio() -> float:
    """resize_size / crop_size of torchvision's ImageNet preset (256 / 224), read from the preset itself."""
    from torchvision.models import ResNet18_Weights

    preset = ResNet18_Weights.IMAGENET1K_V1.transforms()
    return preset.resize_size[0] / preset.crop_size[0]


def imagenet_resize(size: int) -> int:
    """The shorter side the ImageNet recipe resizes to before a size × size centre crop (256 for 224)."""
    return round(_imagenet_ratio() * size)


def resize_for_model(
    img: Image.Image, size: int = DEFAULTS.image_size, center_crop: bool = True, resize: int | None = None
) -> Image.Image:
    """The exact picture the model sees, before normalisation.

    center_crop=True mirrors torchvision's ImageNet transforms(): shorter side to `resize` (by default
    imagenet_resize(size), 256 for 224), bilinear with antialiasing, then the central size × size square.
    center_crop=False resizes the shorter side to `size` and keeps the whole image and its aspect ratio.
    """
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    if center_crop:
        resized = F.resize(img, [resize or imagenet_resize(size)], InterpolationMode.BILINEAR, antialias=True)
        return F.center_crop(resized, [size])
    return F.resize(img, [size], InterpolationMode.BILINEAR, antialias=True)


def to_tensor(
    img: Image.Image,
    mean: Sequence[float],
    std: Sequence[float],
    size: int | None = None,
    center_crop: bool = True,
    resize: int | None = None,
) -> torch.Tensor:
    """RGB image -> normalised (1, 3, H, W) float tensor; see resize_for_model for the geometry."""
    import torch
    from torchvision.transforms import functional as F

    picture = resize_for_model(img, size or DEFAULTS.image_size, center_crop, resize)
    x = F.pil_to_tensor(picture)  # (3, H, W) uint8
    x = F.convert_image_dtype(x, torch.float)
    x = F.normalize(x, mean=list(mean), std=list(std))
    return x.unsqueeze(0)  # (1, 3, H, W)


def describe_preprocessing(
    img_size: tuple[int, int], size: int | None = None, center_crop: bool = True, resize: int | None = None
) -> Reason:
    """What to_tensor (or a preset with this resize and crop `size`) did to an image of img_size = (width, height),
    as a locale key and its numbers."""
    size = size or DEFAULTS.image_size
    width, height = img_size
    if center_crop:
        short = resize or imagenet_resize(size)
        return Reason("image.prep.crop", {"width": width, "height": height, "short": short, "size": size})
    scale = size / min(width, height)
    new_w, new_h = (size, int(height * scale)) if width <= height else (int(width * scale), size)
    return Reason("image.prep.whole", {"width": width, "height": height, "new_w": new_w, "new_h": new_h})


def denormalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Normalised (1, 3, H, W) or (3, H, W) tensor -> (H, W, 3) uint8 array for display."""
    import torch

    x = x.detach().cpu().float()
    if x.dim() == 4:
        x = x[0]
    mean_t = torch.tensor(list(mean)).view(3, 1, 1)
    std_t = torch.tensor(list(std)).view(3, 1, 1)
    pixels = (x * std_t + mean_t).clamp(0, 1) * 255  # (3, H, W)
    return pixels.round().to(torch.uint8).permute(1, 2, 0).numpy()


# ---------------------------------------------------------------- samples


def list_samples(samples_dir: Path = SAMPLES_DIR) -> list[Sample]:
    """The shipped photos, in the order of samples.json."""
    entries = json.loads((samples_dir / "samples.json").read_text(encoding="utf-8"))
    return [
        Sample(
            name=entry["name"],
            path=samples_dir / entry["file"],
            caption=entry["caption"],
            licence=entry["licence"],
            source=entry["source"],
            mask=samples_dir / entry["mask"] if entry.get("mask") else None,
        )
        for entry in entries
    ]


def load_sample(name: str, samples_dir: Path = SAMPLES_DIR) -> Image.Image:
    """A shipped photo by name, through the same checks as an upload."""
    samples = {sample.name: sample for sample in list_samples(samples_dir)}
    if name not in samples:
        raise ImageError("image.err.no_sample", name=str(name), choices=", ".join(samples))
    return load_image(samples[name].path.read_bytes())


def sample_mask(name: str, samples_dir: Path = SAMPLES_DIR) -> np.ndarray | None:
    """A generated sample's object mask (H, W) bool, or None for a photo or an unknown name."""
    sample = next((s for s in list_samples(samples_dir) if s.name == name), None)
    if sample is None or sample.mask is None:
        return None
    return np.asarray(Image.open(sample.mask).convert("L")) > 127


def default_sample(weights: str, samples: list[Sample]) -> str:
    """The sample to show first: a generated shape when the shapes weights are live, else the first photo.
    `samples` are Samples (a generated shape carries its mask)."""
    want_shape = weights == "shapes"
    for s in samples:
        if (s.mask is not None) == want_shape:
            return s.name
    return samples[0].name
