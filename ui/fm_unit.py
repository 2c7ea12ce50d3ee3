"""Feature maps page, "What one unit sees": one output cell of a layer, its theoretical receptive field drawn on
the image beside its effective one (|input gradient| of that unit, Luo et al. 2016), and one conv output worked
through with the actual numbers (window × weights, sum, BatchNorm, ReLU), checked against the recorded activation."""

# Everything runs inside one st.fragment: moving the cell or the layer here reruns this section only.

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from resnet_viz import figures
from resnet_viz.explain import featuremaps, receptive
from resnet_viz.figures import family as figures_family
from resnet_viz.figures import maps as figures_maps
from resnet_viz.model import layers
from resnet_viz.model.layers import STEM_NAMES
from ui import keys
from ui.draw import PLOTLY_CONFIG, chart, show_error
from ui.memo import BoundedLRU, MiB, figure
from ui.text import t

UNIT_LAYERS = [n for n in layers.pickable() if "." in n or n in STEM_NAMES]  # stage aliases left out
UNITS = BoundedLRU(64 * MiB)  # per (weights digest, image, mask, crop, layer, channel, cell)


def sci(v: float) -> str:
    """1.9 × 10⁻⁹ rather than 1.9e-09: readable on a slide, in either language."""
    if v == 0:
        return "0"
    mantissa, exp = f"{v:.1e}".split("e")
    return f"{mantissa} × 10{str(int(exp)).translate(str.maketrans('-0123456789', '⁻⁰¹²³⁴⁵⁶⁷⁸⁹'))}"


def arithmetic_layer(layer: str) -> str:
    """The conv whose output is worked through for a unit of `layer`: conv1 in the stem, else its block's conv1."""
    return "conv1" if layer in STEM_NAMES else f"{layers.resolve(layer)}.conv1"


def _cell_from_click(h: int, w: int) -> None:
    """A click on the layer's map picks the cell (read before the number inputs are drawn, once per click)."""
    event = st.session_state.get(keys.FM_UNIT_MAP)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if not points:
        return
    click = (round(points[0]["y"]), round(points[0]["x"]))
    if st.session_state.get(keys.FM_UNIT_LAST_CLICK) != click and 0 <= click[0] < h and 0 <= click[1] < w:
        st.session_state[keys.FM_UNIT_LAST_CLICK] = click
        st.session_state[keys.FM_UNIT_ROW], st.session_state[keys.FM_UNIT_COL] = click


def _clamp(key: str, last: int, default: int) -> None:
    if not 0 <= st.session_state.get(key, default) <= last:
        st.session_state[key] = min(default, last)


