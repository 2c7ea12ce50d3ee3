"""What one channel looks for, drawn: an optimised image (FFT parameters, decorrelated colour, affine jitter) through
the traced forward with its shortcut mask, stopped at the channel's block (explain/dissection.py finds its examples)."""

from __future__ import annotations

import base64
import functools
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from resnet_viz import ASSETS, disk_cache
from resnet_viz.data import shapes
from resnet_viz.model.forward import iter_blocks, normalise_mask, run_block
from resnet_viz.model.layers import BLOCK_NAMES, fact

__all__ = ["CACHE_VERSION", "IMAGENET_COLOUR", "TARGETS", "Progress", "Visualisation", "cached_visualise",
           "check_request", "colour_matrix", "forward_to", "objective", "visualise"]

TARGETS: tuple[str, ...] = ("x", "F", "out")
# lucid's square root of ImageNet's RGB covariance (lucid/optvis/param/color.py), for weights not trained on shapes.
IMAGENET_COLOUR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
CACHE_VERSION = 1
# The Channels page's default view for the shipped shapes weights, named by its cache key (written by computing it
# once with an empty cache and copying the file here).
SHIPPED_DIR = ASSETS / "channels"
Progress = Callable[[float], None]


def forward_to(model: nn.Module, x: Tensor, layer: str, mask: Sequence[bool] | None = None) -> dict[str, Tensor]:
    """The stem and blocks up to `layer` (a block name), then stop: {"x", "F", "out"} before their ReLU, (B, C, h, w).

    Before the ReLU so a channel the ReLU zeroes still has a gradient: "out" is F(x)+x (F(x) with the shortcut
    off), "x" the block's shortcut input before the previous ReLU (after `downsample` where the block has one).
    """
    mask = normalise_mask(mask)
    stop = BLOCK_NAMES.index(layer)
    pre = model.maxpool(model.bn1(model.conv1(x)))  # max-pool commutes with ReLU: the pre-ReLU of its output
    h = F.relu(pre)
    for i, (name, block) in enumerate(iter_blocks(model)):
        bt = run_block(block, name, h, mask[i], True, {})  # same operations as the traced forward
        acts = {"x": bt.x if block.downsample is not None else pre, "F": bt.fx,
                "out": bt.fx + bt.x if mask[i] else bt.fx}
        if i == stop:
            return acts
        pre, h = acts["out"], bt.out
    raise ValueError(f"{layer!r} is not a block")


def objective(acts: dict[str, Tensor], target: str, channel: int) -> Tensor:
    """One channel's spatial mean per image (B,): what the optimisation maximises."""
    return acts[target][:, channel].mean(dim=(-2, -1))


# ---------------------------------------------------------------- the image: spectrum -> colour -> pixels


def colour_matrix(source: str) -> np.ndarray:
    """Square root of the training data's RGB covariance (3, 3), scaled to max column norm 1 as in lucid.

    "shapes": measured on the shapes generator's training stream; any other weights: lucid's ImageNet matrix.
    """
    m = _shapes_colour() if source == "shapes" else IMAGENET_COLOUR
    return (m / np.linalg.norm(m, axis=0).max()).astype(np.float32)


@functools.cache
def _shapes_colour() -> np.ndarray:
    imgs, _ = shapes.training_batch(seed=7, step=0, batch_size=64, size=64)  # (N, H, W, 3) uint8
    u, s, _ = np.linalg.svd(np.cov(imgs.reshape(-1, 3) / 255.0, rowvar=False))
    return (u * np.sqrt(s)).astype(np.float32)


class FFTImage:
    """An image held as its 1/f-scaled spectrum (Olah et al. 2017): a gradient step moves low frequencies most."""

    def __init__(self, size: int, generator: torch.Generator, colour: np.ndarray, device: torch.device,
                 sd: float = 0.01):
        fy, fx = np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :]
        freqs = np.sqrt(fx * fx + fy * fy)  # (S, S//2+1)
        self.size = size
        self.spectrum = (torch.randn((1, 3, *freqs.shape, 2), generator=generator) * sd).to(device).requires_grad_()
        self.scale = torch.from_numpy(1.0 / np.maximum(freqs, 1.0 / size)).float()[None, None, ..., None].to(device)
        self.colour = torch.from_numpy(colour).to(device)

    def rgb(self) -> Tensor:
        """(1, 3, S, S) in [0, 1]."""
        spec = torch.view_as_complex((self.scale * self.spectrum).contiguous())
        img = torch.fft.irfftn(spec, s=(self.size, self.size), norm="ortho") / 4.0  # lucid's scale
        return torch.sigmoid(torch.einsum("bchw,dc->bdhw", img, self.colour))  # decorrelated -> RGB


