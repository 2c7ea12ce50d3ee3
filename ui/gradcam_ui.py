"""The Grad-CAM page's helpers: cached other methods and checks, the class search, and the on-demand sections."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from resnet_viz import figures
from resnet_viz.explain import gradcam, sanity
from resnet_viz.explain import methods as cam_methods
from resnet_viz.figures import cam as figures_cam
from resnet_viz.inputs import classes, images
from resnet_viz.model.forward import ALL_OFF, ALL_ON
from resnet_viz.model.layers import STAGE_NAMES
from resnet_viz.text import readings
from ui import keys, memo, state
from ui.draw import chart, image_download, show_error
from ui.fm import fit_warning
from ui.memo import figure
from ui.picker import image_name
from ui.text import class_label, class_name, class_top, lang, literal, say, t, weights_name

__all__ = ["class_choices", "class_namer", "views"]

METHOD_TITLES = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM",
                 "integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion", "saliency": "Saliency"}
# The methods' notes (cam_methods.MethodMap.note_key), in the sidebar's language.
NOTE_KEYS = {"gradcam": "cam.note.gradcam", "guided_gradcam": "cam.note.guided_gradcam",
             "integrated_gradients": "cam.note.integrated_gradients", "occlusion": "cam.note.occlusion",
             "saliency": "cam.note.saliency"}
CMAP_KEYS = {"Viridis": "cam.cmap.viridis", "Inferno": "cam.cmap.inferno", "Jet": "cam.cmap.jet",
             "Greys": "cam.cmap.greys", "RdBu": "cam.cmap.rdbu"}  # figures.COLORSCALES, named for people
BASELINE_KEYS = {"black": "cam.base.black", "blurred": "cam.base.blurred", "mean": "cam.base.mean"}


# Results are cached per (weights digest, image digest, mask, class, settings): moving the opacity slider or
# changing the colour map only redraws. The handle and tensor are passed with a leading underscore (not hashed).
@st.cache_data(max_entries=16, show_spinner=False)
def _method(weights_digest: str, image_key: str, mask: tuple, target: int, method: str, settings: tuple,
            _handle, _x) -> cam_methods.MethodMap:
    layer, base, steps, window, stride = settings
    return cam_methods.other_method(_handle, _x, method, target, mask, layer=layer, baseline_kind=base,
                                    ig_steps=steps, window=window, stride=stride)


@st.cache_data(max_entries=8, show_spinner=False)
def _sanity(weights_digest: str, image_key: str, mask: tuple, target: int, layer: str, _handle, _x):
    return sanity.sanity_check(_handle, _x, target, mask, layer=layer)


@st.cache_data(max_entries=8, show_spinner=False)
def _deletion(weights_digest: str, image_key: str, mask: tuple, target: int, layer: str, base: str, _handle, _x,
              _saliency) -> sanity.Deletion:
    return sanity.deletion_curve(_handle, _x, _saliency, target, mask, baseline_kind=base)


def baseline_namer():
    """Baseline names in the sidebar's language, read now (a format_func may be called outside the script run)."""
    names = {b: t(k) for b, k in BASELINE_KEYS.items()}
    return lambda b: names.get(b, b)


def class_choices(where, query: str, handle, auto: gradcam.GradCam) -> list[int | None]:
    """The class selectbox's options for a search text (top-1 first); a clear message when nothing matches."""
    if not query.strip():
        return [None, *(i for i, _, _ in auto.top)]
    found = classes.parse(class_label(query), handle.labels)
    if found.reason:
        where.warning(t(found.reason, **{**found.args, "query": literal(found.text)}))
    return [None, *found.choices]


def class_namer(handle):
    top1, lang_ = t("cam.top1"), lang()  # read now: a format_func may be called outside the script run

    def name(i: int | None) -> str:
        # A stale index from another weights choice must not crash the widget while it resets. The "top-1" label
        # names no class: the browser keeps a keyed selectbox's shown text when only the image changes.
        return top1 if i is None else f"{class_name(handle.labels[i % handle.num_classes], lang_)} ({i})"
    return name


def overlays(picture: np.ndarray, cam: gradcam.GradCam, opacity: float, scale: str) -> dict[str, np.ndarray]:
    return {f"{n} ({cam.raw[n].shape[0]}×{cam.raw[n].shape[1]})":
            figures_cam.cam_overlay_rgb(picture, gradcam.for_display(cam.maps[n]), opacity, scale)
            for n in STAGE_NAMES}


def prediction_line(cam: gradcam.GradCam) -> str:
    _, name, p = cam.top[0]
    return t("cam.predicts", name=class_name(name), p=100 * p, label=class_name(cam.label), q=100 * cam.prob)


