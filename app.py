"""resnet-viz: st.navigation over the pages (ui.nav.PAGES), the sidebar every page shares, and the view in the URL."""

import streamlit as st

from ui import first_view, keys, nav

st.set_page_config(page_title="resnet-viz", page_icon="🧱", layout="wide")
first_view.start()
if not first_view.ready():  # the first visits after a server start: a light view while the library loads
    first_view.first_view(nav.navigation, nav.PAGES[0].url_path)
if first_view.failure() is not None:  # the library could not be imported: say why instead of a traceback
    first_view.show_failure(first_view.failure())

import ui.boot  # noqa: E402, F401  (loaded: every import below is a dictionary look-up)

# isort: split
from resnet_viz.model import weights  # noqa: E402
from resnet_viz.model.device import available_devices  # noqa: E402
from resnet_viz.model.layers import BLOCK_NAMES  # noqa: E402
from ui import links, state  # noqa: E402
from ui.text import language_selector, named, reason_text, t, weights_name  # noqa: E402

links.apply()  # a link's state into the widgets' keys, before the menu and any widget is drawn
page = nav.navigation()
page_path = page.url_path or nav.PAGES[0].url_path
links.open_page(page_path)  # ?page=Lecture on any path


def sidebar() -> None:
    with st.sidebar:
        language_selector()
        st.selectbox(t("side.device"), available_devices(), key=keys.DEVICE)
        st.selectbox(t("side.weights"), state.WEIGHT_SOURCES, key=keys.WEIGHTS_SOURCE, format_func=weights_name)
        if st.session_state.get(keys.WEIGHTS_SOURCE) == "file":
            up = st.file_uploader(t("side.checkpoint"), type=None, key=keys.CKPT_UPLOAD)
            if up is not None:
                st.session_state[keys.WEIGHTS_FILE] = (up.name, up.getvalue())
        st.session_state.pop(keys.WEIGHTS_ERROR, None)
        handle = state.get_handle()
        status = weights.availability()
        if keys.WEIGHTS_ERROR in st.session_state:
            source, why = st.session_state[keys.WEIGHTS_ERROR]
            st.error(named(weights_name(source), reason_text(why)) + t("side.using_auto"))
        if st.session_state.pop(keys.WEIGHTS_SWITCHED, False):
            st.info(t("side.switched_imagenet"))
        st.success(t("side.live", weights=weights_name(handle.source), device=handle.device.type)
                   + f"  \n{reason_text(handle.why_live)}")
        with st.expander(t("side.why_not")):
            for name, why in {**status, **handle.skipped}.items():
                if why and name != handle.source:
                    st.caption(named(weights_name(name), reason_text(why), bold=True))
            st.caption(t("side.imagenet_offline"))
        st.toggle(t("side.shortcuts"), value=True, key=keys.SHORTCUTS_ALL, help=t("side.shortcuts_help"))
        with st.expander(t("side.per_block")):
            blocks = [st.checkbox(name, value=True, key=keys.shortcut(name)) for name in BLOCK_NAMES]
        st.session_state[keys.MASK] = tuple(st.session_state[keys.SHORTCUTS_ALL] and b for b in blocks)
        st.caption(state.mask_label(state.get_mask()))


sidebar()
links.show_notes(page_path)
link_slot = st.sidebar.empty()
links.write_back(page_path, link_slot)  # already right if the page stops early (st.stop)
page.run()
links.write_back(page_path, link_slot)  # the page may have changed its own keys (a clicked channel)
