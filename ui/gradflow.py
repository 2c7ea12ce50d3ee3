"""The Gradient flow page's cached computations and its sections (Figure 1 as a fragment, ResNet-18's gradients
and why they pass, live training). Figures are built once per inputs and language (ui.memo.figure)."""

from __future__ import annotations

import streamlit as st

from resnet_viz import figures
from resnet_viz.experiments import degradation, gradnorms, gradpaths
from resnet_viz.experiments.stacks import num_classes_for
from resnet_viz.figures import family as figures_family
from resnet_viz.figures import gradflow as figures_gradflow
from resnet_viz.model.forward import ALL_ON
from resnet_viz.text import experiment_readings, readings
from ui import keys
from ui.draw import PLOTLY_CONFIG, chart, show_error
from ui.memo import BoundedLRU, figure
from ui.state import mask_label
from ui.text import class_name, say, t, weights_name

DEPTHS = [8, 14, 20, 32, 44, 56, 110]
WHICH_KEYS = {"both": "gf.which.both", "plain": "gf.which.plain", "residual": "gf.which.residual"}
QUANTITY_KEYS = {"output_grad": "gf.q.output_grad", "weight_grad": "gf.q.weight_grad",
                 "activation_std": "gf.q.activation_std"}


@st.cache_data(max_entries=32, show_spinner=False)
def init_norms(depth: int, variants: tuple[str, ...], bn: bool, shortcut: str, zero: bool, batch: int,
               seed: int) -> dict:
    return gradnorms.compare_init(depth, batchnorm=bn, shortcut=shortcut, zero_init_residual=zero,
                                  batch_size=batch, seed=seed, variants=variants)


def default_init_norms(depth: int) -> dict:
    """The comparison init_section shows before any widget is touched (both nets, BatchNorm, option A, no
    zero-init, batch 32, seed 0), from the same cache: the Lecture's gradient steps read it too."""
    return init_norms(depth, ("plain", "residual"), True, "A", False, 32, 0)


@st.cache_data(max_entries=16, show_spinner=False)
def gradient_correlation(depth: int, bn: bool, shortcut: str, seed: int) -> dict[str, list[float]]:
    return gradnorms.compare_correlation(depth, batchnorm=bn, shortcut=shortcut, seed=seed)


@st.cache_data(max_entries=16, show_spinner=False)
def resnet_norms(weights_digest: str, image_key: str, mask: tuple[bool, ...], _handle,
                 _image) -> gradnorms.ResNetGradNorms:
    x = _handle.preprocess(_image).unsqueeze(0)  # (1, 3, H, W)
    return gradnorms.resnet_conv_grad_norms(_handle, x, mask)


@st.cache_data(max_entries=16, show_spinner=False)
def grad_paths(weights_digest: str, image_key: str, mask: tuple[bool, ...], target: int, _handle,
               _image) -> gradpaths.GradPaths:
    """dL/dx at each block's input split into identity and branch parts, with the sidebar's mask."""
    x = _handle.preprocess(_image).unsqueeze(0).to(_handle.device)  # (1, 3, H, W)
    with _handle.lock:
        return gradpaths.grad_paths(_handle.model, x, target, mask)


