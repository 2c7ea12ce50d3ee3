"""The lesion study (Veit et al. 2016): remove one block's shortcut, one block's residual branch, or every shortcut,
and measure what is left of the network on a fixed evaluation set (held-out shapes, or the sample photos).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from resnet_viz import forward, images, shapes
from resnet_viz.config import BLOCK_NAMES
from resnet_viz.forward import ALL_ON, iter_blocks

CACHE_VERSION = 1
ALL_OFF = (False,) * len(BLOCK_NAMES)
KINDS = ("intact", "no_shortcut", "no_branch", "no_shortcuts")


@dataclass(frozen=True)
class Variant:
    """One lesioned network: which shortcuts (mask) and residual branches are kept."""

    key: str  # "intact", "no_shortcut:layer2.0", "no_branch:layer2.0", "no_shortcuts"
    kind: str  # one of KINDS
    block: str | None
    mask: tuple[bool, ...]
    branches: tuple[bool, ...]

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
def _block_inputs(model, x: Tensor) -> tuple[list[Tensor], Tensor]:
    """The intact network's input to every block, and its logits: the prefix every variant shares."""
    t = forward.trace(model, x)
    inputs = [t.layers["maxpool"], *(t.layers[name] for name in BLOCK_NAMES[:-1])]  # each (B, C, h, w)
    return inputs, t.logits


def _logits_from(model, h: Tensor, start: int, variant: Variant) -> Tensor:
    """Run blocks start..7 of `variant` on the intact input of block `start`, then the head.

    Blocks before the first changed one compute exactly what the intact network computes, so this equals
    forward.trace(model, x, variant.mask, variant.branches).logits (checked in tests/unit/test_lesion.py).
    """
    layers: dict[str, Tensor] = {}
    for i, (name, block) in enumerate(iter_blocks(model)):
        if i < start:
            continue
        h = forward._block(block, name, h, variant.mask[i], variant.branches[i], layers).out
    h = torch.flatten(model.avgpool(h), 1)  # (B, 512)
    return model.fc(h)  # (B, classes)


@torch.no_grad()
def variant_logits(handle, x: Tensor, batch_size: int = 50) -> dict[str, Tensor]:
    """Logits of every variant on x (B, 3, H, W), batched, each batch under the handle's lock.

    Each batch is traced once intact; every variant reuses the intact activations up to its first changed
    block, which saves about 40% of the work without changing a number.
    """
    vs = variants()
    out: dict[str, list[Tensor]] = {v.key: [] for v in vs}
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(handle.device)
        with handle.lock:
            inputs, intact = _block_inputs(handle.model, xb)
            for v in vs:
                start = v.first_change
                logits = intact if start == len(BLOCK_NAMES) else _logits_from(handle.model, inputs[start], start, v)
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


def photos_set(handle) -> Tensor:
    """Every sample photo through the handle's own preprocessing: (6, 3, H, W)."""
    return torch.stack([handle.preprocess(images.load_sample(s.name)) for s in images.list_samples()])


def run(handle, data: str = "auto", n: int = 200, size: int | None = None, batch_size: int = 50) -> LesionResult:
    """The whole lesion study for one model.

    Args:
        handle: a weights.ModelHandle (never modified).
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
    root = os.environ.get("RESNET_VIZ_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "resnet-viz")
    return Path(root) / "lesion"


def cache_key(handle, data: str, n: int, size: int | None) -> str:
    """Weights source + a hash of every parameter: a retrained checkpoint gets a fresh entry."""
    payload = [CACHE_VERSION, handle.source, forward.param_hash(handle.model), data, n, size]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:20]


def cached_run(handle, data: str = "auto", n: int = 200, size: int | None = None) -> LesionResult:
    """`run`, read from / written to the disk cache."""
    if data == "auto":
        data = "shapes" if handle.source == "shapes" else "photos"
    path = cache_dir() / f"{cache_key(handle, data, n, size)}.json"
    if path.exists():
        try:
            return LesionResult(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            pass  # a damaged or older file: recompute and overwrite it
    result = run(handle, data, n, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(result)))
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return result


def summary(result: LesionResult) -> dict:
    """The numbers the page's reading is written from: means, worst blocks and drops, in [0, 1]."""
    branch, shortcut = result.by_kind("no_branch"), result.by_kind("no_shortcut")
    worst_branch = min(branch, key=branch.get)
    worst_shortcut = min(shortcut, key=shortcut.get)
    intact = result.intact()
    return {"intact": intact, "branch_mean": float(np.mean(list(branch.values()))), "worst_branch": worst_branch,
            "worst_branch_value": branch[worst_branch], "shortcut_mean": float(np.mean(list(shortcut.values()))),
            "worst_shortcut": worst_shortcut, "worst_shortcut_value": shortcut[worst_shortcut],
            "all_off": result.values["no_shortcuts"], "chance": result.chance,
            "branch_drop": intact - float(np.mean(list(branch.values()))),
            "shortcut_drop": intact - float(np.mean(list(shortcut.values())))}
