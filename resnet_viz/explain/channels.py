"""What one channel looks for: an optimised image (FFT parameters, decorrelated colour, affine jitter) through the
traced forward with its shortcut mask, its top held-out shapes, and Network Dissection's concept labels."""

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

from resnet_viz import disk_cache
from resnet_viz.experiments import shapes
from resnet_viz.inputs import images
from resnet_viz.model.forward import iter_blocks, normalise_mask, run_block
from resnet_viz.model.layers import BLOCK_NAMES

__all__ = ["IMAGENET_COLOUR", "IOU_LABEL", "TARGETS", "TOP_QUANTILE", "Dissection", "Examples", "Visualisation",
           "cached_dissect", "cached_visualise", "colour_matrix", "dataset_examples", "dissect", "forward_to",
           "heldout", "objective", "photo_examples", "unit_masks", "visualise", "width"]

TARGETS: tuple[str, ...] = ("x", "F", "out")
# lucid's square root of ImageNet's RGB covariance (lucid/optvis/param/color.py), for weights not trained on shapes.
IMAGENET_COLOUR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
TOP_QUANTILE = 0.005  # Network Dissection: a unit's mask is where it passes its top-0.5% level over the data set,
IOU_LABEL = 0.04  # and a concept labels the unit when their IoU is above 0.04 (Bau et al. 2017, sec. 2.2)
TOP_K = 9  # dataset examples per channel (Zeiler & Fergus 2014 show 9)
CACHE_VERSION = 1
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
def _shapes_colour(n: int = 64, size: int = 64) -> np.ndarray:
    imgs, _ = shapes.training_batch(seed=7, step=0, batch_size=n, size=size)  # (N, H, W, 3) uint8
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
    _check(handle, layer, target, channel)
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


def width(model: nn.Module, layer: str) -> int:
    """Channels of a block's output (x and F(x) have as many)."""
    return getattr(model, layer.split(".")[0])[0].conv1.out_channels


def _check(handle, layer: str, target: str, channel: int = 0) -> None:
    if layer not in BLOCK_NAMES:
        raise ValueError(f"layer must be a block ({', '.join(BLOCK_NAMES)}), got {layer!r}")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if not 0 <= channel < (n := width(handle.model, layer)):
        raise ValueError(f"{layer} has channels 0..{n - 1}, got {channel}")


# ---------------------------------------------------------------- dataset examples and concept labels


def heldout(n: int, size: int, mean: Sequence[float], std: Sequence[float]) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """The first n held-out shapes: normalised images (n, 3, S, S), labels (n,), object masks (n, S, S)."""
    imgs, labels, masks = shapes.to_arrays(shapes.heldout_set(n, size))
    return _normalised(imgs, mean, std), labels, masks


def _normalised(imgs: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) normalised floats."""
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def unit_masks(acts: Tensor, threshold: Tensor, size: int) -> Tensor:
    """Maps (B, C, h, w) upsampled bilinearly to (size, size), kept where they pass each channel's level: bool."""
    up = F.interpolate(acts, size=(size, size), mode="bilinear", align_corners=False)
    return up > threshold.view(1, -1, 1, 1)


def iou_table(acts: Tensor, labels: np.ndarray, masks: np.ndarray, threshold: Tensor, classes: int,
              batch: int = 20) -> Tensor:
    """Network Dissection's IoU (C, classes): sums over the whole set of |M_k & L_c| / |M_k | L_c|.

    An image without concept c adds its unit mask to the union, as in Bau et al. 2017.
    """
    concept = torch.from_numpy(masks).float()  # (N, S, S)
    inter = torch.zeros(acts.shape[1], classes, dtype=torch.float64)
    unit_area = torch.zeros(acts.shape[1], dtype=torch.float64)
    concept_area = torch.zeros(classes, dtype=torch.float64)
    for i in range(0, len(acts), batch):
        m = unit_masks(acts[i:i + batch], threshold, concept.shape[-1]).float()  # (B, C, S, S)
        lb = concept[i:i + batch]
        onehot = F.one_hot(torch.from_numpy(labels[i:i + batch]), classes).double()  # (B, classes)
        inter += torch.einsum("bkhw,bhw->bk", m, lb).double().T @ onehot
        unit_area += m.sum(dim=(0, 2, 3)).double()
        concept_area += onehot.T @ lb.sum(dim=(1, 2)).double()
    union = unit_area[:, None] + concept_area[None, :] - inter
    return inter / union.clamp_min(1.0)


