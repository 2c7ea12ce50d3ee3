"""The degradation experiment: short seeded training runs of plain vs residual CIFAR stacks, with a progress
callback, the disk cache of finished runs (resnet_viz.disk_cache) and the curves shipped in assets/gradflow."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz import ASSETS, disk_cache
from resnet_viz.experiments.stacks import (
    CifarStack,
    StackConfig,
    TrainSettings,
    build_stack,
    num_classes_for,
    training_batches,
)

__all__ = ["DEGRADATION", "ProgressFn", "TrainCurve", "TrainResult", "cache_dir", "cache_key", "chance_loss",
           "default_degradation", "degradation_configs", "degradation_shows", "find_run",
           "load_cached", "result_from_json", "result_to_json", "save_cached", "train_stacks"]

# Bump when the maths behind cached results changes, so old cache files are not replayed.
CACHE_VERSION = 1
# Curves shipped with the app, written by `python -m resnet_viz gradflow --degradation --out ...`.
ASSET_DIR = ASSETS / "gradflow"

# ----------------------------------------------------------------------------------------------------------
# Short training runs


@dataclass
class TrainCurve:
    """One network's run: the training loss (mean over each logging window) and per-layer weight-grad norms."""

    name: str
    config: StackConfig
    layers: list[str]
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    grad_norms: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        return self.loss[-1] if self.loss else math.nan


@dataclass
class TrainResult:
    settings: TrainSettings
    curves: dict[str, TrainCurve]
    finished: bool
    from_cache: bool = False
    seconds: float = 0.0
    source: str = "live"  # "live", "cache" or "precomputed"


# progress(curves so far, steps done per net, total steps per net); return True to stop early.
ProgressFn = Callable[[dict[str, TrainCurve], int, int], "bool | None"]


def degradation_configs(shallow: int = 8, deep: int = 32, widths: tuple[int, int, int] = (8, 16, 32),
                        batchnorm: bool = True, shortcut: str = "A", zero_init_residual: bool = False,
                        seed: int = 0, num_classes: int = 10) -> dict[str, StackConfig]:
    """The four nets of the degradation experiment, keyed 'plain-8', 'plain-32', 'residual-8', 'residual-32'."""
    if shallow >= deep:
        raise ValueError(f"the shallow depth ({shallow}) must be below the deep one ({deep})")
    out = {}
    for residual in (False, True):
        for depth in (shallow, deep):
            cfg = StackConfig(depth=depth, residual=residual, batchnorm=batchnorm, shortcut=shortcut,
                              zero_init_residual=zero_init_residual, widths=widths, num_classes=num_classes,
                              seed=seed)
            out[cfg.label] = cfg
    return out


# The degradation run's defaults, chosen by measurement on a shared 2-core CPU. Adam at 16x16 with narrow
# stages learns within 200 steps; with zero_init_residual (tried with Adam and with SGD, lr 0.05-0.1) the shallow
# residual net fell behind the shallow plain one, and SGD learned more slowly. Final losses over seeds 0-4:
# plain-8 1.49-1.66 < plain-32 2.06-2.27, and residual-32 0.87-1.12 < residual-8 1.53-1.77.
# Regenerate the shipped curves with
# `python -m resnet_viz gradflow --degradation --seed S --out assets/gradflow` (S = 0, 1, 2).
DEGRADATION = {"shallow": 8, "deep": 32, "widths": (8, 16, 32), "zero_init_residual": False,
               "settings": {"steps": 200, "batch_size": 32, "lr": 0.002, "optimizer": "adam", "image_size": 16,
                            "log_every": 10}}


def default_degradation(seed: int = 0) -> tuple[dict[str, StackConfig], TrainSettings]:
    """The four nets and the settings the page and the CLI train by default."""
    d = DEGRADATION
    configs = degradation_configs(d["shallow"], d["deep"], d["widths"], zero_init_residual=d["zero_init_residual"],
                                  seed=seed)
    return configs, TrainSettings(seed=seed, **d["settings"])


def _lr_at(step: int, settings: TrainSettings) -> float:
    # Linear warm-up, the paper's remedy for its deepest nets (it used 0.01 until training got going).
    if settings.warmup_steps and step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    return settings.lr


def _optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=settings.lr)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum)


def train_stacks(configs: dict[str, StackConfig], settings: TrainSettings, progress: ProgressFn | None = None,
                 cache: bool = True, replay: bool = True) -> TrainResult:
    """Train every net on the same seeded batches, round-robin one logging window at a time, so that
    all curves grow together and a stop leaves them at the same step.

    With cache, a finished run is saved on disk and, with replay, a saved (or shipped) one is returned
    instead of training again. Runs on torch's thread count as it is: a request never changes process-wide
    settings."""
    if not configs:
        raise ValueError("no networks to train")
    configs = _with_classes(configs, settings)
    key = cache_key(configs, settings)
    if cache and replay:
        hit = load_cached(key)
        if hit is not None:
            if progress is not None:
                progress(hit.curves, settings.steps, settings.steps)
            return hit
    return _train(configs, settings, progress, key if cache else None)


