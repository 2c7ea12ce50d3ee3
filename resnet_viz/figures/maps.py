"""Plotly figures for feature maps: channel tiles as one PNG, a channel over the picture, x / F(x) / F(x)+x, ratios.

Titles and labels come in as arguments (figures.labels); sizes and colours come from figures.py.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from resnet_viz.figures import FIG_HEIGHT, FONT_SIZE, RESIDUAL_COLOR, STAGE_COLORS, data_uri, lut, rgb_uri, style

__all__ = ["DIFF_COLORSCALE", "DIFF_GAP_RGB", "FEATURE_COLORSCALE", "GAP_RGB", "channel_overlay", "feature_tiles",
           "residual_ratio_chart", "residual_row", "tiles_png"]

FEATURE_COLORSCALE = "Viridis"
DIFF_COLORSCALE = "RdBu_r"  # red: larger with the current mask, blue: smaller, white: unchanged
GAP_RGB = (255, 255, 255)
DIFF_GAP_RGB = (150, 150, 150)  # grey: on a white-centred diverging scale white gaps would read as "no change"


def tiles_png(values: np.ndarray, colorscale: str = FEATURE_COLORSCALE,
              gap_rgb: tuple[int, int, int] = GAP_RGB) -> bytes:
    """A [0, 1] tiled map with NaN gaps -> palette PNG bytes (1 byte per pixel: 255 colours + white gaps).

    A palette PNG is exact for a 256-entry colour scale and about a third the size of an RGB one.
    """
    import io

    from PIL import Image

    v = np.asarray(values, dtype=np.float32)
    gaps = np.isnan(v)
    idx = np.clip(np.rint(np.nan_to_num(v) * 254), 0, 254).astype(np.uint8)
    idx[gaps] = 255
    palette = lut(colorscale)[np.linspace(0, 255, 255).round().astype(int)]
    img = Image.fromarray(idx, mode="P")
    img.putpalette(np.vstack([palette, np.array([gap_rgb], dtype=np.uint8)]).ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)  # level 9 / optimize: 1% smaller, 10x slower per click
    return buf.getvalue()


def _colorbar_carrier(lo: float, hi: float, colorscale: str, title: str, ticktext: list[str] | None = None
                      ) -> go.Scatter:
    # An invisible marker carries the colour bar, so an image trace's colours have a labelled legend.
    bar = {"title": {"text": title, "side": "top", "font": {"size": FONT_SIZE}}, "tickfont": {"size": FONT_SIZE}}
    if ticktext:
        bar.update(tickvals=[lo, hi], ticktext=ticktext)
    return go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                      marker={"color": [lo, hi], "colorscale": colorscale, "cmin": lo, "cmax": hi,
                              "showscale": True, "colorbar": bar})


def feature_tiles(tiled, title: str, colorscale: str = FEATURE_COLORSCALE, colorbar_title: str = "activation",
                  height: int = 720, gap_rgb: tuple[int, int, int] = GAP_RGB,
                  per_channel_title: str = "each<br>channel", min_max: tuple[str, str] = ("min", "max"),
                  channel_hover: str = "channel {ch}") -> tuple[go.Figure, int]:
    """All channels as ONE image (a palette PNG inside the figure) with a colour bar and a hover/click
    target per tile naming its channel. `tiled` is a tiles.Tiled. Returns (figure, PNG bytes sent)."""
    png = tiles_png(tiled.values, colorscale, gap_rgb)
    h, w = tiled.values.shape
    fig = go.Figure(go.Image(source=data_uri(png), hoverinfo="skip"))
    if tiled.shared:
        lo, hi = float(tiled.lo[0]), float(tiled.hi[0])
        fig.add_trace(_colorbar_carrier(lo, hi, colorscale, colorbar_title))
    else:
        fig.add_trace(_colorbar_carrier(0, 1, colorscale, per_channel_title, list(min_max)))
    centres = tiled.centres()
    fig.add_scatter(x=[c for _, c, _ in centres], y=[r for r, _, _ in centres], mode="markers",
                    customdata=[ch for *_, ch in centres], showlegend=False, name="",
                    marker={"size": 14, "symbol": "square", "opacity": 0, "color": "#000"},
                    hovertemplate=channel_hover.format(ch="%{customdata}") + "<extra></extra>")
    fig.update_xaxes(visible=False, range=[-0.5, w - 0.5])
    fig.update_yaxes(visible=False, range=[h - 0.5, -0.5], scaleanchor="x")
    fig.update_layout(clickmode="event+select", dragmode="pan", hoverlabel={"font": {"size": FONT_SIZE}})
    return style(fig, title, height=height), len(png)


def channel_overlay(picture: np.ndarray, channel_map: np.ndarray, title: str, zrange: tuple[float, float],
                    colorscale: str = FEATURE_COLORSCALE, opacity: float = 0.55,
                    colorbar_title: str = "activation", height: int = FIG_HEIGHT + 120,
                    value_hover: str = "value") -> go.Figure:
    """One channel stretched over the picture the model saw (each map cell covers its patch of pixels)."""
    ph, pw = picture.shape[:2]
    mh, mw = channel_map.shape
    fig = go.Figure(go.Image(source=rgb_uri(picture, "JPEG"), hoverinfo="skip"))
    fig.add_heatmap(z=np.round(channel_map, 4), x0=(pw / mw - 1) / 2, dx=pw / mw, y0=(ph / mh - 1) / 2, dy=ph / mh,
                    zmin=zrange[0], zmax=zrange[1], colorscale=colorscale, opacity=opacity,
                    hovertemplate=value_hover + " %{z:.3g}<extra></extra>",
                    colorbar={"title": {"text": colorbar_title, "side": "top", "font": {"size": FONT_SIZE}},
                              "tickfont": {"size": FONT_SIZE}})
    fig.update_xaxes(visible=False, range=[-0.5, pw - 0.5])
    fig.update_yaxes(visible=False, range=[ph - 0.5, -0.5], scaleanchor="x")
    return style(fig, title, height=height)


def residual_row(parts: dict[str, np.ndarray], zrange: tuple[float, float], title: str,
                 colorscale: str = FEATURE_COLORSCALE, height: int = FIG_HEIGHT,
                 colorbar_title: str = "value") -> go.Figure:
    """x, F(x) and F(x) + x side by side on ONE colour scale, so their values compare by eye."""
    from plotly.subplots import make_subplots

    names = list(parts)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.03)
    for i, name in enumerate(names, start=1):
        fig.add_heatmap(z=np.round(parts[name], 4), coloraxis="coloraxis", row=1, col=i,
                        hovertemplate=f"{name}: " + "%{z:.3g}<extra></extra>")
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i}", row=1, col=i)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font={"size": FONT_SIZE + 2})
    fig.update_layout(coloraxis={"colorscale": colorscale, "cmin": zrange[0], "cmax": zrange[1],
                                 "colorbar": {"title": {"text": colorbar_title, "side": "top",
                                                        "font": {"size": FONT_SIZE}},
                                              "tickfont": {"size": FONT_SIZE}}})
    return style(fig, title, height=height)


def residual_ratio_chart(ratios: dict[str, float], highlight: str | None = None,
                         off: dict[str, bool] | None = None,
                         title: str = "How much each block changes what passes through it",
                         x_title: str = "block", off_label: str = "off") -> go.Figure:
    """||F(x)|| / ||x|| per block: below 1 the block nudges its input, above 1 it rewrites it."""
    names = list(ratios)
    values = [ratios[n] for n in names]
    colours = [RESIDUAL_COLOR if n == highlight else STAGE_COLORS[n.split(".")[0]] for n in names]
    off = off or {}
    labels = [f"{ratios[n]:.2f}" + ("" if off.get(n, True) else f" ({off_label})") for n in names]
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colours, text=labels, textposition="inside",
                           insidetextanchor="end", textfont={"size": FONT_SIZE, "color": "white"},
                           hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    # A plain layout shape: add_hline costs ~0.1 s of plotly validation on every rerun.
    fig.update_layout(shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                               "line": {"color": "#555", "dash": "dot", "width": 2}}],
                      annotations=[{"xref": "paper", "x": 0, "y": 1, "yanchor": "bottom", "xanchor": "left",
                                    "text": "‖F(x)‖ = ‖x‖", "showarrow": False, "font": {"size": FONT_SIZE}}])
    fig.update_layout(xaxis={"title": x_title}, yaxis={"title": "‖F(x)‖ / ‖x‖", "rangemode": "tozero",
                                                       "range": [0, max([1.2, *values]) * 1.15]})
    return style(fig, title, height=FIG_HEIGHT)
