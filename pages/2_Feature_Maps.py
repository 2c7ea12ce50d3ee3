"""Feature maps: every channel of any layer as one image, one channel over the photo, and x / F(x) / F(x)+x."""

import streamlit as st

from pages import common
from resnet_viz import featuremaps, figures
from resnet_viz.config import BLOCK_NAMES, DEFAULTS
from resnet_viz.forward import ALL_ON


@st.cache_resource(max_entries=DEFAULTS.trace_cache_entries, show_spinner="Running the network on the image…")
def _features(image_digest: str, mask: tuple[bool, ...], weights_key: str, center_crop: bool,
              _handle, _image) -> featuremaps.FeatureTrace:
    # ONE traced forward per (image, mask, weights, crop); channel, layer and colour changes reuse it.
    return featuremaps.compute(_handle, _image, mask, center_crop)


def _channel_from_click(event, tiled, key: str) -> None:
    """A click on a tile picks its channel, once: the selection outlives the rerun, the pick must not."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if not points:
        return
    click = (round(points[0]["y"]), round(points[0]["x"]))
    if st.session_state.get("fm_last_click") != click:
        st.session_state["fm_last_click"] = click
        channel = tiled.tile_at(*click)
        if channel is not None:
            st.session_state[key] = channel


st.title("Feature maps: what each layer sees")
handle = common.get_handle()
mask = common.get_mask()
image = common.pick_image()
whole = st.sidebar.toggle("Whole image (no centre crop)", value=False, key="fm_whole",
                          help="Show the model the whole picture instead of the central square of the ImageNet recipe.")
weights_key = f"{handle.source}:{id(handle)}"
try:
    ft = _features(common.image_key(), mask, weights_key, not whole, handle, image)
except ValueError as exc:
    common.show_error(exc, "This image cannot go through the network")
    st.stop()
st.caption(f"{ft.preprocessing} Weights: {handle.describe()}; {common.mask_label(mask)}.")
if ft.note:  # the GPU ran out of memory and this request ran on the CPU (resnet_viz.fallback)
    st.warning(ft.note)

left, right = st.columns([3, 2])
left.plotly_chart(figures.cam_topk(ft.top5, f"Top-5 predictions ({common.mask_label(mask)})"), width="stretch")
with right:
    layer = st.selectbox("Layer", featuremaps.layer_choices(),
                         index=featuremaps.layer_choices().index(DEFAULTS.default_layer), key="fm_layer",
                         help="Stem layers, any of the 8 blocks, or a stage (its last block's output).")
    shared = st.radio("Colour scale", ["per channel", "shared"], horizontal=True, key="fm_scale",
                      help="Per channel: every tile uses its own min..max. Shared: one scale, so tiles compare.")
    sort = st.toggle("Sort channels by mean activation (highest first)", value=False, key="fm_sort")

maps = ft.maps(layer)  # (C, H, W)
channels, side = maps.shape[0], maps.shape[1]
if st.session_state.get("fm_channel", 0) >= channels:
    st.session_state["fm_channel"] = 0  # the previous layer had more channels
order = featuremaps.channel_order(maps, sort)
shrink = featuremaps.shrink_for(side)
tiled = featuremaps.tile(featuremaps.shrink(maps, shrink), shared=shared == "shared", order=order,
                         upscale=featuremaps.upscale_for(side // shrink))
title = f"{layer}: {channels} channels of {side}×{maps.shape[2]}" + (", by mean" if sort else "")
fig, png_bytes = figures.feature_tiles(tiled, title, height=640)
tiles_col, channel_col = st.columns(2)
with tiles_col:
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode="points", key="fm_tiles")
    _channel_from_click(event, tiled, "fm_channel")
    st.caption(f"Reading order, left to right; hover a tile for its channel number, click it to pick it. "
               f"Sent as one {png_bytes / 1024:.0f} KB PNG ({4 * -(-png_bytes // 3) / 1024:.0f} KB as base64)"
               + (f" (tiles averaged {shrink}×{shrink} for the overview; the channel view is full size)."
                  if shrink > 1 else "."))
with channel_col:
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    channel = int(c1.number_input(f"Channel (0 to {channels - 1})", 0, channels - 1, key="fm_channel"))
    stats = featuremaps.channel_stats(maps, channel)
    c2.metric("min", f"{stats['min']:.3g}")
    c3.metric("mean", f"{stats['mean']:.3g}")
    c4.metric("max", f"{stats['max']:.3g}")
    zrange = (float(maps.min()), float(maps.max())) if shared == "shared" else (stats["min"], stats["max"])
    st.plotly_chart(figures.channel_overlay(ft.picture, maps[channel], f"{layer}, channel {channel} over the input",
                                            zrange, height=540), width="stretch")

st.subheader("Residual decomposition: H(x) = F(x) + x")
default_block = featuremaps.resolve_layer(layer) if featuremaps.resolve_layer(layer) in BLOCK_NAMES else "layer1.0"
block_name = st.selectbox("Block", BLOCK_NAMES, index=BLOCK_NAMES.index(default_block), key="fm_block")
block = ft.blocks[block_name]
block_channel = channel if channel < block.fx.shape[0] else 0
parts = featuremaps.decomposition(block, block_channel)
st.plotly_chart(figures.residual_row(parts, featuremaps.common_range(list(parts.values())),
                                     f"{block_name}, channel {block_channel}: shortcut x, residual F(x), their sum"),
                width="stretch")
st.caption("x is what the shortcut carries (after the 1×1 projection in layer2.0, layer3.0, layer4.0); F(x) is what "
           "the two 3×3 convolutions add. The block's output is relu of the third map. "
           + ("" if block_channel == channel else f"Channel {channel} does not exist here; showing channel 0."))
st.plotly_chart(figures.residual_ratio_chart(featuremaps.residual_ratios(ft.blocks), block_name,
                                             dict(zip(BLOCK_NAMES, mask, strict=True))), width="stretch")

st.subheader("Shortcuts on vs off")
if all(mask):
    st.info("All shortcuts are on, so there is nothing to compare. Switch some off in the sidebar to see how this "
            "layer's maps change without them.")
else:
    full = _features(common.image_key(), ALL_ON, weights_key, not whole, handle, image)
    diff = featuremaps.difference(maps, full.maps(layer))
    dtiled, biggest = featuremaps.signed_tile(featuremaps.shrink(diff, shrink), order=order,
                                              upscale=featuremaps.upscale_for(side // shrink))
    dfig, _ = figures.feature_tiles(dtiled, f"{layer}: ({common.mask_label(mask)}) minus (all shortcuts on)",
                                    colorscale=figures.DIFF_COLORSCALE, colorbar_title="difference",
                                    gap_rgb=figures.DIFF_GAP_RGB)
    st.plotly_chart(dfig, width="stretch", key="fm_diff")
    st.caption(f"Red: larger than in the full network; blue: smaller; white: unchanged (grey lines separate the "
               f"channels). Largest change {biggest:.3g}."
               + (" Blocks before the first switched-off shortcut are unchanged." if mask[0] else ""))
