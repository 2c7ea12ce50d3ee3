"""Gradient flow: plain vs residual stacks at initialisation, the real ResNet-18, and degradation trained live."""

import streamlit as st

from pages import common, ui
from pages.ui import t
from resnet_viz import degradation, figures, gradnorms, stacks
from resnet_viz.forward import ALL_ON

DEPTHS = [8, 14, 20, 32, 44, 56, 110]
PARTIAL_KEY = "gf_partial"  # (cache key, TrainResult) of a live run that a Stop click interrupted
WHICH_KEYS = {"both": "gf.which.both", "plain": "gf.which.plain", "residual": "gf.which.residual"}
QUANTITY_KEYS = {"output_grad": "gf.q.output_grad", "weight_grad": "gf.q.weight_grad",
                 "activation_std": "gf.q.activation_std"}

st.title(t("gf.title"))
st.markdown(t("gf.intro"))
figs = {}


@st.cache_data(max_entries=32, show_spinner=False)
def init_norms(depth: int, variants: tuple[str, ...], bn: bool, shortcut: str, zero: bool, batch: int,
               seed: int) -> dict:
    return gradnorms.compare_init(depth, batchnorm=bn, shortcut=shortcut, zero_init_residual=zero,
                               batch_size=batch, seed=seed, variants=variants)


@st.cache_data(max_entries=16, show_spinner=False)
def gradient_correlation(depth: int, bn: bool, shortcut: str, seed: int) -> dict[str, list[float]]:
    return gradnorms.compare_correlation(depth, batchnorm=bn, shortcut=shortcut, seed=seed)


# ---- Figure 1 ------------------------------------------------------------------------------------------
st.header(t("gf.h1"))
c = st.columns([1, 1.3, 1, 1.3, 1, 1, 1])
depth = c[0].selectbox(t("gf.depth"), DEPTHS, index=DEPTHS.index(56), key="gf_depth")
which = c[1].radio(t("gf.networks"), ["both", "plain", "residual"], horizontal=True, key="gf_which",
                   format_func=lambda w: t(WHICH_KEYS[w]))
bn = c[2].toggle("BatchNorm", value=True, key="gf_bn")
shortcut = c[3].radio(t("gf.shortcut"), ["A", "B"], horizontal=True, key="gf_shortcut",
                      format_func=lambda s: t("gf.option_a") if s == "A" else t("gf.option_b"),
                      help=t("gf.shortcut_help"))
zero = c[4].toggle(t("gf.zero"), value=False, key="gf_zero", help=t("gf.zero_help"))
batch = c[5].selectbox(t("gf.batch"), [16, 32, 64], index=1, key="gf_batch")
seed = int(c[6].number_input(t("gf.seed"), 0, 9999, 0, key="gf_seed"))
variants = ("plain", "residual") if which == "both" else (which,)

try:
    with st.spinner(t("gf.spinner_init")):
        norms = init_norms(depth, variants, bn, shortcut, zero, batch, seed)
except ValueError as exc:
    common.show_error(exc, t("gf.cannot_build"))
    st.stop()

quantity = st.radio(t("gf.show"), ["output_grad", "weight_grad", "activation_std"], horizontal=True, key="gf_quantity",
                    format_func=lambda q: t(QUANTITY_KEYS[q]))
named = {n.config.label: n for n in norms.values()}
figs["init_profile"] = figures.gradflow_profile(named, quantity)
figs["init_profile"].update_layout(xaxis_title=t("gf.axis.layer"),
                                   title_text=t("gf.profile_title", q=figures.GRADFLOW_QUANTITIES[quantity][0]))
st.plotly_chart(figs["init_profile"], width="stretch", config=ui.PLOTLY_CONFIG)
st.caption(t("gf.init_caption", batch=batch, seed=seed))
for line in gradnorms.explain_init(norms, ui.lang()):
    st.markdown("- " + line)

with st.expander(t("gf.claims"), expanded=False):
    st.markdown(t("gf.claims_body"))

with st.expander(t("gf.shatter"), expanded=False):
    st.markdown(t("gf.shatter_intro"))
    if st.toggle(t("gf.shatter_toggle"), value=False, key="gf_shatter"):
        with st.spinner(t("gf.shatter_spinner")):
            corr = gradient_correlation(depth, bn, shortcut, seed)
        figs["gradient_correlation"] = figures.gradient_correlation_chart(corr, 32)
        st.plotly_chart(figs["gradient_correlation"], width="stretch", config=ui.PLOTLY_CONFIG)
        p_lab, r_lab = f"plain-{depth}", f"residual-{depth}"
        st.markdown(t("gf.shatter_text", pc=corr[p_lab][0], p_lab=p_lab, rc=corr[r_lab][0], r_lab=r_lab))

# ---- Figure 1b -----------------------------------------------------------------------------------------
st.header(t("gf.h1b"))


@st.cache_data(max_entries=16, show_spinner=False)
def resnet_norms(weights_key: str, image_key: str, mask: tuple[bool, ...], _handle,
                 _image) -> gradnorms.ResNetGradNorms:
    x = _handle.preprocess(_image).unsqueeze(0)  # (1, 3, H, W)
    return gradnorms.resnet_conv_grad_norms(_handle, x, mask)


