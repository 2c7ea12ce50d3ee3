"""Plotly figures for Grad-CAM and the other attributions: colouring a map, overlays, top-5, sanity and deletion.

Titles and labels come in as arguments (figures.labels); sizes and colours come from figures.py.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from resnet_viz.figures import FIG_HEIGHT, FONT_SIZE, PLAIN_COLOR, RESIDUAL_COLOR, lut, rgb_uri, style

__all__ = ["CAM_COLORSCALE", "METHOD_NAMES", "cam_deletion", "cam_image_row", "cam_overlay_figure", "cam_overlay_rgb",
           "cam_sanity", "cam_topk", "colorize"]

CAM_COLORSCALE = "Jet"


def colorize(values: np.ndarray, colorscale: str = CAM_COLORSCALE, signed: bool = False) -> np.ndarray:
    """A map already scaled to [0, 1] (or [-1, 1] when signed) -> (H, W, 3) uint8 colours."""
    v = np.asarray(values, dtype=np.float32)
    v = (v + 1) / 2 if signed else v
    return lut(colorscale)[np.clip(np.rint(v * 255), 0, 255).astype(np.intp)]


def cam_overlay_rgb(image: np.ndarray, heat: np.ndarray, opacity: float = 0.5,
                    colorscale: str = CAM_COLORSCALE) -> np.ndarray:
    """Blend a [0, 1] map's colours over an (H, W, 3) uint8 image: what the slides and the CLI use."""
    if image.shape[:2] != np.shape(heat):
        raise ValueError(f"Image {image.shape[:2]} and map {np.shape(heat)} differ in size.")
    a = float(np.clip(opacity, 0.0, 1.0))
    out = (1 - a) * image.astype(np.float32) + a * colorize(heat, colorscale).astype(np.float32)
    return out.round().astype(np.uint8)


def cam_image_row(images: dict[str, np.ndarray], title: str = "", peaks: dict | None = None,
                  height: int = 360) -> go.Figure:
    """RGB images side by side with their titles; an optional (row, col) peak marker on each."""
    from plotly.subplots import make_subplots

    names = list(images)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.02)
    for i, name in enumerate(names, start=1):
        # A PNG, not z=: every pixel as a JSON number cost ~4x the bytes and most of the figure's serialisation.
        h, w = images[name].shape[:2]
        fig.add_trace(go.Image(source=rgb_uri(images[name]), hoverinfo="skip"), row=1, col=i)
        x = "x" if i == 1 else f"x{i}"
        fig.update_xaxes(range=[-0.5, w - 0.5], row=1, col=i)
        fig.update_yaxes(range=[h - 0.5, -0.5], scaleanchor=x, row=1, col=i)  # square pixels, row 0 on top
        if peaks and name in peaks:
            r, c = peaks[name]
            fig.add_scatter(x=[c], y=[r], mode="markers", row=1, col=i, showlegend=False, hoverinfo="skip",
                            marker={"symbol": "x-thin", "size": 22, "color": "white",
                                    "line": {"width": 4, "color": "white"}})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font={"size": FONT_SIZE})
    return style(fig, title, height=height)


def cam_overlay_figure(image: np.ndarray, heat: np.ndarray, opacity: float = 0.5,
                       colorscale: str = CAM_COLORSCALE, peak: tuple[float, float] | None = None,
                       title: str = "", outline: np.ndarray | None = None, colorbar_title: str = "Grad-CAM",
                       low_high: tuple[str, str] = ("low", "high")) -> go.Figure:
    """One large overlay with a low-to-high colour bar and the peak cell marked.

    `outline`, an (H, W) bool mask of the object (generated shapes), is drawn as a white line around it.
    """
    fig = cam_image_row({"": cam_overlay_rgb(image, heat, opacity, colorscale)}, title,
                        {"": peak} if peak else None, height=FIG_HEIGHT + 120)
    if outline is not None:
        fig.add_contour(z=outline.astype(np.float32), showscale=False, hoverinfo="skip", name="",
                        contours={"start": 0.5, "end": 0.5, "coloring": "lines"},
                        line={"color": "white", "width": 3})
    # An invisible marker carries the colour bar, so the colours have a legend on the slide.
    fig.add_scatter(x=[0], y=[0], mode="markers", showlegend=False, hoverinfo="skip",
                    marker={"size": 0.1, "opacity": 0, "color": [0, 1], "colorscale": colorscale, "cmin": 0,
                            "cmax": 1, "showscale": True,
                            "colorbar": {"title": {"text": colorbar_title, "side": "right"}, "tickvals": [0, 1],
                                         "ticktext": list(low_high), "tickfont": {"size": FONT_SIZE}}})
    return fig


