"""The Shortcut Lab's page-side pieces (cached study, charts, readings), shared by the lab and the Lecture pages."""

from __future__ import annotations

import streamlit as st

from resnet_viz import figures
from resnet_viz.experiments import lesion, unravel
from resnet_viz.figures import family as figures_family
from resnet_viz.figures import lab as figures_lab
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.layers import DOWNSAMPLING_BLOCKS
from resnet_viz.text import experiment_readings, readings
from ui.draw import chart as draw_chart
from ui.draw import show_error
from ui.memo import figure
from ui.text import say, t

N_CHOICES = (DEFAULTS.lesion_n, 200, 500)
CIFAR_DEPTH = 110  # He et al. 2015's deepest CIFAR net: 54 blocks, the stack Veit et al. 2016 unravel


@st.cache_data(max_entries=16, show_spinner=False)
def study(weights_digest: str, data: str, n: int, size: int | None, _handle) -> lesion.LesionResult:
    # Per weights (their content digest) and data set; the library adds a disk cache keyed by the parameters' hash.
    return lesion.cached_run(_handle, data, n, size)


def bar_names() -> dict[str, str]:
    return figures.labels("lesion_chart", t)["names"]


def chart(res: lesion.LesionResult, what: str = "metric", height: int = figures.FIG_HEIGHT):
    """The lesion bar chart of the metric (accuracy / agreement) or of the intact top-1 probability, with the
    downsampling blocks marked."""
    mark = {"marked": DOWNSAMPLING_BLOCKS, "marked_label": t("lab.downsampling")}
    if what == "prob":
        return figures_lab.lesion_chart(res.prob, bar_names(), t("lab.chart.prob_title"), t("lab.axis.prob"),
                                        height=height, **mark)
    title = t("lab.chart.acc_title", n=res.n, size=res.image_size) if res.metric == "accuracy" else \
        t("lab.chart.agree_title", n=res.n)
    y = t("lab.axis.accuracy") if res.metric == "accuracy" else t("lab.axis.agreement")
    return figures_lab.lesion_chart(res.values, bar_names(), title, y, chance=res.chance or None, height=height, **mark)


def readings_of(res: lesion.LesionResult) -> list[readings.Reading]:
    """What the evaluation set is (and whether it is large enough), then the lesion study read from its numbers."""
    n_photos, n_shapes = (res.n, 0) if res.data == "photos" else (0, res.n)
    evaluated = experiment_readings.evaluation_set(res.data, res.n, n_photos, n_shapes, image_size=res.image_size)
    return evaluated + experiment_readings.lesion(res.values, res.metric, res.chance, res.n)


def reading(res: lesion.LesionResult) -> str:
    """readings_of() as one paragraph in the sidebar's language (the Lecture's lesion step shows it too)."""
    return say(readings_of(res))


def lesion_study(handle, data: str, n: int) -> lesion.LesionResult | None:
    try:
        with st.spinner(t("lab.spinner")):
            return study(handle.digest, data, n, DEFAULTS.lesion_size if data == "shapes"
                         else None, handle)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, t("lab.error"))
        return None


def lesion_figures(figs: dict, res: lesion.LesionResult, digest: str) -> None:
    """The lesion chart(s) of a study and its reading."""
    key = (digest, res.data, res.n, res.image_size, tuple(sorted(res.values.items())))
    figs["lesion"] = figure(("lesion", *key), lambda: chart(res))
    draw_chart(st, figs["lesion"])
    st.markdown(reading(res))
    if res.data == "photos":
        figs["lesion_probability"] = figure(("lesion_prob", *key), lambda: chart(res, "prob"))
        draw_chart(st, figs["lesion_probability"])


def _paths_figure():
    blocks = {t("lab.paths.resnet18"): 8, t("lab.paths.cifar", depth=CIFAR_DEPTH): unravel.cifar_blocks(CIFAR_DEPTH)}
    return figures_family.path_lengths({k: unravel.paths(n).counts for k, n in blocks.items()}, t("lab.paths.title"),
                                       t("lab.paths.x"), t("lab.paths.y"))


def unraveled_section(figs: dict) -> None:
    """Veit et al.'s unraveled view: 2^n paths, their lengths binomial, for ResNet-18 and a deep CIFAR stack."""
    st.header(t("lab.paths.h"))
    st.markdown(t("lab.paths.body"))
    figs["path_lengths"] = figure(("paths",), _paths_figure)
    draw_chart(st, figs["path_lengths"])
    for name, n in ((t("lab.paths.resnet18"), 8), (t("lab.paths.cifar", depth=CIFAR_DEPTH),
                                                   unravel.cifar_blocks(CIFAR_DEPTH))):
        st.markdown(t("lab.paths.item", name=name, text=say(experiment_readings.unraveled(unravel.paths(n)))))


def _twin_figure(pair: unravel.LesionPair):
    names = {"plain": t("lab.twin.plain"), "residual": t("lab.twin.residual"), "chance": t("lab.bar.chance"),
             "downsampling": t("lab.twin.downsampling")}
    return figures_family.lesion_pair(list(pair.blocks), list(pair.plain_deleted), list(pair.residual_deleted),
                                      (pair.plain_intact, pair.residual_intact), list(pair.downsampling), names,
                                      t("lab.twin.title", n=pair.n), t("lab.axis.accuracy"), chance=pair.chance)


def twin_section(figs: dict) -> None:
    """The shipped plain-14 net and its residual-14 twin with one block deleted, read from their own numbers."""
    st.header(t("lab.twin.h"))
    try:
        pair = unravel.shipped_lesion()
    except (OSError, KeyError, ValueError) as exc:
        show_error(exc, t("lab.twin.missing"))
        return
    st.markdown(t("lab.twin.body"))
    figs["plain_lesion"] = figure(("twin", pair.plain_intact, pair.residual_intact), lambda: _twin_figure(pair))
    draw_chart(st, figs["plain_lesion"])
    st.markdown(say(experiment_readings.twin_lesion(pair)))
    st.caption(t("lab.twin.caption", n=pair.n, steps=pair.meta.get("train_steps", 0)) + " `" + pair.command + "`")
