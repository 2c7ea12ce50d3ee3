"""Plotly figures for the family, shortcut options, unraveled paths, gradient split and receptive fields.

Every title and label comes in as an argument (pages translate); sizes and colours come from figures.py.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from resnet_viz.figures import FIG_HEIGHT, FONT_SIZE, PLAIN_COLOR, RESIDUAL_COLOR, STAGE_COLORS, style
from resnet_viz.figures.cam import cam_overlay_rgb

GREY = "#888"


def family_bars(rows: list[dict], title: str, params_title: str, macs_title: str, highlight: str = "") -> go.Figure:
    """Parameters (millions, left axis) beside multiply-adds (G, right axis) per architecture (family.compare)."""
    names = [r["arch"] for r in rows]
    line = [{"width": 4 if n == highlight else 0, "color": "#222"} for n in names]
    fig = go.Figure()
    fig.add_bar(x=names, y=[r["params"] / 1e6 for r in rows], name=params_title, marker_color=RESIDUAL_COLOR,
                marker_line_width=[w["width"] for w in line], marker_line_color="#222", offsetgroup="p",
                text=[f"{r['params'] / 1e6:.1f} M" for r in rows], textposition="outside", cliponaxis=False,
                textfont={"size": FONT_SIZE})
    fig.add_bar(x=names, y=[r["macs"] / 1e9 for r in rows], name=macs_title, yaxis="y2", marker_color=PLAIN_COLOR,
                marker_line_width=[w["width"] for w in line], marker_line_color="#222", offsetgroup="m",
                text=[f"{r['macs'] / 1e9:.2f} G" for r in rows], textposition="outside", cliponaxis=False,
                textfont={"size": FONT_SIZE})
    top_p = max(r["params"] for r in rows) / 1e6
    top_m = max(r["macs"] for r in rows) / 1e9
    fig.update_layout(barmode="group",
                      yaxis={"title": params_title, "range": [0, top_p * 1.2]},
                      yaxis2={"title": macs_title, "overlaying": "y", "side": "right", "range": [0, top_m * 1.2],
                              "showgrid": False},
                      legend={"orientation": "h", "y": -0.15})
    return style(fig, title)


def table1(stages: list, headers: list[str], title: str) -> go.Figure:
    """Table 1 for one architecture: paper name, torchvision name, output, blocks x [convs], params, mult-adds.

    `stages` are family.Stage objects; `headers` the 6 column titles in the page's language.
    """
    def convs(s) -> str:
        inner = "<br>".join(f"{k}×{k}, {c}" for k, c in s.convs)
        return f"[{inner}] × {s.blocks}" if s.blocks else inner

    cols = [[s.paper for s in stages], [s.torchvision for s in stages],
            [f"{s.out_c}×{s.out_h}×{s.out_w}" for s in stages], [convs(s) for s in stages],
            [f"{s.params:,}" for s in stages], [f"{s.macs:,}" for s in stages]]
    fill = [STAGE_COLORS.get(s.key, "#eee") for s in stages]
    fig = go.Figure(go.Table(
        header={"values": headers, "font": {"size": FONT_SIZE}, "height": 40, "fill_color": "#ddd"},
        cells={"values": cols, "font": {"size": FONT_SIZE - 2}, "height": 34,
               "fill_color": [[c + "33" for c in fill]] * len(cols)},
        columnwidth=[1.1, 1.6, 1.3, 1.6, 1.2, 1.5]))
    return style(fig, title, height=110 + 90 * len(stages))


def block_anatomy(block, title: str, shortcut_label: str, identity_label: str, add_label: str) -> go.Figure:
    """One block (family.BlockSpec) drawn left to right: its convs with kernel, channels and stride, the
    shortcut above (identity or the 1x1 projection), and the add + ReLU at the end."""
    fig = go.Figure()
    n = len(block.convs)
    xs = np.arange(n) * 2.2
    shapes, notes = [], []
    for x, c in zip(xs, block.convs, strict=True):
        colour = "#FFA15A" if c.kernel == 3 else "#00CC96"
        shapes.append({"type": "rect", "x0": x - 0.9, "x1": x + 0.9, "y0": -0.6, "y1": 0.6, "fillcolor": colour,
                       "opacity": 0.55, "line": {"width": 2}})
        stride = f", /{c.stride}" if c.stride > 1 else ""
        notes.append({"x": x, "y": 0, "showarrow": False, "font": {"size": FONT_SIZE + 2},
                      "text": f"<b>{c.name}</b><br>{c.kernel}×{c.kernel}, {c.out_c}{stride}<br>{c.params:,}"})
    end = xs[-1] + 2.2
    for a, b in zip([*xs[:-1]], [*xs[1:]], strict=True):
        notes.append({"x": b - 0.9, "y": 0, "ax": a + 0.9, "ay": 0, "xref": "x", "yref": "y", "axref": "x",
                      "ayref": "y", "showarrow": True, "arrowhead": 3, "arrowwidth": 2, "text": ""})
    notes.append({"x": end - 0.35, "y": 0, "ax": xs[-1] + 0.9, "ay": 0, "xref": "x", "yref": "y", "axref": "x",
                  "ayref": "y", "showarrow": True, "arrowhead": 3, "arrowwidth": 2, "text": ""})
    shapes.append({"type": "circle", "x0": end - 0.35, "x1": end + 0.35, "y0": -0.35, "y1": 0.35,
                   "line": {"width": 3}})
    notes.append({"x": end, "y": 0, "text": "<b>+</b>", "showarrow": False, "font": {"size": FONT_SIZE + 8}})
    notes.append({"x": end, "y": -0.75, "text": add_label, "showarrow": False, "font": {"size": FONT_SIZE}})
    # The shortcut: from the block's input over the top to the add.
    x0 = xs[0] - 1.4
    shapes.append({"type": "path", "path": f"M {x0},0 L {x0},1.4 L {end},1.4 L {end},0.35",
                   "line": {"width": 3, "color": RESIDUAL_COLOR, "dash": "solid" if block.shortcut else "dot"}})
    s = block.shortcut
    text = (f"{shortcut_label}: {s.kernel}×{s.kernel}, {s.out_c}, /{s.stride} ({s.params:,})" if s
            else identity_label)
    notes.append({"x": (x0 + end) / 2, "y": 1.4, "yanchor": "bottom", "text": text, "showarrow": False,
                  "font": {"size": FONT_SIZE, "color": RESIDUAL_COLOR}})
    notes.append({"x": x0, "y": 0, "xanchor": "right", "showarrow": False, "font": {"size": FONT_SIZE},
                  "text": f"x: {block.convs[0].in_c}"})
    fig.update_layout(shapes=shapes, annotations=notes,
                      xaxis={"visible": False, "range": [x0 - 1.2, end + 0.8]},
                      yaxis={"visible": False, "range": [-1.1, 2.0]}, showlegend=False)
    return style(fig, title, height=360)


def shortcut_channels(a_norms: list[float], b_norms: list[float], names: tuple[str, str], title: str,
                      x_title: str, y_title: str) -> go.Figure:
    """Per output channel, the norm of option A's and option B's shortcut tensor (A's upper half is zero)."""
    ch = list(range(len(a_norms)))
    fig = go.Figure()
    fig.add_bar(x=ch, y=a_norms, name=names[0], marker_color=GREY)
    fig.add_bar(x=ch, y=b_norms, name=names[1], marker_color=RESIDUAL_COLOR, opacity=0.75)
    fig.update_layout(barmode="overlay", bargap=0, xaxis={"title": x_title}, yaxis={"title": y_title},
                      legend={"orientation": "h", "y": -0.2})
    return style(fig, title)


def path_lengths(series: dict[str, tuple[int, ...]], title: str, x_title: str, y_title: str) -> go.Figure:
    """Share of paths (%) per length for one or more networks: {label: binomial counts (k = 0..n)}."""
    fig = go.Figure()
    colours = [RESIDUAL_COLOR, PLAIN_COLOR, "#2CA02C"]
    for (label, counts), colour in zip(series.items(), colours, strict=False):
        total = float(sum(counts))
        fig.add_bar(x=list(range(len(counts))), y=[100 * c / total for c in counts], name=label,
                    marker_color=colour, opacity=0.8)
    fig.update_layout(barmode="overlay", bargap=0.05, xaxis={"title": x_title}, yaxis={"title": y_title},
                      legend={"orientation": "h", "y": -0.2})
    return style(fig, title)


def lesion_pair(blocks: list[str], plain: list[float], residual: list[float], intact: tuple[float, float],
                downsampling: list[bool], names: dict[str, str], title: str, y_title: str,
                chance: float | None = None) -> go.Figure:
    """Accuracy (%) with one block deleted, plain beside residual; intact values as dotted lines and the
    downsampling blocks marked. `names` holds 'plain', 'residual', 'chance' and 'downsampling' labels."""
    ticks = [f"{b} ↓" if d else b for b, d in zip(blocks, downsampling, strict=True)]
    fig = go.Figure()
    fig.add_bar(x=ticks, y=[100 * v for v in plain], name=names["plain"], marker_color=PLAIN_COLOR)
    fig.add_bar(x=ticks, y=[100 * v for v in residual], name=names["residual"], marker_color=RESIDUAL_COLOR)
    lines = []
    for value, colour in ((intact[0], PLAIN_COLOR), (intact[1], RESIDUAL_COLOR)):
        lines.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 100 * value, "y1": 100 * value,
                      "line": {"color": colour, "dash": "dot", "width": 3}})
    if chance:
        lines.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 100 * chance, "y1": 100 * chance,
                      "line": {"color": GREY, "dash": "dash", "width": 2}})
        fig.add_scatter(x=[None], y=[None], mode="lines", name=f"{names['chance']} {100 * chance:.0f}%",
                        line={"color": GREY, "dash": "dash", "width": 2})
    fig.update_layout(shapes=lines, barmode="group", yaxis={"title": y_title, "range": [0, 105]},
                      xaxis={"title": f"↓ {names['downsampling']}"}, legend={"orientation": "h", "y": -0.3})
    return style(fig, title)


