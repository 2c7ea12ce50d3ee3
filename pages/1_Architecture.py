"""Architecture: ResNet-18's layer table for any input size, stage shapes, blocks, and the size formula."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from resnet_viz import architecture, figures
from ui import nav, state
from ui.draw import chart, figures_zip_button
from ui.text import t

nav.require_app(__file__)
st.title(t("arch.title"))
handle = state.get_handle()
c1, c2, c3 = st.columns([1, 1, 2])
square = c3.toggle(t("arch.square"), value=True, key="arch_square")
height = c1.number_input(t("arch.height"), 32, 1024, 224, step=16, key="arch_h")
width = height if square else c2.number_input(t("arch.width"), 32, 1024, 224, step=16, key="arch_w")

table = architecture.layer_table(handle.model, int(height), int(width))
stages = architecture.stage_summary(table)
m1, m2, m3, m4 = st.columns(4)
m1.metric(t("arch.m.input"), f"3×{table.in_h}×{table.in_w}")
m2.metric(t("arch.m.params"), f"{table.params:,}")
m3.metric(t("arch.m.macs"), f"{table.macs / 1e9:.2f} G")
m4.metric(t("arch.m.rf"), f"{table.row('layer4.1').rf} px")

shapes_fig = figures.stage_shapes(stages)
shapes_fig.update_layout(title_text=t("arch.fig.shapes"), yaxis_title=t("arch.axis.channels"),
                         yaxis2_title=t("arch.axis.height"))
shapes_fig.update_traces(selector={"type": "bar"}, name=t("arch.axis.channels"))
shapes_fig.update_traces(selector={"type": "scatter"}, name=t("arch.axis.height"))
share_fig = figures.param_share(stages).update_layout(title_text=t("arch.fig.params"),
                                                      xaxis_title=t("arch.axis.share"))
blocks_fig = figures.block_diagram(architecture.block_summary(handle.model), state.get_mask())
blocks_fig.update_layout(title_text=t("arch.fig.blocks"))
left, right = st.columns(2)
chart(left, shapes_fig)
chart(right, share_fig)
chart(st, blocks_fig)
st.caption(t("arch.projection"))

st.subheader(t("arch.how"))
st.markdown(t("arch.formula"))
st.table(architecture.worked_steps(table))

st.subheader(t("arch.every"))
detail = st.toggle(t("arch.detail"), value=False, key="arch_detail")
rows = table.rows if detail else table.compact()
st.dataframe([{"layer": r.name, "type": r.kind, "k/s/p": f"{r.kernel}/{r.stride}/{r.padding}" if r.kernel else "",
               "output C×H×W": r.shape, "parameters": r.params, "multiply-adds": r.macs,
               "receptive field": r.rf, "jump": r.jump, "path": r.path} for r in rows],
             width="stretch", hide_index=True, height=520)
st.caption(t("arch.columns"))
figures_zip_button({"stage_shapes": shapes_fig, "parameters": share_fig, "blocks": blocks_fig}, "architecture")