def other_methods(figs: dict, handle, img_key: str, mask, cam, stage: str, scale: str, x) -> None:
    """Guided Grad-CAM, Integrated Gradients, Occlusion, Saliency beside Grad-CAM, computed on demand."""
    m1, m2, m3, m4, m5 = st.columns(5)
    methods = m1.multiselect(t("cam.methods"), cam_methods.METHODS, default=["guided_gradcam", "saliency"],
                             format_func=METHOD_TITLES.get, key=keys.CAM_METHODS)
    base = m2.selectbox(t("cam.baseline"), cam_methods.BASELINES, index=2, key=keys.CAM_BASELINE,
                        format_func=baseline_namer(), help=t("cam.baseline_help"))
    steps = m3.slider(t("cam.ig_steps"), 4, 64, 16, 4, key=keys.CAM_IG_STEPS)
    window = m4.slider(t("cam.window"), 8, 112, 32, 8, key=keys.CAM_WINDOW)
    stride = m5.slider(t("cam.stride"), 8, 112, 32, 8, key=keys.CAM_STRIDE)
    if st.button(t("cam.compute"), key=keys.CAM_METHODS_GO):
        st.session_state[keys.CAM_METHODS_ON] = True
    if not (st.session_state.get(keys.CAM_METHODS_ON) and methods):
        return
    settings = (stage, base, steps, window, min(stride, window))
    shown = {f"Grad-CAM ({stage})": figures_cam.colorize(gradcam.for_display(cam.maps[stage]), scale)}
    try:
        results = [_method(handle.digest, img_key, mask, cam.target, m, settings, handle, x) for m in methods]
    except (gradcam.AttributionError, ValueError) as exc:
        show_error(exc, t("cam.attr_failed"))
        results = []
    for r in results:
        shown[f"{METHOD_TITLES[r.method]} ({r.seconds:.1f} s)"] = figures_cam.colorize(
            gradcam.for_display(r.map, r.signed), "RdBu_r" if r.signed else scale, r.signed)
    figs["methods"] = figures_cam.cam_image_row(shown, t("cam.explaining_short", label=class_name(cam.label)))
    chart(st, figs["methods"])
    for r in results:
        gap = r.extra.get("completeness_gap")  # |sum of (x − x′) × averaged gradients − (F(x) − F(x′))|
        st.markdown(f"**{METHOD_TITLES[r.method]}.** {t(NOTE_KEYS[r.method])}"
                    + (" " + say(readings.ig_completeness(gap)) if gap is not None else ""))
    st.caption(t("cam.signed"))


def trust_checks(figs: dict, handle, img_key: str, mask, cam, stage: str, scale: str, x) -> None:
    """The randomisation sanity check and the deletion curve, computed on demand."""
    st.markdown(t("cam.sanity_intro"))
    if st.button(t("cam.sanity_run"), key=keys.CAM_SANITY_GO):
        st.session_state[keys.CAM_SANITY_ON] = True
    if st.session_state.get(keys.CAM_SANITY_ON):
        s = _sanity(handle.digest, img_key, mask, cam.target, stage, handle, x)
        figs["sanity"] = figures_cam.cam_sanity(s.steps, s.correlations, **figures.labels("cam_sanity", t))
        chart(st, figs["sanity"])
        picks = [0, 1, 5, len(s.steps) - 1]
        chart(st, figures_cam.cam_image_row(
            {f"{s.steps[i]}": figures_cam.colorize(gradcam.for_display(s.maps["gradcam"][i]), scale) for i in picks},
            t("cam.randomised_title")))
        st.caption(t("cam.gap_in_line"))
    st.markdown(t("cam.deletion_intro"))
    del_base = st.selectbox(t("cam.replace"), cam_methods.BASELINES, index=1, key=keys.CAM_DEL_BASE,
                            format_func=baseline_namer())
    if st.button(t("cam.deletion_run"), key=keys.CAM_DELETION_GO):
        st.session_state[keys.CAM_DELETION_ON] = True
    if st.session_state.get(keys.CAM_DELETION_ON):
        d = _deletion(handle.digest, img_key, mask, cam.target, stage, del_base, handle, x, cam.maps[stage])
        figs["deletion"] = figures_cam.cam_deletion(d.fractions, d.probs, d.random_probs, d.area, d.random_area,
                                                    class_name(cam.label), **figures.labels("cam_deletion", t))
        chart(st, figs["deletion"])


