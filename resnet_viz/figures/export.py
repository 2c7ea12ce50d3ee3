"""Figures for slides: render plotly figures to PNG on the server (kaleido + a local Chromium), zipped."""

# Kaleido is optional: without it, or without a Chrome/Chromium binary, `renderer()` says None and the pages
# point to the PNG button (camera icon) in each figure's own toolbar instead.

from __future__ import annotations

import functools
import importlib.util
import io
import os
import re
import shutil
import threading
import zipfile

CHROME_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
SCALE = 2  # twice the on-screen pixels: sharp on a projector and in slides
# One export renders at a time: each starts a headless Chromium with ~10 processes, so three simultaneous clicks
# would start 30. A second caller waits for the first (at most WAIT_S seconds), then gets ExportBusy.
WAIT_S = 120
_RENDER = threading.Lock()


class ExportBusy(RuntimeError):
    """Another export kept the renderer for longer than the caller could wait."""

    reason_key = "ui.export.busy"


def busy() -> bool:
    """True while an export is rendering."""
    return _RENDER.locked()


@functools.lru_cache(maxsize=1)
def renderer() -> str | None:
    """Path of the browser kaleido will drive, or None when server-side rendering is unavailable."""
    if importlib.util.find_spec("kaleido") is None:
        return None
    path = os.environ.get("BROWSER_PATH")
    if path and os.path.exists(path):
        return path
    for name in CHROME_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _filename(title: str, i: int) -> str:
    stem = re.sub(r"[^\w\-]+", "_", title, flags=re.UNICODE).strip("_")[:60] or "figure"
    return f"{i + 1:02d}_{stem}.png"


def figures_zip(figs: dict, width: int = 1280, height: int | None = None, wait: float = WAIT_S) -> bytes:
    """name -> plotly figure, rendered to PNG (offline) and zipped in order; one call renders at a time, the
    others wait up to `wait` seconds for their turn and raise ExportBusy after that."""
    if renderer() is None:
        raise RuntimeError("No server-side renderer: install kaleido and Chromium, or use each figure's "
                           "camera icon to save it as PNG.")
    if not _RENDER.acquire(timeout=wait):
        raise ExportBusy(f"Another figure export kept the renderer for over {wait:g} s.")
    try:
        return _render_zip(figs, width, height)
    finally:
        _RENDER.release()


def _render_zip(figs: dict, width: int, height: int | None) -> bytes:
    import tempfile
    from pathlib import Path

    import kaleido
    import plotly.io as pio

    names = [_filename(name, i) for i, name in enumerate(figs)]
    with tempfile.TemporaryDirectory(prefix="resnet-viz-png-") as tmp:
        paths = [Path(tmp) / n for n in names]
        specs = [{"fig": fig.to_dict(), "path": path, "opts": {"format": "png", "width": width, "scale": SCALE,
                                                               "height": height or fig.layout.height or 500}}
                 for fig, path in zip(figs.values(), paths, strict=True)]
        # One browser session for every figure (several times faster than one to_image call each), on the browser
        # renderer() found, passed to kaleido rather than written into this process's environment.
        kaleido.write_fig_from_object_sync(specs, kopts={"path": renderer(), "headers": pio.defaults.headers})
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in paths:
                zf.write(path, path.name)
    return buf.getvalue()