def _jitter(img: Tensor, gen: torch.Generator) -> Tensor:
    """One random view: scale 0.9-1.1, rotation within 10 degrees, shift within 6% of the side (reflected)."""
    u = torch.rand(4, generator=gen).tolist()
    s, a = 0.9 + 0.2 * u[0], math.radians(20.0 * u[1] - 10.0)
    theta = torch.tensor([[[math.cos(a) / s, -math.sin(a) / s, 0.12 * u[2] - 0.06],
                           [math.sin(a) / s, math.cos(a) / s, 0.12 * u[3] - 0.06]]], device=img.device)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


# ---------------------------------------------------------------- feature visualisation


@dataclass
class Visualisation:
    """The optimised image, snapshots along the way, and how hard the start and the result drive the channel."""

    layer: str
    channel: int
    target: str
    mask: tuple[bool, ...]
    size: int
    steps: int
    image: np.ndarray  # (S, S, 3) uint8
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> (S, S, 3) uint8
    start: float = 0.0  # the channel's mean before its ReLU on the random start
    final: float = 0.0  # ... on the optimised image, without jitter
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "image": _png(self.image), "snapshots": {str(k): _png(v) for k, v in
                                                                          self.snapshots.items()}}

    @classmethod
    def from_json(cls, d: dict) -> Visualisation:
        return cls(**{**d, "mask": tuple(d["mask"]), "image": _unpng(d["image"]),
                      "snapshots": {int(k): _unpng(v) for k, v in d["snapshots"].items()}})


def _png(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _unpng(text: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))


def _uint8(rgb: Tensor) -> np.ndarray:
    return (rgb[0].permute(1, 2, 0).detach().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)


def visualise(handle, layer: str, channel: int, target: str = "out", mask: Sequence[bool] | None = None, *,
              size: int = 128, steps: int = 256, lr: float = 0.05, seed: int = 0, snapshots: Sequence[int] = (),
              progress: Progress | None = None) -> Visualisation:
    """Maximise one channel's mean (before its ReLU) over an image, with Adam on the image's spectrum only.

    The loaded model's parameters never require grad, so backward computes no weight gradient. The handle's
    lock is held one step at a time: another session's request waits one step, not the whole run.
    """
    check_request(handle, layer, target, channel)
    mask, dev = normalise_mask(mask), handle.device
    t0, gen = time.perf_counter(), torch.Generator().manual_seed(seed)
    image = FFTImage(size, gen, colour_matrix(handle.source), dev)
    m, s = torch.tensor(handle.mean, device=dev).view(1, 3, 1, 1), torch.tensor(handle.std, device=dev).view(1, 3, 1, 1)

    def score(rgb: Tensor) -> Tensor:
        return objective(forward_to(handle.model, (rgb - m) / s, layer, mask), target, channel)

    with handle.lock, torch.no_grad():
        start = float(score(image.rgb()))
    opt = torch.optim.Adam([image.spectrum], lr=lr)
    shots = {}
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        with handle.lock:
            (-score(_jitter(image.rgb(), gen)).sum()).backward()
        opt.step()
        if step in snapshots:
            shots[step] = _uint8(image.rgb())
        if progress is not None:
            progress(step / steps)
    with handle.lock, torch.no_grad():
        rgb = image.rgb()
        final = float(score(rgb))
    return Visualisation(layer, channel, target, mask, size, steps, _uint8(rgb), shots, start, final,
                         time.perf_counter() - t0)


def check_request(handle, layer: str, target: str, channel: int = 0) -> None:
    """A block, one of its tensors and a channel it has; ValueError otherwise."""
    if layer not in BLOCK_NAMES:
        raise ValueError(f"layer must be a block ({', '.join(BLOCK_NAMES)}), got {layer!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if not 0 <= channel < (n := fact(layer).channels):
        raise ValueError(f"{layer} has channels 0..{n - 1}, got {channel}")


# ---------------------------------------------------------------- on disk, once per key


def cached_visualise(handle, layer: str, channel: int, target: str = "out", mask: Sequence[bool] | None = None, *,
                     size: int = 128, steps: int = 256, seed: int = 0, snapshots: Sequence[int] = (),
                     progress: Progress | None = None) -> Visualisation:
    """`visualise`, computed once per (weights digest, layer, channel, target, mask, size, steps, seed)."""
    mask = normalise_mask(mask)
    key = disk_cache.key([CACHE_VERSION, handle.digest, handle.source, layer, channel, target, mask, size, steps,
                          seed, sorted(snapshots)])
    shipped = disk_cache.read_json(SHIPPED_DIR / f"vis-{key}.json")
    if shipped is not None:  # the page's first view, shipped: the first student does not wait for it
        return Visualisation.from_json(shipped)
    stored = disk_cache.computed_once(
        disk_cache.cache_dir("channels") / f"vis-{key}.json",
        lambda report: visualise(handle, layer, channel, target, mask, size=size, steps=steps, seed=seed,
                                 snapshots=snapshots, progress=report).to_json(), progress)
    return Visualisation.from_json(stored)
