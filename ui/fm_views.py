"""Feature maps page: the channel tiles, one channel over the picture and the residual decomposition, as one
st.fragment (a channel pick or a tile click reruns this part only), with every figure built once per content."""

from __future__ import annotations

import streamlit as st

from resnet_viz import figures
from resnet_viz.explain import featuremaps, tiles
from resnet_viz.figures import maps as figures_maps
from resnet_viz.model import layers
from resnet_viz.model.layers import BLOCK_NAMES
from ui import keys
from ui.draw import PLOTLY_CONFIG, channel_from_click, chart
from ui.memo import figure
from ui.text import t


def tiled_view(base: tuple, ft, layer: str, shared: bool, sort: bool):
    """(tiled, figure, png bytes) of every channel of `layer`, built once per content and language."""
    def build():
        maps = ft.maps(layer)
        channels, side = maps.shape[0], maps.shape[1]
        shrink = tiles.shrink_for(side)
        tiled = tiles.tile(tiles.shrink(maps, shrink), shared=shared,
                                 order=featuremaps.channel_order(maps, sort),
                                 upscale=tiles.upscale_for(side // shrink))
        title = t("fm.tiles_title", layer=layer, c=channels, h=side, w=maps.shape[2]) + (t("fm.by_mean") if sort
                                                                                           else "")
        fig, png = figures_maps.feature_tiles(tiled, title, height=640, **figures.labels("feature_tiles", t))
        return tiled, fig, png, shrink
    return figure(("fm_tiles", *base, layer, shared, sort), build)


@st.fragment
def maps_and_block(base: tuple, ft, layer: str, shared: bool, sort: bool, mask: tuple, figs: dict) -> None:
    maps = ft.maps(layer)  # (C, H, W)
    channels = maps.shape[0]
    if st.session_state.get(keys.FM_CHANNEL, 0) >= channels:
        st.session_state[keys.FM_CHANNEL] = 0  # the previous layer had more channels
    tiled, fig, png_bytes, shrink = tiled_view(base, ft, layer, shared, sort)
    tiles_col, channel_col = st.columns(2)
    with tiles_col:
        event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode="points", key=keys.FM_TILES,
                                config=PLOTLY_CONFIG)
        channel_from_click(event, tiled, keys.FM_CHANNEL)
        st.caption(t("fm.tiles_caption", kb=png_bytes / 1024, b64=4 * -(-png_bytes // 3) / 1024)
                   + (t("fm.tiles_shrunk", k=shrink) if shrink > 1 else t("fm.period")))
    with channel_col:
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
        channel = int(c1.number_input(t("fm.channel", last=channels - 1), 0, channels - 1, key=keys.FM_CHANNEL))
        stats = featuremaps.channel_stats(maps, channel)
        c2.metric(t("fm.min"), f"{stats.min:.3g}")
        c3.metric(t("fm.mean"), f"{stats.mean:.3g}")
        c4.metric(t("fm.max"), f"{stats.max:.3g}")
        zrange = (float(maps.min()), float(maps.max())) if shared else (stats.min, stats.max)
        overlay_fig = figure(("fm_overlay", *base, layer, channel, shared), lambda: figures_maps.channel_overlay(
            ft.picture, maps[channel], t("fm.overlay_title", layer=layer, ch=channel), zrange, height=540,
            **figures.labels("channel_overlay", t)))
        chart(st, overlay_fig)

    st.subheader(t("fm.decomp"))
    resolved = layers.resolve(layer)
    block_name = st.selectbox(t("fm.block"), BLOCK_NAMES, key=keys.FM_BLOCK,
                              index=BLOCK_NAMES.index(resolved if resolved in BLOCK_NAMES else "layer1.0"))
    block = ft.blocks[block_name]
    block_channel = channel if channel < block.fx.shape[0] else 0

    def row():
        parts = featuremaps.decomposition(block, block_channel)
        return figures_maps.residual_row(parts, featuremaps.common_range(list(parts.values())),
                                         t("fm.row_title", block=block_name, ch=block_channel),
                                         **figures.labels("residual_row", t))
    row_fig = figure(("fm_row", *base, block_name, block_channel), row)
    chart(st, row_fig)
    st.caption(t("fm.row_caption") + ("" if block_channel == channel else t("fm.no_channel", ch=channel)))
    ratio_fig = figure(("fm_ratio", *base, block_name), lambda: figures_maps.residual_ratio_chart(
        featuremaps.residual_ratios(ft.blocks), block_name, dict(zip(BLOCK_NAMES, mask, strict=True)),
        **figures.labels("residual_ratio_chart", t)))
    chart(st, ratio_fig)
    figs.update({"tiles": fig, "channel": overlay_fig, "decomposition": row_fig, "ratios": ratio_fig})
