"""Grad-CAM of many layers in ONE traced forward and ONE backward, with no hooks, on the shared model (shortcut
mask included), and where a coarse map peaks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz.inputs.classes import resolve_target, top_k
from resnet_viz.model import fallback
from resnet_viz.model.forward import ALL_ON, Mask, normalise_mask, trace
from resnet_viz.model.layers import STAGE_NAMES, cam_layers
from resnet_viz.text.errors import AttributionError

if TYPE_CHECKING:
    from resnet_viz.model.weights import ModelHandle
    from resnet_viz.text.errors import Reason

__all__ = ["AttributionError", "GradCam", "as_batch", "cams_one_pass", "check_layers", "for_display", "grad_cam",
           "peak_cell_center", "upsample"]


# ---------------------------------------------------------------- Grad-CAM, one pass


def check_layers(layers: Sequence[str]) -> list[str]:
    layers = [layers] if isinstance(layers, str) else list(layers)
    valid = set(cam_layers())
    bad = [n for n in layers if n not in valid]
    if bad or not layers:
        raise AttributionError(f"Unknown layer {bad[0] if bad else '(none)'!r} for Grad-CAM; choose from "
                               f"conv1, layer1..layer4, a block such as layer3.1, or a block part such as "
                               f"layer3.1.conv2.")
    return layers


def as_batch(x: Tensor) -> Tensor:
    """(3, H, W) or (B, 3, H, W) -> (B, 3, H, W); anything else is refused."""
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] != 3:
        raise AttributionError(f"Expected a (3, H, W) or (B, 3, H, W) image tensor, got {tuple(x.shape)}.")
    return x


def cams_one_pass(model: nn.Module, x: Tensor, layers: Sequence[str], target: Tensor | int | None = None,
                  mask: Sequence[bool] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Raw Grad-CAM (B, 1, h, w) of several layers from ONE traced forward and ONE backward.

    Equals captum's `LayerGradCam(..., relu_attributions=True)` per layer. The gradient is taken at the
    activations only: the model's parameters do not require grad, so the input gets `requires_grad`
    (on our own copy of it) merely so that autograd records the graph; the backward stops at the
    earliest requested layer and computes no parameter gradients. The caller holds any lock.

    Returns:
        logits (B, classes) and layer -> raw map.
    """
    layers = check_layers(layers)
    x = as_batch(x).detach().clone().requires_grad_(True)  # (B, 3, H, W)
    with torch.enable_grad():
        # Block parts (layer3.1.conv1, layer2.0.downsample) exist only in a trace that records internals.
        tr = trace(model, x, mask, inner=any(n.count(".") >= 2 for n in layers))
        if target is None:
            idx = tr.logits.argmax(1)
        else:
            idx = torch.as_tensor(target, device=tr.logits.device).reshape(-1).expand(x.shape[0])
        score = tr.logits.gather(1, idx[:, None]).sum()  # samples are independent in eval mode
        acts = [tr.layers[n] for n in layers]
        # allow_unused: a block's downsample is off the path when its shortcut is switched off.
        grads = torch.autograd.grad(score, acts, allow_unused=True)
    cams = {}
    for name, a, g in zip(layers, acts, grads, strict=True):
        if g is None:
            g = torch.zeros_like(a)
        weights = g.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1): captum's order of operations
        cams[name] = F.relu((weights * a.detach()).sum(dim=1, keepdim=True))  # (B, 1, h, w)
    return tr.logits.detach(), cams


def upsample(cam: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear upsampling of (B, 1, h, w) maps to `size` (captum's LayerAttribution.interpolate)."""
    return F.interpolate(cam, size=size, mode="bilinear", align_corners=False)


def for_display(values: np.ndarray, signed: bool = False) -> np.ndarray:
    """Scale a map into [0, 1] for colouring (or [-1, 1] when signed); an all-zero map stays zero."""
    v = np.asarray(values, dtype=np.float32)
    peak = float(np.abs(v).max()) if v.size else 0.0
    if peak <= 0 or not math.isfinite(peak):
        return np.zeros_like(v)
    return v / peak if signed else np.clip(v, 0, None) / peak


def peak_cell_center(cam_small: np.ndarray, out_hw: tuple[int, int]) -> tuple[float, float]:
    """Peak of a small map in output pixels: the centre of the winning cell, as (row, col).

    Upsampling a coarse map makes plateaus of equal maximum where `argmax` returns the plateau's first
    pixel (a corner); the cell centre is where the cell's evidence actually sits. Ties go to the centroid
    of the tied cells.
    """
    cam = np.asarray(cam_small, dtype=np.float64)
    if cam.ndim != 2:
        raise ValueError(f"cam_small must be 2-D (h, w), got shape {cam.shape}")
    h, w = cam.shape
    top = np.argwhere(cam >= cam.max() - 1e-12 * max(1.0, abs(float(cam.max()))))
    i, j = top.mean(axis=0)
    H, W = out_hw
    return ((i + 0.5) * H / h, (j + 0.5) * W / w)


@dataclass
class GradCam:
    """Grad-CAM of one image for one class at several layers."""

    target: int
    label: str
    prob: float  # probability of `target`
    top: list[tuple[int, str, float]]  # top-5 (index, label, probability)
    raw: dict[str, np.ndarray]  # layer -> (h, w) raw map (ReLU of the weighted sum)
    maps: dict[str, np.ndarray]  # layer -> (H, W) raw map upsampled to the image
    peaks: dict[str, tuple[float, float]]  # layer -> (row, col) centre of the strongest cell
    mask: Mask = ALL_ON
    seconds: float = 0.0
    note: Reason | None = None  # says so when the GPU ran out of memory and this ran on the CPU


def grad_cam(handle: ModelHandle, x: Tensor, layers: Sequence[str] = STAGE_NAMES, target: int | str | None = None,
             mask: Sequence[bool] | None = None) -> GradCam:
    """Grad-CAM of one image (1, 3, H, W) at `layers`, for `target` (top-1 by default), under `mask`."""
    mask = normalise_mask(mask)
    x = as_batch(x)
    if x.shape[0] != 1:
        raise AttributionError("grad_cam takes one image; use cams_one_pass for a batch.")
    t0 = time.perf_counter()
    if target is None or (isinstance(target, str) and target.strip().lower() in ("", "auto")):
        idx = None
    else:
        idx = resolve_target(target, handle.labels)
    (logits, cams), note = fallback.run(handle.model, handle.device, handle.lock,
                                        lambda model, device: cams_one_pass(model, x.to(device), layers, idx, mask))
    idx = resolve_target(idx, handle.labels, logits)
    hw = tuple(x.shape[-2:])
    raw = {n: c[0, 0].cpu().numpy() for n, c in cams.items()}
    return GradCam(target=idx, label=handle.labels[idx], prob=float(logits[0].softmax(-1)[idx]),
                   top=top_k(logits, handle.labels), raw=raw,
                   maps={n: upsample(c, hw)[0, 0].cpu().numpy() for n, c in cams.items()},
                   peaks={n: tuple(float(v) for v in peak_cell_center(r, hw)) for n, r in raw.items()}, mask=mask,
                   seconds=time.perf_counter() - t0, note=note)

