"""Train and evaluate torchvision's ResNet-18 on the synthetic shapes data (the offline `shapes` checkpoint).

Training runs for a wall-clock budget with a cosine learning rate over that time, on canvases of varying size.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet18

from resnet_viz import disk_cache
from resnet_viz.data import shapes
from resnet_viz.model.forward import ALL_OFF
from resnet_viz.model.layers import BLOCK_NAMES, STAGE_NAMES

__all__ = ["TRAIN_SIZES", "TRAIN_SIZE_WEIGHTS", "accuracy", "build_model", "centre_baseline", "evaluate",
           "load_checkpoint", "pointing_game", "save_checkpoint", "to_tensor", "train"]

# Canvas sizes for training batches and how often each is drawn: mostly small (fast), some large so the
# network meets big canvases with mostly background, as the app shows it.
TRAIN_SIZES: tuple[int, ...] = (64, 80, 96, 128)
TRAIN_SIZE_WEIGHTS: tuple[float, ...] = (0.55, 0.15, 0.15, 0.15)


def build_model(num_classes: int = len(shapes.CLASSES), seed: int = 0) -> nn.Module:
    """torchvision's resnet18, unchanged, with a seeded initialisation."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return resnet18(num_classes=num_classes)


def to_tensor(imgs: np.ndarray, mean: Sequence[float] = shapes.MEAN, std: Sequence[float] = shapes.STD) -> Tensor:
    """Uint8 images (B, H, W, 3) -> normalised float tensor (B, 3, H, W)."""
    x = torch.from_numpy(np.ascontiguousarray(imgs)).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x - m) / s


