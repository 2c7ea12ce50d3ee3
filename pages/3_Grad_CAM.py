"""Grad-CAM: where ResNet-18 looks at every stage, with the shortcuts on and off; other methods and checks on demand."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st
from PIL import Image

from resnet_viz import figures, gradcam, images
from resnet_viz.config import STAGE_NAMES
from resnet_viz.forward import ALL_OFF, ALL_ON
from ui import cache, gradcam_ui, nav, state
from ui.draw import chart, figures_zip_button, image_download, show_error
from ui.images import image_key, image_name, pick_image
from ui.text import t, weights_name

nav.require_app(__file__)
st.title(t("cam.title"))
st.caption(t(gradcam_ui.NOTE_KEYS["gradcam"]))
handle = state.get_handle()
mask = state.get_mask()
image = pick_image()
img_key = image_key()
x = handle.preprocess(image).unsqueeze(0)  # (1, 3, H, W), exactly what the model sees
picture = images.denormalise(x, handle.mean, handle.std)  # (H, W, 3) uint8

try:
    with st.spinner(t("cam.spinner")):
        auto = cache.grad_cams(handle, img_key, mask, None, x)
except (gradcam.AttributionError, ValueError) as exc:
    show_error(exc, t("cam.failed"))
    st.stop()

# ---- controls
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
query = c1.text_input(t("cam.search"), key="cam_query", placeholder=t("cam.search_eg"))
choices = gradcam_ui.class_choices(c1, query, handle, auto)
target = c1.selectbox(t("cam.class"), choices, key="cam_target", format_func=gradcam_ui.class_namer(handle))
stage = c2.selectbox(t("cam.stage"), STAGE_NAMES, index=3, key="cam_stage")
opacity = c3.slider(t("cam.opacity"), 0.0, 1.0, 0.5, 0.05, key="cam_opacity")
scale = c4.selectbox(t("cam.colormap"), figures.COLORSCALES, index=figures.COLORSCALES.index(figures.CAM_COLORSCALE)
                     if figures.CAM_COLORSCALE in figures.COLORSCALES else 0, key="cam_scale")

cam = auto if target is None else cache.grad_cams(handle, img_key, mask, target, x)
if cam.note:  # the GPU ran out of memory and this request ran on the CPU (resnet_viz.fallback)
    st.warning(cam.note)

# ---- top-5 and the chosen stage
left, right = st.columns([2, 3])
top5_fig = figures.cam_topk(cam.top, t("cam.top5", mask=state.mask_label(mask)), highlight=cam.target)
top5_fig.update_layout(xaxis_title=t("fm.axis.prob"))
chart(left, top5_fig)
left.caption(t("cam.explaining", label=cam.label, target=cam.target, p=100 * cam.prob,
               weights=weights_name(handle.source)))
large = figures.cam_overlay_rgb(picture, gradcam.for_display(cam.maps[stage]), opacity, scale)
outline = images.sample_mask(image_name())  # generated shapes know where their object is
if outline is not None and outline.shape != picture.shape[:2]:
    outline = None  # the weights' preprocessing cropped or resized it: the mask no longer lines up
large_fig = figures.cam_overlay_figure(picture, gradcam.for_display(cam.maps[stage]), opacity, scale,
                                       cam.peaks[stage], t("cam.large_title", stage=stage, label=cam.label),
                                       outline)
chart(right, large_fig)
with right:
    image_download(Image.fromarray(large), f"gradcam_{stage}_{cam.label.replace(' ', '_')}", t("cam.download"))

# ---- all four stages
peaks = {f"{n} ({cam.raw[n].shape[0]}×{cam.raw[n].shape[1]})": cam.peaks[n] for n in STAGE_NAMES}
row_fig = figures.cam_image_row(gradcam_ui.overlays(picture, cam, opacity, scale), t("cam.row_title"), peaks)
chart(st, row_fig)
st.caption(t("cam.row_caption", ms=1000 * cam.seconds))
figs = {"top5": top5_fig, "gradcam_large": large_fig, "gradcam_stages": row_fig}

# ---- shortcuts on vs off
st.subheader(t("fm.onoff"))
other = mask if mask != ALL_ON else ALL_OFF
if mask == ALL_ON:
    st.caption(t("cam.all_on_note"))
full = cache.grad_cams(handle, img_key, ALL_ON, cam.target, x)
cut = cache.grad_cams(handle, img_key, other, cam.target, x)
for col, res, title in zip(st.columns(2), (full, cut), (t("cam.full"), state.mask_label(other)), strict=True):
    with col:
        st.markdown(f"**{title}** — {gradcam_ui.prediction_line(res)}")
        st.image(figures.cam_overlay_rgb(picture, gradcam.for_display(res.maps[stage]), opacity, scale),
                 caption=t("cam.at", stage=stage, label=res.label), width="stretch")
st.caption(t("cam.same_weights"))

# ---- other methods and checks, on demand
with st.expander(t("cam.other")):
    gradcam_ui.other_methods(figs, handle, img_key, mask, cam, stage, scale, x)
with st.expander(t("cam.trust")):
    gradcam_ui.trust_checks(figs, handle, img_key, mask, cam, stage, scale, x)
figures_zip_button(figs, "grad_cam")
