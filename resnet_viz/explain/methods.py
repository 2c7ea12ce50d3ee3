"""Other attribution methods on captum: Guided Grad-CAM, Integrated Gradients, Occlusion and Saliency, as a
table. captum's hook-based methods run on a private deep copy of the model, never on the shared model."""

# What each method means to a reader is in the locale files under `cam.note.<method>` (MethodMap.note_key).

from __future__ import annotations

import copy
import threading
import time
import types
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from resnet_viz.explain.gradcam import AttributionError, as_batch
from resnet_viz.model.forward import iter_blocks, normalise_mask
from resnet_viz.model.layers import BLOCK_NAMES, STAGE_NAMES

if TYPE_CHECKING:
    from resnet_viz.model.weights import ModelHandle

__all__ = ["BASELINES", "METHODS", "MODULE_LAYERS", "MethodMap", "MethodOptions", "baseline", "module_copy",
           "module_layer", "other_method", "set_shortcuts"]

BASELINES: tuple[str, ...] = ("black", "blurred", "mean")
# Layers a captum hook can sit on in the private copy (each module runs once per forward).
MODULE_LAYERS: tuple[str, ...] = ("conv1", "bn1", "maxpool", *STAGE_NAMES, *BLOCK_NAMES)


# ---------------------------------------------------------------- the private copy for captum


def _block_forward(self, x: Tensor) -> Tensor:
    # torchvision's BasicBlock.forward with a switchable shortcut; runs through the modules (not
    # functional calls) so captum's module hooks (Guided Backprop's ReLU hooks, layer hooks) fire.
    identity = x if self.downsample is None else self.downsample(x)
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    if self.shortcut:
        out = out + identity
    return self.relu(out)


def module_copy(model: nn.Module) -> nn.Module:
    """A deep copy whose blocks read a `shortcut` flag and whose ReLUs are not in place.

    Non-inplace ReLUs keep each hooked output intact, and Guided Backprop's hooks see clean gradients.
    """
    twin = copy.deepcopy(model).eval().requires_grad_(False)
    for m in twin.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    for _, block in iter_blocks(twin):
        block.shortcut = True
        block.forward = types.MethodType(_block_forward, block)
    return twin


def set_shortcuts(twin: nn.Module, mask: Sequence[bool] | None) -> None:
    """Switch the copy's shortcuts (only ever on a copy from module_copy)."""
    for (_, block), on in zip(iter_blocks(twin), normalise_mask(mask), strict=True):
        block.shortcut = on


@dataclass
class _Twin:
    model: nn.Module
    lock: threading.RLock = field(default_factory=threading.RLock)


_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TWINS_LOCK = threading.Lock()


def _twin(handle: ModelHandle) -> _Twin:
    """The handle's private copy, made once (under the handle's lock, while the original is read)."""
    with _TWINS_LOCK:
        twin = _TWINS.get(handle.model)
        if twin is None:
            with handle.lock:
                twin = _Twin(module_copy(handle.model))
            _TWINS[handle.model] = twin
        return twin


# ---------------------------------------------------------------- baselines


