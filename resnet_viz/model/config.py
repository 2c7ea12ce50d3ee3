"""App defaults and limits in one frozen dataclass each; layer names are in model/layers.py, visual constants in
figures/__init__.py."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULTS", "IMAGE_LIMITS", "Defaults", "ImageLimits"]


@dataclass(frozen=True)
class Defaults:
    """Defaults shared by the library, the CLI and the pages."""

    image_size: int = 224
    seed: int = 0
    default_layer: str = "layer1.0"
    weights: str = "auto"
    # Giving up on an ImageNet download after this many seconds keeps an offline start fast.
    download_timeout_s: float = 3.0
    trace_cache_entries: int = 16
    # Lesion study on held-out shapes: 17 lesioned networks each see every image, so n stays modest on a CPU;
    # 64 px is the checkpoint's most frequent training size (objects keep their pixel size on any canvas).
    lesion_n: int = 100
    lesion_size: int = 64
    # What a channel looks for: lucid's 128 px image; 256 steps (lucid uses 512) keep a CPU run under 10 s. The
    # held-out shapes for a channel's examples and labels: 200 at the checkpoint's most frequent size.
    channel_size: int = 128
    channel_steps: int = 256
    channel_snapshots: tuple[int, ...] = (32, 128, 256)
    dissect_n: int = 200
    dissect_size: int = 64


DEFAULTS = Defaults()


@dataclass(frozen=True)
class ImageLimits:
    """What resnet_viz.inputs.images accepts from an upload; checked before any pixel is decoded."""

    # 40 MP covers any phone camera; beyond that a decoded RGB image costs >120 MB per copy.
    max_pixels: int = 40_000_000
    min_side: int = 16
    max_aspect: float = 20.0
    max_bytes: int = 25 * 1024 * 1024


IMAGE_LIMITS = ImageLimits()