@st.fragment
def unit_view(handle, img_key: str, mask: tuple, center_crop: bool, ft, image) -> None:
    st.subheader(t("fm.unit.title"))
    st.caption(t("fm.unit.intro"))
    c1, c2, c3, c4 = st.columns(4)
    layer = c1.selectbox(t("fm.unit.layer"), UNIT_LAYERS, index=UNIT_LAYERS.index("layer4.1"), key=keys.FM_UNIT_LAYER)
    maps = ft.maps(layer)  # (C, h, w)
    c, h, w = maps.shape
    _cell_from_click(h, w)
    _clamp(keys.FM_UNIT_ROW, h - 1, h // 2)
    _clamp(keys.FM_UNIT_COL, w - 1, w // 2)
    strongest = int(maps[:, h // 2, w // 2].argmax())  # the first channel shown is one the ReLU left on
    _clamp(keys.FM_UNIT_CHANNEL, c - 1, strongest)
    ch = int(c2.number_input(t("fm.channel", last=c - 1), 0, c - 1, value=strongest, key=keys.FM_UNIT_CHANNEL))
    i = int(c3.number_input(t("fm.unit.row", last=h - 1), 0, h - 1, value=h // 2, key=keys.FM_UNIT_ROW))
    j = int(c4.number_input(t("fm.unit.col", last=w - 1), 0, w - 1, value=w // 2, key=keys.FM_UNIT_COL))
    key = (handle.digest, img_key, tuple(mask), center_crop, layer, ch, (i, j))

    def erf() -> receptive.EffectiveRF:
        x, _ = featuremaps.model_input(handle, image, center_crop)
        with handle.lock:
            return receptive.effective_rf(handle.model, x.to(handle.device), layer, (i, j), ch, mask)

    try:
        e = UNITS.get(("erf", *key), erf)
    except (ValueError, RuntimeError) as exc:
        show_error(exc, t("fm.unit.failed"))
        return
    th = e.theoretical
    left, right = st.columns([3, 2])
    rf_fig = figure(("rf", *key), lambda: figures_family.receptive_field(
        ft.picture, e.grad, th.box, t("fm.unit.rf_title", layer=layer, ch=ch, i=i, j=j),
        t("fm.unit.box", size=th.size)))
    chart(left, rf_fig)
    ph, pw = e.grad.shape
    if float(e.grad.sum()) > 0:
        left.caption(t("fm.unit.rf_caption", size=th.size, h=ph, w=pw, on=100 * th.share_on_image,
                       s50=e.side50, s90=e.side90, jump=th.jump))
    else:  # a unit the ReLU switched off: no pixel moves it, so it has no effective receptive field here
        left.caption(t("fm.unit.rf_box_only", size=th.size, h=ph, w=pw, on=100 * th.share_on_image, jump=th.jump))
        left.info(t("fm.unit.dead", v=f"{e.value:.3g}"))
    with right:
        map_fig = figure(("unitmap", handle.digest, img_key, tuple(mask), center_crop, layer, ch, (i, j)),
                         lambda: _cell_map(maps[ch], (i, j), t("fm.unit.map_title", layer=layer, ch=ch)))
        st.plotly_chart(map_fig, width="stretch", on_select="rerun", selection_mode="points", key=keys.FM_UNIT_MAP,
                        config=PLOTLY_CONFIG)
        st.caption(t("fm.unit.map_caption", h=h, w=w, v=f"{maps[ch, i, j]:.4g}"))
    _arithmetic(handle, img_key, mask, center_crop, image, layer, ch, (i, j))


def _cell_map(channel_map: np.ndarray, cell: tuple[int, int], title: str) -> go.Figure:
    h, w = channel_map.shape
    fig = go.Figure(go.Heatmap(z=channel_map, colorscale=figures_maps.FEATURE_COLORSCALE, showscale=False,
                               hovertemplate="(%{y}, %{x}): %{z:.3g}<extra></extra>"))
    fig.add_shape(type="rect", x0=cell[1] - 0.5, x1=cell[1] + 0.5, y0=cell[0] - 0.5, y1=cell[0] + 0.5,
                  line={"color": "#19D3F3", "width": 4})
    fig.update_xaxes(visible=False, range=[-0.5, w - 0.5], constrain="domain")
    fig.update_yaxes(visible=False, range=[h - 0.5, -0.5], scaleanchor="x")
    return figures.style(fig, title, height=figures.FIG_HEIGHT)


def _arithmetic(handle, img_key, mask, center_crop, image, layer, ch, cell) -> None:
    conv = arithmetic_layer(layer)

    def work() -> receptive.ConvArithmetic:
        x, _ = featuremaps.model_input(handle, image, center_crop)
        f = 2 if layer == "maxpool" else 1  # conv1 of a block has the block's grid; the stem's is twice the pool's
        with handle.lock:
            return receptive.conv_arithmetic(handle.model, x.to(handle.device), conv, ch, (cell[0] * f, cell[1] * f),
                                             mask)

    a = UNITS.get(("conv", handle.digest, img_key, tuple(mask), center_crop, layer, ch, cell), work)
    c_in, k = a.window.shape[0], a.kernel
    st.markdown(f"**{t('fm.unit.arith_title', conv=conv, ch=a.channel, i=a.cell[0], j=a.cell[1])}**")
    st.markdown(t("fm.unit.arith_window", c=c_in, k=k, n=c_in * k * k, s=a.stride, p=a.padding,
                  r=a.window_origin[0], q=a.window_origin[1]))
    lines = [
        f"1. {t('fm.unit.arith_sum', n=c_in * k * k)}  \n`Σ = {a.conv_sum:+.5f}`"
        + (f" · `{t('fm.unit.recorded')} {a.recorded_conv:+.5f}`"),
        f"2. {t('fm.unit.arith_bn')}  \n`({a.conv_sum:+.5f} − {a.bn_mean:+.5f}) / √({a.bn_var:.5f} + {a.bn_eps:g})"
        f" × {a.bn_gamma:+.5f} + {a.bn_beta:+.5f} = {a.bn_out:+.5f}` · `{t('fm.unit.recorded')} {a.recorded_bn:+.5f}`",
        f"3. {t('fm.unit.arith_relu')}  \n`max(0, {a.bn_out:+.5f}) = {a.relu_out:.5f}`"
        f" · `{t('fm.unit.recorded')} {a.recorded_relu:.5f}`",
    ]
    st.markdown("\n".join(lines))
    st.caption(t("fm.unit.arith_check", err=sci(a.max_error)))
    top = int(np.argmax(np.abs(a.per_channel)))
    left, right = st.columns([3, 2])
    chart(left, figure(("contrib", handle.digest, img_key, tuple(mask), center_crop, layer, ch, cell),
                       lambda: figures_family.conv_contributions(
                           a.per_channel, t("fm.unit.contrib_title", conv=conv, ch=a.channel),
                           t("fm.unit.contrib_x"), t("fm.unit.contrib_y"))))
    with right:
        st.markdown(t("fm.unit.one_channel", c=top, s=f"{a.per_channel[top]:+.4f}"))
        w1, w2 = st.columns(2)
        w1.caption(t("fm.unit.window_values"))
        w1.dataframe(np.round(a.window[top], 3), hide_index=True)
        w2.caption(t("fm.unit.weight_values"))
        w2.dataframe(np.round(a.weights[top], 3), hide_index=True)