handle = common.get_handle()
image = common.pick_image()
mask = common.get_mask()
if st.toggle(t("gf.compute_image"), value=True, key="gf_resnet"):
    try:
        with st.spinner(t("gf.spinner_resnet")):
            r = resnet_norms(common.weights_key(handle), common.image_key(), mask, handle, image)
    except (ValueError, RuntimeError) as exc:
        common.show_error(exc, t("gf.cannot_resnet"))
    else:
        label = handle.labels[r.target] if r.target < len(handle.labels) else str(r.target)
        series = {common.mask_label(ALL_ON): r.all_on}
        if not all(mask):
            series[common.mask_label(mask)] = r.masked
        figs["resnet_grad_norms"] = figures.resnet_grad_norms(r.layers, series, title=t("gf.resnet_title"))
        figs["resnet_grad_norms"].update_layout(xaxis_title=t("gf.axis.conv"))
        st.plotly_chart(figs["resnet_grad_norms"], width="stretch", config=ui.PLOTLY_CONFIG)
        first_last = r.all_on[0] / r.all_on[-1] if r.all_on[-1] else float("inf")
        text = t("gf.resnet_text", label=label, weights=ui.weights_name(handle.source), fl=f"{first_last:.3g}")
        if not all(mask):
            masked_fl = r.masked[0] / r.masked[-1] if r.masked[-1] else float("inf")
            text += t("gf.resnet_masked", mask=common.mask_label(mask), fl=f"{masked_fl:.3g}",
                      ratio=f"{r.masked[0] / r.all_on[0]:.3g}")
        else:
            text += t("gf.resnet_compare")
        st.markdown(text)

# ---- Figure 2 ------------------------------------------------------------------------------------------
st.header(t("gf.h2"))
d = degradation.DEGRADATION
with st.expander(t("gf.settings"), expanded=False):
    s = st.columns(5)
    deep = s[0].selectbox(t("gf.deep"), [20, 32, 44, 56], index=[20, 32, 44, 56].index(d["deep"]), key="gf_deep")
    steps = int(s[1].number_input(t("gf.steps"), 20, 2000, d["settings"]["steps"], step=20, key="gf_steps"))
    optimizer = s[2].selectbox(t("gf.optimizer"), ["adam", "sgd"],
                               index=0 if d["settings"]["optimizer"] == "adam" else 1,
                               key="gf_opt", help=t("gf.sgd_help"))
    lr = float(s[3].number_input(t("gf.lr"), 1e-4, 1.0, d["settings"]["lr"], format="%.4f", key="gf_lr"))
    run_seed = int(s[4].number_input(t("gf.seed"), 0, 9999, 0, key="gf_run_seed"))
    st.caption(t("gf.settings_caption", shallow=d["shallow"], widths=d["widths"], batch=d["settings"]["batch_size"],
                 size=d["settings"]["image_size"]))
try:
    configs, settings = degradation.default_degradation(run_seed)
    configs = degradation.degradation_configs(d["shallow"], deep, d["widths"],
                                              zero_init_residual=d["zero_init_residual"], seed=run_seed)
    settings = stacks.TrainSettings(**{**settings.__dict__, "steps": steps, "optimizer": optimizer, "lr": lr})
except ValueError as exc:
    common.show_error(exc, t("gf.cannot_setup"))
    st.stop()

key = degradation.cache_key(configs, settings)
chance = degradation.chance_loss(settings)


def degradation_figure(curves: dict, total: int):
    fig = figures.degradation_curves(curves, total, chance=chance, title=t("gf.deg_title"))
    return fig.update_layout(xaxis_title=t("lec.axis.step"), yaxis_title=t("lec.axis.loss"))


left, right = st.columns([1, 1])
train = left.button(t("gf.train"), type="primary", key="gf_train", help=t("gf.train_help"))
right.button(t("gf.stop"), key="gf_stop", help=t("gf.stop_help"))
chart = st.empty()
result = None
if train:
    bar = st.progress(0.0, text=t("gf.starting"))

    def on_progress(curves: dict, done: int, total: int) -> bool:
        partial = degradation.TrainResult(settings, curves, finished=False)
        st.session_state[PARTIAL_KEY] = (key, partial)
        bar.progress(done / total, text=t("gf.step_of", done=done, total=total))
        chart.plotly_chart(degradation_figure(curves, total), width="stretch", key=f"gf_live_{done}",
                           config=ui.PLOTLY_CONFIG)
        return False

    with st.status(t("gf.training"), expanded=False) as status:
        try:
            result = degradation.train_stacks(configs, settings, progress=on_progress, replay=False)
        except ValueError as exc:
            common.show_error(exc, t("gf.train_failed"))
            st.stop()
        status.update(label=t("gf.trained_in", s=result.seconds), state="complete")
    st.session_state.pop(PARTIAL_KEY, None)
else:
    result = degradation.find_run(configs, settings)
    partial = st.session_state.get(PARTIAL_KEY)
    # Right after a Stop click (or with nothing saved), the interrupted run's curves are the ones to show.
    if partial is not None and partial[0] == key and (result is None or st.session_state.get("gf_stop")):
        result = partial[1]

if result is None:
    st.info(t("gf.no_run"))
else:
    figs["degradation"] = degradation_figure(result.curves, result.settings.steps)
    chart.plotly_chart(figs["degradation"], width="stretch", key="gf_final", config=ui.PLOTLY_CONFIG)
    if not result.finished:
        st.warning(t("gf.stopped"))
    elif result.source == "precomputed":
        st.caption(t("gf.precomputed", seed=run_seed))
    elif result.source == "cache":
        st.caption(t("gf.replayed"))
    for line in degradation.explain_degradation(result, ui.lang()):
        st.markdown("- " + line)
    st.markdown(t("gf.shows") if degradation.degradation_shows(result) else t("gf.not_shows"))
ui.figures_zip_button(figs, "gradient_flow")
