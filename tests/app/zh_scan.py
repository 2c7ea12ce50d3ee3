"""Every text an AppTest run shows, for the Chinese scan: Markdown, captions, titles, metrics, tables, widget
labels and options, and the plotly figures' titles, axes, legends, annotations, table cells and text labels."""

from __future__ import annotations

import json
import re

from tests.zh_words import english_words


def _figure_texts(fig: dict) -> list[str]:
    out: list[str] = []
    layout = fig.get("layout", {})
    title = layout.get("title", {})
    out.append(title.get("text", "") if isinstance(title, dict) else str(title))
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            t = axis.get("title", {})
            out.append(t.get("text", "") if isinstance(t, dict) else str(t))
            out += [str(v) for v in axis.get("ticktext", []) or []]
    out += [str(a.get("text", "")) for a in layout.get("annotations", []) or []]
    for trace in fig.get("data", []):
        if trace.get("showlegend", True) is not False:
            out.append(str(trace.get("name", "") or ""))
        text = trace.get("text")
        out += [str(v) for v in text] if isinstance(text, list) else [str(text or "")]
        if isinstance(trace.get("x"), list) and trace.get("type") == "bar":
            out += [str(v) for v in trace["x"] if isinstance(v, str)]
        if isinstance(trace.get("y"), list) and trace.get("type") == "bar":
            out += [str(v) for v in trace["y"] if isinstance(v, str)]
        out.append(str(trace.get("hovertemplate", "") or "").split("<extra>")[0])
        for part in ("header", "cells"):
            values = (trace.get(part) or {}).get("values", [])
            for col in values:
                out += [str(v) for v in col] if isinstance(col, list) else [str(col)]
        bar = (trace.get("marker") or {}).get("colorbar") or {}
        out += [str(v) for v in bar.get("ticktext", []) or []]
    return out


def page_texts(at) -> list[str]:
    """Every visible text of an AppTest run (main area and sidebar)."""
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "exception"):
        out += [str(e.value) for e in at.get(kind)]
    for m in at.metric:
        out += [str(m.label), str(m.value), str(m.proto.body or "")]
        out.append(str(m.proto.delta or ""))
    for kind in ("table", "dataframe"):
        for e in at.get(kind):
            df = e.value
            out += [str(c) for c in df.columns]
            out += [str(v) for v in df.astype(str).to_numpy().ravel()]
    for kind in ("radio", "selectbox", "multiselect"):
        for w in at.get(kind):
            out.append(str(w.label))
            out += [str(o) for o in w.options]
    for kind in ("button", "toggle", "checkbox", "number_input", "slider", "select_slider", "text_input"):
        out += [str(w.label) for w in at.get(kind)]
    out += [str(b.proto.label) for b in at.get("download_button")]
    out += [str(e.proto.label) for e in at.get("expander")]
    for chart in at.get("plotly_chart"):
        out += _figure_texts(json.loads(chart.proto.spec))
    return [s for s in out if s]


def class_words() -> frozenset[str]:
    """Every word of ImageNet's class labels and of the sample photos' names (data, shown as they are). The shapes
    weights' classes and the generated samples' names are not among them: a Chinese page shows them in Chinese."""
    from resnet_viz.inputs import images
    from resnet_viz.model import weights

    shapes = set(weights.shapes_meta()["classes"])
    labels = [*weights._imagenet_labels(), *(s.name for s in images.list_samples() if s.mask is None)]
    words = {w for label in labels for w in re.findall(r"[A-Za-z][A-Za-z0-9_@'.-]*", label)}
    return frozenset(words - shapes)


LANGUAGE_RADIO = "Language / 语言"  # the sidebar's language radio names both languages, on purpose


def english_on(at, extra: frozenset[str] | set[str] = frozenset()) -> dict[str, list[str]]:
    """{text: its English words} for every text of the run that has any."""
    found = {}
    for text in page_texts(at):
        if text == LANGUAGE_RADIO or text == "English":
            continue
        shown = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)  # CSS is not shown
        shown = re.sub(r"<[^>]*>|&\w+;", " ", shown)  # HTML tags and entities are markup, not words
        words = english_words(shown, extra)
        if words:
            found[text[:160]] = words
    return found


def english_leaks(at, labels) -> dict[str, list[str]]:
    """english_on with the live weights' class labels allowed, except the shapes classes (translated)."""
    from resnet_viz.model import weights

    own = {w for name in labels for w in [name, *name.split()]} - set(weights.shapes_meta()["classes"])
    return english_on(at, extra=class_words() | own)