def baseline(x: Tensor, kind: str, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """A reference image in normalised space: black pixels, a heavy blur of x, or the mean colour (zeros)."""
    x = as_batch(x)
    if kind == "black":
        m = torch.tensor(list(mean), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        s = torch.tensor(list(std), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return ((0 - m) / s).expand_as(x).clone()
    if kind == "blurred":
        from torchvision.transforms.functional import gaussian_blur

        k = (min(x.shape[-2:]) // 4) | 1  # odd, a quarter of the image: objects become blobs
        return gaussian_blur(x, [k, k], [k / 4.0, k / 4.0])
    if kind == "mean":
        return torch.zeros_like(x)
    raise AttributionError(f"Unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}.")


# ---------------------------------------------------------------- the methods, one row each


@dataclass(frozen=True)
class MethodOptions:
    """The knobs of the methods; each method reads the ones it needs."""

    layer: str = "layer4"  # Guided Grad-CAM's layer
    baseline_kind: str = "mean"  # Integrated Gradients' and Occlusion's reference image (see `baseline`)
    ig_steps: int = 16  # Integrated Gradients' path steps (few, to stay fast on a CPU)
    window: int = 32  # Occlusion's square patch side in pixels ...
    stride: int = 32  # ... and its step
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)  # the weights' normalisation, for the black baseline
    std: tuple[float, ...] = (1.0, 1.0, 1.0)


# attribute(copy, x, target, options) -> (attribution (1, 3, H, W), extra numbers for the page)
Attribute = Callable[[nn.Module, Tensor, int, MethodOptions], tuple[Tensor, dict]]


@dataclass(frozen=True)
class _Method:
    attribute: Attribute
    flatten: Callable[[np.ndarray], np.ndarray]  # (3, H, W) -> (H, W) for display
    signed: bool  # True: show with a diverging colour scale
    check: Callable[[Tensor, MethodOptions], None] = lambda x, o: None  # refuses bad options before any work


def module_layer(twin: nn.Module, layer: str) -> nn.Module:
    """The copy's module for a Guided Grad-CAM layer (one of MODULE_LAYERS)."""
    if layer not in MODULE_LAYERS:
        raise AttributionError(f"Guided Grad-CAM needs a module layer: one of {', '.join(MODULE_LAYERS)}.")
    return twin.get_submodule(layer)


def _guided_gradcam(net: nn.Module, x: Tensor, target: int, o: MethodOptions) -> tuple[Tensor, dict]:
    from captum.attr import GuidedGradCam

    return GuidedGradCam(net, module_layer(net, o.layer)).attribute(x, target=target, interpolate_mode="bilinear"), {}


def _integrated_gradients(net: nn.Module, x: Tensor, target: int, o: MethodOptions) -> tuple[Tensor, dict]:
    from captum.attr import IntegratedGradients

    base = baseline(x, o.baseline_kind, o.mean, o.std)
    attr, delta = IntegratedGradients(net).attribute(x, base, target=target, n_steps=o.ig_steps,
                                                     internal_batch_size=8, return_convergence_delta=True)
    return attr, {"baseline": o.baseline_kind, "completeness_gap": float(delta.abs().max()), "steps": o.ig_steps}


def _occlusion(net: nn.Module, x: Tensor, target: int, o: MethodOptions) -> tuple[Tensor, dict]:
    from captum.attr import Occlusion

    base = baseline(x, o.baseline_kind, o.mean, o.std)
    attr = Occlusion(net).attribute(x, sliding_window_shapes=(3, o.window, o.window), strides=(3, o.stride, o.stride),
                                    baselines=base, target=target, perturbations_per_eval=8)
    return attr, {"baseline": o.baseline_kind, "window": o.window, "stride": o.stride}


def _saliency(net: nn.Module, x: Tensor, target: int, o: MethodOptions) -> tuple[Tensor, dict]:
    from captum.attr import Saliency

    return Saliency(net).attribute(x, target=target, abs=True), {}


def _check_ig(x: Tensor, o: MethodOptions) -> None:
    if not 1 <= o.ig_steps <= 512:
        raise AttributionError("Integrated Gradients needs between 1 and 512 steps.")


def _check_occlusion(x: Tensor, o: MethodOptions) -> None:
    if not (1 <= o.stride <= o.window <= min(x.shape[-2:])):
        raise AttributionError(f"Occlusion needs 1 <= stride <= window <= image side, got window {o.window}, "
                               f"stride {o.stride}.")


_METHODS: dict[str, _Method] = {
    "guided_gradcam": _Method(_guided_gradcam, lambda a: np.abs(a).sum(0), signed=False),
    "integrated_gradients": _Method(_integrated_gradients, lambda a: a.sum(0), signed=True, check=_check_ig),
    "occlusion": _Method(_occlusion, lambda a: a.sum(0), signed=True, check=_check_occlusion),
    # Saliency shows the strongest channel, as in Simonyan et al. (2014).
    "saliency": _Method(_saliency, lambda a: a.max(0), signed=False),
}
METHODS: tuple[str, ...] = tuple(_METHODS)


@dataclass
class MethodMap:
    """One attribution method's result for one image and class."""

    method: str
    attr: np.ndarray  # (3, H, W) as captum returns it
    map: np.ndarray  # (H, W) for display
    signed: bool  # True: show with a diverging colour scale
    note_key: str  # locale key of what the method shows and where it misleads
    seconds: float
    extra: dict = field(default_factory=dict)


def _check_request(handle: ModelHandle, x: Tensor, method: str, target: int) -> Tensor:
    if method not in _METHODS:
        raise AttributionError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    x = as_batch(x)
    if x.shape[0] != 1:
        raise AttributionError("Attribution methods take one image at a time.")
    if min(x.shape[-2:]) < 32:
        raise AttributionError(f"Images must be at least 32x32 pixels, got {x.shape[-2]}x{x.shape[-1]}.")
    if not 0 <= int(target) < handle.num_classes:
        raise AttributionError(f"Class index {target} is out of range (0..{handle.num_classes - 1}).")
    return x


def other_method(handle: ModelHandle, x: Tensor, method: str, target: int, mask: Sequence[bool] | None = None,
                 layer: str = "layer4", baseline_kind: str = "mean", ig_steps: int = 16,
                 window: int = 32, stride: int = 32) -> MethodMap:
    """Run one captum method on the handle's private copy (never on the shared model).

    Args:
        method: one of METHODS.
        target: class index.
        layer, baseline_kind, ig_steps, window, stride: see MethodOptions.
    """
    x = _check_request(handle, x, method, target)
    row = _METHODS[method]
    options = MethodOptions(layer, baseline_kind, ig_steps, window, stride, tuple(handle.mean), tuple(handle.std))
    row.check(x, options)
    twin = _twin(handle)
    t0 = time.perf_counter()
    with twin.lock:
        set_shortcuts(twin.model, mask)
        attr, extra = row.attribute(twin.model, x.to(handle.device), int(target), options)
    attr_np = attr.detach()[0].cpu().numpy()  # (3, H, W)
    return MethodMap(method=method, attr=attr_np, map=row.flatten(attr_np), signed=row.signed,
                     note_key=f"cam.note.{method}", seconds=time.perf_counter() - t0, extra=extra)
