"""resnet-viz: st.navigation over the pages, and the sidebar every page shares (device, weights, shortcuts)."""

import streamlit as st

from pages import common
from resnet_viz import weights
from resnet_viz.config import BLOCK_NAMES
from resnet_viz.device import available_devices

st.set_page_config(page_title="resnet-viz", page_icon="🧱", layout="wide")

page = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0)
                      for i, (path, title, icon) in enumerate(common.PAGE_SPECS)])


def sidebar() -> None:
    with st.sidebar:
        st.selectbox("Device", available_devices(), key=common.DEVICE_KEY)
        status = weights.availability()
        options = ["auto", "imagenet", "shapes", "random", "file"]
        st.selectbox("Weights", options, key=common.SOURCE_KEY,
                     format_func=lambda s: "auto (best available)" if s == "auto" else weights.DESCRIPTIONS[s])
        if st.session_state.get(common.SOURCE_KEY) == "file":
            up = st.file_uploader("ResNet-18 checkpoint (.pth state dict)", type=None, key="ckpt_upload")
            if up is not None:
                st.session_state[common.FILE_KEY] = (up.name, up.getvalue())
        st.session_state.pop("weights_error", None)
        handle = common.get_handle()
        if "weights_error" in st.session_state:
            st.error(st.session_state["weights_error"] + " — using auto instead.")
        st.success(f"**Live:** {handle.describe()}  \n{handle.reason}")
        with st.expander("Why not the others?"):
            for name, why in {**status, **handle.skipped}.items():
                if why and name != handle.source:
                    st.caption(f"**{name}**: {why}")
            st.caption("ImageNet offline: put resnet18-f37072fd.pth into $TORCH_HOME/hub/checkpoints/.")
        st.toggle("Shortcuts", value=True, key=common.ALL_KEY,
                  help="Switch every shortcut connection off to see what the network does without them.")
        with st.expander("Shortcut per block"):
            blocks = [st.checkbox(name, value=True, key=f"sc_{name}") for name in BLOCK_NAMES]
        st.session_state[common.MASK_KEY] = tuple(st.session_state[common.ALL_KEY] and b for b in blocks)
        st.caption(common.mask_label(common.get_mask()))


sidebar()
page.run()
