"""Plotly figures from numbers the library computed; no torch maths here.

Visual constants live at the top so every page draws at the same, projector-readable size.
"""

from __future__ import annotations

import functools

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

# ---- visual constants (one place) -------------------------------------------------------------
FONT_SIZE = 18
TITLE_SIZE = 22
FIG_HEIGHT = 480
COLORSCALES = ("Viridis", "Inferno", "Jet", "Greys", "RdBu")
STAGE_COLORS = {"stem": "#636EFA", "layer1": "#00CC96", "layer2": "#AB63FA", "layer3": "#FFA15A",
                "layer4": "#EF553B", "head": "#19D3F3"}
PLAIN_COLOR = "#EF553B"
RESIDUAL_COLOR = "#1F77B4"


# Every text a figure shows comes from its caller. LABEL_KEYS names, per figure function, the locale key of
# each text argument (a tuple or dict of keys for a tuple or dict argument); labels() translates them:
#     figures.stage_shapes(stages, **figures.labels("stage_shapes", t))
LABEL_KEYS: dict[str, dict] = {
    "stage_shapes": {"title": "arch.fig.shapes", "channels": "arch.axis.channels", "map_height": "arch.axis.height"},
    "param_share": {"title": "arch.fig.params", "x_title": "arch.axis.share", "million": "fig.million"},
    "block_diagram": {"title": "arch.fig.blocks", "stride": "fig.stride", "projection": "fig.projection",
                      "identity": "fig.identity", "off": "fig.off"},
    "cam_overlay_figure": {"low_high": ("fig.low", "fig.high")},
    "cam_topk": {"x_title": "fm.axis.prob"},
    "cam_sanity": {"title": "cam.sanity_title", "x_title": "cam.sanity_x", "y_title": "cam.sanity_y"},
    "cam_deletion": {"title": "cam.deletion_title", "x_title": "cam.deletion_x", "map_order": "fig.map_order",
                     "random_order": "fig.random_order"},
    "feature_tiles": {"colorbar_title": "fig.activation", "per_channel_title": "fig.per_channel",
                      "min_max": ("fm.min", "fm.max"), "channel_hover": "fig.channel"},
    "channel_overlay": {"colorbar_title": "fig.activation", "value_hover": "fig.value"},
    "residual_row": {"colorbar_title": "fig.value"},
    "residual_ratio_chart": {"title": "fm.ratio_title", "x_title": "lec.axis.block", "off_label": "fig.off"},
    "gradflow_profile.output_grad": {"x_title": "gf.axis.layer", "y_title": "fig.gf.y_output_grad",
                                     "ratio_legend": "fig.gf.legend_output_grad"},
    "gradflow_profile.weight_grad": {"x_title": "gf.axis.layer", "y_title": "fig.gf.y_weight_grad",
                                     "ratio_legend": "fig.gf.legend_weight_grad"},
    "gradflow_profile.activation_std": {"x_title": "gf.axis.layer", "y_title": "fig.gf.y_activation_std",
                                        "values_legend": "fig.gf.legend_activation_std"},
    "degradation_curves": {"chance_label": "fig.chance", "x_title": "lec.axis.step", "y_title": "lec.axis.loss"},
    "resnet_grad_norms": {"title": "gf.resnet_title", "x_title": "gf.axis.conv", "y_title": "fig.resnet_y"},
    "lesion_chart": {"names": {"intact": "lab.bar.intact", "no_shortcut": "lab.bar.no_shortcut",
                               "no_branch": "lab.bar.no_branch", "no_shortcuts": "lab.bar.no_shortcuts",
                               "chance": "lab.bar.chance"}},
    "gradient_correlation_chart": {"title": "fig.shatter_title", "x_title": "fig.shatter_x",
                                   "y_title": "fig.shatter_y", "legend": "fig.shatter_legend"},
}


