"""The lesion study (Veit et al. 2016): remove one block's shortcut, one block's residual branch, or every shortcut,
and measure what is left of the network on a fixed evaluation set (held-out shapes, or the sample photos).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from resnet_viz import disk_cache
from resnet_viz.data import shapes
from resnet_viz.inputs import images
from resnet_viz.model import forward
from resnet_viz.model.forward import ALL_OFF, ALL_ON, Mask
from resnet_viz.model.layers import BLOCK_NAMES

if TYPE_CHECKING:
    from resnet_viz.model.weights import ModelHandle

__all__ = ["KINDS", "LesionResult", "LesionSummary", "Variant", "cache_dir", "cache_key", "cached_run", "photo_samples",
           "photos_set", "run", "shapes_set", "summarise", "summary", "variant_logits", "variants"]

CACHE_VERSION = 2  # 2: "photos" holds the licensed photos only, not the generated shapes
KINDS = ("intact", "no_shortcut", "no_branch", "no_shortcuts")


@dataclass(frozen=True)
class Variant:
    """One lesioned network: which shortcuts (mask) and residual branches are kept."""

    key: str  # "intact", "no_shortcut:layer2.0", "no_branch:layer2.0", "no_shortcuts"
    kind: str  # one of KINDS
    block: str | None
    mask: Mask
    branches: Mask

    @property
    def first_change(self) -> int:
        """Index of the first block that differs from the intact network (8 if none)."""
        changed = [i for i in range(len(BLOCK_NAMES)) if not (self.mask[i] and self.branches[i])]
        return changed[0] if changed else len(BLOCK_NAMES)


def variants() -> list[Variant]:
    """Intact, each block's shortcut removed (x8), each block's residual branch removed (x8), all shortcuts off."""
    out = [Variant("intact", "intact", None, ALL_ON, ALL_ON)]
    for kind in ("no_shortcut", "no_branch"):
        for i, name in enumerate(BLOCK_NAMES):
            off = tuple(j != i for j in range(len(BLOCK_NAMES)))
            mask, branches = (off, ALL_ON) if kind == "no_shortcut" else (ALL_ON, off)
            out.append(Variant(f"{kind}:{name}", kind, name, mask, branches))
    out.append(Variant("no_shortcuts", "no_shortcuts", None, ALL_OFF, ALL_ON))
    return out


@dataclass
class LesionResult:
    """One number per variant (accuracy on shapes, or top-1 agreement with the intact network on photos)."""

    metric: str  # "accuracy" or "agreement"
    values: dict[str, float]  # variant key -> metric
    prob: dict[str, float]  # variant key -> mean probability of the intact network's top-1 class
    n: int
    image_size: int
    data: str  # "shapes" or "photos"
    seconds: float = 0.0
    chance: float = 0.0
    extra: dict = field(default_factory=dict)

    def intact(self) -> float:
        return self.values["intact"]

    def by_kind(self, kind: str) -> dict[str, float]:
        """Block name -> value for the single-block variants of one kind."""
        return {k.split(":", 1)[1]: v for k, v in self.values.items() if k.startswith(kind + ":")}


# ---- the evaluation -----------------------------------------------------------------------------------------
def _block_inputs(model: nn.Module, x: Tensor) -> tuple[list[Tensor], Tensor]:
    """The intact network's input to every block, and its logits: the prefix every variant shares."""
    t = forward.trace(model, x)
    inputs = [t.layers["maxpool"], *(t.layers[name] for name in BLOCK_NAMES[:-1])]  # each (B, C, h, w)
    return inputs, t.logits


@torch.no_grad()
def variant_logits(handle: ModelHandle, x: Tensor, batch_size: int = 50) -> dict[str, Tensor]:
    """Logits of every variant on x (B, 3, H, W), batched, each batch under the handle's lock.

    Each batch is traced once intact; every variant reuses the intact activations up to its first changed
    block (forward.logits_from), which saves about 40% of the work without changing a number: blocks before
    the first changed one compute exactly what the intact network computes (checked in tests/unit/test_lesion.py).
    """
    vs = variants()
    out: dict[str, list[Tensor]] = {v.key: [] for v in vs}
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(handle.device)
        with handle.lock:
            inputs, intact = _block_inputs(handle.model, xb)
            for v in vs:
                start = v.first_change
                logits = (intact if start == len(BLOCK_NAMES)
                          else forward.logits_from(handle.model, inputs[start], start, v.mask, v.branches))
                out[v.key].append(logits.float().cpu())
    return {k: torch.cat(parts) for k, parts in out.items()}


def summarise(logits: dict[str, Tensor], labels: Tensor | None) -> tuple[dict[str, float], dict[str, float]]:
    """(metric per variant, mean probability of the intact top-1 class per variant).

    With labels the metric is accuracy; without, agreement of each variant's top-1 with the intact top-1.
    """
    ref = logits["intact"].argmax(1)  # (N,)
    target = ref if labels is None else labels
    values = {k: float((v.argmax(1) == target).float().mean()) for k, v in logits.items()}
    prob = {k: float(v.softmax(1).gather(1, ref[:, None]).mean()) for k, v in logits.items()}
    return values, prob


