"""Where the network looks: Grad-CAM of many layers in one pass, other captum methods, and their checks.

Grad-CAM runs the traced forward (shortcut mask included) on the shared model with no hooks at all;
captum's hook-based methods run on a private deep copy, never on the shared model.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import types
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from resnet_viz import fallback
from resnet_viz.config import BLOCK_NAMES, STAGE_NAMES
from resnet_viz.forward import Mask, iter_blocks, normalise_mask, trace
from resnet_viz.shapes import peak_cell_center
from resnet_viz.weights import ModelHandle

METHODS: tuple[str, ...] = ("guided_gradcam", "integrated_gradients", "occlusion", "saliency")
BASELINES: tuple[str, ...] = ("black", "blurred", "mean")
# Layers a captum hook can sit on in the private copy (each module runs once per forward).
MODULE_LAYERS: tuple[str, ...] = ("conv1", "bn1", "maxpool", *STAGE_NAMES, *BLOCK_NAMES)
# Cascading randomisation, top to bottom as in Adebayo et al. (2018).
CASCADE: tuple[str, ...] = ("fc", *reversed(BLOCK_NAMES), "conv1")

NOTES = {
    "gradcam": "Grad-CAM weights each feature map of a layer by the average gradient of the class score and "
               "keeps the positive sum: class-specific but coarse (7 × 7 cells at layer4 for a 224 px image).",
    "guided_gradcam": "Guided Grad-CAM multiplies Grad-CAM by Guided Backpropagation to get sharp edges. Be "
                      "careful: Adebayo et al. (2018, 'Sanity Checks for Saliency Maps') found Guided Backprop "
                      "and Guided Grad-CAM almost unchanged when the model's weights are randomised, so the "
                      "fine detail mostly shows the image's edges, not what the network learnt.",
    "integrated_gradients": "Integrated Gradients averages input gradients along a straight path from a baseline "
                            "image to this one; the attributions add up to the score change (completeness), "
                            "up to the step error shown. Different baselines give different maps.",
    "occlusion": "Occlusion slides a patch of the baseline over the image and records how much the class score "
                 "drops: it needs no gradients, but it is slow and only as sharp as its window.",
    "saliency": "Saliency is the size of the input gradient: quick and noisy. It says which pixels would change "
                "the score locally, not which evidence the network used.",
}


class AttributionError(ValueError):
    """A request cannot be served (unknown layer, class, method...); the message is for a person."""


# ---------------------------------------------------------------- targets


def find_labels(labels: Sequence[str], query: str, limit: int = 20) -> list[tuple[int, str]]:
    """Classes whose name contains `query` (case-insensitive), exact matches first."""
    q = query.strip().lower()
    if not q:
        return []
    hits = [(i, name) for i, name in enumerate(labels) if q in name.lower()]
    hits.sort(key=lambda h: (h[1].lower() != q, not h[1].lower().startswith(q), h[0]))
    return hits[:limit]


def resolve_target(target: int | str | None, labels: Sequence[str], logits: Tensor | None = None) -> int:
    """None or "auto" -> the top-1 class of `logits`; an int or digits -> that index; a name -> its index."""
    if target is None or (isinstance(target, str) and target.strip().lower() in ("", "auto", "top1", "top-1")):
        if logits is None:
            raise AttributionError("The top-1 class needs the model's output.")
        return int(logits.reshape(-1, logits.shape[-1])[0].argmax())
    if isinstance(target, str) and target.strip().lstrip("-").isdigit():
        target = int(target.strip())
    if isinstance(target, int | np.integer):
        if not 0 <= int(target) < len(labels):
            raise AttributionError(f"Class index {target} is out of range: this model has {len(labels)} classes "
                                   f"(0..{len(labels) - 1}).")
        return int(target)
    hits = find_labels(labels, str(target))
    if not hits:
        raise AttributionError(f"No class name contains {target!r}.")
    if hits[0][1].lower() != str(target).strip().lower() and len(hits) > 1:
        names = ", ".join(n for _, n in hits[:5])
        raise AttributionError(f"{target!r} matches several classes ({names}...); type the full name or an index.")
    return hits[0][0]


def top_k(logits: Tensor, labels: Sequence[str], k: int = 5) -> list[tuple[int, str, float]]:
    """(index, label, probability) of the k most probable classes of the first image."""
    probs = logits.detach().float().reshape(-1, logits.shape[-1])[0].softmax(-1)
    p, i = probs.topk(min(k, probs.numel()))
    return [(int(j), labels[int(j)], float(q)) for q, j in zip(p, i, strict=True)]


# ---------------------------------------------------------------- Grad-CAM, one pass


def cam_layer_names() -> list[str]:
    """Every traced layer Grad-CAM accepts: the stem, stages, blocks and their internals."""
    names = ["conv1", "bn1", "relu", "maxpool", *STAGE_NAMES]
    for block in BLOCK_NAMES:
        names += [block, *(f"{block}.{p}" for p in ("conv1", "bn1", "relu", "conv2", "bn2"))]
        if block.endswith(".0") and block != "layer1.0":
            names.append(f"{block}.downsample")  # the 1x1 projection where the shape changes
    return names


def _check_layers(layers: Sequence[str]) -> list[str]:
    layers = [layers] if isinstance(layers, str) else list(layers)
    valid = set(cam_layer_names())
    bad = [n for n in layers if n not in valid]
    if bad or not layers:
        raise AttributionError(f"Unknown layer {bad[0] if bad else '(none)'!r} for Grad-CAM; choose from "
                               f"conv1, layer1..layer4, a block such as layer3.1, or a block part such as "
                               f"layer3.1.conv2.")
    return layers


def _as_batch(x: Tensor) -> Tensor:
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
    layers = _check_layers(layers)
    x = _as_batch(x).detach().clone().requires_grad_(True)  # (B, 3, H, W)
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
    mask: Mask = (True,) * len(BLOCK_NAMES)
    seconds: float = 0.0
    note: str = ""  # says so when the GPU ran out of memory and this ran on the CPU


def grad_cam(handle: ModelHandle, x: Tensor, layers: Sequence[str] = STAGE_NAMES, target: int | str | None = None,
             mask: Sequence[bool] | None = None) -> GradCam:
    """Grad-CAM of one image (1, 3, H, W) at `layers`, for `target` (top-1 by default), under `mask`."""
    mask = normalise_mask(mask)
    x = _as_batch(x)
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


# ---------------------------------------------------------------- baselines and other methods


def baseline(x: Tensor, kind: str, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """A reference image in normalised space: black pixels, a heavy blur of x, or the mean colour (zeros)."""
    x = _as_batch(x)
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


@dataclass
class MethodMap:
    """One attribution method's result for one image and class."""

    method: str
    attr: np.ndarray  # (3, H, W) as captum returns it
    map: np.ndarray  # (H, W) for display
    signed: bool  # True: show with a diverging colour scale
    note: str
    seconds: float
    extra: dict = field(default_factory=dict)


