"""Plotly figure for the Shortcut Lab's lesion study: accuracy with the model intact and with parts removed."""

from __future__ import annotations

import plotly.graph_objects as go

from resnet_viz.figures import FIG_HEIGHT, FONT_SIZE, PLAIN_COLOR, RESIDUAL_COLOR, style

__all__ = ["LESION_COLORS", "lesion_chart"]

LESION_COLORS = {"intact": "#2CA02C", "no_shortcut": PLAIN_COLOR, "no_branch": RESIDUAL_COLOR, "no_shortcuts": "#555"}


def lesion_chart(values: dict[str, float], names: dict[str, str], title: str, y_title: str,
                 chance: float | None = None, height: int = FIG_HEIGHT, marked: tuple[str, ...] = (),
                 marked_label: str = "") -> go.Figure:
    """One bar per lesion variant, in percent: intact, then per block (shortcut removed / residual branch
    removed, side by side), then all shortcuts removed; the intact value as a dotted reference line.

    `values` maps lesion variant keys ("intact", "no_shortcut:layer1.0", ...) to [0, 1]; `names` gives the
    legend and tick texts ("intact", "no_shortcut", "no_branch", "no_shortcuts", "chance"). Blocks in `marked`
    (e.g. the downsampling blocks) get a "↓" on their tick and a shaded slot; `marked_label` explains the mark.
    """
    blocks = [k.split(":", 1)[1] for k in values if k.startswith("no_shortcut:")]
    pct = {k: 100 * v for k, v in values.items()}
    fig = go.Figure()
    ends = [("intact", names["intact"]), ("no_shortcuts", names["no_shortcuts"])]
    # Explicit offsets: the two kinds side by side in each block's slot, the single bars centred in theirs.
    for kind, offset in (("no_shortcut", -0.4), ("no_branch", 0.0)):
        # No value labels on the 16 narrow bars: side by side they collide; hover gives the exact value.
        fig.add_bar(x=blocks, y=[pct[f"{kind}:{b}"] for b in blocks], name=names[kind], offset=offset, width=0.4,
                    marker_color=LESION_COLORS[kind], hovertemplate="%{x}: %{y:.1f}%<extra>" + names[kind] + "</extra>")
    for key, label in ends:
        fig.add_bar(x=[label], y=[pct[key]], name=label, marker_color=LESION_COLORS[key], showlegend=False,
                    offset=-0.2, width=0.4,
                    text=[f"{pct[key]:.0f}%"], textposition="outside", textfont={"size": FONT_SIZE},
                    constraintext="none", cliponaxis=False, hovertemplate="%{x}: %{y:.1f}%<extra></extra>")
    order = [names["intact"], *blocks, names["no_shortcuts"]]
    lines = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": pct["intact"], "y1": pct["intact"],
              "line": {"color": LESION_COLORS["intact"], "dash": "dot", "width": 3}}]
    notes = [{"xref": "paper", "x": 1, "y": pct["intact"], "yanchor": "bottom", "xanchor": "right",
              "text": f"{names['intact']} {pct['intact']:.0f}%", "showarrow": False,
              "font": {"size": FONT_SIZE, "color": LESION_COLORS["intact"]}}]
    if chance:
        lines.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 100 * chance, "y1": 100 * chance,
                      "line": {"color": "#888", "dash": "dash", "width": 2}})
        # In the legend, not on the plot: at the right end a label would sit on the all-shortcuts-off bar.
        fig.add_scatter(x=[None], y=[None], mode="lines", name=f"{names['chance']} {100 * chance:.0f}%",
                        line={"color": "#888", "dash": "dash", "width": 2})
    xaxis = {"categoryorder": "array", "categoryarray": order, "tickangle": -35}
    if marked:
        ticks = [f"{b} ↓" if b in marked else b for b in order]
        xaxis.update(tickvals=order, ticktext=ticks)
        if marked_label:  # in the legend, beside the bars' names: an axis title would collide with the legend
            fig.add_scatter(x=[None], y=[None], mode="markers", name=f"↓ {marked_label}",
                            marker={"symbol": "square", "size": 16, "color": "#888", "opacity": 0.3})
        lines += [{"type": "rect", "xref": "x", "yref": "paper", "x0": order.index(b) - 0.5,
                   "x1": order.index(b) + 0.5, "y0": 0, "y1": 1, "fillcolor": "#888", "opacity": 0.12,
                   "line": {"width": 0}, "layer": "below"} for b in marked if b in order]
    fig.update_layout(shapes=lines, annotations=notes, xaxis=xaxis,
                      yaxis={"title": y_title, "range": [0, 112]},
                      legend={"orientation": "h", "y": -0.36, "yanchor": "top", "x": 0.5, "xanchor": "center"})
    return style(fig, title, height=height)