# ---- evaluation sets ----------------------------------------------------------------------------------------
def shapes_set(n: int, size: int, mean, std) -> tuple[Tensor, Tensor]:
    """The first n held-out shapes at `size` px, normalised like the checkpoint: (N, 3, H, W), labels (N,)."""
    imgs, labels, _ = shapes.to_arrays(shapes.heldout_set(n, size))
    x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    return x, torch.from_numpy(labels)


def photo_samples() -> list[images.Sample]:
    """The shipped photos only: the generated shapes (the samples that carry an object mask) are left out."""
    return [s for s in images.list_samples() if s.mask is None]


def photos_set(handle: ModelHandle) -> Tensor:
    """Every licensed sample photo (not the generated shapes) through the handle's own preprocessing:
    (n_photos, 3, H, W)."""
    return torch.stack([handle.preprocess(images.load_sample(s.name)) for s in photo_samples()])


def run(handle: ModelHandle, data: str = "auto", n: int = 200, size: int | None = None,
        batch_size: int = 50) -> LesionResult:
    """The whole lesion study for one model.

    Args:
        handle: the shared model (never modified).
        data: "shapes" (accuracy on held-out shapes; needs a 10-class shapes model), "photos" (agreement with the
            intact network on the sample photos), or "auto" (shapes for the shapes weights, photos otherwise).
        n: number of held-out shapes.
        size: canvas size of the shapes (default: the checkpoint's image size).
    """
    if data == "auto":
        data = "shapes" if handle.source == "shapes" else "photos"
    t0 = time.perf_counter()
    if data == "shapes":
        if handle.num_classes != len(shapes.CLASSES):
            raise ValueError(f"The shapes evaluation needs a {len(shapes.CLASSES)}-class shapes model; "
                             f"these weights have {handle.num_classes} classes.")
        if n < 1:
            raise ValueError("The evaluation needs at least one image.")
        size = int(size or handle.image_size)
        x, labels = shapes_set(n, size, handle.mean, handle.std)
        chance = 1.0 / len(shapes.CLASSES)
    elif data == "photos":
        x, labels = photos_set(handle), None
        size, chance = int(x.shape[-1]), 0.0
    else:
        raise ValueError(f"Unknown evaluation set {data!r}; choose shapes, photos or auto.")
    values, prob = summarise(variant_logits(handle, x, batch_size), labels)
    return LesionResult("accuracy" if labels is not None else "agreement", values, prob, len(x), size, data,
                        seconds=time.perf_counter() - t0, chance=chance)


# ---- disk cache, keyed by the weights' content ----------------------------------------------------------------
def cache_dir() -> Path:
    """Lesion studies go in the cache's lesion/ folder (see resnet_viz.disk_cache)."""
    return disk_cache.cache_dir("lesion")


def cache_key(handle: ModelHandle, data: str, n: int, size: int | None) -> str:
    """Weights source + their digest: a retrained checkpoint gets a fresh entry."""
    return disk_cache.key([CACHE_VERSION, handle.source, handle.digest, data, n, size])


def cached_run(handle: ModelHandle, data: str = "auto", n: int = 200, size: int | None = None) -> LesionResult:
    """`run`, read from / written to the disk cache."""
    if data == "auto":
        data = "shapes" if handle.source == "shapes" else "photos"
    path = cache_dir() / f"{cache_key(handle, data, n, size)}.json"
    stored = disk_cache.read_json(path)
    if stored is not None:
        try:
            return LesionResult(**stored)
        except TypeError:
            pass  # an older file: recompute and overwrite it
    result = run(handle, data, n, size)
    disk_cache.write_json(path, asdict(result))
    return result


@dataclass(frozen=True)
class LesionSummary:
    """The numbers the page's reading is written from: means, worst blocks and drops, in [0, 1]."""

    intact: float
    branch_mean: float
    worst_branch: str
    worst_branch_value: float
    shortcut_mean: float
    worst_shortcut: str
    worst_shortcut_value: float
    all_off: float
    chance: float
    branch_drop: float
    shortcut_drop: float

    def as_dict(self) -> dict[str, float | str]:
        """Field name -> value, e.g. for a locale text's placeholders."""
        return asdict(self)


def summary(result: LesionResult) -> LesionSummary:
    """Means over the single-block lesions, the worst block of each kind, all shortcuts off, and the drops."""
    branch, shortcut = result.by_kind("no_branch"), result.by_kind("no_shortcut")
    worst_branch = min(branch, key=branch.get)
    worst_shortcut = min(shortcut, key=shortcut.get)
    intact = result.intact()
    branch_mean, shortcut_mean = float(np.mean(list(branch.values()))), float(np.mean(list(shortcut.values())))
    return LesionSummary(intact=intact, branch_mean=branch_mean, worst_branch=worst_branch,
                         worst_branch_value=branch[worst_branch], shortcut_mean=shortcut_mean,
                         worst_shortcut=worst_shortcut, worst_shortcut_value=shortcut[worst_shortcut],
                         all_off=result.values["no_shortcuts"], chance=result.chance,
                         branch_drop=intact - branch_mean, shortcut_drop=intact - shortcut_mean)
