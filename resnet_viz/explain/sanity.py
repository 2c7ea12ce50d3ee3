"""Checks of what an attribution map is worth: cascading weight randomisation (Adebayo et al. 2018) and deletion
curves (Petsiuk et al. 2018). Both work on copies or batches; the shared model is only read."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from resnet_viz.explain.gradcam import AttributionError, as_batch, cams_one_pass, check_layers, upsample
from resnet_viz.explain.methods import baseline, module_copy, module_layer, set_shortcuts
from resnet_viz.model.forward import Mask, normalise_mask
from resnet_viz.model.layers import BLOCK_NAMES

if TYPE_CHECKING:
    from resnet_viz.model.weights import ModelHandle

__all__ = ["CASCADE", "Deletion", "SanityCheck", "deletion_curve", "sanity_check", "spearman"]

# Cascading randomisation, top to bottom as in Adebayo et al. (2018).
CASCADE: tuple[str, ...] = ("fc", *reversed(BLOCK_NAMES), "conv1")


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


def _reset_linear(m: nn.Linear, gen: torch.Generator) -> None:
    # nn.Linear.reset_parameters, drawn from `gen`.
    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
    if m.bias is not None:
        fan_in = m.weight.shape[1]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(m.bias, -bound, bound, generator=gen)


def _reinit(module: nn.Module, gen: torch.Generator) -> None:
    # torchvision's own ResNet init: kaiming for convs, BN as identity with fresh statistics. Every draw comes
    # from `gen`, never from torch's global generator, which other sessions draw from at the same time.
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=gen)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()
        elif isinstance(m, nn.Linear):
            _reset_linear(m, gen)


@dataclass
class SanityCheck:
    """Cascading randomisation: step 0 is the trained model, step k has the top k parts re-initialised."""

    steps: list[str]  # "original", then the part randomised at each step ("fc", "layer4.1", ...)
    correlations: dict[str, list[float]]  # method -> Spearman rank correlation with step 0, per step
    maps: dict[str, list[np.ndarray]]  # method -> (H, W) map per step
    layer: str
    target: int


def _maps(twin: nn.Module, x: Tensor, target: int, mask: Mask, layer: str,
          methods: Sequence[str]) -> dict[str, np.ndarray]:
    """Each method's (H, W) map of the copy as its weights are now."""
    from captum.attr import GuidedGradCam

    out = {}
    if "gradcam" in methods:
        _, cams = cams_one_pass(twin, x, [layer], target, mask)
        out["gradcam"] = upsample(cams[layer], tuple(x.shape[-2:]))[0, 0].cpu().numpy()
    if "guided_gradcam" in methods:
        a = GuidedGradCam(twin, module_layer(twin, layer)).attribute(x, target=target, interpolate_mode="bilinear")
        out["guided_gradcam"] = a.detach()[0].abs().sum(0).cpu().numpy()
    return out


def sanity_check(handle: ModelHandle, x: Tensor, target: int, mask: Sequence[bool] | None = None,
                 layer: str = "layer4", methods: Sequence[str] = ("gradcam", "guided_gradcam"),
                 seed: int = 0) -> SanityCheck:
    """Re-initialise fc, then layer4.1, ... down to conv1, cumulatively, on a fresh COPY of the model.

    A map that still looks the same after the weights are random cannot be explaining the trained model.
    The new weights come from a private generator seeded with `seed`: the same seed gives the same result,
    and torch's global random state is neither read nor changed.
    """
    bad = [m for m in methods if m not in ("gradcam", "guided_gradcam")]
    if bad:
        raise AttributionError(f"The sanity check runs gradcam and guided_gradcam, not {bad[0]!r}.")
    check_layers([layer])
    x = as_batch(x).to(handle.device)
    mask, target = normalise_mask(mask), int(target)
    with handle.lock:
        twin = module_copy(handle.model)
    set_shortcuts(twin, mask)
    gen = torch.Generator(device=x.device).manual_seed(seed)
    steps = ["original"]
    maps = {m: [v] for m, v in _maps(twin, x, target, mask, layer, methods).items()}
    for part in CASCADE:
        _reinit(twin.get_submodule(part), gen)
        if part == "conv1":
            _reinit(twin.bn1, gen)
        steps.append(part)
        for m, v in _maps(twin, x, target, mask, layer, methods).items():
            maps[m].append(v)
    corr = {m: [spearman(v[0], w) for w in v] for m, v in maps.items()}
    return SanityCheck(steps=steps, correlations=corr, maps=maps, layer=layer, target=target)


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
    x = as_batch(x).to(handle.device)
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