def cam_topk(top: list[tuple[int, str, float]], title: str = "Top-5 predictions",
             highlight: int | None = None, x_title: str = "probability (%)") -> go.Figure:
    """Horizontal bars of (index, label, probability); the explained class in a strong colour."""
    labels = [f"{name} ({i})" for i, name, _ in top]
    colours = [RESIDUAL_COLOR if i == highlight else "#9aa5b1" for i, _, _ in top]
    fig = go.Figure(go.Bar(x=[100 * p for *_, p in top], y=labels, orientation="h", marker_color=colours,
                           text=[f"{100 * p:.1f}%" for *_, p in top], textposition="outside",
                           textfont={"size": FONT_SIZE}))
    top_p = max((100 * p for *_, p in top), default=100)
    fig.update_layout(xaxis={"title": x_title, "range": [0, min(100, top_p * 1.3 + 5)]},
                      yaxis={"autorange": "reversed"})
    return style(fig, title, height=60 * len(top) + 160)


METHOD_NAMES = {"gradcam": "Grad-CAM", "guided_gradcam": "Guided Grad-CAM"}  # proper names, the same in every language


def cam_sanity(steps: list[str], correlations: dict[str, list[float]],
               title: str = "Sanity check: does the map change when the weights do?",
               x_title: str = "randomised down to (cumulative)", y_title: str = "Spearman ρ with the original map",
               names: dict[str, str] | None = None) -> go.Figure:
    """Rank correlation with the trained model's map as layers are randomised from the top down;
    `names` maps a method key to its legend name."""
    names = METHOD_NAMES if names is None else names
    fig = go.Figure()
    for method, values in correlations.items():
        fig.add_scatter(x=steps, y=values, mode="lines+markers", name=names.get(method, method),
                        line={"width": 4}, marker={"size": 12}, connectgaps=False)
    fig.add_hline(y=0, line={"color": "#888", "dash": "dot"})
    fig.update_layout(xaxis={"title": x_title},
                      yaxis={"title": y_title, "range": [-1.05, 1.05]},
                      legend={"orientation": "h", "y": -0.35})
    return style(fig, title, height=FIG_HEIGHT + 60)


def cam_deletion(fractions: np.ndarray, probs: np.ndarray, random_probs: np.ndarray, area: float,
                 random_area: float, label: str, title: str = "Deletion: remove the most important pixels first",
                 x_title: str = "pixels removed (%)", map_order: str = "map order (area {area})",
                 random_order: str = "random order (area {area})") -> go.Figure:
    """Class probability as pixels are removed: map order (should fall fast) against a random order.
    `map_order` / `random_order` are legend templates with an {area} placeholder."""
    fig = go.Figure()
    pct = 100 * np.asarray(fractions)
    fig.add_scatter(x=pct, y=100 * np.asarray(probs), mode="lines+markers", name=map_order.format(area=f"{area:.3f}"),
                    line={"width": 4, "color": PLAIN_COLOR})
    fig.add_scatter(x=pct, y=100 * np.asarray(random_probs), mode="lines+markers",
                    name=random_order.format(area=f"{random_area:.3f}"),
                    line={"width": 4, "color": "#888", "dash": "dash"})
    fig.update_layout(xaxis={"title": x_title}, yaxis={"title": f"P({label}) (%)", "rangemode": "tozero"},
                      legend={"orientation": "h", "y": -0.3})
    return style(fig, title, height=FIG_HEIGHT)
