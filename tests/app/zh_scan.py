"""Every text a page's main area shows, for the Chinese scan: element texts, widget labels and options, and the
plotly figures' titles, axes, legends, annotations and tick texts (from each chart's JSON)."""

from __future__ import annotations

import json

from resnet_viz import i18n


def _figure_texts(spec: dict) -> list[str]:
    layout = spec.get("layout", {})
    out = []

    def text(v):
        if isinstance(v, dict):
            v = v.get("text", "")
        if isinstance(v, str) and v:
            out.append(v)

    text(layout.get("title"))
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            text(axis.get("title"))
            out.extend(str(x) for x in axis.get("ticktext", []) or [])
    for note in layout.get("annotations", []) or []:
        text(note)
    for trace in spec.get("data", []):
        text(trace.get("name"))
        for key in ("x", "y", "text"):
            values = trace.get(key)
            if isinstance(values, list):
                out.extend(v for v in values if isinstance(v, str))
        if trace.get("type") == "table":
            for part in ("header", "cells"):
                for col in trace.get(part, {}).get("values", []):
                    out.extend(str(v) for v in (col if isinstance(col, list) else [col]))
    return out


def page_texts(at) -> list[str]:
    """All texts of the main area of an AppTest run (not the sidebar, which other pages own)."""
    main = at.main
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        out.extend(e.value for e in main.get(kind))
    for m in main.get("metric"):
        out += [m.label, str(m.value)]
    for kind in ("radio", "selectbox", "toggle", "button", "number_input", "checkbox"):
        for w in main.get(kind):
            out.append(w.label)
            out.extend(str(o) for o in getattr(w, "options", []) or [])
    for e in main.get("expander"):
        out.append(e.proto.label)
    for chart in main.get("plotly_chart"):
        out.extend(_figure_texts(json.loads(chart.proto.spec)))
    return out


def english_leaks(at, extra: frozenset[str] | set[str] = frozenset()) -> dict[str, list[str]]:
    """Text -> its English words, for every text of the page that has any."""
    return {s: w for s in page_texts(at) if (w := i18n.english_words(s, extra=extra))}
