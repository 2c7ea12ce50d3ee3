"""Every text an AppTest run shows (markdown, captions, alerts, metrics, widget labels and options, buttons, tables,
and each plotly chart's titles, axes, legends, annotations, hover and bar texts), for the Chinese scans of the
Feature maps and Grad-CAM pages."""

from __future__ import annotations

import json
import re

from streamlit.testing.v1 import AppTest

from resnet_viz import i18n, images


def _figure_texts(spec: dict) -> list[str]:
    out: list[str] = []

    def title(v) -> None:
        if isinstance(v, dict):
            v = v.get("text")
        if isinstance(v, str):
            out.append(v)

    layout = spec.get("layout", {})
    title(layout.get("title"))
    for k, v in layout.items():
        if (k.startswith(("xaxis", "yaxis"))) and isinstance(v, dict):
            title(v.get("title"))
            out += [str(x) for x in v.get("ticktext", []) or []]
    out += [a.get("text", "") for a in layout.get("annotations", []) or []]
    for trace in spec.get("data", []):
        out.append(str(trace.get("name", "")))
        hover = re.sub(r"%\{[^}]*\}|</?extra>|<br>", " ", str(trace.get("hovertemplate", "")))  # plotly's syntax
        out.append(hover)
        text = trace.get("text")
        out += [str(x) for x in text] if isinstance(text, list) else [str(text or "")]
        title((trace.get("colorbar") or {}).get("title"))
        title(((trace.get("marker") or {}).get("colorbar") or {}).get("title"))
    return out


def texts(at: AppTest) -> list[str]:
    """Every visible text of the last run."""
    out: list[str] = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                                            "error", "success") for e in at.get(kind)]
    for m in at.metric:
        out += [m.label, str(m.value)]
    for kind in ("selectbox", "radio", "multiselect", "number_input", "slider", "toggle", "text_input",
                 "button", "checkbox", "select_slider"):
        for w in at.get(kind):
            out.append(w.label)
            out += [str(o) for o in getattr(w, "options", []) or []]
            if getattr(w, "placeholder", None):
                out.append(w.placeholder)
    for e in at.get("expander"):
        out.append(e.label)
    for df in at.dataframe:
        out += [str(c) for c in df.value.columns]
    for chart in at.get("plotly_chart"):
        out += _figure_texts(json.loads(chart.proto.spec))
    return [s for s in out if s]


def english_leaks(at: AppTest, labels: list[str]) -> dict[str, list[str]]:
    """Texts with English words; the live weights' class labels and the sample names (shown literally, like a
    file name) are allowed."""
    extra = {w for name in [*labels, *(s.name for s in images.list_samples())]
             for w in [name, *name.replace(":", " ").split()]}
    return {s[:90]: w for s in texts(at) if (w := i18n.english_words(s, extra=frozenset(extra)))}
