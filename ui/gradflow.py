"""The Gradient flow page's cached computations and its two longer sections (ResNet-18 norms, live training)."""

from __future__ import annotations

import streamlit as st

from resnet_viz import degradation, figures, gradnorms
from resnet_viz.forward import ALL_ON
from ui.draw import PLOTLY_CONFIG, chart, show_error
from ui.state import mask_label
from ui.text import lang, t, weights_name

PARTIAL_KEY = "gf_partial"  # (cache key, TrainResult) of a live run that a Stop click interrupted


@st.cache_data(max_entries=32, show_spinner=False)
def init_norms(depth: int, variants: tuple[str, ...], bn: bool, shortcut: str, zero: bool, batch: int,
               seed: int) -> dict:
    return gradnorms.compare_init(depth, batchnorm=bn, shortcut=shortcut, zero_init_residual=zero,
                               batch_size=batch, seed=seed, variants=variants)


@st.cache_data(max_entries=16, show_spinner=False)
def gradient_correlation(depth: int, bn: bool, shortcut: str, seed: int) -> dict[str, list[float]]:
    return gradnorms.compare_correlation(depth, batchnorm=bn, shortcut=shortcut, seed=seed)


@st.cache_data(max_entries=16, show_spinner=False)
def resnet_norms(weights_digest: str, image_key: str, mask: tuple[bool, ...], _handle,
                 _image) -> gradnorms.ResNetGradNorms:
    x = _handle.preprocess(_image).unsqueeze(0)  # (1, 3, H, W)
    return gradnorms.resnet_conv_grad_norms(_handle, x, mask)


def resnet_section(figs: dict, handle, image, img_key: str, mask: tuple[bool, ...]) -> None:
    """Figure 1b: per-conv gradient norms of the real ResNet-18 on the chosen image."""
    try:
        with st.spinner(t("gf.spinner_resnet")):
            r = resnet_norms(handle.digest, img_key, mask, handle, image)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, t("gf.cannot_resnet"))
        return
    label = handle.labels[r.target] if r.target < len(handle.labels) else str(r.target)
    series = {mask_label(ALL_ON): r.all_on}
    if not all(mask):
        series[mask_label(mask)] = r.masked
    figs["resnet_grad_norms"] = figures.resnet_grad_norms(r.layers, series, title=t("gf.resnet_title"))
    figs["resnet_grad_norms"].update_layout(xaxis_title=t("gf.axis.conv"))
    chart(st, figs["resnet_grad_norms"])
    first_last = r.all_on[0] / r.all_on[-1] if r.all_on[-1] else float("inf")
    text = t("gf.resnet_text", label=label, weights=weights_name(handle.source), fl=f"{first_last:.3g}")
    if not all(mask):
        masked_fl = r.masked[0] / r.masked[-1] if r.masked[-1] else float("inf")
        text += t("gf.resnet_masked", mask=mask_label(mask), fl=f"{masked_fl:.3g}",
                  ratio=f"{r.masked[0] / r.all_on[0]:.3g}")
    else:
        text += t("gf.resnet_compare")
    st.markdown(text)


def degradation_figure(curves: dict, total: int, chance: float):
    fig = figures.degradation_curves(curves, total, chance=chance, title=t("gf.deg_title"))
    return fig.update_layout(xaxis_title=t("lec.axis.step"), yaxis_title=t("lec.axis.loss"))


def train_or_replay(configs, settings, train: bool, chart_slot):
    """Train live (drawing the curves as they come) after a Train click, otherwise find a saved run (or the run a
    Stop click interrupted). None when there is nothing to show."""
    key = degradation.cache_key(configs, settings)
    chance = degradation.chance_loss(settings)
    if not train:
        result = degradation.find_run(configs, settings)
        partial = st.session_state.get(PARTIAL_KEY)
        # Right after a Stop click (or with nothing saved), the interrupted run's curves are the ones to show.
        if partial is not None and partial[0] == key and (result is None or st.session_state.get("gf_stop")):
            result = partial[1]
        return result
    bar = st.progress(0.0, text=t("gf.starting"))

    def on_progress(curves: dict, done: int, total: int) -> bool:
        st.session_state[PARTIAL_KEY] = (key, degradation.TrainResult(settings, curves, finished=False))
        bar.progress(done / total, text=t("gf.step_of", done=done, total=total))
        chart_slot.plotly_chart(degradation_figure(curves, total, chance), width="stretch", key=f"gf_live_{done}",
                                config=PLOTLY_CONFIG)
        return False

    with st.status(t("gf.training"), expanded=False) as status:
        try:
            result = degradation.train_stacks(configs, settings, progress=on_progress, replay=False)
        except ValueError as exc:
            show_error(exc, t("gf.train_failed"))
            st.stop()
        status.update(label=t("gf.trained_in", s=result.seconds), state="complete")
    st.session_state.pop(PARTIAL_KEY, None)
    return result


def show_run(figs: dict, result, chart_slot, run_seed: int, chance: float) -> None:
    """The degradation curves of a run and what they show, in words written from the numbers."""
    if result is None:
        st.info(t("gf.no_run"))
        return
    figs["degradation"] = degradation_figure(result.curves, result.settings.steps, chance)
    chart_slot.plotly_chart(figs["degradation"], width="stretch", key="gf_final", config=PLOTLY_CONFIG)
    if not result.finished:
        st.warning(t("gf.stopped"))
    elif result.source == "precomputed":
        st.caption(t("gf.precomputed", seed=run_seed))
    elif result.source == "cache":
        st.caption(t("gf.replayed"))
    for line in degradation.explain_degradation(result, lang()):
        st.markdown("- " + line)
    st.markdown(t("gf.shows") if degradation.degradation_shows(result) else t("gf.not_shows"))
