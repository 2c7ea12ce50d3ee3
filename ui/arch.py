"""The Architecture page's ResNet-18 pieces: the layer table in the page's language, and the readings beside it."""

from __future__ import annotations

import streamlit as st

from resnet_viz import figures
from resnet_viz.model import architecture
from resnet_viz.text import readings
from ui.draw import chart
from ui.memo import figure
from ui.text import lang, say, t

# Module types as the table names them -> locale keys (the names stay PyTorch's in English).
KIND_KEYS = {"Conv2d": "arch.kind.conv", "BatchNorm2d": "arch.kind.bn", "ReLU": "arch.kind.relu",
             "MaxPool2d": "arch.kind.maxpool", "AdaptiveAvgPool2d": "arch.kind.avgpool", "Linear": "arch.kind.fc",
             "BasicBlock (+ shortcut, ReLU)": "arch.kind.block"}
PATH_KEYS = {"main": "arch.path.main", "shortcut": "arch.path.shortcut"}
COLUMNS = {"layer": "arch.col.layer", "type": "arch.col.type", "ksp": "arch.col.ksp", "shape": "arch.col.shape",
           "params": "arch.col.params", "macs": "arch.col.macs", "rf": "arch.col.rf", "jump": "arch.col.jump",
           "path": "arch.col.path"}


def kind(name: str) -> str:
    return t(KIND_KEYS[name]) if name in KIND_KEYS else name


def layer_rows(rows) -> list[dict]:
    """The layer table with headers and cell words in the page's language."""
    head = {c: t(key) for c, key in COLUMNS.items()}
    times = "x" if lang() == "en" else "×"  # English keeps the library's "512x7x7"; Chinese shows no Latin x
    return [{head["layer"]: r.name, head["type"]: kind(r.kind),
             head["ksp"]: f"{r.kernel}/{r.stride}/{r.padding}" if r.kernel else "",
             head["shape"]: r.shape.replace("x", times),
             head["params"]: r.params, head["macs"]: r.macs, head["rf"]: r.rf, head["jump"]: r.jump,
             head["path"]: t(PATH_KEYS[r.path]) if r.path in PATH_KEYS else r.path} for r in rows]


def worked_rows(table) -> list[dict]:
    """architecture.worked_steps with translated headers (the formulas are maths, the same in every language)."""
    names = {"layer": "arch.col.layer", "kernel / stride / padding": "arch.col.ksp_long", "height": "arch.col.height",
             "width": "arch.col.width"}
    return [{t(names[k]): v for k, v in row.items()} for row in architecture.worked_steps(table)]


def stage_names() -> dict[str, str]:
    """The two stages without a layer name, in the page's language."""
    return {"stem": t("arch.stage.stem"), "head": t("arch.stage.head")}


def stage_figures(handle, table, stages, mask):
    """Stage shapes, parameter share and the eight blocks, every label passed from here."""
    shapes_fig = figures.stage_shapes(stages, **figures.labels("stage_shapes", t), stage_names=stage_names())
    share_fig = figures.param_share(stages, **figures.labels("param_share", t), stage_names=stage_names())
    blocks_fig = figures.block_diagram(architecture.block_summary(handle.model), mask,
                                       **figures.labels("block_diagram", t))
    return shapes_fig, share_fig, blocks_fig


def resnet18_section(handle, table, mask) -> dict:
    """Metrics, stage figures, parameter counts: the live ResNet-18 at the page's input size."""
    stages = architecture.stage_summary(table)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(t("arch.m.input"), f"3×{table.in_h}×{table.in_w}")
    m2.metric(t("arch.m.params"), f"{table.params:,}")
    m3.metric(t("arch.m.macs"), f"{table.macs / 1e9:.2f} G")
    m4.metric(t("arch.m.rf"), f"{table.row('layer4.1').rf} px")
    st.caption(say(readings.param_counts(table.params, handle.num_classes)))
    shapes_fig, share_fig, blocks_fig = figure(("arch_stages", handle.digest, table.in_h, table.in_w, tuple(mask)),
                                               lambda: stage_figures(handle, table, stages, mask))
    left, right = st.columns(2)
    chart(left, shapes_fig)
    chart(right, share_fig)
    chart(st, blocks_fig)
    st.caption(t("arch.projection"))
    return {"stage_shapes": shapes_fig, "parameters": share_fig, "blocks": blocks_fig}


def pool_input(table) -> tuple[int, int]:
    """What the adaptive average pool receives (the last block's output) at this input size."""
    last = table.row("layer4.1")
    return last.out_h, last.out_w


def formula_section(table) -> None:
    st.subheader(t("arch.how"))
    st.markdown(t("arch.formula"))
    st.table(worked_rows(table))
    st.markdown(say(readings.output_size_rule(pool_input(table))))
