"""Architecture: ResNet-18's layer table for any input size, stage shapes, blocks and the size formula; the ResNet
family (Table 1) computed from torchvision's builders; shortcut options A/B/C on the live model's tensors."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz.model import architecture
from ui import arch, arch_family, keys, nav, state
from ui.draw import figures_zip_button
from ui.text import t

nav.require_app(__file__)
st.title(t("arch.title"))
handle = state.get_handle()
c1, c2, c3 = st.columns([1, 1, 2])
square = c3.toggle(t("arch.square"), value=True, key=keys.ARCH_SQUARE)
height = c1.number_input(t("arch.height"), 32, 1024, 224, step=16, key=keys.ARCH_H)
width = height if square else c2.number_input(t("arch.width"), 32, 1024, 224, step=16, key=keys.ARCH_W)

table = architecture.layer_table(handle.model, int(height), int(width))
figs = arch.resnet18_section(handle, table, state.get_mask())
arch.formula_section(table)

st.subheader(t("arch.every"))
detail = st.toggle(t("arch.detail"), value=False, key=keys.ARCH_DETAIL)
st.dataframe(arch.layer_rows(table.rows if detail else table.compact()), width="stretch", hide_index=True,
             height=520)
st.caption(t("arch.columns"))

st.divider()
figs |= arch_family.family_section(int(height), int(width))
st.divider()
figs |= arch_family.options_section(handle)
figures_zip_button(figs, "architecture")
