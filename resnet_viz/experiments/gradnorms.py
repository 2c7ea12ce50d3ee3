"""Gradient norms at initialisation: per-layer norms of plain vs residual CIFAR stacks, shattered gradients,
and ResNet-18's gradient at every conv output under a shortcut mask; plus their plain-language readings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.experiments.stacks import StackConfig, TrainSettings, build_stack, num_classes_for, training_batches
from resnet_viz.model.forward import ALL_ON, Mask, normalise_mask, trace
from resnet_viz.model.layers import BLOCK_NAMES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from resnet_viz.model.weights import ModelHandle

__all__ = ["LayerNorms", "ResNetGradNorms", "compare_correlation", "compare_init",
           "gradient_correlation", "init_batch", "layer_norms", "resnet_conv_grad_norms", "resnet_conv_names"]

# ----------------------------------------------------------------------------------------------------------
# Gradient norms at initialisation


@dataclass
class LayerNorms:
    """Per-layer numbers for one network on one batch, at initialisation. Lists follow `layers`."""

    config: StackConfig
    layers: list[str]
    weight_grad: list[float]  # L2 norm of each conv's weight gradient
    output_grad: list[float]  # L2 norm of the loss gradient at each layer's output (after its ReLU)
    activation_std: list[float]  # std of each layer's output on the forward pass
    loss: float

    @property
    def weight_ratio(self) -> float:
        """First conv's weight-gradient norm / last conv's: >> 1 grows toward the input, << 1 vanishes."""
        return _ratio(self.weight_grad[0], self.weight_grad[-1])

    @property
    def output_ratio(self) -> float:
        """Same for the gradient at the layer outputs; not distorted by activation sizes as weight grads are."""
        return _ratio(self.output_grad[0], self.output_grad[-1])


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def layer_norms(cfg: StackConfig, x: torch.Tensor, y: torch.Tensor) -> LayerNorms:
    """One forward + backward of a freshly initialised network (train mode: BatchNorm uses batch statistics).

    Gradients come from torch.autograd.grad on the weights and on the recorded outputs: no hooks, and the
    parameters' .grad stay untouched.
    """
    model = build_stack(cfg).train()
    record: list[torch.Tensor] = []
    loss = F.cross_entropy(model(x, record), y)
    convs = model.main_convs()
    weights = [m.weight for _, m in convs]
    grads = torch.autograd.grad(loss, weights + record)
    w_grads, out_grads = grads[: len(weights)], grads[len(weights):]
    return LayerNorms(
        config=cfg,
        layers=[name for name, _ in convs],
        weight_grad=[float(g.norm()) for g in w_grads],
        output_grad=[float(g.norm()) for g in out_grads],
        activation_std=[float(a.detach().std()) for a in record],
        loss=float(loss.detach()),
    )


def init_batch(batch_size: int = 64, image_size: int = 32, seed: int = 0, data: str = "random",
               num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The one batch for init norms: standard-normal images and random labels by default (seeded)."""
    if batch_size < 2:
        raise ValueError("batch size must be at least 2 (BatchNorm needs a batch)")
    settings = TrainSettings(batch_size=batch_size, image_size=image_size, data=data, seed=seed,
                             pool_size=max(batch_size, 256))
    return next(training_batches(settings, num_classes))


def compare_init(depth: int, batchnorm: bool = True, shortcut: str = "A", zero_init_residual: bool = False,
                 batch_size: int = 64, seed: int = 0, widths: tuple[int, int, int] = (16, 32, 64),
                 variants: tuple[str, ...] = ("plain", "residual"), data: str = "random",
                 image_size: int = 32) -> dict[str, LayerNorms]:
    """Init norms for plain and/or residual stacks of one depth, on the same batch and the same seed.

    Runs on torch's thread count as it is: a request never changes process-wide settings."""
    unknown = set(variants) - {"plain", "residual"}
    if unknown or not variants:
        raise ValueError(f"variants must be 'plain' and/or 'residual'; got {variants}")
    n_classes = num_classes_for(data)
    x, y = init_batch(batch_size, image_size, seed, data, n_classes)
    out = {}
    for variant in variants:
        cfg = StackConfig(depth=depth, residual=variant == "residual", batchnorm=batchnorm, shortcut=shortcut,
                          zero_init_residual=zero_init_residual, widths=widths, num_classes=n_classes, seed=seed)
        out[variant] = layer_norms(cfg, x, y)
    return out


