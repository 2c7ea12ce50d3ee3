"""Server-side PNG export: a clear error without a renderer; real PNGs in a zip with one."""

import io
import os
import zipfile

import plotly.graph_objects as go
import pytest

from resnet_viz.figures import export


def test_filenames_keep_order_and_drop_odd_characters():
    assert export._filename("Top-5 / shortcuts off", 0) == "01_Top-5_shortcuts_off.png"
    assert export._filename("///", 11) == "12_figure.png"


def test_without_a_renderer_the_message_points_to_the_toolbar(monkeypatch):
    monkeypatch.setattr(export, "renderer", lambda: None)
    with pytest.raises(RuntimeError, match="camera icon"):
        export.figures_zip({"a": go.Figure()})


@pytest.mark.skipif(export.renderer() is None, reason="kaleido or Chromium not installed")
def test_zip_holds_one_png_per_figure(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    export.renderer.cache_clear()  # found again during this test
    figs = {"bars": go.Figure(go.Bar(y=[1, 2])), "line": go.Figure(go.Scatter(y=[2, 1]))}
    with zipfile.ZipFile(io.BytesIO(export.figures_zip(figs, width=400, height=300))) as zf:
        assert zf.namelist() == ["01_bars.png", "02_line.png"]
        assert all(zf.read(n).startswith(b"\x89PNG\r\n\x1a\n") for n in zf.namelist())
    assert "BROWSER_PATH" not in os.environ  # the renderer is passed to kaleido, not written into the process
