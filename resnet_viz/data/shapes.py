"""The synthetic "shapes" data set: seeded images of one object on a cluttered background, with its mask.

Only numpy's `default_rng` and PIL drawing are used, so the same seed gives the same bytes on every machine.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["CLASSES", "HELDOUT_SEED", "HELDOUT_SIZE", "MEAN", "MIN_SIZE", "RADIUS_PX", "STD", "TRAIN_SEED", "Layers",
           "Sample", "heldout_set", "make_layers", "make_sample", "point_in_mask", "sample_images", "to_arrays",
           "training_batch", "write_gallery"]

CLASSES: tuple[str, ...] = (
    "circle", "square", "triangle", "star", "ring",
    "crescent", "plus", "arrow", "stripes", "checker",
)
# Objects keep a fixed size in pixels whatever the canvas, so a net trained on small canvases
# still sees familiar objects on large ones (it is convolutional up to the global pool).
RADIUS_PX: tuple[int, int] = (12, 20)
MIN_SIZE = 2 * RADIUS_PX[1] + 8
HELDOUT_SEED = 20240917
HELDOUT_SIZE = 128
TRAIN_SEED = 0
# Per-channel statistics of generated images (measured on 2000 samples at 128 px), used for normalisation.
MEAN: tuple[float, float, float] = (0.491, 0.488, 0.495)
STD: tuple[float, float, float] = (0.235, 0.236, 0.235)


class Sample(NamedTuple):
    """One generated example: RGB image, class index into CLASSES, boolean (H, W) mask of the object."""

    image: Image.Image
    label: int
    mask: np.ndarray


class Layers(NamedTuple):
    """The parts a sample is composed from: the image is `where(mask, foreground, background)`."""

    background: np.ndarray  # (H, W, 3) uint8
    foreground: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool
    label: int


def _rng(seed_or_rng: int | np.random.Generator | tuple | list) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def _polygon(name: str) -> list[tuple[float, float]]:
    """Unit-size outline (circumradius about 1) of a polygonal class, centred on the origin."""
    if name in ("square", "stripes", "checker"):
        return [(math.cos(a), math.sin(a)) for a in np.radians([45, 135, 225, 315])]
    if name == "triangle":
        return [(math.cos(a), math.sin(a)) for a in np.radians([90, 210, 330])]
    if name == "star":
        pts = []
        for k in range(10):
            rad = 1.0 if k % 2 == 0 else 0.42
            a = math.pi / 2 + k * math.pi / 5
            pts.append((rad * math.cos(a), rad * math.sin(a)))
        return pts
    if name == "plus":
        w = 0.32
        return [(w, -1), (w, -w), (1, -w), (1, w), (w, w), (w, 1),
                (-w, 1), (-w, w), (-1, w), (-1, -w), (-w, -w), (-w, -1)]
    if name == "arrow":
        return [(-1, -0.28), (0.15, -0.28), (0.15, -0.7), (1, 0), (0.15, 0.7), (0.15, 0.28), (-1, 0.28)]
    raise ValueError(f"{name!r} is not a polygon class")


def _draw_mask(name: str, size: int, cx: float, cy: float, r: float, theta: float) -> np.ndarray:
    """Binary (size, size) mask of the object, drawn with PIL."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    if name in ("circle", "ring", "crescent"):
        rc = 0.85 * r  # a disc of circumradius r looks bigger than the polygons: shrink it a little
        draw.ellipse([cx - rc, cy - rc, cx + rc, cy + rc], fill=255)
        if name == "ring":
            ri = 0.5 * rc
            draw.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
        elif name == "crescent":
            ox, oy = cx + 0.5 * rc * math.cos(theta), cy + 0.5 * rc * math.sin(theta)
            ri = 0.85 * rc
            draw.ellipse([ox - ri, oy - ri, ox + ri, oy + ri], fill=0)
    else:
        c, s = math.cos(theta), math.sin(theta)
        pts = [(round(cx + r * (c * x - s * y), 2), round(cy + r * (s * x + c * y), 2)) for x, y in _polygon(name)]
        draw.polygon(pts, fill=255)
    return np.asarray(img) > 127


