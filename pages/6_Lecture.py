"""Lecture: the story of residual learning in eight steps, each with a short text and the live figure."""

import numpy as np
import streamlit as st

from pages import common, lab, ui
from pages.ui import t
from resnet_viz import architecture, degradation, featuremaps, figures, gradcam, gradnorms, images
from resnet_viz.config import DEFAULTS, STAGE_NAMES
from resnet_viz.forward import ALL_OFF, ALL_ON

STEP_KEY = "lecture_step"
PRESENTER_KEY = "lecture_presenter"
STEPS = ("degradation", "residual", "block", "stages", "features", "gradcam", "off", "lesion")
TITLE_KEYS = {"degradation": "lec.degradation.title", "residual": "lec.residual.title", "block": "lec.block.title",
              "stages": "lec.stages.title", "features": "lec.features.title", "gradcam": "lec.gradcam.title",
              "off": "lec.off.title", "lesion": "lec.lesion.title"}
BODY_KEYS = {"degradation": "lec.degradation.body", "residual": "lec.residual.body", "block": "lec.block.body",
             "stages": "lec.stages.body", "features": "lec.features.body", "gradcam": "lec.gradcam.body",
             "off": "lec.off.body", "lesion": "lec.lesion.body"}
PRESENTER_CSS = """<style>
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li {font-size: 1.55rem; line-height: 1.45;}
[data-testid="stMarkdownContainer"] h2 {font-size: 2.6rem;}
.block-container {padding-top: 3.6rem; padding-bottom: 0; max-width: 100%;}
</style>"""
NORMAL_CSS = """<style>
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li {font-size: 1.15rem;}
.block-container {padding-top: 3.6rem; padding-bottom: 0;}
</style>"""


# ---- cached computations (the same library calls as the other pages) ---------------------------------
@st.cache_data(max_entries=4, show_spinner=False)
def _init_norms(depth: int) -> dict:
    return gradnorms.compare_init(depth, batch_size=32)


# ---- one figure per step ------------------------------------------------------------------------------
def fig_degradation():
    configs, settings = degradation.default_degradation(0)
    run = degradation.find_run(configs, settings)
    if run is not None:
        fig = figures.degradation_curves(run.curves, run.settings.steps, chance=degradation.chance_loss(run.settings),
                                         title=t("lec.degradation.fig"))
        fig.update_layout(xaxis_title=t("lec.axis.step"), yaxis_title=t("lec.axis.loss"))
        shows = degradation.degradation_shows(run)  # the caption only claims what this run shows
        return fig, t("lec.degradation.caption_run" if shows else "lec.degradation.caption_noshow")
    named = {f"{k}-20": v for k, v in _init_norms(20).items()}
    return figures.gradflow_profile(named), t("lec.degradation.caption_init")


def fig_residual(ft):
    fig = figures.residual_ratio_chart(featuremaps.residual_ratios(ft.blocks))
    fig.update_layout(title_text=t("lec.residual.fig"), xaxis_title=t("lec.axis.block"))
    return fig, t("lec.residual.caption")


def fig_block(ft):
    block = ft.blocks["layer1.0"]
    channel = int(np.argmax(np.abs(block.fx).mean(axis=(1, 2))))  # the channel the branch changes most
    parts = featuremaps.decomposition(block, channel)
    fig = figures.residual_row(parts, featuremaps.common_range(list(parts.values())),
                               t("lec.block.fig", channel=channel))
    return fig, t("lec.block.caption")


def fig_stages(handle):
    table = architecture.layer_table(handle.model, 224, 224)
    fig = figures.stage_shapes(architecture.stage_summary(table))
    fig.update_layout(title_text=t("lec.stages.fig"), yaxis_title=t("arch.axis.channels"),
                      yaxis2_title=t("arch.axis.height"))
    fig.update_traces(selector={"type": "bar"}, name=t("arch.axis.channels"))
    fig.update_traces(selector={"type": "scatter"}, name=t("arch.axis.height"))
    return fig, t("lec.stages.caption", params=table.params)


