"""Grad-CAM: where ResNet-18 looks at every stage, with the shortcuts on and off; other methods and checks on demand."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz.explain import gradcam
from resnet_viz.inputs import images
from ui import gradcam_ui, keys, memo, nav, state
from ui.draw import figures_zip_button, show_error
from ui.picker import image_key, pick_image
from ui.text import class_name, reason_text, t

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
        auto = memo.grad_cams(handle, img_key, mask, None, x)
except (gradcam.AttributionError, ValueError) as exc:
    show_error(exc, t("cam.failed"))
    st.stop()

# ---- the class to explain (a new class recomputes; everything below it is a fragment that only redraws)
c1, c2 = st.columns([1, 1])
eg = min(281, handle.num_classes - 1)  # an example the live weights know (281: tabby in ImageNet)
query = c1.text_input(t("cam.search"), key=keys.CAM_QUERY,
                      placeholder=t("cam.search_eg", name=class_name(handle.labels[eg]), i=eg))
choices = gradcam_ui.class_choices(c1, query, handle, auto)
target = c2.selectbox(t("cam.class"), choices, key=keys.CAM_TARGET, format_func=gradcam_ui.class_namer(handle),
                      placeholder=t("cam.top1"))  # after an image change Streamlit shows None as "no choice"
cam = auto if target is None else memo.grad_cams(handle, img_key, mask, target, x)
if cam.note is not None:  # the GPU ran out of memory and this request ran on the CPU (resnet_viz.model.fallback)
    st.warning(reason_text(cam.note))

figs: dict = {}
gradcam_ui.views(handle, img_key, mask, cam, picture, x, figs)  # stage, opacity, colour map: rerun it only
figures_zip_button(figs, "grad_cam")
