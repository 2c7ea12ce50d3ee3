"""Grad-CAM: where ResNet-18 looks at every stage, with the shortcuts on and off; other methods and checks on demand."""

import numpy as np
import streamlit as st
from PIL import Image

from pages import common
from resnet_viz import attribution, figures, images
from resnet_viz.config import STAGE_NAMES
from resnet_viz.forward import ALL_ON

ALL_OFF = (False,) * len(ALL_ON)
METHOD_TITLES = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM",
                 "integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion", "saliency": "Saliency"}


# Results are cached per (weights, image, mask, class, settings): moving the opacity slider or changing the
# colour map only redraws. The handle and tensor are passed with a leading underscore (not hashed); their
# keys stand in for them.
@st.cache_data(max_entries=32, show_spinner="Computing Grad-CAM…")
def _cam(weights_key: str, image_key: str, mask: tuple, target: int | None, _handle, _x) -> attribution.GradCam:
    return attribution.grad_cam(_handle, _x, STAGE_NAMES, target, mask)


@st.cache_data(max_entries=16, show_spinner="Running the captum method…")
def _method(weights_key: str, image_key: str, mask: tuple, target: int, method: str, settings: tuple,
            _handle, _x) -> attribution.MethodMap:
    layer, base, steps, window, stride = settings
    return attribution.other_method(_handle, _x, method, target, mask, layer=layer, baseline_kind=base,
                                    ig_steps=steps, window=window, stride=stride)


@st.cache_data(max_entries=8, show_spinner="Randomising a copy of the model, layer by layer…")
def _sanity(weights_key: str, image_key: str, mask: tuple, target: int, layer: str, _handle, _x):
    return attribution.sanity_check(_handle, _x, target, mask, layer=layer)


@st.cache_data(max_entries=8, show_spinner="Deleting pixels…")
def _deletion(weights_key: str, image_key: str, mask: tuple, target: int, layer: str, base: str, _handle, _x,
              _saliency) -> attribution.Deletion:
    return attribution.deletion_curve(_handle, _x, _saliency, target, mask, baseline_kind=base)


def overlays(picture: np.ndarray, cam: attribution.GradCam, opacity: float, scale: str) -> dict[str, np.ndarray]:
    return {f"{n} ({cam.raw[n].shape[0]}×{cam.raw[n].shape[1]})":
            figures.cam_overlay_rgb(picture, attribution.for_display(cam.maps[n]), opacity, scale)
            for n in STAGE_NAMES}


def prediction_line(cam: attribution.GradCam) -> str:
    _, name, p = cam.top[0]
    return f"predicts **{name}** ({100 * p:.1f}%); P({cam.label}) = {100 * cam.prob:.1f}%"


st.title("Where does the network look? Grad-CAM")
st.caption(attribution.NOTES["gradcam"])
handle = common.get_handle()
mask = common.get_mask()
image = common.pick_image()
img_key = common.image_key()
w_key = f"{handle.source}:{id(handle.model)}"
x = handle.preprocess(image).unsqueeze(0)  # (1, 3, H, W), exactly what the model sees
picture = images.denormalise(x, handle.mean, handle.std)  # (H, W, 3) uint8

try:
    auto = _cam(w_key, img_key, mask, None, handle, x)
except (attribution.AttributionError, ValueError) as exc:
    common.show_error(exc, "Grad-CAM failed")
    st.stop()

# ---- controls
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
query = c1.text_input("Search a class to explain (empty: the top-1 class)", key="cam_query",
                      placeholder="e.g. tabby, 281, circle")
choices: list[int | None] = [None, *(i for i, _, _ in auto.top)]
if query.strip():
    hits = attribution.find_labels(handle.labels, query)
    if query.strip().isdigit() and int(query) < handle.num_classes:
        hits.insert(0, (int(query), handle.labels[int(query)]))
    if not hits:
        c1.warning(f"No class name contains {query!r}.")
    choices = [None, *dict.fromkeys(i for i, _ in hits)]


def class_name(i: int | None) -> str:
    # A stale index from another weights choice must not crash the widget while it resets.
    return f"top-1 ({auto.label})" if i is None else f"{handle.labels[i % handle.num_classes]} ({i})"


target = c1.selectbox("Class", choices, key="cam_target", format_func=class_name)
stage = c2.selectbox("Stage shown large", STAGE_NAMES, index=3, key="cam_stage")
opacity = c3.slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="cam_opacity")
scale = c4.selectbox("Colour map", figures.COLORSCALES, index=figures.COLORSCALES.index(figures.CAM_COLORSCALE)
                     if figures.CAM_COLORSCALE in figures.COLORSCALES else 0, key="cam_scale")

cam = auto if target is None else _cam(w_key, img_key, mask, target, handle, x)
if cam.note:  # the GPU ran out of memory and this request ran on the CPU (resnet_viz.fallback)
    st.warning(cam.note)

# ---- top-5 and the chosen stage
left, right = st.columns([2, 3])
left.plotly_chart(figures.cam_topk(cam.top, f"Top-5 ({common.mask_label(mask)})", highlight=cam.target),
                  width="stretch")
left.caption(f"Explaining **{cam.label}** (class {cam.target}), probability {100 * cam.prob:.1f}%. "
             f"Weights: {handle.describe()}. ✕ marks the centre of the strongest cell.")
large = figures.cam_overlay_rgb(picture, attribution.for_display(cam.maps[stage]), opacity, scale)
right.plotly_chart(figures.cam_overlay_figure(picture, attribution.for_display(cam.maps[stage]), opacity, scale,
                                              cam.peaks[stage], f"{stage}: where “{cam.label}” comes from"),
                   width="stretch")