def _large(right, figs: dict, key: tuple, cam: gradcam.GradCam, picture: np.ndarray, stage: str, opacity: float,
           scale: str) -> None:
    """The chosen stage's map over the picture, large, with the grid's reading and a download."""

    def large_figure():
        outline = images.sample_mask(image_name())  # generated shapes know where their object is
        if outline is not None and outline.shape != picture.shape[:2]:
            outline = None  # the weights' preprocessing cropped or resized it: the mask no longer lines up
        return figures_cam.cam_overlay_figure(picture, gradcam.for_display(cam.maps[stage]), opacity, scale,
                                              cam.peaks[stage],
                                              t("cam.large_title", stage=stage, label=class_name(cam.label)),
                                              outline, **figures.labels("cam_overlay_figure", t))
    figs["gradcam_large"] = figure(("cam_large", *key, stage, opacity, scale), large_figure)
    chart(right, figs["gradcam_large"])
    right.caption(say(readings.gradcam_grid(stage, cam.raw[stage].shape, cam.maps[stage].shape)))
    with right:
        large = figures_cam.cam_overlay_rgb(picture, gradcam.for_display(cam.maps[stage]), opacity, scale)
        image_download(Image.fromarray(large), f"gradcam_{stage}_{cam.label.replace(' ', '_')}", t("cam.download"))


def _on_off(handle, img_key: str, mask: tuple, cam: gradcam.GradCam, picture: np.ndarray, x, stage: str,
            opacity: float, scale: str) -> None:
    """The same stage with every shortcut on beside the current mask (or all off when the mask is all on)."""
    st.subheader(t("fm.onoff"))
    other = mask if mask != ALL_ON else ALL_OFF
    if mask == ALL_ON:
        st.caption(t("cam.all_on_note"))
    full = memo.grad_cams(handle, img_key, ALL_ON, cam.target, x)
    cut = memo.grad_cams(handle, img_key, other, cam.target, x)
    for col, res, title in zip(st.columns(2), (full, cut), (t("cam.full"), state.mask_label(other)), strict=True):
        with col:
            st.markdown(f"**{title}** — {prediction_line(res)}")
            st.image(figures_cam.cam_overlay_rgb(picture, gradcam.for_display(res.maps[stage]), opacity, scale),
                     caption=t("cam.at", stage=stage, label=class_name(res.label)), width="stretch")
    st.caption(t("cam.same_weights"))


@st.fragment
def views(handle, img_key: str, mask: tuple, cam: gradcam.GradCam, picture: np.ndarray, x, figs: dict) -> None:
    """Top-5, the chosen stage large, all four stages, shortcuts on vs off, other methods and checks. Its widgets
    (stage, opacity, colour map, the on-demand sections) rerun this fragment only; figures are cached."""
    c2, c3, c4 = st.columns(3)
    stage = c2.selectbox(t("cam.stage"), STAGE_NAMES, index=3, key=keys.CAM_STAGE)
    opacity = c3.slider(t("cam.opacity"), 0.0, 1.0, 0.5, 0.05, key=keys.CAM_OPACITY)
    scale = c4.selectbox(t("cam.colormap"), figures.COLORSCALES, key=keys.CAM_SCALE,
                         format_func={c: t(k) for c, k in CMAP_KEYS.items()}.get,
                         index=figures.COLORSCALES.index(figures_cam.CAM_COLORSCALE)
                         if figures_cam.CAM_COLORSCALE in figures.COLORSCALES else 0)
    key = (handle.digest, img_key, tuple(mask), cam.target)
    left, right = st.columns([2, 3])
    figs["top5"] = figure(("cam_top5", *key), lambda: figures_cam.cam_topk(
        class_top(cam.top), t("cam.top5", mask=state.mask_label(mask)), highlight=cam.target,
        **figures.labels("cam_topk", t)))
    chart(left, figs["top5"])
    left.caption(t("cam.explaining", label=class_name(cam.label), target=cam.target, p=100 * cam.prob,
                   weights=weights_name(handle.source)))
    fit_warning(left, handle)  # e.g. the shapes weights on a photo: the prediction is the nearest shape
    _large(right, figs, key, cam, picture, stage, opacity, scale)

    peaks = {f"{n} ({cam.raw[n].shape[0]}×{cam.raw[n].shape[1]})": cam.peaks[n] for n in STAGE_NAMES}
    figs["gradcam_stages"] = figure(("cam_row", *key, opacity, scale), lambda: figures_cam.cam_image_row(
        overlays(picture, cam, opacity, scale), t("cam.row_title"), peaks))
    chart(st, figs["gradcam_stages"])
    st.caption(t("cam.row_caption", ms=1000 * cam.seconds))

    _on_off(handle, img_key, mask, cam, picture, x, stage, opacity, scale)

    with st.expander(t("cam.other")):
        other_methods(figs, handle, img_key, mask, cam, stage, scale, x)
    with st.expander(t("cam.trust")):
        trust_checks(figs, handle, img_key, mask, cam, stage, scale, x)