def fig_features(ft):
    maps = ft.maps(DEFAULTS.default_layer)  # (C, H, W)
    side = maps.shape[1]
    shrink = featuremaps.shrink_for(side)
    tiled = featuremaps.tile(featuremaps.shrink(maps, shrink), upscale=featuremaps.upscale_for(side // shrink))
    fig, _ = figures.feature_tiles(tiled, t("lec.features.fig", layer=DEFAULTS.default_layer, c=maps.shape[0]))
    return fig, t("lec.features.caption")


def fig_gradcam(handle, image):
    x = handle.preprocess(image).unsqueeze(0)  # (1, 3, H, W), exactly what the model sees
    cam = common.grad_cams(common.weights_key(handle), common.image_key(), ALL_ON, None, handle, x)
    picture = images.denormalise(x, handle.mean, handle.std)
    shown = {n: figures.cam_overlay_rgb(picture, gradcam.for_display(cam.maps[n])) for n in STAGE_NAMES}
    # Two rows of two: four in one row would leave each overlay too small for the back of a hall.
    top = figures.cam_image_row(dict(list(shown.items())[:2]), t("lec.gradcam.fig", label=cam.label))
    bottom = figures.cam_image_row(dict(list(shown.items())[2:]))
    return [top, bottom], t("lec.gradcam.caption")


def fig_off(on, off):
    a = figures.cam_topk(on.top5, t("lec.off.fig_on")).update_layout(xaxis_title=t("lab.axis.prob"))
    b = figures.cam_topk(off.top5, t("lec.off.fig_off")).update_layout(xaxis_title=t("lab.axis.prob"))
    same = on.top5[0][0] == off.top5[0][0]
    return (a, b), t("lec.off.caption_same" if same else "lec.off.caption_changed", on=on.top5[0][1],
                     off=off.top5[0][1], p=100 * off.top5[0][2])


def fig_lesion(handle):
    res = lab.load(handle, "shapes" if handle.source == "shapes" else "photos", DEFAULTS.lesion_n)
    if res is None:
        return None, ""
    return lab.chart(res), lab.reading(res)


# ---- layout -------------------------------------------------------------------------------------------
def _go(delta: int) -> None:
    st.session_state[STEP_KEY] = min(max(st.session_state.get(STEP_KEY, 0) + delta, 0), len(STEPS) - 1)


def present(fig, presenter: bool, height: int):
    """Bigger fonts and a fixed height, so a figure fills its part of a projected slide."""
    size = figures.FONT_SIZE + (6 if presenter else 0)
    fig.update_layout(height=height, font={"size": size}, title_font_size=size + 6, legend_font_size=size)
    fig.update_xaxes(tickfont_size=size, title_font_size=size)
    fig.update_yaxes(tickfont_size=size, title_font_size=size)
    fig.update_annotations(font_size=size)
    fig.update_traces(textfont_size=size, selector={"type": "bar"})
    return fig


def show(where, fig, height: int) -> None:
    where.plotly_chart(present(fig, presenter, height), width="stretch", config=ui.PLOTLY_CONFIG)


def step_figure(name: str, handle, image):
    weights_key = common.weights_key(handle)
    if name == "degradation":
        return fig_degradation()
    if name == "stages":
        return fig_stages(handle)
    if name == "gradcam":
        return fig_gradcam(handle, image)
    if name == "lesion":
        return fig_lesion(handle)
    ft = common.features(weights_key, common.image_key(), ALL_ON, True, handle, image)
    if name == "residual":
        return fig_residual(ft)
    if name == "block":
        return fig_block(ft)
    if name == "features":
        return fig_features(ft)
    return fig_off(ft, common.features(weights_key, common.image_key(), ALL_OFF, True, handle, image))


handle = common.get_handle()
image = common.pick_image()
presenter = st.sidebar.toggle(t("lec.presenter"), value=False, key=PRESENTER_KEY, help=t("lec.presenter_help"))
st.markdown(PRESENTER_CSS if presenter else NORMAL_CSS, unsafe_allow_html=True)
step = min(max(int(st.session_state.get(STEP_KEY, 0)), 0), len(STEPS) - 1)
st.session_state[STEP_KEY] = step
name = STEPS[step]

nav = st.columns([1, 6, 1], vertical_alignment="center")
nav[0].button(t("lec.prev"), on_click=_go, args=(-1,), disabled=step == 0, key="lec_prev", width="stretch")
dots = " ".join("●" if i == step else "○" for i in range(len(STEPS)))
nav[1].markdown(f"<div style='text-align:center; font-size:1.3rem'><b>{t('lec.step', i=step + 1, n=len(STEPS))}</b>"
                f" &nbsp; {dots}</div>", unsafe_allow_html=True)
nav[2].button(t("lec.next"), on_click=_go, args=(1,), disabled=step == len(STEPS) - 1, key="lec_next",
              type="primary", width="stretch")
st.markdown(f"## {step + 1}. {t(TITLE_KEYS[name])}")

text_col, fig_col = st.columns([2, 3], gap="large")
height = 640 if presenter else 540
try:
    with st.spinner(t("lec.computing")):
        fig, caption = step_figure(name, handle, image)
except (ValueError, RuntimeError, gradcam.AttributionError) as exc:
    common.show_error(exc, t("lec.error"))
    st.stop()
with text_col:
    st.markdown(t(BODY_KEYS[name]))
    if caption:
        st.markdown(caption)
with fig_col:
    if isinstance(fig, list):  # stacked rows sharing the column's height
        for i, f in enumerate(fig):
            show(st, f, height // 2 + (40 if i == 0 else -20))
    elif isinstance(fig, tuple):
        for col, f in zip(st.columns(2), fig, strict=True):
            show(col, f, height - 80)
    elif fig is not None:
        # The x / F(x) / F(x)+x squares are width-bound: a shorter figure just drops empty space.
        show(st, fig, height * 3 // 4 if name == "block" else height)
with text_col:
    figs = dict(enumerate(fig if isinstance(fig, tuple | list) else [fig] if fig is not None else []))
    ui.figures_zip_button({f"{name}_{i}": f for i, f in figs.items()}, f"lecture_{step + 1}_{name}")
