"""Feature maps: every channel of any layer as one image, one channel over the photo, and x / F(x) / F(x)+x."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz import featuremaps, figures
from resnet_viz.config import BLOCK_NAMES, DEFAULTS
from resnet_viz.forward import ALL_ON
from ui import cache, nav, state
from ui.draw import PLOTLY_CONFIG, channel_from_click, chart, figures_zip_button, show_error
from ui.images import image_key, pick_image
from ui.text import t, weights_name

nav.require_app(__file__)
st.title(t("fm.title"))
handle = state.get_handle()
mask = state.get_mask()
image = pick_image()
whole = st.sidebar.toggle(t("fm.whole"), value=False, key="fm_whole", help=t("fm.whole_help"))
try:
    with st.spinner(t("fm.spinner")):
        ft = cache.features(handle, image_key(), mask, not whole, image)
except ValueError as exc:
    show_error(exc, t("fm.error"))
    st.stop()
st.caption(t("fm.caption", how=ft.preprocessing, weights=weights_name(handle.source), mask=state.mask_label(mask)))
if ft.note:  # the GPU ran out of memory and this request ran on the CPU (resnet_viz.fallback)
    st.warning(ft.note)

left, right = st.columns([3, 2])
top5_fig = figures.cam_topk(ft.top5, t("fm.top5", mask=state.mask_label(mask)))
top5_fig.update_layout(xaxis_title=t("fm.axis.prob"))
chart(left, top5_fig)
with right:
    layer = st.selectbox(t("fm.layer"), featuremaps.layer_choices(),
                         index=featuremaps.layer_choices().index(DEFAULTS.default_layer), key="fm_layer",
                         help=t("fm.layer_help"))
    shared = st.radio(t("fm.scale"), ["per channel", "shared"], horizontal=True, key="fm_scale",
                      format_func=lambda s: t("fm.scale.shared") if s == "shared" else t("fm.scale.per_channel"),
                      help=t("fm.scale_help"))
    sort = st.toggle(t("fm.sort"), value=False, key="fm_sort")

maps = ft.maps(layer)  # (C, H, W)
channels, side = maps.shape[0], maps.shape[1]
if st.session_state.get("fm_channel", 0) >= channels:
    st.session_state["fm_channel"] = 0  # the previous layer had more channels
order = featuremaps.channel_order(maps, sort)
shrink = featuremaps.shrink_for(side)
tiled = featuremaps.tile(featuremaps.shrink(maps, shrink), shared=shared == "shared", order=order,
                         upscale=featuremaps.upscale_for(side // shrink))
title = t("fm.tiles_title", layer=layer, c=channels, h=side, w=maps.shape[2]) + (t("fm.by_mean") if sort else "")
fig, png_bytes = figures.feature_tiles(tiled, title, height=640)
tiles_col, channel_col = st.columns(2)
with tiles_col:
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode="points", key="fm_tiles",
                            config=PLOTLY_CONFIG)
    channel_from_click(event, tiled, "fm_channel")
    st.caption(t("fm.tiles_caption", kb=png_bytes / 1024, b64=4 * -(-png_bytes // 3) / 1024)
               + (t("fm.tiles_shrunk", k=shrink) if shrink > 1 else t("fm.period")))
with channel_col:
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    channel = int(c1.number_input(t("fm.channel", last=channels - 1), 0, channels - 1, key="fm_channel"))
    stats = featuremaps.channel_stats(maps, channel)
    c2.metric(t("fm.min"), f"{stats.min:.3g}")
    c3.metric(t("fm.mean"), f"{stats.mean:.3g}")
    c4.metric(t("fm.max"), f"{stats.max:.3g}")
    zrange = (float(maps.min()), float(maps.max())) if shared == "shared" else (stats.min, stats.max)
    overlay_fig = figures.channel_overlay(ft.picture, maps[channel], t("fm.overlay_title", layer=layer, ch=channel),
                                          zrange, height=540)
    chart(st, overlay_fig)

st.subheader(t("fm.decomp"))
default_block = featuremaps.resolve_layer(layer) if featuremaps.resolve_layer(layer) in BLOCK_NAMES else "layer1.0"
block_name = st.selectbox(t("fm.block"), BLOCK_NAMES, index=BLOCK_NAMES.index(default_block), key="fm_block")
block = ft.blocks[block_name]
block_channel = channel if channel < block.fx.shape[0] else 0
parts = featuremaps.decomposition(block, block_channel)
row_fig = figures.residual_row(parts, featuremaps.common_range(list(parts.values())),
                               t("fm.row_title", block=block_name, ch=block_channel))
chart(st, row_fig)
st.caption(t("fm.row_caption") + ("" if block_channel == channel else t("fm.no_channel", ch=channel)))
ratio_fig = figures.residual_ratio_chart(featuremaps.residual_ratios(ft.blocks), block_name,
                                         dict(zip(BLOCK_NAMES, mask, strict=True)))
ratio_fig.update_layout(title_text=t("fm.ratio_title"), xaxis_title=t("lec.axis.block"))
chart(st, ratio_fig)
figs = {"top5": top5_fig, "tiles": fig, "channel": overlay_fig, "decomposition": row_fig, "ratios": ratio_fig}

st.subheader(t("fm.onoff"))
if all(mask):
    st.info(t("fm.onoff_none"))
else:
    full = cache.features(handle, image_key(), ALL_ON, not whole, image)
    diff = featuremaps.difference(maps, full.maps(layer))
    dtiled, biggest = featuremaps.signed_tile(featuremaps.shrink(diff, shrink), order=order,
                                              upscale=featuremaps.upscale_for(side // shrink))
    dfig, _ = figures.feature_tiles(dtiled, t("fm.diff_title", layer=layer, mask=state.mask_label(mask)),
                                    colorscale=figures.DIFF_COLORSCALE, colorbar_title=t("fm.difference"),
                                    gap_rgb=figures.DIFF_GAP_RGB)
    chart(st, dfig, key="fm_diff")
    figs["difference"] = dfig
    st.caption(t("fm.diff_caption", biggest=f"{biggest:.3g}") + (t("fm.diff_before") if mask[0] else ""))
figures_zip_button(figs, "feature_maps")
