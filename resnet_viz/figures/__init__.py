"""What every plotly figure shares: visual constants, style(), the locale keys of each figure's labels, a colour
table, and the architecture figures. The other figures live in figures_cam/maps/gradflow/lab/family.py; no torch
maths in any of them.
"""

from __future__ import annotations

import functools

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

__all__ = ["COLORSCALES", "FIG_HEIGHT", "FONT_SIZE", "LABEL_KEYS", "PLAIN_COLOR", "RESIDUAL_COLOR", "STAGE_COLORS",
           "TITLE_SIZE", "block_diagram", "data_uri", "labels", "lut", "param_share", "rgb_uri", "stage_shapes",
           "style"]

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
    "param_share": {"title": "arch.fig.params", "x_title": "arch.axis.share", "share_text": "fig.param_share"},
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
    "class_answers": {"title": "rooms.fig.title", "y_title": "rooms.fig.students"},
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


# Every figure is drawn on plotly_white. As the default template, plotly applies it when a figure is built, without
# validating it again; assigning it in style() re-validated and deep-copied it for every figure (half of style's
# 45 ms, the largest part of a warm page's server CPU).
pio.templates.default = "plotly_white"


def style(fig: go.Figure, title: str = "", height: int = FIG_HEIGHT) -> go.Figure:
    """Large fonts, a title and tight margins, so a figure reads on a projector."""
    fig.update_layout(title={"text": title, "font": {"size": TITLE_SIZE}}, font={"size": FONT_SIZE},
                      height=height, margin={"l": 70, "r": 30, "t": 70 if title else 30, "b": 60},
                      legend={"font": {"size": FONT_SIZE}})
    # Explicit axis fonts: Streamlit's chart theme sets its own (small) tick fonts otherwise.
    axis_fonts = {"tickfont": {"size": FONT_SIZE}, "title_font": {"size": FONT_SIZE}}
    fig.update_xaxes(**axis_fonts)
    fig.update_yaxes(**axis_fonts)
    return fig


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """Image bytes as a data URI for go.Image(source=...): a PNG or JPEG is a fraction of z= as JSON numbers."""
    import base64

    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def rgb_uri(rgb: np.ndarray, fmt: str = "PNG") -> str:
    """An (H, W, 3) uint8 image as a data URI: PNG (lossless, for overlays whose colours are the data) or JPEG
    (a photo)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    img.save(buf, format=fmt, **({"compress_level": 3} if fmt == "PNG" else {"quality": 88}))
    return data_uri(buf.getvalue(), f"image/{fmt.lower()}")


# ---- colour tables shared by the image figures -----------------------------------------------
@functools.lru_cache(maxsize=16)
def lut(colorscale: str) -> np.ndarray:
    """(256, 3) uint8 colours sampled from a plotly colour scale."""
    from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

    colours = sample_colorscale(get_colorscale(colorscale), list(np.linspace(0, 1, 256)), colortype="rgb")
    return np.array([unlabel_rgb(c) for c in colours]).round().clip(0, 255).astype(np.uint8)


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
                x_title: str = "% of all parameters", share_text: str = "{share:.1f}% ({m:.2f} M)",
                stage_names: dict[str, str] | None = None) -> go.Figure:
    """Share of the parameters per stage (layer4 holds most of them); `stage_names` as in stage_shapes.
    `share_text` words each bar from {share} (%) and {m} (millions)."""
    names = [s["stage"] for s in stages]
    fig = go.Figure(go.Bar(x=[100 * s["share"] for s in stages], y=[(stage_names or {}).get(n, n) for n in names],
                           orientation="h",
                           marker_color=[STAGE_COLORS[n] for n in names],
                           text=[share_text.format(share=100 * s["share"], m=s["params"] / 1e6)
                                 for s in stages],
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
