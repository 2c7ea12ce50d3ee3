"""Gradient flow: plain vs residual stacks at initialisation, the real ResNet-18 (and why its gradients pass), and
degradation trained live. Figure 1 and Figure 1b are fragments: their own widgets rerun only their part."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import dataclasses

import streamlit as st

from resnet_viz.experiments import degradation
from ui import gradflow, keys, nav, state
from ui.draw import figures_zip_button, show_error
from ui.picker import image_key, pick_image
from ui.text import t

nav.require_app(__file__)
st.title(t("gf.title"))
st.markdown(t("gf.intro"))
figs = {}

# ---- Figure 1 (fragment) -------------------------------------------------------------------------------
gradflow.init_section(figs)

# ---- Figure 1b (fragment; the image and the shortcut mask come from the sidebar) ------------------------
handle = state.get_handle()
image = pick_image()
gradflow.resnet_section(figs, handle, image, image_key(), state.get_mask())

# ---- Figure 2 ------------------------------------------------------------------------------------------
# Not a fragment: a Stop click must interrupt a live run, and a full rerun is cheap (figures are cached).
st.header(t("gf.h2"))
d = degradation.DEGRADATION
with st.expander(t("gf.settings"), expanded=False):
    s = st.columns(5)
    deep = s[0].selectbox(t("gf.deep"), [20, 32, 44, 56], index=[20, 32, 44, 56].index(d["deep"]), key=keys.GF_DEEP)
    steps = int(s[1].number_input(t("gf.steps"), 20, 2000, d["settings"]["steps"], step=20, key=keys.GF_STEPS))
    optimizer = s[2].selectbox(t("gf.optimizer"), ["adam", "sgd"], format_func={"adam": "Adam", "sgd": "SGD"}.get,
                               index=0 if d["settings"]["optimizer"] == "adam" else 1,
                               key=keys.GF_OPT, help=t("gf.sgd_help"))
    lr = float(s[3].number_input(t("gf.lr"), 1e-4, 1.0, d["settings"]["lr"], format="%.4f", key=keys.GF_LR))
    run_seed = int(s[4].number_input(t("gf.seed"), 0, 9999, 0, key=keys.GF_RUN_SEED))
    st.caption(t("gf.settings_caption", shallow=d["shallow"], widths=d["widths"], batch=d["settings"]["batch_size"],
                 size=d["settings"]["image_size"]))
try:
    configs, settings = degradation.default_degradation(run_seed)
    configs = degradation.degradation_configs(d["shallow"], deep, d["widths"],
                                              zero_init_residual=d["zero_init_residual"], seed=run_seed)
    settings = dataclasses.replace(settings, steps=steps, optimizer=optimizer, lr=lr)
except ValueError as exc:
    show_error(exc, t("gf.cannot_setup"))
    st.stop()

left, right = st.columns([1, 1])
train = left.button(t("gf.train"), type="primary", key=keys.GF_TRAIN, help=t("gf.train_help"))
right.button(t("gf.stop"), key=keys.GF_STOP, help=t("gf.stop_help"))
slot = st.empty()
result = gradflow.train_or_replay(configs, settings, train, slot)
gradflow.show_run(figs, result, slot, run_seed, degradation.chance_loss(settings),
                  degradation.cache_key(configs, settings))
figures_zip_button(figs, "gradient_flow")