def save_checkpoint(model: nn.Module, path: str | Path, meta: dict) -> None:
    """Write the float16 state dict to `path` and its metadata to the same name with .json."""
    path = Path(path)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    with disk_cache.atomic_file(path) as f:  # a reader never sees half a file
        torch.save(state, f)
    disk_cache.write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """Read a checkpoint written by `save_checkpoint` back as a float32 model in eval mode, plus metadata."""
    path = Path(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    meta = json.loads(path.with_suffix(".json").read_text())
    model = resnet18(num_classes=len(meta["classes"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval(), meta


@torch.no_grad()
def accuracy(model: nn.Module, imgs: np.ndarray, labels: np.ndarray, mask: Sequence[bool] | None = None,
             batch_size: int = 50) -> float:
    """Top-1 accuracy of `model` (eval mode) on uint8 images, with an optional shortcut mask."""
    from resnet_viz.model.forward import trace

    correct = 0
    for i in range(0, len(imgs), batch_size):
        x = to_tensor(imgs[i:i + batch_size])
        pred = trace(model, x, mask).logits.argmax(1).numpy()
        correct += int((pred == labels[i:i + batch_size]).sum())
    return correct / len(imgs)


@dataclass
class _Run:
    """One training run's settings and what it has done so far (for the log and the checkpoint's metadata)."""

    seed: int
    batch_size: int
    lr: float
    weight_decay: float
    eval_n: int
    eval_size: int
    command: str
    prior: dict  # metadata of the checkpoint this run continues ({} for a fresh start)
    t0: float = field(default_factory=time.time)
    step: int = 0
    seen: int = 0
    run_loss: float = 0.0  # exponential moving averages (bias-corrected when logged)
    run_acc: float = 0.0

    @property
    def step0(self) -> int:
        """A continued run must not replay the batches its parent saw: it starts after them in the stream."""
        return int(self.prior.get("train_steps", 0))

    def record(self, loss: float, acc: float) -> None:
        self.step += 1
        self.seen += self.batch_size
        self.run_loss = 0.98 * self.run_loss + 0.02 * loss
        self.run_acc = 0.98 * self.run_acc + 0.02 * acc

    def log_line(self, elapsed: float, lr: float) -> str:
        debias = 1 - 0.98 ** self.step
        return (f"step {self.step} {elapsed / 60:.1f} min {self.seen / max(elapsed, 1e-6):.1f} img/s lr {lr:.2e} "
                f"loss {self.run_loss / debias:.3f} acc {self.run_acc / debias:.3f}")

    def meta(self, acc: float, final: bool) -> dict:
        prior = self.prior
        meta = {
            "classes": list(shapes.CLASSES), "image_size": self.eval_size, "mean": list(shapes.MEAN),
            "std": list(shapes.STD), "seed": self.seed, "heldout_accuracy": acc, "heldout_n": self.eval_n,
            "heldout_seed": shapes.HELDOUT_SEED, "train_command": self.command,
            "train_minutes": round(prior.get("train_minutes", 0.0) + (time.time() - self.t0) / 60.0, 2),
            "train_images": prior.get("train_images", 0) + self.seen, "train_steps": self.step0 + self.step,
            "train_sizes": list(TRAIN_SIZES), "train_size_weights": list(TRAIN_SIZE_WEIGHTS),
            "batch_size": self.batch_size,
            "optimizer": f"AdamW(lr={self.lr}, weight_decay={self.weight_decay}), cosine over time",
            "final": final,
        }
        if prior:
            meta["continued_from"] = {k: prior.get(k) for k in ("train_command", "train_minutes", "train_steps")}
        return meta


def _lr_scale(elapsed: float, budget: float, warmup: float) -> float:
    """Linear warm-up, then a cosine over the wall-clock budget."""
    return elapsed / warmup if elapsed < warmup else 0.5 * (1 + math.cos(math.pi * (elapsed / budget)))


def _train_step(model: nn.Module, opt: torch.optim.Optimizer, x: Tensor, y: Tensor) -> tuple[float, float]:
    """One optimiser step; the batch's loss and accuracy (before the step)."""
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item(), (logits.argmax(1) == y).float().mean().item()


def _snapshot(model: nn.Module, out: str | Path, run: _Run, ev_imgs: np.ndarray, ev_labels: np.ndarray,
              final: bool, log: Callable[[str], None]) -> dict:
    """Evaluate on the held-out set, save the checkpoint with its metadata, and return the metadata."""
    model.eval()
    acc = accuracy(model, ev_imgs, ev_labels)
    model.train()
    meta = run.meta(acc, final)
    save_checkpoint(model, out, meta)
    log(f"saved {out}: held-out acc {acc:.3f} on {run.eval_n} at {run.eval_size}px after {meta['train_minutes']} min")
    return meta


def train(out: str | Path, minutes: float, seed: int = shapes.TRAIN_SEED, batch_size: int = 32,
          lr: float = 1e-3, weight_decay: float = 0.05, save_every_min: float = 5.0, eval_n: int = 200,
          eval_size: int = shapes.HELDOUT_SIZE, command: str = "", log: Callable[[str], None] = print,
          init: str | Path | None = None) -> dict:
    """Train for `minutes` of wall time; save a checkpoint every `save_every_min` and at the end.

    `init` continues from a checkpoint written by `save_checkpoint` (a fresh schedule, a new stretch of the
    data stream, minutes added up); otherwise training starts from a seeded initialisation.
    Returns the final metadata (also written beside the checkpoint).
    """
    torch.manual_seed(seed)  # a command-line process of its own: no other request shares this RNG
    rng = np.random.default_rng((seed, 1))  # picks canvas sizes; the images have their own seeds
    model, prior = load_checkpoint(init) if init is not None else (build_model(seed=seed), {})
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    ev_imgs, ev_labels, _ = shapes.to_arrays(shapes.heldout_set(eval_n, eval_size))
    run = _Run(seed, batch_size, lr, weight_decay, eval_n, eval_size, command, prior)
    budget = minutes * 60.0
    warmup = min(60.0, 0.05 * budget)
    last_save = run.t0
    while (elapsed := time.time() - run.t0) < budget:
        scale = _lr_scale(elapsed, budget, warmup)
        for g in opt.param_groups:
            g["lr"] = lr * max(scale, 0.01)
        size = int(rng.choice(TRAIN_SIZES, p=TRAIN_SIZE_WEIGHTS))
        imgs, labels = shapes.training_batch(seed, run.step0 + run.step, batch_size, size)
        run.record(*_train_step(model, opt, to_tensor(imgs), torch.from_numpy(labels)))
        if run.step % 20 == 0:
            log(run.log_line(elapsed, lr * scale))
        if time.time() - last_save >= save_every_min * 60:
            _snapshot(model, out, run, ev_imgs, ev_labels, False, log)
            last_save = time.time()
    return _snapshot(model, out, run, ev_imgs, ev_labels, True, log)


def pointing_game(model: nn.Module, imgs: np.ndarray, labels: np.ndarray, masks: np.ndarray,
                  layers: Sequence[str] = STAGE_NAMES[2:], dilate_px: int = 3,
                  batch_size: int = 50) -> dict[str, float]:
    """Share of images whose Grad-CAM peak (centre of the winning cell) falls in the object mask.

    Keys: "<layer>" (plain mask) and "<layer>_dilated" (mask grown by `dilate_px`), for the true class.
    Grad-CAM comes from gradcam.cams_one_pass (one traced forward, one backward, no hooks).
    """
    from resnet_viz.explain.gradcam import cams_one_pass, peak_cell_center

    hits = {f"{n}{s}": 0 for n in layers for s in ("", "_dilated")}
    H, W = imgs.shape[1:3]
    for i in range(0, len(imgs), batch_size):
        x = to_tensor(imgs[i:i + batch_size])
        y = torch.from_numpy(labels[i:i + batch_size])
        _, cams = cams_one_pass(model, x, layers, target=y)
        for name in layers:
            for b, cam in enumerate(cams[name][:, 0].numpy()):  # (h, w) each
                peak = peak_cell_center(cam, (H, W))
                hits[name] += shapes.point_in_mask(masks[i + b], peak)
                hits[f"{name}_dilated"] += shapes.point_in_mask(masks[i + b], peak, dilate_px)
    return {k: v / len(imgs) for k, v in hits.items()}


def centre_baseline(masks: np.ndarray, dilate_px: int = 3) -> dict[str, float]:
    """Pointing game of always answering the image centre."""
    H, W = masks.shape[1:3]
    c = (H / 2, W / 2)
    plain = np.mean([shapes.point_in_mask(m, c) for m in masks])
    dil = np.mean([shapes.point_in_mask(m, c, dilate_px) for m in masks])
    return {"centre": float(plain), "centre_dilated": float(dil)}


def evaluate(model: nn.Module, n: int = 500, size: int = shapes.HELDOUT_SIZE, per_block: bool = False,
             per_block_n: int = 200) -> dict:
    """Held-out top-1, pointing game at layer3/layer4, accuracy with every shortcut removed, centre baseline.

    With `per_block`, also the accuracy with one block's shortcut removed, on the first `per_block_n` images.
    """
    imgs, labels, masks = shapes.to_arrays(shapes.heldout_set(n, size))
    res = {"n": n, "size": size, "accuracy": accuracy(model, imgs, labels)}
    res["accuracy_no_shortcuts"] = accuracy(model, imgs, labels, mask=ALL_OFF)
    res.update({f"pointing_{k}": v for k, v in pointing_game(model, imgs, labels, masks).items()})
    res.update({f"pointing_{k}": v for k, v in centre_baseline(masks).items()})
    if per_block:
        k = min(per_block_n, n)
        res["per_block_n"] = k
        for i, name in enumerate(BLOCK_NAMES):
            mask = [j != i for j in range(len(BLOCK_NAMES))]
            res[f"accuracy_without_{name}"] = accuracy(model, imgs[:k], labels[:k], mask=mask)
    return res
