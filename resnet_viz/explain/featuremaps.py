"""Feature-map numbers for one image: one traced forward kept as numpy, channel order and stats, ||F(x)|| / ||x||
per block, and full-network minus masked maps (laid out as images by explain/tiles.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from resnet_viz.inputs import images
from resnet_viz.inputs.classes import top_k
from resnet_viz.model.forward import Mask
from resnet_viz.model.layers import BLOCK_NAMES, STEM_NAMES, resolve
from resnet_viz.text.errors import Reason

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from resnet_viz.model.weights import ModelHandle

__all__ = ["BlockMaps", "ChannelStats", "FeatureTrace", "channel_order", "channel_stats", "common_range", "compute",
           "decomposition", "difference", "model_input", "residual_ratios"]


@dataclass
class BlockMaps:
    """One block's shortcut x, residual F(x) and output relu(F(x) + x) for one image, each (C, H, W)."""

    x: np.ndarray
    fx: np.ndarray
    out: np.ndarray
    shortcut: bool  # False: the mask switched this shortcut off, so out = relu(F(x))

    def summed(self) -> np.ndarray:
        """What goes into the block's final relu: F(x) + x, or F(x) alone with the shortcut off."""
        return self.fx + self.x if self.shortcut else self.fx


@dataclass
class FeatureTrace:
    """Everything the Feature Maps page shows for one (image, mask, weights, crop), detached on the CPU."""

    top5: list[tuple[int, str, float]]  # (class index, label, probability)
    layers: dict[str, np.ndarray]  # stem and block name -> (C, H, W) float32
    blocks: dict[str, BlockMaps]
    picture: np.ndarray  # (H, W, 3) uint8: the exact picture the model saw
    mask: Mask
    preprocessing: Reason  # how the image was resized / cropped (.text(lang))
    note: Reason | None = None  # says so when the GPU ran out of memory and this ran on the CPU

    def maps(self, layer: str) -> np.ndarray:
        return self.layers[resolve(layer)]


def model_input(handle: ModelHandle, image: Image.Image, center_crop: bool = True) -> tuple[torch.Tensor, Reason]:
    """(1, 3, H, W) normalised input and a Reason (locale key + numbers) saying how it was made.

    With the crop, the weights' own transforms (handle.preprocess) decide: ImageNet's resize-256/crop-224,
    or the shapes checkpoint's resize-to-128. Without it, the whole image with its shorter side at image_size.
    """
    if not center_crop:
        x = images.to_tensor(image, handle.mean, handle.std, size=handle.image_size, center_crop=False)
        return x, images.describe_preprocessing(image.size, handle.image_size, center_crop=False)
    x = handle.preprocess(image).unsqueeze(0)  # (1, 3, crop, crop)
    resize, crop = getattr(handle.preprocess, "resize_size", None), getattr(handle.preprocess, "crop_size", None)
    if resize and crop:
        return x, Reason("fm.prep.own", {"width": image.width, "height": image.height, "short": resize[0],
                                         "size": crop[0]})
    return x, Reason("fm.prep.other", {"width": image.width, "height": image.height})


def compute(handle: ModelHandle, image: Image.Image, mask: Sequence[bool] | None = None,
            center_crop: bool = True) -> FeatureTrace:
    """ONE traced forward of `image` (PIL RGB) through handle's model under `mask`, kept as numpy.

    Args:
        handle: the shared model (its lock is held by handle.trace).
        center_crop: True follows the weights' transforms (resize, centre crop); False shows the whole image.
    """

    x, how = model_input(handle, image, center_crop)
    tr = handle.trace(x, mask)  # no grad: nothing is kept for a backward pass

    def arr(t: torch.Tensor) -> np.ndarray:
        return t[0].detach().float().cpu().numpy()  # (C, H, W)

    top5 = top_k(tr.logits, handle.labels, 5)
    layers = {name: arr(tr.layers[name]) for name in (*STEM_NAMES, *BLOCK_NAMES)}
    blocks = {name: BlockMaps(x=arr(b.x), fx=arr(b.fx), out=layers[name], shortcut=tr.mask[i])
              for i, (name, b) in enumerate(tr.blocks.items())}
    return FeatureTrace(top5=top5, layers=layers, blocks=blocks, mask=tr.mask,
                        picture=images.denormalise(x, handle.mean, handle.std),
                        preprocessing=how, note=tr.note)


# ---------------------------------------------------------------- channels


def channel_order(maps: np.ndarray, by_mean: bool) -> np.ndarray:
    """Channel indices: 0..C-1, or by mean activation, highest first (ties keep channel order)."""
    c = maps.shape[0]
    if not by_mean:
        return np.arange(c)
    means = maps.reshape(c, -1).mean(axis=1)
    return np.argsort(-means, kind="stable")


@dataclass(frozen=True)
class ChannelStats:
    """One channel's smallest, mean and largest value."""

    min: float
    mean: float
    max: float


def channel_stats(maps: np.ndarray, channel: int) -> ChannelStats:
    """min, mean and max of one channel."""
    if not 0 <= channel < maps.shape[0]:
        raise ValueError(f"Channel {channel} does not exist; this layer has channels 0 to {maps.shape[0] - 1}.")
    m = maps[channel]
    return ChannelStats(min=float(m.min()), mean=float(m.mean()), max=float(m.max()))


# ---------------------------------------------------------------- residuals


def residual_ratios(blocks: dict[str, BlockMaps]) -> dict[str, float]:
    """||F(x)|| / ||x|| per block (Frobenius norms over C, H, W): how much each block changes its input."""
    out = {}
    for name, b in blocks.items():
        nx = float(np.linalg.norm(b.x.astype(np.float64)))
        out[name] = float(np.linalg.norm(b.fx.astype(np.float64))) / nx if nx > 0 else float("inf")
    return out


def decomposition(block: BlockMaps, channel: int) -> dict[str, np.ndarray]:
    """x, F(x) and F(x) + x (or F(x) alone with the shortcut off) for one channel, (H, W) each."""
    if not 0 <= channel < block.fx.shape[0]:
        raise ValueError(f"Channel {channel} does not exist; this block has channels 0 to {block.fx.shape[0] - 1}.")
    last = "F(x) + x" if block.shortcut else "F(x) (shortcut off)"
    return {"x": block.x[channel], "F(x)": block.fx[channel], last: block.summed()[channel]}


def common_range(arrays: Sequence[np.ndarray], symmetric: bool = False) -> tuple[float, float]:
    """One (lo, hi) covering every array, so side-by-side maps share a colour scale; +-max|v| if symmetric."""
    lo = min(float(a.min()) for a in arrays)
    hi = max(float(a.max()) for a in arrays)
    if symmetric:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def difference(masked: np.ndarray, full: np.ndarray) -> np.ndarray:
    """Current-mask maps minus full-network maps, same layer; shapes must match (same image and crop)."""
    if masked.shape != full.shape:
        raise ValueError(f"Cannot compare maps of shapes {masked.shape} and {full.shape}.")
    return masked - full
