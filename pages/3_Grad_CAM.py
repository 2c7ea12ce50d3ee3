"""Grad-CAM: where ResNet-18 looks at every stage, with the shortcuts on and off; other methods and checks on demand."""

import numpy as np
import streamlit as st
from PIL import Image

from pages import common, ui
from pages.ui import t
from resnet_viz import figures, gradcam, images, sanity
from resnet_viz import methods as cam_methods
from resnet_viz.config import STAGE_NAMES
from resnet_viz.forward import ALL_OFF, ALL_ON

METHOD_TITLES = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM",
                 "integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion", "saliency": "Saliency"}
# The methods' notes (cam_methods.MethodMap.note_key), in the sidebar's language.
NOTE_KEYS = {"gradcam": "cam.note.gradcam", "guided_gradcam": "cam.note.guided_gradcam",
             "integrated_gradients": "cam.note.integrated_gradients", "occlusion": "cam.note.occlusion",
             "saliency": "cam.note.saliency"}
BASELINE_KEYS = {"black": "cam.base.black", "blurred": "cam.base.blurred", "mean": "cam.base.mean"}


# Results are cached per (weights, image, mask, class, settings): moving the opacity slider or changing the
# colour map only redraws. The handle and tensor are passed with a leading underscore (not hashed); their
# keys stand in for them.
@st.cache_data(max_entries=16, show_spinner=False)
def _method(weights_key: str, image_key: str, mask: tuple, target: int, method: str, settings: tuple,
            _handle, _x) -> cam_methods.MethodMap:
    layer, base, steps, window, stride = settings
    return cam_methods.other_method(_handle, _x, method, target, mask, layer=layer, baseline_kind=base,
                                    ig_steps=steps, window=window, stride=stride)


@st.cache_data(max_entries=8, show_spinner=False)
def _sanity(weights_key: str, image_key: str, mask: tuple, target: int, layer: str, _handle, _x):
    return sanity.sanity_check(_handle, _x, target, mask, layer=layer)


@st.cache_data(max_entries=8, show_spinner=False)
def _deletion(weights_key: str, image_key: str, mask: tuple, target: int, layer: str, base: str, _handle, _x,
              _saliency) -> sanity.Deletion:
    return sanity.deletion_curve(_handle, _x, _saliency, target, mask, baseline_kind=base)


def overlays(picture: np.ndarray, cam: gradcam.GradCam, opacity: float, scale: str) -> dict[str, np.ndarray]:
    return {f"{n} ({cam.raw[n].shape[0]}×{cam.raw[n].shape[1]})":
            figures.cam_overlay_rgb(picture, gradcam.for_display(cam.maps[n]), opacity, scale)
            for n in STAGE_NAMES}


def prediction_line(cam: gradcam.GradCam) -> str:
    _, name, p = cam.top[0]
    return t("cam.predicts", name=name, p=100 * p, label=cam.label, q=100 * cam.prob)


st.title(t("cam.title"))
st.caption(t(NOTE_KEYS["gradcam"]))
handle = common.get_handle()
mask = common.get_mask()
image = common.pick_image()
img_key = common.image_key()
w_key = common.weights_key(handle)
x = handle.preprocess(image).unsqueeze(0)  # (1, 3, H, W), exactly what the model sees
picture = images.denormalise(x, handle.mean, handle.std)  # (H, W, 3) uint8

try:
    with st.spinner(t("cam.spinner")):
        auto = common.grad_cams(w_key, img_key, mask, None, handle, x)
except (gradcam.AttributionError, ValueError) as exc:
    common.show_error(exc, t("cam.failed"))
    st.stop()

# ---- controls
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
query = c1.text_input(t("cam.search"), key="cam_query", placeholder=t("cam.search_eg"))
choices: list[int | None] = [None, *(i for i, _, _ in auto.top)]
if query.strip():
    hits = gradcam.find_labels(handle.labels, query)
    if query.strip().isdigit() and int(query) < handle.num_classes:
        hits.insert(0, (int(query), handle.labels[int(query)]))
    if not hits:
        c1.warning(t("cam.no_class", query=query))
    choices = [None, *dict.fromkeys(i for i, _ in hits)]


