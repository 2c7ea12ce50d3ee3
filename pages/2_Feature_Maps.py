"""Feature maps: every channel of any layer as one image, one channel over the photo, x / F(x) / F(x)+x, and what
one unit sees (receptive fields, one conv output worked through)."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split

import streamlit as st

from resnet_viz import figures
from resnet_viz.explain import featuremaps, tiles
from resnet_viz.figures import cam as figures_cam
from resnet_viz.figures import maps as figures_maps
from resnet_viz.model import layers
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.forward import ALL_ON
from ui import keys, memo, nav, state
from ui.draw import chart, figures_zip_button, show_error
from ui.fm import fit_warning
from ui.fm_unit import unit_view
from ui.fm_views import maps_and_block
from ui.memo import figure
from ui.picker import image_key, pick_image
from ui.text import class_top, reason_text, t, weights_name

nav.require_app(__file__)
st.title(t("fm.title"))
handle = state.get_handle()
mask = state.get_mask()
image = pick_image()
img_key = image_key()
whole = st.sidebar.toggle(t("fm.whole"), value=False, key=keys.FM_WHOLE, help=t("fm.whole_help"))
try:
    with st.spinner(t("fm.spinner")):
        ft = memo.features(handle, img_key, mask, not whole, image)
except ValueError as exc:
    show_error(exc, t("fm.error"))
    st.stop()
st.caption(t("fm.caption", how=reason_text(ft.preprocessing), weights=weights_name(handle.source),
             mask=state.mask_label(mask)))
if ft.note is not None:  # the GPU ran out of memory and this request ran on the CPU (resnet_viz.model.fallback)
    st.warning(reason_text(ft.note))
base = (handle.digest, img_key, mask, not whole)  # every figure below is cached under this and what it shows

left, right = st.columns([3, 2])
top5_fig = figure(("fm_top5", *base), lambda: figures_cam.cam_topk(
    class_top(ft.top5), t("fm.top5", mask=state.mask_label(mask)), **figures.labels("cam_topk", t)))
chart(left, top5_fig)
fit_warning(left, handle)  # e.g. the shapes weights on a photo: the top-5 is the nearest shape
with right:
    layer = st.selectbox(t("fm.layer"), layers.pickable(),
                         index=layers.pickable().index(DEFAULTS.default_layer), key=keys.FM_LAYER,
                         help=t("fm.layer_help"))
    shared = st.radio(t("fm.scale"), ["per channel", "shared"], horizontal=True, key=keys.FM_SCALE,
                      format_func={"shared": t("fm.scale.shared"), "per channel": t("fm.scale.per_channel")}.get,
                      help=t("fm.scale_help"))
    sort = st.toggle(t("fm.sort"), value=False, key=keys.FM_SORT)

figs = {"top5": top5_fig}
maps_and_block(base, ft, layer, shared == "shared", sort, mask, figs)  # a fragment: channel and block rerun it only

st.subheader(t("fm.onoff"))
if all(mask):
    st.info(t("fm.onoff_none"))
else:
    def diff_figure():
        full = memo.features(handle, img_key, ALL_ON, not whole, image)
        maps = ft.maps(layer)
        shrink = tiles.shrink_for(maps.shape[1])
        diff = featuremaps.difference(maps, full.maps(layer))
        dtiled, biggest = tiles.signed_tile(tiles.shrink(diff, shrink),
                                                  order=featuremaps.channel_order(maps, sort),
                                                  upscale=tiles.upscale_for(maps.shape[1] // shrink))
        labels = {**figures.labels("feature_tiles", t), "colorbar_title": t("fm.difference")}
        dfig, _ = figures_maps.feature_tiles(dtiled, t("fm.diff_title", layer=layer, mask=state.mask_label(mask)),
                                             colorscale=figures_maps.DIFF_COLORSCALE,
                                             gap_rgb=figures_maps.DIFF_GAP_RGB, **labels)
        return dfig, biggest
    dfig, biggest = figure(("fm_diff", *base, layer, sort), diff_figure)
    chart(st, dfig, key=keys.FM_DIFF)
    figs["difference"] = dfig
    st.caption(t("fm.diff_caption", biggest=f"{biggest:.3g}") + (t("fm.diff_before") if mask[0] else ""))

unit_view(handle, img_key, mask, not whole, ft, image)  # a fragment: its layer, channel and cell rerun it only
figures_zip_button(figs, "feature_maps")