def _module(twin: nn.Module, layer: str) -> nn.Module:
    if layer not in MODULE_LAYERS:
        raise AttributionError(f"Guided Grad-CAM needs a module layer: one of {', '.join(MODULE_LAYERS)}.")
    return twin.get_submodule(layer)


def other_method(handle: ModelHandle, x: Tensor, method: str, target: int, mask: Sequence[bool] | None = None,
                 layer: str = "layer4", baseline_kind: str = "mean", ig_steps: int = 16,
                 window: int = 32, stride: int = 32) -> MethodMap:
    """Run one captum method on the handle's private copy (never on the shared model).

    Args:
        method: one of METHODS.
        target: class index.
        layer: Guided Grad-CAM's layer.
        baseline_kind: Integrated Gradients' and Occlusion's reference image (see `baseline`).
        ig_steps: Integrated Gradients' path steps (few, to stay fast on a CPU).
        window, stride: Occlusion's square patch side and step in pixels.
    """
    from captum.attr import GuidedGradCam, IntegratedGradients, Occlusion, Saliency

    if method not in METHODS:
        raise AttributionError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    x = _as_batch(x)
    if x.shape[0] != 1:
        raise AttributionError("Attribution methods take one image at a time.")
    if min(x.shape[-2:]) < 32:
        raise AttributionError(f"Images must be at least 32x32 pixels, got {x.shape[-2]}x{x.shape[-1]}.")
    if not 0 <= int(target) < handle.num_classes:
        raise AttributionError(f"Class index {target} is out of range (0..{handle.num_classes - 1}).")
    if method == "occlusion" and not (1 <= stride <= window <= min(x.shape[-2:])):
        raise AttributionError(f"Occlusion needs 1 <= stride <= window <= image side, got window {window}, "
                               f"stride {stride}.")
    if method == "integrated_gradients" and not 1 <= ig_steps <= 512:
        raise AttributionError("Integrated Gradients needs between 1 and 512 steps.")
    twin = _twin(handle)
    extra: dict = {}
    t0 = time.perf_counter()
    with twin.lock:
        set_shortcuts(twin.model, mask)
        net = twin.model
        x = x.to(handle.device)
        if method == "guided_gradcam":
            attr = GuidedGradCam(net, _module(net, layer)).attribute(x, target=int(target),
                                                                     interpolate_mode="bilinear")
        elif method == "saliency":
            attr = Saliency(net).attribute(x, target=int(target), abs=True)
        else:
            base = baseline(x, baseline_kind, handle.mean, handle.std)
            extra["baseline"] = baseline_kind
            if method == "integrated_gradients":
                attr, delta = IntegratedGradients(net).attribute(
                    x, base, target=int(target), n_steps=ig_steps, internal_batch_size=8,
                    return_convergence_delta=True)
                extra["completeness_gap"] = float(delta.abs().max())
                extra["steps"] = ig_steps
            else:
                attr = Occlusion(net).attribute(x, sliding_window_shapes=(3, window, window),
                                                strides=(3, stride, stride), baselines=base, target=int(target),
                                                perturbations_per_eval=8)
                extra.update(window=window, stride=stride)
    attr_np = attr.detach()[0].cpu().numpy()  # (3, H, W)
    if method == "saliency":
        flat, signed = attr_np.max(0), False  # strongest channel, as in Simonyan et al. (2014)
    elif method == "guided_gradcam":
        flat, signed = np.abs(attr_np).sum(0), False
    else:
        flat, signed = attr_np.sum(0), True
    return MethodMap(method=method, attr=attr_np, map=flat, signed=signed, note=NOTES[method],
                     seconds=time.perf_counter() - t0, extra=extra)