with right:
    common.image_download(Image.fromarray(large), f"gradcam_{stage}_{cam.label.replace(' ', '_')}",
                          "Download this overlay (PNG)")

# ---- all four stages
peaks = {f"{n} ({cam.raw[n].shape[0]}×{cam.raw[n].shape[1]})": cam.peaks[n] for n in STAGE_NAMES}
st.plotly_chart(figures.cam_image_row(overlays(picture, cam, opacity, scale), "All four stages, one backward pass",
                                      peaks), width="stretch")
st.caption(f"Computed in {1000 * cam.seconds:.0f} ms. Early stages have fine grids but generic features; "
           "layer4's 7×7 grid is coarse but the most class-specific. Each map is scaled to its own maximum.")

# ---- shortcuts on vs off
st.subheader("Shortcuts on vs off")
other = mask if mask != ALL_ON else ALL_OFF
if mask == ALL_ON:
    st.caption("All shortcuts are on in the sidebar, so the right-hand side switches all of them off.")
full = _cam(w_key, img_key, ALL_ON, cam.target, handle, x)
cut = _cam(w_key, img_key, other, cam.target, handle, x)
a, b = st.columns(2)
for col, res, title in ((a, full, "Full network (all shortcuts on)"), (b, cut, common.mask_label(other))):
    with col:
        st.markdown(f"**{title}** — {prediction_line(res)}")
        st.image(figures.cam_overlay_rgb(picture, attribution.for_display(res.maps[stage]), opacity, scale),
                 caption=f"Grad-CAM at {stage} for {res.label}", width="stretch")
st.caption("The weights are the same on both sides: only the additions of x are removed. A network trained with "
           "its shortcuts was never trained to work without them, so its predictions usually fall apart.")

# ---- other methods, on demand
with st.expander("Other attribution methods (captum), computed when you ask"):
    m1, m2, m3, m4, m5 = st.columns(5)
    methods = m1.multiselect("Methods", attribution.METHODS, default=["guided_gradcam", "saliency"],
                             format_func=METHOD_TITLES.get, key="cam_methods")
    base = m2.selectbox("Baseline (IG, occlusion)", attribution.BASELINES, index=2, key="cam_baseline",
                        help="black pixels, a heavy blur of the image, or the data set's mean colour")
    steps = m3.slider("IG steps", 4, 64, 16, 4, key="cam_ig_steps")
    window = m4.slider("Occlusion window (px)", 8, 112, 32, 8, key="cam_window")
    stride = m5.slider("Occlusion stride (px)", 8, 112, 32, 8, key="cam_stride")
    if st.button("Compute these methods", key="cam_methods_go"):
        st.session_state["cam_methods_on"] = True
    if st.session_state.get("cam_methods_on") and methods:
        settings = (stage, base, steps, window, min(stride, window))
        shown = {f"Grad-CAM ({stage})": figures.colorize(attribution.for_display(cam.maps[stage]), scale)}
        try:
            results = [_method(w_key, img_key, mask, cam.target, m, settings, handle, x) for m in methods]
        except (attribution.AttributionError, ValueError) as exc:
            common.show_error(exc, "Attribution failed")
            results = []
        for r in results:
            shown[f"{METHOD_TITLES[r.method]} ({r.seconds:.1f} s)"] = figures.colorize(
                attribution.for_display(r.map, r.signed), "RdBu_r" if r.signed else scale, r.signed)
        st.plotly_chart(figures.cam_image_row(shown, f"Explaining {cam.label}"), width="stretch")
        for r in results:
            gap = r.extra.get("completeness_gap")
            st.markdown(f"**{METHOD_TITLES[r.method]}.** {r.note}"
                        + (f" Completeness gap here: {gap:.3g}." if gap is not None else ""))
        st.caption("Signed maps (IG, occlusion) use red for evidence for the class and blue against it.")

# ---- sanity check and faithfulness, on demand
with st.expander("Can we trust the map? Sanity check and deletion test"):
    st.markdown("**Sanity check** (Adebayo et al. 2018): re-initialise the weights of a *copy* of the model from "
                "fc downwards, one block at a time. A map that explains the model must change; one that does not "
                "is showing the image, not the network.")
    if st.button("Run the sanity check", key="cam_sanity_go"):
        st.session_state["cam_sanity_on"] = True
    if st.session_state.get("cam_sanity_on"):
        s = _sanity(w_key, img_key, mask, cam.target, stage, handle, x)
        st.plotly_chart(figures.cam_sanity(s.steps, s.correlations), width="stretch")
        picks = [0, 1, 5, len(s.steps) - 1]
        st.plotly_chart(figures.cam_image_row(
            {f"{s.steps[i]}": figures.colorize(attribution.for_display(s.maps["gradcam"][i]), scale) for i in picks},
            "Grad-CAM as the weights are randomised"), width="stretch")
        st.caption("A gap in a line means the map became all zero (no positive evidence left), where a rank "
                   "correlation is undefined.")
    st.markdown("**Deletion** (Petsiuk et al. 2018): replace the pixels the map ranks highest first and watch "
                "the class probability; a faithful map makes it fall faster than a random order (smaller area).")
    del_base = st.selectbox("Replace pixels with", attribution.BASELINES, index=1, key="cam_del_base")
    if st.button("Run the deletion test", key="cam_deletion_go"):
        st.session_state["cam_deletion_on"] = True
    if st.session_state.get("cam_deletion_on"):
        d = _deletion(w_key, img_key, mask, cam.target, stage, del_base, handle, x, cam.maps[stage])
        st.plotly_chart(figures.cam_deletion(d.fractions, d.probs, d.random_probs, d.area, d.random_area,
                                             cam.label), width="stretch")
