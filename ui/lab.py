"""The Shortcut Lab's page-side pieces (cached study, chart, reading), shared by the lab and the Lecture pages."""

import streamlit as st

from resnet_viz import figures, lesion
from resnet_viz.config import DEFAULTS
from ui.draw import show_error
from ui.text import lang, t

N_CHOICES = (DEFAULTS.lesion_n, 200, 500)


@st.cache_data(max_entries=16, show_spinner=False)
def study(weights_digest: str, data: str, n: int, size: int | None, _handle) -> lesion.LesionResult:
    # Per weights (their content digest) and data set; the library adds a disk cache keyed by the parameters' hash.
    return lesion.cached_run(_handle, data, n, size)


def bar_names() -> dict[str, str]:
    return {"intact": t("lab.bar.intact"), "no_shortcut": t("lab.bar.no_shortcut"),
            "no_branch": t("lab.bar.no_branch"), "no_shortcuts": t("lab.bar.no_shortcuts"),
            "chance": t("lab.bar.chance")}


def chart(res: lesion.LesionResult, what: str = "metric", height: int = figures.FIG_HEIGHT):
    """The lesion bar chart of the metric (accuracy / agreement) or of the intact top-1 probability."""
    if what == "prob":
        return figures.lesion_chart(res.prob, bar_names(), t("lab.chart.prob_title"), t("lab.axis.prob"),
                                    height=height)
    title = t("lab.chart.acc_title", n=res.n, size=res.image_size) if res.metric == "accuracy" else \
        t("lab.chart.agree_title", n=res.n)
    y = t("lab.axis.accuracy") if res.metric == "accuracy" else t("lab.axis.agreement")
    return figures.lesion_chart(res.values, bar_names(), title, y, chance=res.chance or None, height=height)


def reading(res: lesion.LesionResult) -> str:
    """One paragraph, written from the measured numbers."""
    s = {k: (100 * v if isinstance(v, float) else v) for k, v in lesion.summary(res).as_dict().items()}
    # Judged against the network's skill above chance, so a weak checkpoint is read on its own scale.
    skill = max(s["intact"] - s["chance"], 1e-9)
    first = t("lab.read.intact", **s) if res.metric == "accuracy" else t("lab.read.intact_agree", **s)
    parts = [first,
             t("lab.read.branch_small" if s["branch_drop"] <= 0.3 * skill else "lab.read.branch_large", **s),
             t("lab.read.shortcut", **s),
             t("lab.read.collapse" if s["all_off"] - s["chance"] <= 0.25 * skill else "lab.read.survive", **s),
             t("lab.read.not_plain")]
    if res.data == "photos":
        parts.append(t("lab.read.photos_note"))
    return ("" if lang() == "zh" else " ").join(parts)  # Chinese puts no space between sentences


def load(handle, data: str, n: int) -> lesion.LesionResult | None:
    try:
        with st.spinner(t("lab.spinner")):
            return study(handle.digest, data, n, DEFAULTS.lesion_size if data == "shapes"
                         else None, handle)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, t("lab.error"))
        return None