def labels(figure: str, translate) -> dict:
    """Keyword arguments for one figure function (a LABEL_KEYS entry), each key passed through `translate`."""
    def tr(v):
        if isinstance(v, dict):
            return {k: tr(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return tuple(tr(x) for x in v)
        return translate(v)

    return {arg: tr(v) for arg, v in LABEL_KEYS[figure].items()}


# The template object, not its name: looking the name up re-validates it on every figure (20-100 ms each).
_TEMPLATE = pio.templates["plotly_white"]


def style(fig: go.Figure, title: str = "", height: int = FIG_HEIGHT) -> go.Figure:
    """Large fonts, a title and tight margins, so a figure reads on a projector."""
    fig.update_layout(title={"text": title, "font": {"size": TITLE_SIZE}}, font={"size": FONT_SIZE},
                      height=height, margin={"l": 70, "r": 30, "t": 70 if title else 30, "b": 60},
                      template=_TEMPLATE, legend={"font": {"size": FONT_SIZE}})
    # Explicit axis fonts: Streamlit's chart theme sets its own (small) tick fonts otherwise.
    axis_fonts = {"tickfont": {"size": FONT_SIZE}, "title_font": {"size": FONT_SIZE}}
    fig.update_xaxes(**axis_fonts)
    fig.update_yaxes(**axis_fonts)
    return fig


# ---- architecture -----------------------------------------------------------------------------
def stage_shapes(stages: list[dict], title: str = "Channels grow as the map shrinks", channels: str = "channels",
                 map_height: str = "map height (px)", stage_names: dict[str, str] | None = None) -> go.Figure:
    """Channels (bars) and map height (line) after each stage: depth grows as the map shrinks. `stage_names`
    renames stages on the axis (e.g. 'stem' in the page's language)."""
    stages = [st for st in stages if st["stage"] != "head"]  # logits are not a feature map
    names = [st["stage"] for st in stages]
    shown = [(stage_names or {}).get(n, n) for n in names]
    fig = go.Figure()
    fig.add_bar(x=shown, y=[st["out_c"] for st in stages], name=channels,
                marker_color=[STAGE_COLORS[n] for n in names],
                text=[f"{st['out_c']}×{st['out_h']}×{st['out_w']}" for st in stages], textposition="outside",
                textfont={"size": FONT_SIZE}, cliponaxis=False)
    fig.add_scatter(x=shown, y=[st["out_h"] for st in stages], name=map_height, yaxis="y2",
                    mode="lines+markers", line={"width": 4, "color": "#333"}, marker={"size": 12})
    top_c = max(st["out_c"] for st in stages)
    top_h = max(st["out_h"] for st in stages)
    fig.update_layout(yaxis={"title": channels, "range": [0, top_c * 1.2]},
                      yaxis2={"title": map_height, "overlaying": "y", "side": "right",
                              "range": [0, top_h * 1.2], "showgrid": False, "tickmode": "auto"},
                      legend={"orientation": "h", "y": -0.15})
    return style(fig, title)


def param_share(stages: list[dict], title: str = "Where the parameters are",
                x_title: str = "% of all parameters", million: str = "M",
                stage_names: dict[str, str] | None = None) -> go.Figure:
    """Share of the parameters per stage (layer4 holds most of them); `stage_names` as in stage_shapes."""
    names = [s["stage"] for s in stages]
    fig = go.Figure(go.Bar(x=[100 * s["share"] for s in stages], y=[(stage_names or {}).get(n, n) for n in names],
                           orientation="h",
                           marker_color=[STAGE_COLORS[n] for n in names],
                           text=[f"{100 * s['share']:.1f}% ({s['params'] / 1e6:.2f} {million})" for s in stages],
                           textposition="outside", textfont={"size": FONT_SIZE}))
    fig.update_layout(xaxis={"title": x_title, "range": [0, 100]},
                      yaxis={"autorange": "reversed"})
    return style(fig, title, height=400)


def block_diagram(blocks: list[dict], mask: tuple[bool, ...] | None = None,
                  title: str = "The 8 blocks and their shortcuts (grey dotted: switched off)",
                  stride: str = "stride {stride}", projection: str = "1×1 conv", identity: str = "identity",
                  off: str = "off") -> go.Figure:
    """The eight blocks in a row, each with its shortcut drawn over it; a switched-off shortcut is grey and dotted."""
    fig = go.Figure()
    for i, b in enumerate(blocks):
        on = True if mask is None else mask[i]
        stage = b["block"].split(".")[0]
        x0, x1 = i + 0.08, i + 0.92
        fig.add_shape(type="rect", x0=x0, x1=x1, y0=0, y1=1, fillcolor=STAGE_COLORS[stage], opacity=0.9,
                      line={"width": 0})
        fig.add_annotation(x=i + 0.5, y=0.5, showarrow=False, font={"size": FONT_SIZE - 2, "color": "white"},
                           text=f"<b>{b['block']}</b><br>{b['in_c']}→{b['out_c']}<br>"
                           + stride.format(stride=b["stride"]))
        fig.add_shape(type="path", path=f"M {x0 + 0.05} 1 L {x0 + 0.05} 1.35 L {x1 - 0.05} 1.35 L {x1 - 0.05} 1",
                      line={"width": 4, "color": "#222" if on else "#bbb", "dash": "solid" if on else "dot"})
        label = f"<b>{projection}</b>" if b["projection"] else identity
        fig.add_annotation(x=i + 0.5, y=1.55, showarrow=False, font={"size": FONT_SIZE - 2},
                           text=label if on else off)
    fig.update_xaxes(visible=False, range=[0, len(blocks)])
    fig.update_yaxes(visible=False, range=[-0.05, 1.75])
    return style(fig, title, height=320)


# ---- Grad-CAM and other attributions ------------------------------------------------------------
CAM_COLORSCALE = "Jet"


@functools.lru_cache(maxsize=16)
def _lut(colorscale: str) -> np.ndarray:
    """(256, 3) uint8 colours sampled from a plotly colour scale."""
    from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

    colours = sample_colorscale(get_colorscale(colorscale), list(np.linspace(0, 1, 256)), colortype="rgb")
    return np.array([unlabel_rgb(c) for c in colours]).round().clip(0, 255).astype(np.uint8)


def colorize(values: np.ndarray, colorscale: str = CAM_COLORSCALE, signed: bool = False) -> np.ndarray:
    """A map already scaled to [0, 1] (or [-1, 1] when signed) -> (H, W, 3) uint8 colours."""
    v = np.asarray(values, dtype=np.float32)
    v = (v + 1) / 2 if signed else v
    return _lut(colorscale)[np.clip(np.rint(v * 255), 0, 255).astype(np.intp)]


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
        fig.add_trace(go.Image(z=images[name], hoverinfo="skip"), row=1, col=i)
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


# ---- feature maps ---------------------------------------------------------------------------------
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
    palette = _lut(colorscale)[np.linspace(0, 255, 255).round().astype(int)]
    img = Image.fromarray(idx, mode="P")
    img.putpalette(np.vstack([palette, np.array([gap_rgb], dtype=np.uint8)]).ravel().tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)  # level 9 / optimize: 1% smaller, 10x slower per click
    return buf.getvalue()


def _data_uri(data: bytes, mime: str = "image/png") -> str:
    import base64

    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _picture_uri(picture: np.ndarray) -> str:
    """An (H, W, 3) uint8 photo as a JPEG data URI: a fraction of what go.Image(z=...) would send as JSON."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="JPEG", quality=88)
    return _data_uri(buf.getvalue(), "image/jpeg")


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
    target per tile naming its channel. `tiled` is a featuremaps.Tiled. Returns (figure, PNG bytes sent)."""
    png = tiles_png(tiled.values, colorscale, gap_rgb)
    h, w = tiled.values.shape
    fig = go.Figure(go.Image(source=_data_uri(png), hoverinfo="skip"))
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
    fig = go.Figure(go.Image(source=_picture_uri(picture), hoverinfo="skip"))
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


# ---- gradient flow (plain vs residual stacks) ---------------------------------------------------
GRADFLOW_QUANTITIES = {
    "output_grad": ("‖∂L/∂(layer output)‖", "output-grad", "output_ratio"),
    "weight_grad": ("‖∂L/∂W‖ of the conv", "weight-grad", "weight_ratio"),
    "activation_std": ("std of the layer's output", "activation std", None),
}
# Which first/last ratio each quantity's legend shows (None: the first and last values themselves).
GRADFLOW_RATIOS = {"output_grad": "output_ratio", "weight_grad": "weight_ratio", "activation_std": None}


def _variant_colour(name: str) -> str:
    return PLAIN_COLOR if name.startswith("plain") else RESIDUAL_COLOR


def _fmt_ratio(r: float) -> str:
    if r != r or r in (float("inf"), float("-inf")):
        return "∞"
    return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"


def gradflow_profile(norms: dict, quantity: str = "output_grad", title: str = "", y_title: str | None = None,
                     x_title: str = "layer (1 = next to the input)", ratio_legend: str | None = None,
                     values_legend: str = "{name}: first {first}, last {last}") -> go.Figure:
    """One value per layer (log scale), input on the left; `norms` maps a variant to an object with
    `layers`, the quantity's list and its first/last ratio (stacks.LayerNorms), shown in the legend.

    `ratio_legend` ({name}, {ratio}) labels a gradient line, `values_legend` ({name}, {first}, {last}) an
    activation line.
    """
    default_axis, short, _ = GRADFLOW_QUANTITIES[quantity]
    ratio_attr = GRADFLOW_RATIOS[quantity]
    y_title = default_axis if y_title is None else y_title
    ratio_legend = f"{{name}}: first/last {short} = {{ratio}}" if ratio_legend is None else ratio_legend
    fig = go.Figure()
    for name, n in norms.items():
        values = list(getattr(n, quantity))
        if ratio_attr:
            label = ratio_legend.format(name=name, ratio=_fmt_ratio(getattr(n, ratio_attr)))
        else:
            label = values_legend.format(name=name, first=f"{values[0]:.3g}", last=f"{values[-1]:.3g}")
        fig.add_scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=label,
                        customdata=list(n.layers), hovertemplate="%{customdata}<br>%{y:.3g}<extra></extra>",
                        line={"width": 4, "color": _variant_colour(name)}, marker={"size": 7})
    fig.update_layout(xaxis={"title": x_title},
                      yaxis={"title": y_title, "type": "log", "exponentformat": "power"},
                      legend={"orientation": "h", "y": -0.25})
    return style(fig, title or f"{y_title} per layer at initialisation", height=FIG_HEIGHT + 60)


def degradation_curves(curves: dict, total_steps: int, chance: float | None = None,
                       title: str = "Training loss while they train", chance_label: str = "uniform guess",
                       x_title: str = "training step", y_title: str = "training loss (cross-entropy)") -> go.Figure:
    """Training loss against step for the four nets: plain red, residual blue, deep solid, shallow dashed.
    `curves` maps a name like 'plain-32' to an object with `steps` and `loss`; the x range covers the
    whole run, so the curves visibly grow."""
    depths = sorted({int(k.rsplit("-", 1)[1]) for k in curves})
    fig = go.Figure()
    for name, c in curves.items():
        deep = int(name.rsplit("-", 1)[1]) == depths[-1]
        fig.add_scatter(x=list(c.steps), y=list(c.loss), mode="lines+markers", name=name,
                        line={"width": 5 if deep else 3, "color": _variant_colour(name),
                              "dash": "solid" if deep else "dash"}, marker={"size": 6})
    if chance is not None:
        fig.add_hline(y=chance, line={"color": "#888", "dash": "dot"}, annotation_text=chance_label,
                      annotation_font_size=FONT_SIZE)
    fig.update_layout(xaxis={"title": x_title, "range": [0, total_steps * 1.02]},
                      yaxis={"title": y_title}, legend={"orientation": "h", "y": -0.25})
    return style(fig, title, height=FIG_HEIGHT + 60)


def resnet_grad_norms(layers: list[str], series: dict[str, list[float]],
                      title: str = "ResNet-18: gradient at every conv output",
                      x_title: str = "conv layer (input on the left)",
                      y_title: str = "‖∂(top-1 logit)/∂(conv output)‖") -> go.Figure:
    """Gradient norm at each conv output of the real network (log scale), one line per shortcut setting."""
    colours = [RESIDUAL_COLOR, PLAIN_COLOR, "#555"]
    fig = go.Figure()
    for i, (name, values) in enumerate(series.items()):
        fig.add_scatter(x=layers, y=values, mode="lines+markers", name=name,
                        line={"width": 4, "color": colours[i % len(colours)], "dash": "solid" if i == 0 else "dash"},
                        marker={"size": 9})
    fig.update_layout(xaxis={"title": x_title, "tickangle": -45},
                      yaxis={"title": y_title, "type": "log", "exponentformat": "power"},
                      legend={"orientation": "h", "y": -0.45})
    return style(fig, title, height=FIG_HEIGHT + 120)


# ---- lesion study (Shortcut Lab) ----------------------------------------------------------------
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


def gradient_correlation_chart(series: dict[str, list[float]], n_points: int,
                               title: str = "Shattered gradients: do nearby inputs get similar gradients?",
                               x_title: str = "distance along the line (steps of 1/{n})",
                               y_title: str = "correlation of input gradients",
                               legend: str = "{name}: neighbours {c}") -> go.Figure:
    """Shattered gradients: mean correlation between the input gradients of points k steps apart on a line
    of n_points inputs, one line per network (plain red, residual blue)."""
    fig = go.Figure()
    for name, values in series.items():
        fig.add_scatter(x=list(range(1, len(values) + 1)), y=list(values), mode="lines+markers",
                        name=legend.format(name=name, c=f"{values[0]:.2f}"),
                        line={"width": 4, "color": _variant_colour(name)}, marker={"size": 8})
    fig.add_hline(y=0, line={"color": "#888", "dash": "dot"})
    fig.update_layout(xaxis={"title": x_title.format(n=n_points)},
                      yaxis={"title": y_title, "range": [-0.1, 1.02]},
                      legend={"orientation": "h", "y": -0.25})
    return style(fig, title, height=FIG_HEIGHT)
