"""The Lecture page's steps: one figure (or a pair, or two rows) and a caption per step, two of them a question
the class answers before the next click reveals the measured answer."""

from __future__ import annotations

import numpy as np
import streamlit as st

from resnet_viz import figures
from resnet_viz.experiments import degradation
from resnet_viz.explain import featuremaps, gradcam, tiles
from resnet_viz.figures import cam as figures_cam
from resnet_viz.figures import gradflow as figures_gradflow
from resnet_viz.figures import maps as figures_maps
from resnet_viz.inputs import images
from resnet_viz.model import architecture
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.forward import ALL_OFF, ALL_ON
from resnet_viz.model.layers import STAGE_NAMES
from resnet_viz.text import experiment_readings, paper, readings
from ui import arch, gradflow, lab, memo
from ui.lecture_plan import BODY_KEYS, CHOICES, NOTES, QUESTIONS, STEPS, TITLE_KEYS  # noqa: F401  (re-exported)
from ui.picker import image_key, image_kind
from ui.text import class_name, class_top, lang, say, t

GRAD_DEPTH = 56  # deep enough for the plain stack's gradient to change by orders of magnitude


def sentences(*parts: str) -> str:
    """Non-empty texts as one paragraph (Chinese puts no space between sentences)."""
    return ("" if lang() == "zh" else " ").join(p for p in parts if p)


def fit(handle) -> str:
    """Whether the live weights can describe this image, said where a prediction is shown."""
    return say(readings.weights_fit(handle.source, image_kind(), handle.num_classes))


def fig_degradation():
    configs, settings = degradation.default_degradation(0)
    run = degradation.find_run(configs, settings)
    if run is not None:
        reading = experiment_readings.degradation_of(run, degradation.chance_loss(run.settings))
        title = say(experiment_readings.degradation_title(reading[0][1]["steps"]))
        fig = figures_gradflow.degradation_curves(run.curves, run.settings.steps,
                                                  chance=degradation.chance_loss(run.settings),
                                                  title=title, **figures.labels("degradation_curves", t))
        return fig, say(reading)
    named = {f"{k}-20": v for k, v in gradflow.default_init_norms(20).items()}
    fig = figures_gradflow.gradflow_profile(named, title=t("lec.degradation.fig_init"),
                                            **figures.labels("gradflow_profile.output_grad", t))
    return fig, t("lec.degradation.caption_init")


def fig_residual(ft):
    labels = {**figures.labels("residual_ratio_chart", t), "title": t("lec.residual.fig")}
    ratios = featuremaps.residual_ratios(ft.blocks)
    fig = figures_maps.residual_ratio_chart(ratios, **labels)
    return fig, sentences(say([readings.residual_sizes(ratios)]), t("lec.residual.caption"))


def fig_block(ft):
    block = ft.blocks["layer1.0"]
    channel = int(np.argmax(np.abs(block.fx).mean(axis=(1, 2))))  # the channel the branch changes most
    parts = featuremaps.decomposition(block, channel)
    fig = figures_maps.residual_row(parts, featuremaps.common_range(list(parts.values())),
                                    t("lec.block.fig", channel=channel), **figures.labels("residual_row", t))
    return fig, t("lec.block.caption")


def fig_stages(handle):
    table = architecture.layer_table(handle.model, 224, 224)
    fig = figures.stage_shapes(architecture.stage_summary(table),
                               **{**figures.labels("stage_shapes", t), "title": t("lec.stages.fig")},
                               stage_names=arch.stage_names())
    return fig, say([readings.param_counts(table.params, handle.num_classes),
                     readings.output_size_rule(arch.pool_input(table)), ("lec.stages.more", {})])


