"""resnet-viz: st.navigation over the pages, and the sidebar every page shares (device, weights, shortcuts)."""

import streamlit as st

from pages import common, ui
from pages.ui import t
from resnet_viz import weights
from resnet_viz.config import BLOCK_NAMES
from resnet_viz.device import available_devices

st.set_page_config(page_title="resnet-viz", page_icon="🧱", layout="wide")

page = st.navigation([st.Page(path, title=ui.page_title(path, title), icon=icon, default=i == 0)
                      for i, (path, title, icon) in enumerate(common.PAGE_SPECS)])


def sidebar() -> None:
    with st.sidebar:
        ui.language_selector()
        st.selectbox(t("side.device"), available_devices(), key=common.DEVICE_KEY)
        status = weights.availability()
        options = ["auto", "imagenet", "shapes", "random", "file"]
        st.selectbox(t("side.weights"), options, key=common.SOURCE_KEY, format_func=ui.weights_name)
        if st.session_state.get(common.SOURCE_KEY) == "file":
            up = st.file_uploader(t("side.checkpoint"), type=None, key="ckpt_upload")
            if up is not None:
                st.session_state[common.FILE_KEY] = (up.name, up.getvalue())
        st.session_state.pop("weights_error", None)
        handle = common.get_handle()
        if "weights_error" in st.session_state:
            st.error(st.session_state["weights_error"] + t("side.using_auto"))
        st.success(t("side.live", weights=ui.weights_name(handle.source), device=handle.device.type)
                   + f"  \n{handle.why(ui.lang())}")
        with st.expander(t("side.why_not")):
            for name, why in {**status, **handle.skipped}.items():
                if why and name != handle.source:
                    st.caption(f"**{name}**: {why}")
            st.caption(t("side.imagenet_offline"))
        st.toggle(t("side.shortcuts"), value=True, key=common.ALL_KEY, help=t("side.shortcuts_help"))
        with st.expander(t("side.per_block")):
            blocks = [st.checkbox(name, value=True, key=f"sc_{name}") for name in BLOCK_NAMES]
        st.session_state[common.MASK_KEY] = tuple(st.session_state[common.ALL_KEY] and b for b in blocks)
        st.caption(common.mask_label(common.get_mask()))


sidebar()
page.run()