@dataclass
class Dissection:
    """Per channel of one layer's target, on n held-out shapes: its top-0.5% level, IoU per class, top images."""

    layer: str
    target: str
    mask: tuple[bool, ...]
    n: int
    size: int
    threshold: list[float]  # (C,)
    iou: list[list[float]]  # (C, classes)
    top: list[list[int]]  # (C, TOP_K) held-out indices, strongest first (by the channel's peak in the image)
    top_value: list[list[float]]  # (C, TOP_K) those peaks
    active: list[float]  # (C,) share of positions where the channel passes its ReLU
    best_mean: list[float]  # (C,) the largest spatial mean over the images: what a visualisation must beat
    seconds: float = 0.0

    def best(self, channel: int) -> tuple[int, float]:
        """(class index, IoU) of the channel's best concept."""
        c = int(np.argmax(self.iou[channel]))
        return c, float(self.iou[channel][c])

    def labelled(self) -> int:
        """How many channels get a concept label (best IoU above IOU_LABEL)."""
        return sum(max(row) > IOU_LABEL for row in self.iou)

    @classmethod
    def from_json(cls, d: dict) -> Dissection:
        return cls(**{**d, "mask": tuple(d["mask"])})


def activations(handle, x: Tensor, layer: str, target: str, mask: Sequence[bool] | None, batch: int = 25,
                progress: Progress | None = None) -> Tensor:
    """One target's maps for every image, (N, C, h, w), on the CPU; the lock is held one batch at a time."""
    out = []
    for i in range(0, len(x), batch):
        with handle.lock, torch.no_grad():
            out.append(forward_to(handle.model, x[i:i + batch].to(handle.device), layer, mask)[target].cpu())
        if progress is not None:
            progress(min(i + batch, len(x)) / len(x))
    return torch.cat(out)


def dissect(handle, layer: str, target: str = "out", mask: Sequence[bool] | None = None, *, n: int = 200,
            size: int = 64, progress: Progress | None = None) -> Dissection:
    """Dataset examples and concept labels for every channel of one layer's target, on n held-out shapes."""
    _check(handle, layer, target)
    mask, t0 = normalise_mask(mask), time.perf_counter()
    x, labels, masks = heldout(n, size, handle.mean, handle.std)
    acts = activations(handle, x, layer, target, mask, progress=progress and (lambda f: progress(0.7 * f)))
    flat = acts.transpose(0, 1).reshape(acts.shape[1], -1)  # (C, N*h*w)
    # kthvalue, not quantile: torch.quantile refuses inputs over 2^24 values (layer1 at 128 px has more).
    threshold = flat.kthvalue(max(1, math.ceil((1.0 - TOP_QUANTILE) * flat.shape[1])), dim=1).values  # (C,)
    iou = iou_table(acts, labels, masks, threshold, len(shapes.CLASSES))
    top_value, top = acts.amax(dim=(-2, -1)).topk(min(TOP_K, n), dim=0)  # (K, C)
    if progress is not None:
        progress(1.0)
    return Dissection(layer, target, mask, n, size, threshold.tolist(), iou.float().tolist(), top.T.tolist(),
                      top_value.T.tolist(), (flat > 0).float().mean(dim=1).tolist(),
                      acts.mean(dim=(-2, -1)).amax(dim=0).tolist(), time.perf_counter() - t0)


# ---------------------------------------------------------------- on disk, once per key


