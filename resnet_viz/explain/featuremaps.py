"""Feature-map numbers for one image: one traced forward kept as numpy, channel tiling, colour scaling,
channel order and stats, ||F(x)|| / ||x|| per block, and full-network minus masked maps.
"""

from __future__ import annotations

import math
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

__all__ = ["BlockMaps", "ChannelStats", "FeatureTrace", "Tiled", "channel_order", "channel_stats",
           "common_range", "compute", "decomposition", "difference", "grid_shape", "model_input",
           "residual_ratios", "scale", "shrink", "shrink_for", "signed_tile", "tile", "upscale_for"]


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


@dataclass
class Tiled:
    """Channels laid out in a grid as one image.

    values is in [0, 1] on the tiles and NaN in the gaps between them; tile k (reading order) shows
    channel order[k]; lo/hi are the colour scale's ends per tile (equal for every tile when shared).
    """

    values: np.ndarray  # (rows * (h + gap) - gap, cols * (w + gap) - gap) float32
    order: np.ndarray  # (C,)
    rows: int
    cols: int
    tile_h: int
    tile_w: int
    gap: int
    lo: np.ndarray  # (C,) per tile, in tile order
    hi: np.ndarray
    shared: bool

    def tile_at(self, row: int, col: int) -> int | None:
        """The channel drawn at pixel (row, col) of the tiled image, or None in a gap or past the last tile."""
        r, dr = divmod(row, self.tile_h + self.gap)
        c, dc = divmod(col, self.tile_w + self.gap)
        k = r * self.cols + c
        if dr >= self.tile_h or dc >= self.tile_w or not 0 <= k < len(self.order):
            return None
        return int(self.order[k])

    def centres(self) -> list[tuple[float, float, int]]:
        """(row, col, channel) at the centre of every tile, for hover and click targets."""
        out = []
        for k, ch in enumerate(self.order):
            r, c = divmod(k, self.cols)
            out.append((r * (self.tile_h + self.gap) + (self.tile_h - 1) / 2,
                        c * (self.tile_w + self.gap) + (self.tile_w - 1) / 2, int(ch)))
        return out


def scale(maps: np.ndarray, shared: bool, limits: tuple[float, float] | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale (C, H, W) maps to [0, 1]: by one min/max over all channels, or by each channel's own.

    limits=(lo, hi) fixes one scale for all channels instead. A constant map (max == min) becomes 0 rather
    than a division by zero. Returns (scaled, lo, hi), lo and hi of shape (C,).
    """
    c = maps.shape[0]
    flat = maps.reshape(c, -1)
    if limits is not None:
        lo = np.full(c, limits[0], dtype=np.float32)
        hi = np.full(c, limits[1], dtype=np.float32)
    elif shared:
        lo = np.full(c, flat.min(), dtype=np.float32)
        hi = np.full(c, flat.max(), dtype=np.float32)
    else:
        lo, hi = flat.min(axis=1).astype(np.float32), flat.max(axis=1).astype(np.float32)
    span = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
    scaled = (maps - lo[:, None, None]) / span[:, None, None]
    return scaled.astype(np.float32), lo, hi


def grid_shape(channels: int, cols: int | None = None) -> tuple[int, int]:
    """(rows, cols): near-square by default (64 -> 8 x 8, 512 -> 23 x 23)."""
    cols = cols or math.ceil(math.sqrt(channels))
    return math.ceil(channels / cols), cols


def tile(maps: np.ndarray, shared: bool = False, order: np.ndarray | None = None, cols: int | None = None,
         gap: int = 1, upscale: int = 1, limits: tuple[float, float] | None = None) -> Tiled:
    """All channels of (C, H, W) maps as ONE (rows, cols) grid of tiles in [0, 1], NaN in the gaps.

    upscale repeats each map pixel (nearest) so 7x7 maps are not blurred by the browser's smoothing.
    """
    if maps.ndim != 3:
        raise ValueError(f"Expected (channels, height, width) maps, got shape {maps.shape}.")
    c = maps.shape[0]
    order = np.arange(c) if order is None else np.asarray(order)
    scaled, lo, hi = scale(maps, shared, limits)
    scaled, lo, hi = scaled[order], lo[order], hi[order]
    if upscale > 1:
        scaled = scaled.repeat(upscale, axis=1).repeat(upscale, axis=2)
    h, w = scaled.shape[1:]
    rows, cols = grid_shape(c, cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan, dtype=np.float32)
    for k in range(c):
        r, col = divmod(k, cols)
        out[r * (h + gap): r * (h + gap) + h, col * (w + gap): col * (w + gap) + w] = scaled[k]
    return Tiled(values=out, order=order, rows=rows, cols=cols, tile_h=h, tile_w=w, gap=gap, lo=lo, hi=hi,
                 shared=shared or limits is not None)


def upscale_for(side: int, min_side: int = 28) -> int:
    """Integer factor that makes a tile at least min_side pixels (1 for layer1's 56x56 maps, 4 for 7x7)."""
    return max(1, math.ceil(min_side / side))


def shrink_for(side: int, max_side: int = 56) -> int:
    """Integer factor that brings a tile down to at most max_side pixels (2 for the stem's 112x112 maps)."""
    return max(1, math.ceil(side / max_side))


def shrink(maps: np.ndarray, factor: int) -> np.ndarray:
    """Average factor x factor cells of (C, H, W) maps (edges that do not fill a cell are dropped).

    Only for the overview: 64 stem maps at 112x112 would send four times layer1's bytes for tiles
    drawn no larger than layer1's; the single-channel view keeps full resolution.
    """
    if factor <= 1:
        return maps
    c, h, w = maps.shape
    h2, w2 = h // factor, w // factor
    cells = maps[:, : h2 * factor, : w2 * factor].reshape(c, h2, factor, w2, factor)
    return cells.mean(axis=(2, 4))


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


def signed_tile(diff: np.ndarray, order: np.ndarray | None = None, gap: int = 1, upscale: int = 1
                ) -> tuple[Tiled, float]:
    """Tile a signed difference on one symmetric scale, so 0.5 means no change. Returns (tiled, max |diff|)."""
    m = float(np.abs(diff).max()) or 1.0
    return tile(diff, order=order, gap=gap, upscale=upscale, limits=(-m, m)), m