def class_name(i: int | None) -> str:
    # A stale index from another weights choice must not crash the widget while it resets. The "top-1" label
    # names no class: the browser keeps a keyed selectbox's shown text when only the image changes.
    return t("cam.top1") if i is None else f"{handle.labels[i % handle.num_classes]} ({i})"


target = c1.selectbox(t("cam.class"), choices, key="cam_target", format_func=class_name)
stage = c2.selectbox(t("cam.stage"), STAGE_NAMES, index=3, key="cam_stage")
opacity = c3.slider(t("cam.opacity"), 0.0, 1.0, 0.5, 0.05, key="cam_opacity")
scale = c4.selectbox(t("cam.colormap"), figures.COLORSCALES, index=figures.COLORSCALES.index(figures.CAM_COLORSCALE)
                     if figures.CAM_COLORSCALE in figures.COLORSCALES else 0, key="cam_scale")

cam = auto if target is None else common.grad_cams(w_key, img_key, mask, target, handle, x)
if cam.note:  # the GPU ran out of memory and this request ran on the CPU (resnet_viz.fallback)
    st.warning(cam.note)

# ---- top-5 and the chosen stage
left, right = st.columns([2, 3])
top5_fig = figures.cam_topk(cam.top, t("cam.top5", mask=common.mask_label(mask)), highlight=cam.target)
top5_fig.update_layout(xaxis_title=t("fm.axis.prob"))
left.plotly_chart(top5_fig, width="stretch", config=ui.PLOTLY_CONFIG)
left.caption(t("cam.explaining", label=cam.label, target=cam.target, p=100 * cam.prob,
               weights=ui.weights_name(handle.source)))
large = figures.cam_overlay_rgb(picture, gradcam.for_display(cam.maps[stage]), opacity, scale)
outline = images.sample_mask(common.image_name())  # generated shapes know where their object is
if outline is not None and outline.shape != picture.shape[:2]:
    outline = None  # the weights' preprocessing cropped or resized it: the mask no longer lines up
large_fig = figures.cam_overlay_figure(picture, gradcam.for_display(cam.maps[stage]), opacity, scale,
                                       cam.peaks[stage], t("cam.large_title", stage=stage, label=cam.label),
                                       outline)
right.plotly_chart(large_fig, width="stretch", config=ui.PLOTLY_CONFIG)
with right:
    common.image_download(Image.fromarray(large), f"gradcam_{stage}_{cam.label.replace(' ', '_')}",
                          t("cam.download"))

# ---- all four stages
peaks = {f"{n} ({cam.raw[n].shape[0]}×{cam.raw[n].shape[1]})": cam.peaks[n] for n in STAGE_NAMES}
row_fig = figures.cam_image_row(overlays(picture, cam, opacity, scale), t("cam.row_title"), peaks)
st.plotly_chart(row_fig, width="stretch", config=ui.PLOTLY_CONFIG)
st.caption(t("cam.row_caption", ms=1000 * cam.seconds))
figs = {"top5": top5_fig, "gradcam_large": large_fig, "gradcam_stages": row_fig}

# ---- shortcuts on vs off
st.subheader(t("fm.onoff"))
other = mask if mask != ALL_ON else ALL_OFF
if mask == ALL_ON:
    st.caption(t("cam.all_on_note"))
full = common.grad_cams(w_key, img_key, ALL_ON, cam.target, handle, x)
cut = common.grad_cams(w_key, img_key, other, cam.target, handle, x)
a, b = st.columns(2)
for col, res, title in ((a, full, t("cam.full")), (b, cut, common.mask_label(other))):
    with col:
        st.markdown(f"**{title}** — {prediction_line(res)}")
        st.image(figures.cam_overlay_rgb(picture, gradcam.for_display(res.maps[stage]), opacity, scale),
                 caption=t("cam.at", stage=stage, label=res.label), width="stretch")
st.caption(t("cam.same_weights"))

