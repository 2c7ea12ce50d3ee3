"""Shortcut Lab: the lesion study (Veit et al. 2016) — remove one shortcut, one residual branch, or every shortcut;
the unraveled view (2^n paths) and a plain network's lesion for contrast."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz.experiments import lesion
from ui import keys, lab, nav, state
from ui.draw import figures_zip_button
from ui.text import lang, literal, t

nav.require_app(__file__)
st.title(t("lab.title"))
st.markdown(t("lab.intro"))
handle = state.get_handle()
c1, c2 = st.columns([2, 1])
sets = ["shapes", "photos"] if handle.source == "shapes" else ["photos"]
data = c1.radio(t("lab.set"), sets, horizontal=True, key=keys.LAB_SET,
                format_func=lambda s: t("lab.set.shapes") if s == "shapes" else
                t("lab.set.photos", n=len(lesion.photo_samples())))
n = c2.selectbox(t("lab.n"), lab.N_CHOICES, key=keys.LAB_N, disabled=data != "shapes")
if handle.source != "shapes":
    st.caption(t("lab.shapes_needs_weights", weights=literal(handle.description.text(lang()))))
figs = {}
res = lab.lesion_study(handle, data, int(n))
if res is not None:
    s = lesion.summary(res)
    m = st.columns(4)
    m[0].metric(t("lab.m.intact"), f"{100 * s.intact:.1f}%")
    m[1].metric(t("lab.m.branch_mean"), f"{100 * s.branch_mean:.1f}%",
                f"{-100 * s.branch_drop:+.1f}", delta_color="normal")
    m[2].metric(t("lab.m.shortcut_mean"), f"{100 * s.shortcut_mean:.1f}%",
                f"{-100 * s.shortcut_drop:+.1f}", delta_color="normal")
    m[3].metric(t("lab.m.all_off"), f"{100 * s.all_off:.1f}%", f"{100 * (s.all_off - s.intact):+.1f}")
    lab.lesion_figures(figs, res, handle.digest)
    st.caption(t("lab.how", n=res.n, seconds=res.seconds, weights=literal(handle.description.text(lang()))))
lab.unraveled_section(figs)
lab.twin_section(figs)
figures_zip_button(figs, "shortcut_lab")
