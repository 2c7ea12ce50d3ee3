"""Readings of one channel and one layer's concept labels (explain.channels, explain.dissection): (key, params)."""

from __future__ import annotations

from collections.abc import Sequence

from resnet_viz.text.readings import THRESHOLDS, Reading, Thresholds

__all__ = ["channel", "label_counts"]


def channel(start: float | None, final: float | None, best_heldout: float, active: float, concept: str,
            iou: float, th: Thresholds = THRESHOLDS) -> list[Reading]:
    """What the optimised image and the held-out set say about one channel; a dead or noise-like channel is
    named as such instead of being read as a finding. start/final are None before a visualisation exists."""
    if active < th.channel_dead:
        return [("ch.read.dead", {"share": 100 * active})]
    out: list[Reading] = []
    if final is not None and start is not None:
        if final <= th.channel_beat * best_heldout:
            out.append(("ch.read.noise", {"final": final, "best": best_heldout}))
        else:
            out.append(("ch.read.drives", {"start": start, "final": final, "best": best_heldout}))
    if iou > th.iou_label:
        out.append(("ch.read.label", {"concept": concept, "iou": iou, "bar": th.iou_label}))
    else:
        out.append(("ch.read.no_label", {"iou": iou, "bar": th.iou_label}))
    return out


def label_counts(layer: str, total: int, on: int, now: int, mask: Sequence[bool], iou_on: float,
                 iou_now: float, th: Thresholds = THRESHOLDS) -> list[Reading]:
    """How many of a layer's channels get a concept label with every shortcut on and with the current mask, and
    how the shown channel's best IoU moves between the two."""
    if all(mask):
        return [("ch.read.count", {"layer": layer, "n": on, "total": total, "bar": th.iou_label})]
    key = "ch.read.count_same" if now == on else "ch.read.count_fewer" if now < on else "ch.read.count_more"
    out: list[Reading] = [(key, {"layer": layer, "on": on, "now": now, "total": total})]
    drop = iou_on - iou_now
    if abs(drop) <= th.iou_same:
        out.append(("ch.read.iou_same", {"on": iou_on, "now": iou_now}))
    else:
        out.append(("ch.read.iou_drop" if drop > 0 else "ch.read.iou_rise",
                    {"on": iou_on, "now": iou_now, "change": abs(drop)}))
    return out