def fig_features(ft):
    maps = ft.maps(DEFAULTS.default_layer)  # (C, H, W)
    side = maps.shape[1]
    shrink = tiles.shrink_for(side)
    tiled = tiles.tile(tiles.shrink(maps, shrink), upscale=tiles.upscale_for(side // shrink))
    fig, _ = figures_maps.feature_tiles(tiled, t("lec.features.fig", layer=DEFAULTS.default_layer, c=maps.shape[0]),
                                        **figures.labels("feature_tiles", t))
    return fig, t("lec.features.caption")


def fig_gradcam(handle, image):
    x = handle.preprocess(image).unsqueeze(0)  # (1, 3, H, W), exactly what the model sees
    cam = memo.grad_cams(handle, image_key(), ALL_ON, None, x)
    picture = images.denormalise(x, handle.mean, handle.std)
    shown = {n: figures_cam.cam_overlay_rgb(picture, gradcam.for_display(cam.maps[n])) for n in STAGE_NAMES}
    # Two rows of two: four in one row would leave each overlay too small for the back of a hall.
    top = figures_cam.cam_image_row(dict(list(shown.items())[:2]), t("lec.gradcam.fig", label=class_name(cam.label)))
    bottom = figures_cam.cam_image_row(dict(list(shown.items())[2:]))
    last = STAGE_NAMES[-1]
    grid = readings.gradcam_grid(last, cam.raw[last].shape, cam.maps[last].shape)
    return [top, bottom], sentences(t("lec.gradcam.caption"), say([grid]), fit(handle))


def fig_off(on, off, handle):
    on_top, off_top = class_top(on.top5), class_top(off.top5)
    a = figures_cam.cam_topk(on_top, t("lec.off.fig_on"), **figures.labels("cam_topk", t))
    b = figures_cam.cam_topk(off_top, t("lec.off.fig_off"), **figures.labels("cam_topk", t))
    return (a, b), sentences(say([readings.off_prediction(on_top[0], off_top[0])]), fit(handle))


def fig_ask_lesion(handle):
    fig = figures.block_diagram(architecture.block_summary(handle.model), None,
                                **{**figures.labels("block_diagram", t), "title": t("lec.ask_lesion.fig")})
    return fig, ""


def fig_grad():
    norms = gradflow.default_init_norms(GRAD_DEPTH)
    named = {n.config.label: n for n in norms.values()}
    fig = figures_gradflow.gradflow_profile(named, title=t("lec.grad.fig", depth=GRAD_DEPTH),
                                            **figures.labels("gradflow_profile.output_grad", t))
    # The verdict on both halves of choice B, then He et al.'s §4.1 beside it (no numbers there, no stage of training).
    return fig, say([*experiment_readings.grad_question(norms), paper.claim("paper.he2015.healthy"),
                     ("lec.grad.moments", {})])


def fig_lesion(handle):
    res = lab.lesion_study(handle, "shapes" if handle.source == "shapes" else "photos", DEFAULTS.lesion_n)
    if res is None:
        return None, ""
    counts = experiment_readings.sample_counts(images.list_samples())
    text = say([experiment_readings.lesion_answer(res.values, res.metric, res.n),
                *experiment_readings.evaluation_set(res.data, res.n, *counts, image_size=res.image_size),
                *experiment_readings.lesion(res.values, res.metric, res.chance, res.n)])
    return lab.chart(res), text


def step_figure(name: str, handle, image):
    """The figure(s) and caption of one step."""
    simple = {"degradation": fig_degradation, "grad": fig_grad, "ask_grad": lambda: (None, "")}
    if name in simple:
        return simple[name]()
    if name == "stages":
        return fig_stages(handle)
    if name == "gradcam":
        return fig_gradcam(handle, image)
    if name == "ask_lesion":
        return fig_ask_lesion(handle)
    if name == "lesion":
        return fig_lesion(handle)
    ft = memo.features(handle, image_key(), ALL_ON, True, image)
    if name == "residual":
        return fig_residual(ft)
    if name == "block":
        return fig_block(ft)
    if name == "features":
        return fig_features(ft)
    return fig_off(ft, memo.features(handle, image_key(), ALL_OFF, True, image), handle)


def choices(name: str) -> str:
    """A question's choices as a Markdown list, on the slide."""
    return "\n".join(f"- **{letter}.** {t(key)}" for letter, key in zip("ABC", CHOICES[name], strict=True))


def presenter_notes(name: str) -> None:
    """The presenter's note for this step, in the sidebar (never on the projected slide)."""
    key = NOTES.get(name)
    if key:
        st.sidebar.markdown(f"**{t('lec.notes')}**")
        st.sidebar.info(t(key))


# The steps whose slide is fixed by the weights, the image and the language (the others read training runs or
# lesion results that appear on disk later): their figures are built once and shared by every session.
SHARED_SLIDES = ("residual", "block", "stages", "features", "gradcam", "off", "ask_lesion")


def slide(name: str, handle, image, presenter: bool):
    """(figure(s) sized for the slide, caption) of one step; figures are never changed after this."""
    def build():
        fig, caption = step_figure(name, handle, image)
        height = 640 if presenter else 540
        if isinstance(fig, list):  # stacked rows sharing the column's height
            fig = [present(f, presenter, height // 2 + (40 if i == 0 else -20)) for i, f in enumerate(fig)]
        elif isinstance(fig, tuple):  # side by side
            fig = tuple(present(f, presenter, height - 80) for f in fig)
        elif fig is not None:  # the x / F(x) / F(x)+x squares are width-bound: shorter drops empty space
            fig = present(fig, presenter, height * 3 // 4 if name == "block" else height)
        return fig, caption
    if name not in SHARED_SLIDES:
        return build()
    return memo.figure(("lecture", name, handle.digest, image_key(), image_kind(), presenter), build)


def present(fig, presenter: bool, height: int):
    """Bigger fonts and a fixed height, so a figure fills its part of a projected slide."""
    size = figures.FONT_SIZE + (6 if presenter else 0)
    fig.update_layout(height=height, font={"size": size}, title_font_size=size + 6, legend_font_size=size)
    fig.update_xaxes(tickfont_size=size, title_font_size=size)
    fig.update_yaxes(tickfont_size=size, title_font_size=size)
    fig.update_annotations(font_size=size)
    fig.update_traces(textfont_size=size, selector={"type": "bar"})
    return fig
