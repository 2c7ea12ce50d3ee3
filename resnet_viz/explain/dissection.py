"""What one channel looks for, in the data: its top held-out shapes and photos with the unit's top-0.5% mask, and
Network Dissection's concept labels (Bau et al. 2017), through the same masked forward as explain/channels.py."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from resnet_viz import disk_cache
from resnet_viz.data import shapes
from resnet_viz.explain.channels import CACHE_VERSION, Progress, check_request, forward_to
from resnet_viz.inputs import images
from resnet_viz.model.forward import normalise_mask
from resnet_viz.text.readings import THRESHOLDS

__all__ = ["IOU_LABEL", "TOP_K", "TOP_QUANTILE", "Dissection", "Examples", "activations", "cached_dissect",
           "dataset_examples", "dissect", "heldout", "iou_table", "photo_examples", "unit_masks"]

TOP_QUANTILE = 0.005  # Network Dissection: a unit's mask is where it passes its top-0.5% level over the data set,
IOU_LABEL = THRESHOLDS.iou_label  # and a concept labels the unit when their IoU is above 0.04 (Bau et al. 2017)
TOP_K = 9  # dataset examples per channel (Zeiler & Fergus 2014 show 9)


def heldout(n: int, size: int, mean: Sequence[float], std: Sequence[float]) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """The first n held-out shapes: normalised images (n, 3, S, S), labels (n,), object masks (n, S, S)."""
    imgs, labels, masks = shapes.to_arrays(shapes.heldout_set(n, size))
    return _normalised(imgs, mean, std), labels, masks


def _normalised(imgs: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) normalised floats."""
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def unit_masks(acts: Tensor, threshold: Tensor, size: int) -> Tensor:
    """Maps (B, C, h, w) upsampled bilinearly to (size, size), kept where they pass each channel's level: bool."""
    up = F.interpolate(acts, size=(size, size), mode="bilinear", align_corners=False)
    return up > threshold.view(1, -1, 1, 1)


def iou_table(acts: Tensor, labels: np.ndarray, masks: np.ndarray, threshold: Tensor, classes: int,
              batch: int = 20) -> Tensor:
    """Network Dissection's IoU (C, classes): sums over the whole set of |M_k & L_c| / |M_k | L_c|.

    An image without concept c adds its unit mask to the union, as in Bau et al. 2017.
    """
    concept = torch.from_numpy(masks).float()  # (N, S, S)
    inter = torch.zeros(acts.shape[1], classes, dtype=torch.float64)
    unit_area = torch.zeros(acts.shape[1], dtype=torch.float64)
    concept_area = torch.zeros(classes, dtype=torch.float64)
    for i in range(0, len(acts), batch):
        m = unit_masks(acts[i:i + batch], threshold, concept.shape[-1]).float()  # (B, C, S, S)
        lb = concept[i:i + batch]
        onehot = F.one_hot(torch.from_numpy(labels[i:i + batch]), classes).double()  # (B, classes)
        inter += torch.einsum("bkhw,bhw->bk", m, lb).double().T @ onehot
        unit_area += m.sum(dim=(0, 2, 3)).double()
        concept_area += onehot.T @ lb.sum(dim=(1, 2)).double()
    union = unit_area[:, None] + concept_area[None, :] - inter
    return inter / union.clamp_min(1.0)


@dataclass
class Dissection:
    """Per channel of one layer's target, on n held-out shapes: its top-0.5% level, IoU per class, top images."""

    layer: str
    target: str
    mask: tuple[bool, ...]
    n: int
    size: int
    threshold: list[float]  # (C,)
    iou: list[list[float]]  # (C, classes)
    top: list[list[int]]  # (C, TOP_K) held-out indices, strongest first (by the channel's peak in the image)
    top_value: list[list[float]]  # (C, TOP_K) those peaks
    active: list[float]  # (C,) share of positions where the channel passes its ReLU
    best_mean: list[float]  # (C,) the largest spatial mean over the images: what a visualisation must beat
    seconds: float = 0.0

    def best(self, channel: int) -> tuple[int, float]:
        """(class index, IoU) of the channel's best concept."""
        c = int(np.argmax(self.iou[channel]))
        return c, float(self.iou[channel][c])

    def labelled(self) -> int:
        """How many channels get a concept label (best IoU above IOU_LABEL)."""
        return sum(max(row) > IOU_LABEL for row in self.iou)

    @classmethod
    def from_json(cls, d: dict) -> Dissection:
        return cls(**{**d, "mask": tuple(d["mask"])})


def activations(handle, x: Tensor, layer: str, target: str, mask: Sequence[bool] | None, batch: int = 25,
                progress: Progress | None = None) -> Tensor:
    """One target's maps for every image, (N, C, h, w), on the CPU; the lock is held one batch at a time."""
    out = []
    for i in range(0, len(x), batch):
        with handle.lock, torch.no_grad():
            out.append(forward_to(handle.model, x[i:i + batch].to(handle.device), layer, mask)[target].cpu())
        if progress is not None:
            progress(min(i + batch, len(x)) / len(x))
    return torch.cat(out)


