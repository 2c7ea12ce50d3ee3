"""Channels: what one channel looks for — an image optimised for it, the held-out shapes that drive it most, and its
concept label (Network Dissection), with the sidebar's shortcut mask applied to all three."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz.model.forward import ALL_ON
from ui import channels, nav, state
from ui.draw import show_error
from ui.text import lang, literal, t

nav.require_app(__file__)
st.title(t("ch.title"))
st.markdown(t("ch.intro"))
handle = state.get_handle()
mask = state.get_mask()
layer, channel, target, side = channels.widgets(handle)
try:
    st.subheader(t("ch.vis.head"))
    vis = channels.show_visualisations(handle, layer, channel, target, mask, side)
    d_now = channels.dissected(handle, layer, target, mask)
    d_on = d_now if all(mask) else channels.dissected(handle, layer, target, ALL_ON)
    about, counts = channels.readings(d_on, d_now, vis, channel, mask)
    channels.show_doubt(about)  # a dead or noise-like channel: said here, before its pictures
    st.subheader(t("ch.ex.head"))
    if d_now.active[channel] < channels.DEAD_SHARE:
        st.caption(t("ch.ex.dead"))  # its top-0.5% "region" would be ties between equal values: nothing to show
    else:
        channels.show_examples(handle, d_now, channel)
    st.subheader(t("ch.lab.head"))
    channels.show_labels(handle, d_on, d_now, about, counts, channel, mask)
    channels.every_block(handle, target, mask)
except ValueError as exc:
    show_error(exc, t("ch.error"))
    st.stop()
st.caption(t("ch.how", vis_s=vis.seconds, n=d_now.n, dis_s=d_now.seconds,
             weights=literal(handle.description.text(lang()))))
