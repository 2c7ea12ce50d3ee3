"""Many channels as one image: the grid layout, per-tile or shared colour scaling, and the signed tiling of a
difference; which channel a pixel of the tiled image belongs to."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Tiled", "grid_shape", "scale", "shrink", "shrink_for", "signed_tile", "tile", "upscale_for"]


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


def signed_tile(diff: np.ndarray, order: np.ndarray | None = None, gap: int = 1, upscale: int = 1
                ) -> tuple[Tiled, float]:
    """Tile a signed difference on one symmetric scale, so 0.5 means no change. Returns (tiled, max |diff|)."""
    m = float(np.abs(diff).max()) or 1.0
    return tile(diff, order=order, gap=gap, upscale=upscale, limits=(-m, m)), m
