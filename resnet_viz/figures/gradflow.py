"""Plotly figures for plain vs residual stacks: gradient flow per layer, training curves, gradient correlation,
and a ResNet's gradient norms with shortcuts on and off.
"""

from __future__ import annotations

import plotly.graph_objects as go

from resnet_viz.figures import FIG_HEIGHT, FONT_SIZE, PLAIN_COLOR, RESIDUAL_COLOR, style

__all__ = ["GRADFLOW_QUANTITIES", "GRADFLOW_RATIOS", "degradation_curves", "gradflow_profile",
           "gradient_correlation_chart", "resnet_grad_norms"]

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