def gradient_correlation(cfg: StackConfig, n_points: int = 32, image_size: int = 32, max_lag: int = 16) -> list[float]:
    """Shattered gradients (Balduzzi et al. 2017): how alike the input gradients of nearby inputs are.

    Inputs x_i = x0 + (i / n) d on a line (x0, d standard normal), gradient g_i = d(logit 0)/d(x_i) of a freshly
    initialised net. Returns the mean Pearson correlation of g_i with g_(i+k) for lags k = 1..max_lag: near 1
    for a smooth function, near 0 for gradients like white noise. BatchNorm uses the statistics of the n
    points (one pass in training mode), then is frozen, so each point's gradient is its own.
    """
    if n_points < 3 or not 1 <= max_lag < n_points:
        raise ValueError("need at least 3 points and 1 <= max_lag < n_points")
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    x0 = torch.randn(1, 3, image_size, image_size, generator=gen)
    d = torch.randn(1, 3, image_size, image_size, generator=gen)
    t = torch.arange(n_points, dtype=torch.float32).view(-1, 1, 1, 1) / n_points
    x = (x0 + t * d).requires_grad_(True)  # (n, 3, S, S)
    model = build_stack(cfg)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None  # cumulative average: after one pass, exactly this batch's statistics
        model.train()(x)
    model.eval()
    (g,) = torch.autograd.grad(model(x)[:, 0].sum(), x)
    g = g.flatten(1)  # (n, 3*S*S)
    g = (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + 1e-12)
    corr = (g @ g.T) / (g.shape[1] - 1)  # (n, n) Pearson correlations
    return [float(torch.diagonal(corr, k).mean()) for k in range(1, max_lag + 1)]


def compare_correlation(depth: int, batchnorm: bool = True, shortcut: str = "A", seed: int = 0,
                        widths: tuple[int, int, int] = (16, 32, 64)) -> dict[str, list[float]]:
    """gradient_correlation for the plain and the residual stack of one depth, keyed by their labels."""
    out = {}
    for residual in (False, True):
        cfg = StackConfig(depth=depth, residual=residual, batchnorm=batchnorm, shortcut=shortcut, widths=widths,
                          seed=seed)
        out[cfg.label] = gradient_correlation(cfg)
    return out



# ----------------------------------------------------------------------------------------------------------
# The real network: ResNet-18's gradient at every conv output


@dataclass
class ResNetGradNorms:
    """‖∂(class logit)/∂(conv output)‖ at ResNet-18's 17 main-path convs, all shortcuts on vs a mask."""

    layers: list[str]
    target: int  # the class whose logit is differentiated: top-1 with all shortcuts on
    all_on: list[float]
    masked: list[float]
    mask: Mask


def resnet_conv_names() -> list[str]:
    """ResNet-18's 17 main-path convs in forward order: conv1, then each block's conv1 and conv2."""
    return ["conv1"] + [f"{b}.{c}" for b in BLOCK_NAMES for c in ("conv1", "conv2")]


def resnet_conv_grad_norms(handle: ModelHandle, x: torch.Tensor, mask: Sequence[bool] | None) -> ResNetGradNorms:
    """Gradient norms at every conv output of the shared model for one image (1, 3, H, W), through the same
    traced forward as every page. torch.autograd.grad on the trace's tensors: no hooks, no requires_grad
    changes on parameters, nothing accumulated in their .grad; all under the handle's lock."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image as a (1, 3, H, W) tensor, got shape {tuple(x.shape)}")
    mask = normalise_mask(mask)
    names = resnet_conv_names()
    # The input (our own copy) requires grad, so a graph exists even if the model's parameters were frozen.
    x = x.detach().to(handle.device).requires_grad_(True)
    with handle.lock, torch.enable_grad():
        full = trace(handle.model, x, ALL_ON, inner=True)
        target = int(full.logits[0].argmax())
        all_on = torch.autograd.grad(full.logits[0, target], [full.layers[n] for n in names])
        if all(mask):  # the same network: the second pass would repeat the first exactly
            masked = all_on
        else:
            cut = trace(handle.model, x, mask, inner=True)
            masked = torch.autograd.grad(cut.logits[0, target], [cut.layers[n] for n in names])
    return ResNetGradNorms(names, target, [float(g.norm()) for g in all_on], [float(g.norm()) for g in masked], mask)
