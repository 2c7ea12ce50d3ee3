"""Figures of what a channel looks for: an example with its unit mask, the patch the mask covers, the channel's IoU
per class with the shortcuts on and now, and the labelled channels per layer. Numbers in, pictures out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from resnet_viz.figures import PLAIN_COLOR, RESIDUAL_COLOR, style

__all__ = ["MASK_EDGE", "OUTSIDE", "iou_chart", "label_count_chart", "overlay", "patch"]

OUTSIDE = 0.3  # brightness kept outside the unit mask, so the part the channel responds to stands out
MASK_EDGE = (255, 210, 0)  # the mask's outline: yellow reads on dark and on light images
ON_COLOR, NOW_COLOR = RESIDUAL_COLOR, PLAIN_COLOR


def overlay(image: np.ndarray, mask: np.ndarray, scale: int = 2) -> np.ndarray:
    """(H, W, 3) uint8 with everything outside `mask` (H, W) dimmed and the mask outlined, `scale` times larger; an
    empty mask dims nothing (the caption says the image stays below the level)."""
    if not mask.any():
        return image.repeat(scale, axis=0).repeat(scale, axis=1)
    img = np.where(mask[..., None], image, (image * OUTSIDE).astype(np.uint8))
    img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    m = mask.repeat(scale, axis=0).repeat(scale, axis=1)
    inner = m.copy()
    inner[1:, :] &= m[:-1, :]
    inner[:-1, :] &= m[1:, :]
    inner[:, 1:] &= m[:, :-1]
    inner[:, :-1] &= m[:, 1:]
    img[m & ~inner] = MASK_EDGE
    return img


def patch(image: np.ndarray, box: tuple[int, int, int, int], side: int = 96, least: int = 24) -> np.ndarray:
    """The part of `image` inside `box` (top, left, bottom, right), grown to a square of at least `least` px (a
    few-pixel region shows no shape without its surroundings) and shown at `side` px."""
    top, left, bottom, right = box
    h, w = bottom - top, right - left
    half = min(max(h, w, least), *image.shape[:2]) / 2
    cy, cx = (top + bottom) / 2, (left + right) / 2
    t0 = int(max(0, min(image.shape[0] - 2 * half, cy - half)))
    l0 = int(max(0, min(image.shape[1] - 2 * half, cx - half)))
    crop = image[t0:t0 + int(2 * half), l0:l0 + int(2 * half)]
    return np.asarray(Image.fromarray(crop).resize((side, side), Image.NEAREST))


def iou_chart(classes: list[str], iou_on: list[float], iou_now: list[float] | None, bar: float, title: str,
              x_title: str, y_title: str, on_name: str, now_name: str, bar_name: str) -> go.Figure:
    """The channel's IoU with each class's object masks, all shortcuts on (and with the current mask), and the
    labelling bar."""
    fig = go.Figure(go.Bar(x=classes, y=iou_on, name=on_name, marker_color=ON_COLOR))
    if iou_now is not None:
        fig.add_bar(x=classes, y=iou_now, name=now_name, marker_color=NOW_COLOR)
    fig.add_hline(y=bar, line_dash="dash", line_color="#555", annotation_text=bar_name,
                  annotation_position="top right")
    fig.update_layout(barmode="group", xaxis_title=x_title, yaxis_title=y_title, legend=dict(orientation="h", y=1.12))
    return style(fig, title, height=420)


def label_count_chart(layers: list[str], on: list[int], now: list[int] | None, totals: list[int], title: str,
                      x_title: str, y_title: str, on_name: str, now_name: str) -> go.Figure:
    """Per layer, the share of channels that get a concept label, all shortcuts on (and with the current mask)."""
    share = lambda counts: [100 * c / n for c, n in zip(counts, totals, strict=True)]  # noqa: E731
    text = lambda counts: [f"{c}/{n}" for c, n in zip(counts, totals, strict=True)]  # noqa: E731
    fig = go.Figure(go.Bar(x=layers, y=share(on), text=text(on), name=on_name, marker_color=ON_COLOR))
    if now is not None:
        fig.add_bar(x=layers, y=share(now), text=text(now), name=now_name, marker_color=NOW_COLOR)
    # Outside the bars, so a block where no channel gets a label still reads "0/512".
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_layout(barmode="group", xaxis_title=x_title, yaxis_title=y_title, legend=dict(orientation="h", y=1.12))
    return style(fig, title, height=420)
