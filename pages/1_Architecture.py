"""Architecture: ResNet-18's layer table for any input size, stage shapes, blocks, and the size formula."""

import streamlit as st

from pages import common
from resnet_viz import architecture, figures

st.title("ResNet-18, stage by stage")
handle = common.get_handle()
c1, c2, c3 = st.columns([1, 1, 2])
square = c3.toggle("Square input", value=True, key="arch_square")
height = c1.number_input("Input height (px)", 32, 1024, 224, step=16, key="arch_h")
width = height if square else c2.number_input("Input width (px)", 32, 1024, 224, step=16, key="arch_w")

table = architecture.layer_table(handle.model, int(height), int(width))
stages = architecture.stage_summary(table)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Input", f"3×{table.in_h}×{table.in_w}")
m2.metric("Parameters", f"{table.params:,}")
m3.metric("Multiply-adds", f"{table.macs / 1e9:.2f} G")
m4.metric("Receptive field of layer4", f"{table.row('layer4.1').rf} px")

left, right = st.columns(2)
left.plotly_chart(figures.stage_shapes(stages), width="stretch")
right.plotly_chart(figures.param_share(stages), width="stretch")
st.plotly_chart(figures.block_diagram(architecture.block_summary(handle.model), common.get_mask()),
                width="stretch")
st.caption("The first block of layer2, layer3 and layer4 halves the map and doubles the channels, so its input x "
           "no longer has F(x)'s shape: a 1×1 convolution with stride 2 (plus BatchNorm) reshapes the shortcut. "
           "The other five shortcuts are plain identities.")

st.subheader("How each size comes about")
st.markdown("Every convolution and pooling layer shrinks its input by the same rule: "
            "**out = floor((in + 2·padding − kernel) / stride) + 1**. "
            "Worked through for your input (height, then width):")
st.table(architecture.worked_steps(table))

st.subheader("Every layer")
detail = st.toggle("Show the layers inside each block", value=False, key="arch_detail")
rows = table.rows if detail else table.compact()
st.dataframe([{"layer": r.name, "type": r.kind, "k/s/p": f"{r.kernel}/{r.stride}/{r.padding}" if r.kernel else "",
               "output C×H×W": r.shape, "parameters": r.params, "multiply-adds": r.macs,
               "receptive field": r.rf, "jump": r.jump, "path": r.path} for r in rows],
             width="stretch", hide_index=True, height=520)