# ---- Figure 1: plain vs residual stacks at initialisation (a fragment: its widgets rerun only this part) -------
@st.fragment
def init_section(figs: dict) -> None:
    st.header(t("gf.h1"))
    c = st.columns([1, 1.3, 1, 1.3, 1, 1, 1])
    depth = c[0].selectbox(t("gf.depth"), DEPTHS, index=DEPTHS.index(56), key=keys.GF_DEPTH)
    which = c[1].radio(t("gf.networks"), ["both", "plain", "residual"], horizontal=True, key=keys.GF_WHICH,
                       format_func=lambda w: t(WHICH_KEYS[w]))
    bn = c[2].toggle("BatchNorm", value=True, key=keys.GF_BN)
    shortcut = c[3].radio(t("gf.shortcut"), ["A", "B"], horizontal=True, key=keys.GF_SHORTCUT,
                          format_func=lambda s: t("gf.option_a") if s == "A" else t("gf.option_b"),
                          help=t("gf.shortcut_help"))
    zero = c[4].toggle(t("gf.zero"), value=False, key=keys.GF_ZERO, help=t("gf.zero_help"))
    batch = c[5].selectbox(t("gf.batch"), [16, 32, 64], index=1, key=keys.GF_BATCH)
    seed = int(c[6].number_input(t("gf.seed"), 0, 9999, 0, key=keys.GF_SEED))
    variants = ("plain", "residual") if which == "both" else (which,)
    try:
        with st.spinner(t("gf.spinner_init")):
            norms = init_norms(depth, variants, bn, shortcut, zero, batch, seed)
    except ValueError as exc:
        show_error(exc, t("gf.cannot_build"))
        return
    quantity = st.radio(t("gf.show"), list(QUANTITY_KEYS), horizontal=True, key=keys.GF_QUANTITY,
                        format_func=lambda q: t(QUANTITY_KEYS[q]))
    named = {n.config.label: n for n in norms.values()}
    figs["init_profile"] = figure(
        ("profile", depth, variants, bn, shortcut, zero, batch, seed, quantity),
        lambda: figures_gradflow.gradflow_profile(named, quantity,
                                                  title=t("gf.profile_title", q=t(QUANTITY_KEYS[quantity])),
                                                  **figures.labels(f"gradflow_profile.{quantity}", t)))
    chart(st, figs["init_profile"])
    st.caption(t("gf.init_caption", batch=batch, seed=seed))
    for r in experiment_readings.gradflow_init(norms):
        st.markdown("- " + say(r))
    with st.expander(t("gf.claims"), expanded=False):
        st.markdown(t("gf.claims_body"))
    with st.expander(t("gf.options"), expanded=False):
        for r in readings.shortcut_options():
            st.markdown("- " + say(r))
    with st.expander(t("gf.shatter"), expanded=False):
        st.markdown(t("gf.shatter_intro"))
        if st.toggle(t("gf.shatter_toggle"), value=False, key=keys.GF_SHATTER):
            with st.spinner(t("gf.shatter_spinner")):
                corr = gradient_correlation(depth, bn, shortcut, seed)
            figs["gradient_correlation"] = figure(
                ("shatter", depth, bn, shortcut, seed),
                lambda: figures_gradflow.gradient_correlation_chart(
                    corr, 32, **figures.labels("gradient_correlation_chart", t)))
            chart(st, figs["gradient_correlation"])
            for r in experiment_readings.shattered(corr):
                st.markdown("- " + say(r))


# ---- Figure 1b: the real ResNet-18, and why its gradients pass ----------------------------------------------
@st.fragment
def resnet_section(figs: dict, handle, image, img_key: str, mask: tuple[bool, ...]) -> None:
    st.header(t("gf.h1b"))
    if not st.toggle(t("gf.compute_image"), value=True, key=keys.GF_RESNET):
        return
    try:
        with st.spinner(t("gf.spinner_resnet")):
            r = resnet_norms(handle.digest, img_key, mask, handle, image)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, t("gf.cannot_resnet"))
        return
    label = class_name(handle.labels[r.target]) if r.target < len(handle.labels) else str(r.target)
    key = (handle.digest, img_key, mask)

    def norms_figure():
        series = {mask_label(ALL_ON): r.all_on}
        if not all(mask):
            series[mask_label(mask)] = r.masked
        return figures_gradflow.resnet_grad_norms(r.layers, series, **figures.labels("resnet_grad_norms", t))

    figs["resnet_grad_norms"] = figure(("resnet_norms", *key), norms_figure)
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
    why_section(figs, handle, image, key, r.target, label)