# ---------------------------------------------------------------- sanity check: cascading randomisation


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation with average ranks for ties (NaN when a map is constant)."""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _ranks(v: np.ndarray) -> np.ndarray:
    # Average ranks: ReLU'd maps have large ties at zero, and ranking them arbitrarily would fake correlation.
    order = np.argsort(v, kind="mergesort")
    sorted_v = v[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_v)) + 1]
    ends = np.r_[starts[1:], v.size]
    avg = (starts + ends - 1) / 2.0
    ranks = np.empty(v.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def _reinit(module: nn.Module) -> None:
    # torchvision's own ResNet init: kaiming for convs, BN as identity with fresh statistics.
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()
        elif isinstance(m, nn.Linear):
            m.reset_parameters()


@dataclass
class SanityCheck:
    """Cascading randomisation: step 0 is the trained model, step k has the top k parts re-initialised."""

    steps: list[str]  # "original", then the part randomised at each step ("fc", "layer4.1", ...)
    correlations: dict[str, list[float]]  # method -> Spearman rank correlation with step 0, per step
    maps: dict[str, list[np.ndarray]]  # method -> (H, W) map per step
    layer: str
    target: int


def sanity_check(handle: ModelHandle, x: Tensor, target: int, mask: Sequence[bool] | None = None,
                 layer: str = "layer4", methods: Sequence[str] = ("gradcam", "guided_gradcam"),
                 seed: int = 0) -> SanityCheck:
    """Re-initialise fc, then layer4.1, ... down to conv1, cumulatively, on a fresh COPY of the model.

    A map that still looks the same after the weights are random cannot be explaining the trained model.
    """
    from captum.attr import GuidedGradCam

    bad = [m for m in methods if m not in ("gradcam", "guided_gradcam")]
    if bad:
        raise AttributionError(f"The sanity check runs gradcam and guided_gradcam, not {bad[0]!r}.")
    _check_layers([layer])
    x = _as_batch(x).to(handle.device)
    with handle.lock:
        twin = module_copy(handle.model)
    set_shortcuts(twin, mask)
    hw = tuple(x.shape[-2:])

    def maps_now() -> dict[str, np.ndarray]:
        out = {}
        if "gradcam" in methods:
            _, cams = cams_one_pass(twin, x, [layer], int(target), mask)
            out["gradcam"] = upsample(cams[layer], hw)[0, 0].cpu().numpy()
        if "guided_gradcam" in methods:
            a = GuidedGradCam(twin, _module(twin, layer)).attribute(x, target=int(target),
                                                                     interpolate_mode="bilinear")
            out["guided_gradcam"] = a.detach()[0].abs().sum(0).cpu().numpy()
        return out

    steps = ["original"]
    maps = {m: [v] for m, v in maps_now().items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for part in CASCADE:
            _reinit(twin.get_submodule(part))
            if part == "conv1":
                _reinit(twin.bn1)
            steps.append(part)
            for m, v in maps_now().items():
                maps[m].append(v)
    corr = {m: [spearman(v[0], w) for w in v] for m, v in maps.items()}
    return SanityCheck(steps=steps, correlations=corr, maps=maps, layer=layer, target=int(target))


# ---------------------------------------------------------------- faithfulness: deletion


@dataclass
class Deletion:
    """Class probability as more and more pixels are replaced by the baseline."""

    fractions: np.ndarray  # (S+1,) share of pixels removed
    probs: np.ndarray  # (S+1,) most important first
    random_probs: np.ndarray  # (S+1,) random order
    area: float  # area under `probs` (lower: the map found what the class needs)
    random_area: float
    baseline: str


def _deletion_probs(handle: ModelHandle, x: Tensor, base: Tensor, order: np.ndarray, fractions: np.ndarray,
                    target: int, mask: Mask, chunk: int = 8) -> np.ndarray:
    H, W = x.shape[-2:]
    rank = torch.empty(H * W, dtype=torch.long)
    rank[torch.from_numpy(order)] = torch.arange(H * W)  # pixel -> position in the deletion order
    rank = rank.view(1, 1, H, W).to(x.device)
    probs = []
    for i in range(0, len(fractions), chunk):
        ks = torch.tensor([round(f * H * W) for f in fractions[i:i + chunk]], device=x.device)
        gone = rank < ks.view(-1, 1, 1, 1)  # (b, 1, H, W)
        batch = torch.where(gone, base, x)  # (b, 3, H, W)
        logits = handle.trace(batch, mask).logits
        probs.append(logits.softmax(-1)[:, target].cpu())
    return torch.cat(probs).numpy()


def deletion_curve(handle: ModelHandle, x: Tensor, saliency: np.ndarray, target: int,
                   mask: Sequence[bool] | None = None, steps: int = 16, baseline_kind: str = "blurred",
                   seed: int = 0) -> Deletion:
    """Delete pixels in decreasing `saliency` (H, W) order and against a random order (Petsiuk et al. 2018)."""
    x = _as_batch(x).to(handle.device)
    H, W = x.shape[-2:]
    if np.shape(saliency) != (H, W):
        raise AttributionError(f"The map is {np.shape(saliency)}, the image {H}x{W}: upsample the map first.")
    if not 1 <= steps <= 256:
        raise AttributionError("The deletion curve needs between 1 and 256 steps.")
    mask = normalise_mask(mask)
    base = baseline(x, baseline_kind, handle.mean, handle.std)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    order = np.argsort(-np.ravel(saliency), kind="stable")
    random_order = np.random.default_rng(seed).permutation(H * W)
    probs = _deletion_probs(handle, x, base, order, fractions, int(target), mask)
    random_probs = _deletion_probs(handle, x, base, random_order, fractions, int(target), mask)
    area, random_area = float(np.trapezoid(probs, fractions)), float(np.trapezoid(random_probs, fractions))
    return Deletion(fractions=fractions, probs=probs, random_probs=random_probs, area=area,
                    random_area=random_area, baseline=baseline_kind)