def grad_split(blocks: list[str], identity: list[float], branch: list[float], names: tuple[str, str],
               title: str, y_title: str) -> go.Figure:
    """Per block, the norm of dL/dx arriving through the shortcut and through the residual branch."""
    fig = go.Figure()
    fig.add_bar(x=blocks, y=identity, name=names[0], marker_color=RESIDUAL_COLOR)
    fig.add_bar(x=blocks, y=branch, name=names[1], marker_color="#FFA15A")
    fig.update_layout(barmode="group", yaxis={"title": y_title}, legend={"orientation": "h", "y": -0.25})
    return style(fig, title)


def receptive_field(picture: np.ndarray, grad: np.ndarray, box, title: str, box_label: str,
                    opacity: float = 0.6) -> go.Figure:
    """The input image with the effective receptive field (|gradient|, scaled to its maximum) laid over it and
    the theoretical box (receptive.Box, pixel indices, may reach past the image) outlined."""
    g = np.asarray(grad, dtype=np.float32)
    heat = np.sqrt(g / g.max()) if g.max() > 0 else g  # square root: the tails stay visible
    rgb = cam_overlay_rgb(picture, heat, opacity, "Inferno")
    h, w = g.shape
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    fig.add_shape(type="rect", x0=box.left - 0.5, x1=box.right + 0.5, y0=box.top - 0.5, y1=box.bottom + 0.5,
                  line={"color": "#19D3F3", "width": 4})
    fig.add_annotation(x=max(box.left, 0), y=max(box.top, 0), xanchor="left", yanchor="top", text=box_label,
                       showarrow=False, font={"size": FONT_SIZE, "color": "#19D3F3"}, bgcolor="rgba(0,0,0,0.5)")
    pad = max(box.bottom - box.top, 0) * 0.02
    fig.update_xaxes(visible=False, range=[min(box.left, 0) - 0.5 - pad, max(box.right, w - 1) + 0.5 + pad])
    fig.update_yaxes(visible=False, range=[max(box.bottom, h - 1) + 0.5 + pad, min(box.top, 0) - 0.5 - pad])
    return style(fig, title, height=FIG_HEIGHT + 120)


def conv_contributions(per_channel: np.ndarray, title: str, x_title: str, y_title: str, top: int = 12) -> go.Figure:
    """The input channels whose window x weights sums add most (by size) to one conv output, signed."""
    v = np.asarray(per_channel, dtype=np.float64)
    order = np.argsort(-np.abs(v))[:top]
    fig = go.Figure(go.Bar(x=[str(int(i)) for i in order], y=v[order],
                           marker_color=[RESIDUAL_COLOR if v[i] >= 0 else PLAIN_COLOR for i in order],
                           text=[f"{v[i]:+.3f}" for i in order], textposition="outside", cliponaxis=False))
    fig.update_layout(xaxis={"title": x_title, "type": "category"}, yaxis={"title": y_title})
    return style(fig, title)