@st.fragment
def why_section(figs: dict, handle, image, key: tuple, target: int, label: str) -> None:
    """He et al. 2016 (Identity Mappings, eq. 4-5) beside the measured split of each block's input gradient.
    The split costs about as much as Figure 1b itself, so it is computed when asked for (and then cached per
    weights, image and mask); its toggle reruns only this fragment."""
    digest, img_key, mask = key
    st.subheader(t("gf.why.h"))
    left, right = st.columns([2, 3])
    with left:
        st.markdown(t("gf.why.eq4"))
        st.latex(r"x_L = x_l + \sum_{i=l}^{L-1} F(x_i)")
        st.markdown(t("gf.why.eq5"))
        st.latex(r"\frac{\partial \mathcal{L}}{\partial x_l} = \frac{\partial \mathcal{L}}{\partial x_L}"
                 r"\left(1 + \frac{\partial}{\partial x_l} \sum_{i=l}^{L-1} F(x_i)\right)")
        st.markdown(t("gf.why.body"))
    if not right.toggle(t("gf.why.compute"), value=False, key=keys.GF_WHY):
        return
    try:
        with st.spinner(t("gf.why.spinner")):
            paths = grad_paths(digest, img_key, mask, target, handle, image)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, t("gf.cannot_resnet"))
        return
    with right:
        figs["gradient_split"] = figure(
            ("grad_split", *key),
            # Projection shortcuts are marked on the axis: their part is not the 1 of eq. 5.
            lambda: figures_family.grad_split([t("gf.why.proj_tick", block=b.block) if b.projection else b.block
                                               for b in paths.blocks], [b.identity_norm for b in paths.blocks],
                                              [b.branch_norm for b in paths.blocks],
                                              (t("gf.why.identity"), t("gf.why.branch")),
                                              t("gf.why.title", label=label), t("gf.why.y")))
        chart(st, figs["gradient_split"])
    st.markdown(say(experiment_readings.grad_split(paths.blocks, mask)))
    st.caption(t("gf.why.caption"))


# ---- Figure 2: degradation, live ------------------------------------------------------------------------
# Finished runs found on disk, by cache key (a run, once found, never changes); a bounded number of them.
RUNS = BoundedLRU(64, weigh=lambda _: 1)


def find_run(configs, settings):
    key = degradation.cache_key(configs, settings)
    found = RUNS.peek(key)
    if found is None:
        found = degradation.find_run(configs, settings)
        if found is not None and found.finished:
            RUNS.put(key, found)
    return found


def degradation_figure(curves: dict, total: int, chance: float):
    title = say(experiment_readings.degradation_title(total))
    return figures_gradflow.degradation_curves(curves, total, chance=chance, title=title,
                                               **figures.labels("degradation_curves", t))


def train_or_replay(configs, settings, train: bool, chart_slot):
    """Train live (drawing the curves as they come) after a Train click, otherwise find a saved run (or the run a
    Stop click interrupted). None when there is nothing to show."""
    key = degradation.cache_key(configs, settings)
    chance = degradation.chance_loss(settings)
    if not train:
        result = find_run(configs, settings)
        partial = st.session_state.get(keys.GF_PARTIAL)
        # Right after a Stop click (or with nothing saved), the interrupted run's curves are the ones to show.
        if partial is not None and partial[0] == key and (result is None or st.session_state.get(keys.GF_STOP)):
            result = partial[1]
        return result
    bar = st.progress(0.0, text=t("gf.starting"))

    def on_progress(curves: dict, done: int, total: int) -> bool:
        st.session_state[keys.GF_PARTIAL] = (key, degradation.TrainResult(settings, curves, finished=False))
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
    st.session_state.pop(keys.GF_PARTIAL, None)
    return result


def show_run(figs: dict, result, chart_slot, run_seed: int, chance: float, key: str) -> None:
    """The degradation curves of a run (`key`: its cache key) and ONE verdict on them, written from the numbers,
    beside the paper's converged numbers."""
    if result is None:
        st.info(t("gf.no_run"))
        return

    def build():
        return degradation_figure(result.curves, result.settings.steps, chance)

    # A finished run's curves never change: its figure is built once per language.
    finals = tuple(c.final_loss for c in result.curves.values())
    figs["degradation"] = (figure(("degradation", key, result.source, finals), build)
                           if result.finished else build())
    chart_slot.plotly_chart(figs["degradation"], width="stretch", key=keys.GF_FINAL, config=PLOTLY_CONFIG)
    if not result.finished:
        st.warning(t("gf.stopped"))
    elif result.source == "precomputed":
        st.caption(t("gf.precomputed", seed=run_seed))
    elif result.source == "cache":
        st.caption(t("gf.replayed"))
    for r in experiment_readings.degradation_of(result, degradation.chance_loss(result.settings)):
        st.markdown("- " + say(r))
    step = max((c.steps[-1] for c in result.curves.values() if c.steps), default=0)
    st.caption(t("gf.loss_note", every=result.settings.log_every, step=step, steps=result.settings.steps,
                 k=num_classes_for(result.settings.data), chance=f"{chance:.2f}"))
