"""A small plain (no-shortcut) CIFAR-style stack and its residual twin, trained on the shapes data at 32 px,
and their lesion study: delete one block, keep everything else (Veit et al. 2016, Fig. 3 and 5)."""

# The shipped pair (assets/plain/) came from `python -m resnet_viz.experiments.plainnet --minutes 15` then the
# same with `--init` (continue); `--evaluate` re-measures the lesion of the shipped float16 weights.

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from resnet_viz import ASSETS
from resnet_viz.data import shapes
from resnet_viz.experiments.stacks import CifarStack, PadShortcut, StackConfig, build_stack

ASSET_DIR = ASSETS / "plain"
NAMES = ("plain", "residual")
# Stream ids for shapes.make_sample seeds, apart from the other users of the generator.
TRAIN_STREAM, HELDOUT_STREAM = 15, 16


@dataclass(frozen=True)
class PlainSettings:
    """One training run of the pair; both nets see the same batches in the same order."""

    depth: int = 14
    widths: tuple[int, int, int] = (8, 16, 32)
    image_size: int = 32
    pool_size: int = 3000
    batch_size: int = 64
    lr: float = 2e-3
    minutes: float = 15.0
    max_steps: int = 3000
    heldout_n: int = 500
    seed: int = 0


def config(name: str, s: PlainSettings) -> StackConfig:
    """The StackConfig of 'plain' or 'residual' (option A shortcuts: the two nets have the same parameters)."""
    return StackConfig(depth=s.depth, residual=name == "residual", widths=s.widths,
                       num_classes=len(shapes.CLASSES), seed=s.seed)