def _train(configs: dict[str, StackConfig], settings: TrainSettings, progress: ProgressFn | None,
           key: str | None) -> TrainResult:
    t0 = time.perf_counter()
    models = {k: build_stack(c).train() for k, c in configs.items()}
    opts = {k: _optimizer(m, settings) for k, m in models.items()}
    streams = {k: training_batches(settings, c.num_classes) for k, c in configs.items()}
    curves = {k: TrainCurve(k, c, [name for name, _ in models[k].main_convs()]) for k, c in configs.items()}
    done, finished = 0, True
    while done < settings.steps:
        window = min(settings.log_every, settings.steps - done)
        for k, model in models.items():
            t = time.perf_counter()
            _train_window(model, opts[k], streams[k], curves[k], done, window, settings)
            curves[k].seconds += time.perf_counter() - t
        done += window
        if progress is not None and progress(curves, done, settings.steps):
            finished = False
            break
    result = TrainResult(settings, curves, finished, seconds=time.perf_counter() - t0)
    if key is not None and finished:
        save_cached(key, result)
    return result


def _train_window(model: CifarStack, opt: torch.optim.Optimizer, stream: Iterator, curve: TrainCurve,
                  start: int, window: int, settings: TrainSettings) -> None:
    losses = []
    convs = [m for _, m in model.main_convs()]
    for step in range(start, start + window):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, settings)
        x, y = next(stream)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # A diverged net (nan loss) is a result worth showing, not an error.
        losses.append(float(loss.detach()))
    curve.steps.append(start + window)
    curve.loss.append(float(np.mean(losses)))
    curve.grad_norms.append([float(m.weight.grad.norm()) for m in convs])



# ----------------------------------------------------------------------------------------------------------
# Disk cache


def _with_classes(configs: dict[str, StackConfig], settings: TrainSettings) -> dict[str, StackConfig]:
    n_classes = num_classes_for(settings.data)
    return {k: replace(c, num_classes=n_classes) for k, c in configs.items()}


def find_run(configs: dict[str, StackConfig], settings: TrainSettings) -> TrainResult | None:
    """A finished run with exactly these settings, from the disk cache or shipped with the app, else None."""
    return load_cached(cache_key(_with_classes(configs, settings), settings))


def cache_dir() -> Path:
    """Gradient-flow runs go in the cache's gradflow/ folder (see resnet_viz.disk_cache)."""
    return disk_cache.cache_dir("gradflow")


def cache_key(configs: dict[str, StackConfig], settings: TrainSettings) -> str:
    """Content address of a run: the file name of its cached (and shipped) curves."""
    return disk_cache.key({"v": CACHE_VERSION, "configs": {k: asdict(c) for k, c in sorted(configs.items())},
                      "settings": asdict(settings)})


def result_to_json(result: TrainResult) -> dict:
    return {"settings": asdict(result.settings), "finished": result.finished, "seconds": result.seconds,
            "curves": {k: asdict(c) for k, c in result.curves.items()}}


def result_from_json(data: dict) -> TrainResult:
    curves = {}
    for k, c in data["curves"].items():
        cfg = StackConfig(**{**c["config"], "widths": tuple(c["config"]["widths"])})
        curves[k] = TrainCurve(name=c["name"], config=cfg, layers=c["layers"], steps=c["steps"], loss=c["loss"],
                               grad_norms=c["grad_norms"], seconds=c["seconds"])
    return TrainResult(TrainSettings(**data["settings"]), curves, data["finished"], seconds=data["seconds"])


def save_cached(key: str, result: TrainResult) -> Path:
    return disk_cache.write_json(cache_dir() / f"{key}.json", result_to_json(result))


def load_cached(key: str) -> TrainResult | None:
    """The user's cache first, then the curves shipped in assets/gradflow/ (named by the same key)."""
    for folder, source in ((cache_dir(), "cache"), (ASSET_DIR, "precomputed")):
        data = disk_cache.read_json(folder / f"{key}.json")
        if data is None:
            continue
        try:
            result = result_from_json(data)
        except (ValueError, KeyError, TypeError):
            continue  # a corrupt or stale file is recomputed, not shown
        result.from_cache, result.source = True, source
        return result
    return None



# ----------------------------------------------------------------------------------------------------------
# What a run is measured against (the page words its readings with resnet_viz.text.readings)


def chance_loss(settings: TrainSettings) -> float:
    """Cross-entropy of a uniform guess: where an untrained net starts."""
    return math.log(num_classes_for(settings.data))


def degradation_shows(result: TrainResult) -> bool:
    """True when the run shows the paper's pattern: the deep plain net ends above the shallow one, and the
    deep residual net ends at or below the shallow one."""
    final = {k: c.final_loss for k, c in result.curves.items()}
    pairs = {}
    for name, loss in final.items():
        kind, depth = name.rsplit("-", 1)
        pairs.setdefault(kind, []).append((int(depth), loss))
    if set(pairs) != {"plain", "residual"} or any(len(v) != 2 for v in pairs.values()):
        return False
    (_, p_shallow), (_, p_deep) = sorted(pairs["plain"])
    (_, r_shallow), (_, r_deep) = sorted(pairs["residual"])
    return p_deep > p_shallow and r_deep <= r_shallow