def cached_visualise(handle, layer: str, channel: int, target: str = "out", mask: Sequence[bool] | None = None, *,
                     size: int = 128, steps: int = 256, seed: int = 0, snapshots: Sequence[int] = (),
                     progress: Progress | None = None) -> Visualisation:
    """`visualise`, computed once per (weights digest, layer, channel, target, mask, size, steps, seed)."""
    mask = normalise_mask(mask)
    key = disk_cache.key([CACHE_VERSION, handle.digest, handle.source, layer, channel, target, mask, size, steps,
                          seed, sorted(snapshots)])
    stored = disk_cache.computed_once(
        disk_cache.cache_dir("channels") / f"vis-{key}.json",
        lambda report: visualise(handle, layer, channel, target, mask, size=size, steps=steps, seed=seed,
                                 snapshots=snapshots, progress=report).to_json(), progress)
    return Visualisation.from_json(stored)


def cached_dissect(handle, layer: str, target: str = "out", mask: Sequence[bool] | None = None, *, n: int = 200,
                   size: int = 64, progress: Progress | None = None) -> Dissection:
    """`dissect`, computed once per (weights digest, layer, target, mask, n, size)."""
    mask = normalise_mask(mask)
    key = disk_cache.key([CACHE_VERSION, handle.digest, layer, target, mask, n, size])
    stored = disk_cache.computed_once(
        disk_cache.cache_dir("channels") / f"dissect-{key}.json",
        lambda report: asdict(dissect(handle, layer, target, mask, n=n, size=size, progress=report)), progress)
    return Dissection.from_json(stored)


# ---------------------------------------------------------------- one channel's examples


@dataclass
class Examples:
    """A channel's strongest images with its unit mask (the top-0.5% level) and the box the mask covers."""

    images: list[np.ndarray]  # (S, S, 3) uint8
    masks: list[np.ndarray]  # (S, S) bool
    boxes: list[tuple[int, int, int, int]]  # (top, left, bottom, right), bottom/right exclusive
    values: list[float]  # the channel's peak in each image
    names: list[str]  # held-out index or photo name


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return 0, 0, mask.shape[0], mask.shape[1]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _examples(handle, d: Dissection, channel: int, x: Tensor, names: list[str]) -> Examples:
    acts = activations(handle, x, d.layer, d.target, d.mask)[:, channel:channel + 1]  # (K, 1, h, w)
    masks = unit_masks(acts, torch.tensor([d.threshold[channel]]), x.shape[-1])[:, 0].numpy()
    rgb = x * torch.tensor(handle.std).view(1, 3, 1, 1) + torch.tensor(handle.mean).view(1, 3, 1, 1)
    imgs = (rgb.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return Examples(list(imgs), list(masks), [_box(m) for m in masks], acts.amax(dim=(1, 2, 3)).tolist(), names)


def dataset_examples(handle, d: Dissection, channel: int) -> Examples:
    """The channel's top held-out shapes (as ranked by the dissection), each with its unit mask."""
    picked = [_heldout_one(i, d.size) for i in d.top[channel]]
    imgs, labels, _ = shapes.to_arrays(picked)
    names = [shapes.CLASSES[c] for c in labels]
    return _examples(handle, d, channel, _normalised(imgs, handle.mean, handle.std), names)


def _heldout_one(i: int, size: int) -> shapes.Sample:
    """Held-out image i alone, as shapes.heldout_set draws it (its seed and balanced label)."""
    return shapes.make_sample((shapes.HELDOUT_SEED, i), size, label=i % len(shapes.CLASSES))


def photo_examples(handle, d: Dissection, channel: int) -> Examples:
    """The shipped photos (not the generated shapes), strongest first, each with the channel's unit mask."""
    photos = [s for s in images.list_samples() if s.mask is None]
    x = torch.stack([handle.preprocess(images.load_sample(s.name)) for s in photos])
    ex = _examples(handle, d, channel, x, [s.name for s in photos])
    order = np.argsort(ex.values)[::-1]
    return Examples(*[[getattr(ex, f)[i] for i in order] for f in ("images", "masks", "boxes", "values", "names")])