def make_set(n: int, size: int, seed: int, stream: int) -> tuple[Tensor, Tensor]:
    """n shapes samples drawn on the smallest canvas and downscaled to size: (n, 3, size, size), (n,)."""
    canvas = max(size, shapes.MIN_SIZE)
    xs, ys = [], []
    for i in range(n):
        image, label, _ = shapes.make_sample((seed, stream, i), canvas)
        if canvas != size:
            image = image.resize((size, size), Image.BILINEAR, reducing_gap=None)
        xs.append(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
        ys.append(int(label))
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2)  # (n, 3, S, S)
    mean = torch.tensor(shapes.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(shapes.STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(), torch.tensor(ys, dtype=torch.long)


def heldout(s: PlainSettings, n: int | None = None) -> tuple[Tensor, Tensor]:
    return make_set(n or s.heldout_n, s.image_size, shapes.HELDOUT_SEED, HELDOUT_STREAM)


def blocks(model: CifarStack) -> list[tuple[str, nn.Module]]:
    """(name, block) for every block in forward order, named as in print(model): layer1.0 ..."""
    return [(f"{stage}.{i}", b) for stage in ("layer1", "layer2", "layer3")
            for i, b in enumerate(getattr(model, stage))]


def forward_without(model: CifarStack, x: Tensor, deleted: int | None = None) -> Tensor:
    """Logits with block `deleted` replaced by its option-A shortcut (identity, or subsample + zero channels).

    For the residual net this keeps exactly the shortcut x of relu(x + F(x)) (x >= 0 after the previous ReLU);
    for the plain net it skips the block's two layers. The model is not modified.
    """
    out = model.relu(model.bn1(model.conv1(x)))  # (B, w1, H, W)
    for i, (_, block) in enumerate(blocks(model)):
        if i != deleted:
            out = block(out)
            continue
        c_in, c_out = block.conv1.in_channels, block.conv2.out_channels
        stride = block.conv1.stride[0]
        out = PadShortcut(c_in, c_out, stride)(out) if (stride != 1 or c_in != c_out) else out
    out = torch.flatten(model.avgpool(out), 1)  # (B, w3)
    return model.fc(out)  # (B, classes)


@torch.no_grad()
def lesion(model: CifarStack, x: Tensor, y: Tensor, batch_size: int = 250) -> dict:
    """Held-out accuracy intact and with each single block deleted; downsampling blocks are flagged."""
    model.eval()

    def acc(deleted):
        hits = sum(int((forward_without(model, x[i:i + batch_size], deleted).argmax(1) == y[i:i + batch_size]).sum())
                   for i in range(0, len(x), batch_size))
        return hits / len(x)

    names = [n for n, _ in blocks(model)]
    down = [b.conv1.stride[0] != 1 or b.conv1.in_channels != b.conv2.out_channels for _, b in blocks(model)]
    return {"intact": acc(None), "blocks": names, "downsampling": down,
            "deleted": [acc(i) for i in range(len(names))], "n": len(x), "chance": 1 / len(shapes.CLASSES)}


def train(s: PlainSettings, log=print, init: dict[str, CifarStack] | None = None) -> tuple[dict[str, CifarStack], dict]:
    """Train the plain and the residual net round-robin for s.minutes (cosine lr over the wall-clock budget)."""
    x, y = make_set(s.pool_size, s.image_size, s.seed, TRAIN_STREAM)
    models = {k: (init[k] if init else build_stack(config(k, s))).train() for k in NAMES}
    opts = {k: torch.optim.Adam(m.parameters(), lr=s.lr) for k, m in models.items()}
    gen = torch.Generator().manual_seed(s.seed + 1)
    budget, t0, step = s.minutes * 60, time.perf_counter(), 0
    losses = {k: [] for k in NAMES}
    while step < s.max_steps:
        frac = (time.perf_counter() - t0) / budget
        if frac >= 1:
            break
        idx = torch.randint(0, len(x), (s.batch_size,), generator=gen)
        xb, yb = x[idx], y[idx]
        flip = torch.rand(s.batch_size, generator=gen) < 0.5
        xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(-1), xb)  # (B, 3, S, S)
        lr = s.lr * 0.5 * (1 + math.cos(math.pi * frac))
        for k, m in models.items():
            for g in opts[k].param_groups:
                g["lr"] = lr
            loss = F.cross_entropy(m(xb), yb)
            opts[k].zero_grad(set_to_none=True)
            loss.backward()
            opts[k].step()
            losses[k].append(float(loss.detach()))
        step += 1
        if step % 25 == 0:
            log(f"step {step} ({time.perf_counter() - t0:.0f} s, lr {lr:.2e}): "
                + "  ".join(f"{k} {np.mean(v[-25:]):.3f}" for k, v in losses.items()))
    info = {"steps": step, "seconds": round(time.perf_counter() - t0, 1),
            "final_train_loss": {k: round(float(np.mean(v[-50:])), 4) for k, v in losses.items()}}
    return {k: m.eval() for k, m in models.items()}, info


def save(model: CifarStack, path: Path) -> None:
    """float16 state dict, written atomically."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load(name: str, folder: Path = ASSET_DIR) -> tuple[CifarStack, dict]:
    """A shipped net ('plain' or 'residual') in eval mode, float32, plus the run's JSON."""
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    meta = json.loads((folder / "plain_vs_residual.json").read_text())
    s = PlainSettings(**{**meta["settings"], "widths": tuple(meta["settings"]["widths"])})
    model = build_stack(config(name, s))
    state = torch.load(folder / f"{name}.pth", map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval(), meta


def evaluate(folder: Path, log=print) -> dict:
    """Lesion numbers of the checkpoints as shipped (float16 weights read back), written into the run's JSON."""
    models = {k: load(k, folder) for k in NAMES}
    meta = models["plain"][1]
    s = PlainSettings(**{**meta["settings"], "widths": tuple(meta["settings"]["widths"])})
    x, y = heldout(s)
    meta["lesion"] = {k: lesion(m, x, y) for k, (m, _) in models.items()}
    (folder / "plain_vs_residual.json").write_text(json.dumps(meta, indent=2) + "\n")
    for k, r in meta["lesion"].items():
        log(f"{k}: intact {r['intact']:.3f}; one block deleted: "
            + " ".join(f"{n} {a:.3f}" for n, a in zip(r["blocks"], r["deleted"], strict=True)))
    return meta


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=PlainSettings.minutes)
    p.add_argument("--depth", type=int, default=PlainSettings.depth)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--widths", default="8,16,32", help="channels of the three stages")
    p.add_argument("--out", default=str(ASSET_DIR))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--init", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--evaluate", action="store_true", help="only re-measure the lesion of the checkpoints in --out")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.evaluate:
        evaluate(out)
        return 0
    widths = tuple(int(w) for w in args.widths.split(","))
    s = PlainSettings(minutes=args.minutes, depth=args.depth, seed=args.seed, widths=widths)
    before = None
    init = None
    if args.init:
        loaded = {k: load(k, out) for k in NAMES}
        init = {k: m for k, (m, _) in loaded.items()}
        before = loaded["plain"][1]
    t0 = time.perf_counter()
    models, info = train(s, log=lambda m: print(m, flush=True), init=init)
    info["wall_seconds_with_data"] = round(time.perf_counter() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    for k, m in models.items():
        save(m, out / f"{k}.pth")
    argv_text = " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    command = f"nice -n 10 python -m resnet_viz.experiments.plainnet {argv_text}".strip()
    runs = [*(before.get("runs", []) if before else []), {"command": command, **info}]
    meta = {"command": " && ".join(r["command"] for r in runs), "settings": asdict(s), "runs": runs,
            "train_steps": sum(r["steps"] for r in runs),
            "train_minutes": round(sum(r["seconds"] for r in runs) / 60, 1),
            "params": {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}}
    (out / "plain_vs_residual.json").write_text(json.dumps(meta, indent=2) + "\n")
    evaluate(out)  # on the float16 weights as shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