def _colour(rng: np.random.Generator, avoid: list[np.ndarray], min_dist: float) -> np.ndarray:
    """A random RGB colour at least `min_dist` away from every colour in `avoid` (16 tries, then the best)."""
    best, best_d = None, -1.0
    for _ in range(16):
        col = rng.integers(0, 256, size=3).astype(np.float32)
        d = min(float(np.linalg.norm(col - a)) for a in avoid)
        if d >= min_dist:
            return col
        if d > best_d:
            best, best_d = col, d
    return best


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth two-colour gradient along a random direction, plus a few distractor lines; float (H, W, 3)."""
    c0 = rng.integers(0, 256, size=3).astype(np.float32)
    c1 = rng.integers(0, 256, size=3).astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = (math.cos(a) * xx + math.sin(a) * yy)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    bg = c0 + t[..., None] * (c1 - c0)  # (H, W, 3)
    img = Image.fromarray(bg.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0, x1, y1 = rng.uniform(-0.2, 1.2, size=4) * size
        col = tuple(int(v) for v in rng.integers(0, 256, size=3))
        draw.line([(x0, y0), (x1, y1)], fill=col, width=int(rng.integers(1, 4)))
    return np.asarray(img).astype(np.float32)


def _texture(name: str, rng: np.random.Generator, size: int, cx: float, cy: float, theta: float,
             col: np.ndarray, under: np.ndarray) -> np.ndarray:
    """Foreground colours (H, W, 3): one colour, or two in stripes / a checkerboard for the patterned classes."""
    if name not in ("stripes", "checker"):
        return np.broadcast_to(col, (size, size, 3)).astype(np.float32)
    col2 = _colour(rng, [col, under], 120.0)
    period = float(rng.uniform(6.0, 9.0))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c, s = math.cos(theta), math.sin(theta)
    u = (c * (xx - cx) + s * (yy - cy)) / period
    v = (-s * (xx - cx) + c * (yy - cy)) / period
    on = np.floor(u) % 2 == 0
    if name == "checker":
        on = on ^ (np.floor(v) % 2 == 0)
    return np.where(on[..., None], col, col2).astype(np.float32)


def make_layers(seed_or_rng: int | np.random.Generator | tuple | list, size: int = HELDOUT_SIZE,
                label: int | None = None) -> Layers:
    """Draw the background, foreground and mask of one sample (see `make_sample`)."""
    if size < MIN_SIZE:
        raise ValueError(f"image size must be at least {MIN_SIZE} px for the shapes data, got {size}")
    rng = _rng(seed_or_rng)
    if label is None:
        label = int(rng.integers(len(CLASSES)))
    if not 0 <= label < len(CLASSES):
        raise ValueError(f"label must be in 0..{len(CLASSES) - 1}, got {label}")
    name = CLASSES[label]
    bg = _background(rng, size)
    r = float(rng.uniform(*RADIUS_PX))
    margin = r + 2
    cx, cy = rng.uniform(margin, size - margin, size=2)
    theta = float(rng.uniform(0, 2 * math.pi))
    mask = _draw_mask(name, size, cx, cy, r, theta)
    under = bg[mask].mean(axis=0) if mask.any() else bg.mean(axis=(0, 1))
    col = _colour(rng, [under], 150.0)
    fg = _texture(name, rng, size, cx, cy, theta, col, under)
    # One noise field on both layers keeps the object from being the only flat region.
    noise = rng.normal(0.0, 10.0, size=(size, size, 1)).astype(np.float32)
    to8 = lambda a: np.clip(a + noise, 0, 255).astype(np.uint8)  # noqa: E731
    return Layers(to8(bg), to8(fg), mask, label)


def make_sample(seed_or_rng: int | np.random.Generator | tuple | list, size: int = HELDOUT_SIZE,
                label: int | None = None) -> Sample:
    """One sample: an object of a random (or given) class at a random place, size, angle and colour.

    Args:
        seed_or_rng: an int / int sequence seed for `np.random.default_rng`, or a Generator to draw from.
        size: side of the square canvas in pixels (objects keep their pixel size, RADIUS_PX).
        label: class index to draw; random when None.
    """
    layers = make_layers(seed_or_rng, size, label)
    img = np.where(layers.mask[..., None], layers.foreground, layers.background)
    return Sample(Image.fromarray(img, "RGB"), layers.label, layers.mask)


def heldout_set(n: int = 500, size: int = HELDOUT_SIZE) -> list[Sample]:
    """The fixed held-out set used by every evaluation: balanced classes, seed HELDOUT_SEED."""
    return [make_sample((HELDOUT_SEED, i), size, label=i % len(CLASSES)) for i in range(n)]


def sample_images(n_per_class: int = 1, size: int = HELDOUT_SIZE) -> list[tuple[str, Image.Image, np.ndarray]]:
    """A small gallery for the app: (class name, image, mask) for each class, from the held-out stream."""
    return [(CLASSES[s.label], s.image, s.mask) for s in heldout_set(n_per_class * len(CLASSES), size)]


def write_gallery(folder: Path) -> list[dict]:
    """Write one held-out image per class and its object mask as PNGs; return their samples.json entries."""
    entries = []
    for name, image, mask in sample_images():
        image.save(folder / f"shapes_{name}.png", optimize=True)
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"shapes_{name}_mask.png", optimize=True)
        entries.append({"name": f"shapes: {name}", "file": f"shapes_{name}.png", "mask": f"shapes_{name}_mask.png",
                        "caption": f"A generated '{name}' on a cluttered background (held-out set)",
                        "licence": "CC0", "source": "generated by resnet_viz.data.shapes.write_gallery"})
    return entries


def to_arrays(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack samples into images (N, H, W, 3) uint8, labels (N,) int64 and masks (N, H, W) bool."""
    imgs = np.stack([np.asarray(s.image) for s in samples])
    labels = np.array([s.label for s in samples], dtype=np.int64)
    masks = np.stack([s.mask for s in samples])
    return imgs, labels, masks


def training_batch(seed: int, step: int, batch_size: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch `step` of the endless training stream: images (B, H, W, 3) uint8 and labels (B,).

    Seeds start with TRAIN_SEED's stream id `seed` and never equal the held-out seeds (first word differs).
    """
    if seed == HELDOUT_SEED:
        raise ValueError("the training seed must differ from the held-out seed")
    samples = [make_sample((seed, step, i), size) for i in range(batch_size)]
    imgs, labels, _ = to_arrays(samples)
    return imgs, labels


def point_in_mask(mask: np.ndarray, point: tuple[float, float], dilate_px: int = 0) -> bool:
    """Whether a (row, col) point falls in the mask, or within `dilate_px` pixels (Euclidean) of it."""
    H, W = mask.shape
    r = min(max(int(point[0]), 0), H - 1)
    c = min(max(int(point[1]), 0), W - 1)
    d = int(dilate_px)
    r0, c0 = max(r - d, 0), max(c - d, 0)
    win = mask[r0:r + d + 1, c0:c + d + 1]
    yy, xx = np.mgrid[r0:r0 + win.shape[0], c0:c0 + win.shape[1]]
    return bool((win & ((yy - r) ** 2 + (xx - c) ** 2 <= d * d)).any())
