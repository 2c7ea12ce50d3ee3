"""Gradient flow: plain vs residual stacks at initialisation, the real ResNet-18, and degradation trained live."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz import degradation, figures, gradnorms, stacks
from ui import gradflow, nav, state
from ui.draw import chart, figures_zip_button, show_error
from ui.images import image_key, pick_image
from ui.text import lang, t

DEPTHS = [8, 14, 20, 32, 44, 56, 110]
WHICH_KEYS = {"both": "gf.which.both", "plain": "gf.which.plain", "residual": "gf.which.residual"}
QUANTITY_KEYS = {"output_grad": "gf.q.output_grad", "weight_grad": "gf.q.weight_grad",
                 "activation_std": "gf.q.activation_std"}

nav.require_app(__file__)
st.title(t("gf.title"))
st.markdown(t("gf.intro"))
figs = {}

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
        norms = gradflow.init_norms(depth, variants, bn, shortcut, zero, batch, seed)
except ValueError as exc:
    show_error(exc, t("gf.cannot_build"))
    st.stop()

quantity = st.radio(t("gf.show"), ["output_grad", "weight_grad", "activation_std"], horizontal=True, key="gf_quantity",
                    format_func=lambda q: t(QUANTITY_KEYS[q]))
named = {n.config.label: n for n in norms.values()}
figs["init_profile"] = figures.gradflow_profile(named, quantity)
figs["init_profile"].update_layout(xaxis_title=t("gf.axis.layer"),
                                   title_text=t("gf.profile_title", q=figures.GRADFLOW_QUANTITIES[quantity][0]))
chart(st, figs["init_profile"])
st.caption(t("gf.init_caption", batch=batch, seed=seed))
for line in gradnorms.explain_init(norms, lang()):
    st.markdown("- " + line)

with st.expander(t("gf.claims"), expanded=False):
    st.markdown(t("gf.claims_body"))

with st.expander(t("gf.shatter"), expanded=False):
    st.markdown(t("gf.shatter_intro"))
    if st.toggle(t("gf.shatter_toggle"), value=False, key="gf_shatter"):
        with st.spinner(t("gf.shatter_spinner")):
            corr = gradflow.gradient_correlation(depth, bn, shortcut, seed)
        figs["gradient_correlation"] = figures.gradient_correlation_chart(corr, 32)
        chart(st, figs["gradient_correlation"])
        p_lab, r_lab = f"plain-{depth}", f"residual-{depth}"
        st.markdown(t("gf.shatter_text", pc=corr[p_lab][0], p_lab=p_lab, rc=corr[r_lab][0], r_lab=r_lab))

# ---- Figure 1b -----------------------------------------------------------------------------------------
st.header(t("gf.h1b"))
handle = state.get_handle()
image = pick_image()
if st.toggle(t("gf.compute_image"), value=True, key="gf_resnet"):
    gradflow.resnet_section(figs, handle, image, image_key(), state.get_mask())

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
    show_error(exc, t("gf.cannot_setup"))
    st.stop()

left, right = st.columns([1, 1])
train = left.button(t("gf.train"), type="primary", key="gf_train", help=t("gf.train_help"))
right.button(t("gf.stop"), key="gf_stop", help=t("gf.stop_help"))
slot = st.empty()
result = gradflow.train_or_replay(configs, settings, train, slot)
gradflow.show_run(figs, result, slot, run_seed, degradation.chance_loss(settings))
figures_zip_button(figs, "gradient_flow")