# ---- other methods, on demand
with st.expander(t("cam.other")):
    m1, m2, m3, m4, m5 = st.columns(5)
    methods = m1.multiselect(t("cam.methods"), cam_methods.METHODS, default=["guided_gradcam", "saliency"],
                             format_func=METHOD_TITLES.get, key="cam_methods")
    base = m2.selectbox(t("cam.baseline"), cam_methods.BASELINES, index=2, key="cam_baseline",
                        format_func=lambda b: t(BASELINE_KEYS[b]) if b in BASELINE_KEYS else b,
                        help=t("cam.baseline_help"))
    steps = m3.slider(t("cam.ig_steps"), 4, 64, 16, 4, key="cam_ig_steps")
    window = m4.slider(t("cam.window"), 8, 112, 32, 8, key="cam_window")
    stride = m5.slider(t("cam.stride"), 8, 112, 32, 8, key="cam_stride")
    if st.button(t("cam.compute"), key="cam_methods_go"):
        st.session_state["cam_methods_on"] = True
    if st.session_state.get("cam_methods_on") and methods:
        settings = (stage, base, steps, window, min(stride, window))
        shown = {f"Grad-CAM ({stage})": figures.colorize(gradcam.for_display(cam.maps[stage]), scale)}
        try:
            results = [_method(w_key, img_key, mask, cam.target, m, settings, handle, x) for m in methods]
        except (gradcam.AttributionError, ValueError) as exc:
            common.show_error(exc, t("cam.attr_failed"))
            results = []
        for r in results:
            shown[f"{METHOD_TITLES[r.method]} ({r.seconds:.1f} s)"] = figures.colorize(
                gradcam.for_display(r.map, r.signed), "RdBu_r" if r.signed else scale, r.signed)
        figs["methods"] = figures.cam_image_row(shown, t("cam.explaining_short", label=cam.label))
        st.plotly_chart(figs["methods"], width="stretch", config=ui.PLOTLY_CONFIG)
        for r in results:
            gap = r.extra.get("completeness_gap")
            st.markdown(f"**{METHOD_TITLES[r.method]}.** {t(NOTE_KEYS[r.method])}"
                        + (t("cam.gap", gap=f"{gap:.3g}") if gap is not None else ""))
        st.caption(t("cam.signed"))

# ---- sanity check and faithfulness, on demand
with st.expander(t("cam.trust")):
    st.markdown(t("cam.sanity_intro"))
    if st.button(t("cam.sanity_run"), key="cam_sanity_go"):
        st.session_state["cam_sanity_on"] = True
    if st.session_state.get("cam_sanity_on"):
        s = _sanity(w_key, img_key, mask, cam.target, stage, handle, x)
        figs["sanity"] = figures.cam_sanity(s.steps, s.correlations)
        figs["sanity"].update_layout(title_text=t("cam.sanity_title"), xaxis_title=t("cam.sanity_x"),
                                     yaxis_title=t("cam.sanity_y"))
        st.plotly_chart(figs["sanity"], width="stretch", config=ui.PLOTLY_CONFIG)
        picks = [0, 1, 5, len(s.steps) - 1]
        st.plotly_chart(figures.cam_image_row(
            {f"{s.steps[i]}": figures.colorize(gradcam.for_display(s.maps["gradcam"][i]), scale) for i in picks},
            t("cam.randomised_title")), width="stretch", config=ui.PLOTLY_CONFIG)
        st.caption(t("cam.gap_in_line"))
    st.markdown(t("cam.deletion_intro"))
    del_base = st.selectbox(t("cam.replace"), cam_methods.BASELINES, index=1, key="cam_del_base",
                            format_func=lambda b: t(BASELINE_KEYS[b]) if b in BASELINE_KEYS else b)
    if st.button(t("cam.deletion_run"), key="cam_deletion_go"):
        st.session_state["cam_deletion_on"] = True
    if st.session_state.get("cam_deletion_on"):
        d = _deletion(w_key, img_key, mask, cam.target, stage, del_base, handle, x, cam.maps[stage])
        figs["deletion"] = figures.cam_deletion(d.fractions, d.probs, d.random_probs, d.area, d.random_area,
                                                cam.label)
        figs["deletion"].update_layout(title_text=t("cam.deletion_title"), xaxis_title=t("cam.deletion_x"))
        st.plotly_chart(figs["deletion"], width="stretch", config=ui.PLOTLY_CONFIG)
ui.figures_zip_button(figs, "grad_cam")
