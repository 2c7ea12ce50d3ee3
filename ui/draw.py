"""Drawing helpers every page shares: the plotly config, errors, PNG and zip downloads."""

from __future__ import annotations

import io
import zipfile

import streamlit as st
from PIL import Image

from resnet_viz.figures import export
from resnet_viz.text.errors import UserError
from ui import keys
from ui.text import literal, named, reason_text, t

# The camera icon in every figure's toolbar saves a PNG; at twice the on-screen pixels it stays sharp on a slide.
PLOTLY_CONFIG = {"toImageButtonOptions": {"format": "png", "scale": 2}}


def chart(where, fig, **kwargs):
    """st.plotly_chart at full width with the slide-ready PNG button."""
    return where.plotly_chart(fig, width="stretch", config=PLOTLY_CONFIG, **kwargs)


def channel_from_click(event, tiled, key: str) -> None:
    """A click on a feature-map tile picks its channel, once: the selection outlives the rerun, the pick must
    not."""
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if not points:
        return
    click = (round(points[0]["y"]), round(points[0]["x"]))
    if st.session_state.get(keys.FM_LAST_CLICK) != click:
        st.session_state[keys.FM_LAST_CLICK] = click
        channel = tiled.tile_at(*click)
        if channel is not None:
            st.session_state[key] = channel


def show_error(exc: BaseException, what: str = "") -> None:
    """A clear message for a person, never a traceback; the exception's text may quote user input, so it is
    shown literally (a UserError in the sidebar's language, its user parts literal)."""
    text = reason_text(exc) if isinstance(exc, UserError) else literal(exc)
    st.error(named(what, text) if what else text)


def image_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_download(img: Image.Image, name: str, label: str | None = None) -> None:
    """A download button for an image (for slides)."""
    st.download_button(label or t("common.download_png"), image_png(img), file_name=f"{name}.png",
                       mime="image/png", key=f"dl_{name}")


def figures_zip_button(figs: dict, name: str) -> None:
    """One button downloading every figure of the page as PNGs in a zip, when a server-side renderer works;
    otherwise a hint about the camera icon in each figure's toolbar. The server renders one export at a time
    (resnet_viz.figures.export): the button says so, and says when another export is rendering now."""
    if export.renderer() is None:
        st.caption(t("common.png_hint"))
        return
    message = t("ui.export.busy")  # read now: the download runs outside the script, without session state

    def render() -> bytes:
        try:
            return export.figures_zip(figs)
        except export.ExportBusy:  # the download still arrives, as a zip saying why it holds no figures
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.writestr("busy.txt", message + "\n")
            return buf.getvalue()

    st.download_button(t("common.zip_button", n=len(figs)), data=render,
                       file_name=f"{name}_figures.zip", mime="application/zip", key=f"zip_{name}",
                       help=t("ui.export.one_at_a_time", s=export.WAIT_S))
    if export.busy():
        st.caption(t("ui.export.busy_now"))
