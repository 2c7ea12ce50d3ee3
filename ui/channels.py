"""The Channels page's pieces: its widget keys, progress bars around the cached library calls, image rows, charts
and readings."""

from __future__ import annotations

import streamlit as st

from resnet_viz.data import shapes
from resnet_viz.explain import channels, dissection
from resnet_viz.figures import channels as figures_channels
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.forward import ALL_ON
from resnet_viz.model.layers import BLOCK_NAMES, fact
from resnet_viz.text import channel_readings
from resnet_viz.text.readings import THRESHOLDS
from ui import keys, memo, state
from ui.draw import chart
from ui.text import class_name, sample_name, say, t

LAYER, CHANNEL, TARGET, SIDE, EVERY = keys.CH_LAYER, keys.CH_CHANNEL, keys.CH_TARGET, keys.CH_SIDE, keys.CH_EVERY
# A channel's examples (9 shapes and 6 photos with their masks: 0.2-1 MB), shared by every session, keyed by content.
EXAMPLES = memo.BoundedLRU(64 * memo.MiB)
BEST_LISTED = 8  # channels named as worth a look: the best-labelled ones of the block


TARGET_KEYS = {"x": "ch.target.x", "F": "ch.target.fx", "out": "ch.target.out"}


def target_name(target: str) -> str:
    return t(TARGET_KEYS[target])


def widgets(handle) -> tuple[str, int, str, bool]:
    """Block, channel (kept within the block's width), tensor and the side-by-side toggle."""
    c1, c2, c3 = st.columns([1, 1, 2])
    layer = c1.selectbox(t("ch.layer"), BLOCK_NAMES, index=BLOCK_NAMES.index(DEFAULTS.default_layer), key=LAYER)
    top = fact(layer).channels - 1  # x, F(x) and the output have the block's width
    if st.session_state.get(CHANNEL, 0) > top:  # a narrower block than the last one picked
        st.session_state[CHANNEL] = top
    channel = int(c2.number_input(t("ch.channel"), 0, top, key=CHANNEL))
    target = c3.radio(t("ch.target"), channels.TARGETS, index=2, horizontal=True, key=TARGET,
                      format_func=target_name)
    side = st.toggle(t("ch.side"), value=False, key=SIDE, help=t("ch.side_help"))
    return layer, channel, target, side


def _with_progress(text: str, run):
    """run(progress) with a progress bar that a second session waiting for the same key sees move too."""
    bar = st.progress(0.0, text=text)
    try:
        return run(lambda done: bar.progress(min(max(float(done), 0.0), 1.0), text=text))
    finally:
        bar.empty()


def visualisation(handle, layer: str, channel: int, target: str, mask) -> channels.Visualisation:
    what = f"{layer} {target_name(target)} #{channel}"
    return _with_progress(t("ch.vis.progress", what=what), lambda p: channels.cached_visualise(
        handle, layer, channel, target, mask, size=DEFAULTS.channel_size, steps=DEFAULTS.channel_steps,
        snapshots=DEFAULTS.channel_snapshots, progress=p))


def dissected(handle, layer: str, target: str, mask) -> dissection.Dissection:
    text = t("ch.ex.progress", n=DEFAULTS.dissect_n, layer=layer, target=target_name(target))
    return _with_progress(text, lambda p: dissection.cached_dissect(handle, layer, target, mask, n=DEFAULTS.dissect_n,
                                                                  size=DEFAULTS.dissect_size, progress=p))


def show_visualisations(handle, layer: str, channel: int, target: str, mask, side: bool) -> channels.Visualisation:
    """The snapshots of the chosen tensor's image, or the final images of x, F(x) and the output side by side."""
    if side:
        shown = {tg: visualisation(handle, layer, channel, tg, mask) for tg in channels.TARGETS}
        cols = st.columns(len(shown))
        for col, (tg, v) in zip(cols, shown.items(), strict=True):
            col.image(v.image, width="stretch", caption=t("ch.vis.final", what=target_name(tg), final=f"{v.final:.3g}",
                                                          start=f"{v.start:.3g}"))
        vis = shown[target]
    else:
        vis = visualisation(handle, layer, channel, target, mask)
        cols = st.columns(len(vis.snapshots))
        for col, (step, img) in zip(cols, sorted(vis.snapshots.items()), strict=True):
            col.image(img, width="stretch", caption=t("ch.vis.snapshot", step=step))
    colour = t("ch.colour.shapes") if handle.source == "shapes" else t("ch.colour.imagenet")
    st.caption(t("ch.vis.caption", steps=vis.steps, size=vis.size, colour=colour, mask=state.mask_label(mask)))
    return vis


