"""The class's answers to one question as bars: count and share per choice, for the presenter's screen."""

from __future__ import annotations

import plotly.graph_objects as go

from resnet_viz.figures import FONT_SIZE, RESIDUAL_COLOR, style

OTHER_COLOR = "#9aa5b1"


def class_answers(counts: tuple[int, ...], shares: tuple[float, ...], letters: str = "ABCDEFGH",
                  title: str = "The class's answers", y_title: str = "students",
                  highlight: int | None = None) -> go.Figure:
    """One bar per choice (A, B, C...), labelled "count · share"; the choice `highlight` (the measured answer,
    once revealed) in a strong colour. The y range is fixed past the top so a refresh does not rescale."""
    names = list(letters[: len(counts)])
    colours = [RESIDUAL_COLOR if highlight is None or i == highlight else OTHER_COLOR for i in range(len(counts))]
    fig = go.Figure(go.Bar(x=names, y=list(counts), marker_color=colours, textposition="outside",
                           text=[f"{c} · {100 * s:.0f}%" for c, s in zip(counts, shares, strict=True)],
                           textfont={"size": FONT_SIZE + 4}, cliponaxis=False))
    top = max(counts, default=0)
    fig.update_layout(yaxis={"title": y_title, "range": [0, max(top * 1.25, 4)], "dtick": max(1, round(top / 5))},
                      bargap=0.35)
    style(fig, title)
    fig.update_xaxes(tickfont_size=FONT_SIZE + 10)  # after style(): the letters are read from the back row
    return fig