def dissect(handle, layer: str, target: str = "out", mask: Sequence[bool] | None = None, *, n: int = 200,
            size: int = 64, progress: Progress | None = None) -> Dissection:
    """Dataset examples and concept labels for every channel of one layer's target, on n held-out shapes."""
    check_request(handle, layer, target)
    mask, t0 = normalise_mask(mask), time.perf_counter()
    x, labels, masks = heldout(n, size, handle.mean, handle.std)
    acts = activations(handle, x, layer, target, mask, progress=progress and (lambda f: progress(0.7 * f)))
    flat = acts.transpose(0, 1).reshape(acts.shape[1], -1)  # (C, N*h*w)
    # kthvalue, not quantile: torch.quantile refuses inputs over 2^24 values (layer1 at 128 px has more).
    threshold = flat.kthvalue(max(1, math.ceil((1.0 - TOP_QUANTILE) * flat.shape[1])), dim=1).values  # (C,)
    iou = iou_table(acts, labels, masks, threshold, len(shapes.CLASSES))
    top_value, top = acts.amax(dim=(-2, -1)).topk(min(TOP_K, n), dim=0)  # (K, C)
    if progress is not None:
        progress(1.0)
    return Dissection(layer, target, mask, n, size, threshold.tolist(), iou.float().tolist(), top.T.tolist(),
                      top_value.T.tolist(), (flat > 0).float().mean(dim=1).tolist(),
                      acts.mean(dim=(-2, -1)).amax(dim=0).tolist(), time.perf_counter() - t0)


def cached_dissect(handle, layer: str, target: str = "out", mask: Sequence[bool] | None = None, *, n: int = 200,
                   size: int = 64, progress: Progress | None = None) -> Dissection:
    """`dissect`, computed once per (weights digest, layer, target, mask, n, size)."""
    mask = normalise_mask(mask)
    key = disk_cache.key([CACHE_VERSION, handle.digest, layer, target, mask, n, size])
    stored = disk_cache.computed_once(
        disk_cache.cache_dir("channels") / f"dissect-{key}.json",
        lambda report: asdict(dissect(handle, layer, target, mask, n=n, size=size, progress=report)), progress)
    return Dissection.from_json(stored)


# ---------------------------------------------------------------- one channel's examples


@dataclass
class Examples:
    """A channel's strongest images with its unit mask (the top-0.5% level) and the box the mask covers."""

    images: list[np.ndarray]  # (S, S, 3) uint8
    masks: list[np.ndarray]  # (S, S) bool
    boxes: list[tuple[int, int, int, int]]  # (top, left, bottom, right), bottom/right exclusive
    values: list[float]  # the channel's peak in each image
    names: list[str]  # held-out index or photo name


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return 0, 0, mask.shape[0], mask.shape[1]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _examples(handle, d: Dissection, channel: int, x: Tensor, names: list[str]) -> Examples:
    acts = activations(handle, x, d.layer, d.target, d.mask)[:, channel:channel + 1]  # (K, 1, h, w)
    masks = unit_masks(acts, torch.tensor([d.threshold[channel]]), x.shape[-1])[:, 0].numpy()
    rgb = x * torch.tensor(handle.std).view(1, 3, 1, 1) + torch.tensor(handle.mean).view(1, 3, 1, 1)
    imgs = (rgb.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return Examples(list(imgs), list(masks), [_box(m) for m in masks], acts.amax(dim=(1, 2, 3)).tolist(), names)


def dataset_examples(handle, d: Dissection, channel: int) -> Examples:
    """The channel's top held-out shapes (as ranked by the dissection), each with its unit mask."""
    picked = [_heldout_one(i, d.size) for i in d.top[channel]]
    imgs, labels, _ = shapes.to_arrays(picked)
    names = [shapes.CLASSES[c] for c in labels]
    return _examples(handle, d, channel, _normalised(imgs, handle.mean, handle.std), names)


def _heldout_one(i: int, size: int) -> shapes.Sample:
    """Held-out image i alone, as shapes.heldout_set draws it (its seed and balanced label)."""
    return shapes.make_sample((shapes.HELDOUT_SEED, i), size, label=i % len(shapes.CLASSES))


def photo_examples(handle, d: Dissection, channel: int) -> Examples:
    """The shipped photos (not the generated shapes), strongest first, each with the channel's unit mask."""
    photos = [s for s in images.list_samples() if s.mask is None]
    x = torch.stack([handle.preprocess(images.load_sample(s.name)) for s in photos])
    ex = _examples(handle, d, channel, x, [s.name for s in photos])
    order = np.argsort(ex.values)[::-1]
    return Examples(*[[getattr(ex, f)[i] for i in order] for f in ("images", "masks", "boxes", "values", "names")])