def show_examples(handle, d: dissection.Dissection, channel: int) -> None:
    """The top held-out shapes with the unit mask, the patch each mask covers, then the photos."""
    key = (handle.digest, d.layer, d.target, d.mask, channel)
    ex = EXAMPLES.get(("shapes", *key), lambda: dissection.dataset_examples(handle, d, channel))
    photos = EXAMPLES.get(("photos", *key), lambda: dissection.photo_examples(handle, d, channel))
    cols = st.columns(len(ex.images))
    for col, img, m, box, v, name in zip(cols, ex.images, ex.masks, ex.boxes, ex.values, ex.names, strict=True):
        col.image(figures_channels.overlay(img, m), width="stretch", caption=t("ch.ex.item", name=class_name(name),
                                                                                value=f"{v:.2f}"))
        col.image(figures_channels.patch(img, box), width="stretch")
    st.caption(t("ch.ex.caption", k=len(ex.images), n=d.n, size=d.size))
    st.markdown(t("ch.ex.photos"))
    cols = st.columns(len(ex.images))
    for col, img, m, v, name in zip(cols, photos.images, photos.masks, photos.values, photos.names, strict=False):
        key = "ch.ex.photo_item" if m.any() else "ch.ex.photo_below"
        col.image(figures_channels.overlay(img, m, scale=1), width="stretch",
                  caption=t(key, name=sample_name(name), value=f"{v:.2f}"))


DEAD_SHARE = THRESHOLDS.channel_dead
DOUBTFUL = ("ch.read.dead", "ch.read.noise")  # readings that say the pictures are not a finding


def readings(d_on: dissection.Dissection, d_now: dissection.Dissection, vis: channels.Visualisation, channel: int,
             mask) -> tuple[list, list]:
    """(what this channel's numbers say, what the block's label counts say), as readings."""
    concept, iou = d_now.best(channel)
    about = channel_readings.channel(vis.start, vis.final, d_now.best_mean[channel], d_now.active[channel],
                                     class_name(shapes.CLASSES[concept]), iou)
    counts = channel_readings.label_counts(d_now.layer, len(d_now.iou), d_on.labelled(), d_now.labelled(), mask,
                                           d_on.best(channel)[1], iou)
    return about, counts


def doubtful(about: list) -> bool:
    return about[0][0] in DOUBTFUL


def show_doubt(about: list) -> None:
    """A dead or noise-like channel said so right under its image, before any picture could read as a finding."""
    if doubtful(about):
        st.warning(say(about))


def show_labels(handle, d_on: dissection.Dissection, d_now: dissection.Dissection, about: list, counts: list,
                channel: int, mask) -> None:
    """Metrics, the readings (a doubtful channel's were shown above), the channel's IoU per class (shortcuts on and
    now) and the block's best-labelled channels."""
    iou = d_now.best(channel)[1]
    m = st.columns(3)
    m[0].metric(t("ch.lab.m.on"), f"{d_on.labelled()} / {len(d_on.iou)}")
    m[1].metric(t("ch.lab.m.now"), f"{d_now.labelled()} / {len(d_now.iou)}",
                d_now.labelled() - d_on.labelled() if not all(mask) else None)
    m[2].metric(t("ch.lab.m.best"), f"{iou:.3f}", f"{iou - d_on.best(channel)[1]:+.3f}" if not all(mask) else None)
    st.info(say(([] if doubtful(about) else about) + counts))
    now = None if all(mask) else d_now.iou[channel]
    fig = memo.figure(("ch_iou", handle.digest, d_now.layer, d_now.target, tuple(mask), channel), lambda:
                      figures_channels.iou_chart(
                          [class_name(c) for c in shapes.CLASSES], d_on.iou[channel], now, dissection.IOU_LABEL,
                          t("ch.fig.iou_title", layer=d_now.layer, channel=channel, target=target_name(d_now.target)),
                          t("ch.fig.class"), t("ch.fig.iou"), t("ch.fig.on"), t("ch.fig.now"),
                          t("ch.fig.bar", bar=dissection.IOU_LABEL)))
    chart(st, fig, key="ch_iou")
    best = sorted(range(len(d_now.iou)), key=lambda c: -max(d_now.iou[c]))[:BEST_LISTED]
    listed = ", ".join(f"#{c} {class_name(shapes.CLASSES[d_now.best(c)[0]])} {d_now.best(c)[1]:.2f}" for c in best
                       if d_now.best(c)[1] > dissection.IOU_LABEL)
    if listed:
        st.caption(t("ch.lab.best_list", layer=d_now.layer, channels=listed))


def every_block(handle, target: str, mask) -> None:
    """Labelled channels in all eight blocks, shortcuts on and now (computed on request, then cached)."""
    if not st.toggle(t("ch.lab.every"), value=False, key=EVERY, help=t("ch.lab.every_help")):
        return
    masks = (ALL_ON,) if all(mask) else (ALL_ON, tuple(mask))
    counts = {m: [dissected(handle, b, target, m).labelled() for b in BLOCK_NAMES] for m in masks}
    totals = [fact(b).channels for b in BLOCK_NAMES]
    fig = memo.figure(
        ("ch_every", handle.digest, target, tuple(mask)), lambda: figures_channels.label_count_chart(
            list(BLOCK_NAMES), counts[ALL_ON], counts.get(tuple(mask)) if not all(mask) else None, totals,
            t("ch.fig.count_title", target=target_name(target)), t("ch.fig.block"), t("ch.fig.share"), t("ch.fig.on"),
            t("ch.fig.now")))
    chart(st, fig, key="ch_every_chart")
