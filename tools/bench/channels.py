"""Bench measure 7: what a channel looks for — one feature visualisation, and a whole block's dataset examples and
concept labels, each computed from scratch (the page reads them from the disk cache after the first time)."""

from __future__ import annotations

import time

from tools.bench.core import BenchSettings, Row

__all__ = ["bench_channels"]

VIS_LAYERS = ("layer1.0", "layer4.1")  # the cheapest and the dearest place to stop the forward


def bench_channels(s: BenchSettings) -> tuple[dict, list[Row]]:
    """Feature visualisation at the page's size and steps (128 px, 256) for the first and the last block, and
    `dissect` + the shown channel's examples for every channel of layer1.0 (the largest maps) and layer4.1."""
    from resnet_viz.explain import channels, dissection
    from resnet_viz.model import weights
    from resnet_viz.model.config import DEFAULTS

    handle = weights.handle_for("shapes" if weights.SHAPES_CHECKPOINT.exists() else "random", device=s.device)
    size, steps = (32, 8) if s.quick else (DEFAULTS.channel_size, DEFAULTS.channel_steps)
    n, dissect_size = (10, 48) if s.quick else (DEFAULTS.dissect_n, DEFAULTS.dissect_size)
    out: dict = {"weights": handle.source, "size": size, "steps": steps, "n": n, "dissect_size": dissect_size}
    rows = []
    for layer in VIS_LAYERS:
        if s.warmup:
            channels.visualise(handle, layer, 0, "out", size=size, steps=2)  # warm-up: first-call allocations
        v = channels.visualise(handle, layer, 0, "out", size=size, steps=steps)
        out[f"vis_{layer}"] = {"seconds": v.seconds, "start": v.start, "final": v.final}
        rows.append(Row("7. channel image", f"{layer}, {size} px, {steps} steps", f"{v.seconds:.2f} s",
                        goal="<= 10 s"))
    for layer in VIS_LAYERS:
        t0 = time.perf_counter()
        d = dissection.dissect(handle, layer, "out", n=n, size=dissect_size)
        dissection.dataset_examples(handle, d, 0)
        dissection.photo_examples(handle, d, 0)
        seconds = time.perf_counter() - t0
        out[f"dissect_{layer}"] = {"seconds": seconds, "dissect_s": d.seconds, "labelled": d.labelled(),
                                   "channels": len(d.iou)}
        rows.append(Row("7. channel labels", f"{layer}, {len(d.iou)} ch, {n} shapes", f"{seconds:.2f} s",
                        goal="<= 30 s"))
    out["vis_s_max"] = max(out[f"vis_{layer}"]["seconds"] for layer in VIS_LAYERS)
    out["dissect_s_max"] = max(out[f"dissect_{layer}"]["seconds"] for layer in VIS_LAYERS)
    return out, rows
