"""What every page shares: the cached model handle, the shortcut mask, the image picker, errors, downloads.

Pages also run on their own (AppTest.from_file on a page), so every getter has a default when the
sidebar in app.py has not run.
"""

from __future__ import annotations

import hashlib
import io

import streamlit as st
from PIL import Image

from pages.ui import t
from resnet_viz import featuremaps, gradcam, images, weights
from resnet_viz.config import BLOCK_NAMES, DEFAULTS, STAGE_NAMES
from resnet_viz.device import available_devices
from resnet_viz.forward import ALL_ON


def _leave_legacy_pages_mode() -> None:
    # Streamlit treats a folder named pages/ beside app.py as an old-style page list until app.py has
    # called st.navigation once in this server process; a first visitor arriving on a deep link
    # (/Architecture) would then run the page alone, without app.py's sidebar. Switch that mode off and
    # rerun, so app.py runs (streamlit/runtime/pages_manager.py, `uses_pages_directory`).
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_pages_mode()

# (file, title, icon) of every page, in menu order; app.py builds st.navigation from it.
PAGE_SPECS = [
    ("pages/0_Home.py", "Home", "🏠"),
    ("pages/1_Architecture.py", "Architecture", "📐"),
    ("pages/2_Feature_Maps.py", "Feature maps", "🔬"),
    ("pages/3_Grad_CAM.py", "Grad-CAM", "🎯"),
    ("pages/4_Gradient_Flow.py", "Gradient flow", "📉"),
    ("pages/5_Shortcut_Lab.py", "Shortcut Lab", "🧪"),
    ("pages/6_Lecture.py", "Lecture", "🎓"),
]
SOURCE_KEY = "weights_source"
DEVICE_KEY = "device"
FILE_KEY = "weights_file"  # (name, bytes) of an uploaded checkpoint
MASK_KEY = "mask"
ALL_KEY = "shortcuts_all"
IMAGE_KEY = "image"  # (name, bytes) of the chosen image; survives page changes
SOURCE_LABELS = {"Samples": "common.from.samples", "Upload": "common.from.upload", "Camera": "common.from.camera"}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def _load(source: str, device: str, file_digest: str | None, _file: bytes | None) -> weights.ModelHandle:
    # One handle per (source, device, file): shared by every browser session, never written to.
    return weights.load(source, device=device, file=_file)


def get_handle() -> weights.ModelHandle:
    """The shared model for the sidebar's choice; falls back to "auto" with a visible error."""
    source = st.session_state.get(SOURCE_KEY, DEFAULTS.weights)
    device = st.session_state.get(DEVICE_KEY) or available_devices()[0]
    file = st.session_state.get(FILE_KEY)
    data = file[1] if (source == "file" and file) else None
    try:
        return _load(source, device, _digest(data) if data else None, data)
    except weights.WeightsError as exc:
        st.session_state["weights_error"] = f"{weights.DESCRIPTIONS.get(source, source)}: {exc}"
        return _load("auto", device, None, None)


@st.cache_resource(max_entries=DEFAULTS.trace_cache_entries, show_spinner=False)
def features(weights_key: str, image_key: str, mask: tuple[bool, ...], center_crop: bool,
             _handle: weights.ModelHandle, _image: Image.Image) -> featuremaps.FeatureTrace:
    """ONE traced forward per (weights, image, mask, crop), shared by every page that shows feature maps.

    The handle and image are not hashed (leading underscore); weights_key and image_key stand in for them.
    """
    return featuremaps.compute(_handle, _image, mask, center_crop)


@st.cache_data(max_entries=32, show_spinner=False)
def grad_cams(weights_key: str, image_key: str, mask: tuple[bool, ...], target: int | None,
              _handle: weights.ModelHandle, _x) -> gradcam.GradCam:
    """Grad-CAM of the four stages in one pass per (weights, image, mask, class), shared by the pages."""
    return gradcam.grad_cam(_handle, _x, STAGE_NAMES, target, mask)


def weights_key(handle: weights.ModelHandle) -> str:
    """Names the live weights for caches keyed by weights (one handle object per source/device/file)."""
    return f"{handle.source}:{handle.device}:{id(handle)}"


def get_mask() -> tuple[bool, ...]:
    """The sidebar's shortcut mask: one bool per block, all on by default."""
    return tuple(st.session_state.get(MASK_KEY, ALL_ON))


def mask_label(mask: tuple[bool, ...]) -> str:
    """'all shortcuts on', 'all shortcuts off', or the blocks whose shortcut is off."""
    if all(mask):
        return t("common.mask.all_on")
    if not any(mask):
        return t("common.mask.all_off")
    return t("common.mask.some_off", blocks=", ".join(n for n, on in zip(BLOCK_NAMES, mask, strict=True) if not on))


def show_error(exc: BaseException, what: str = "") -> None:
    """A clear message for a person, never a traceback."""
    st.error(f"{what}{': ' if what else ''}{exc}")


def image_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def image_download(img: Image.Image, name: str, label: str | None = None) -> None:
    """A download button for an image (for slides)."""
    st.download_button(label or t("common.download_png"), image_png(img), file_name=f"{name}.png",
                       mime="image/png", key=f"dl_{name}")


@st.cache_resource(max_entries=8, show_spinner=False)
def _decode(digest: str, _data: bytes) -> Image.Image:
    # Keyed by the bytes' digest; the returned image is shared, so callers copy before drawing on it.
    return images.load_image(_data)


def _choose(name: str, data: bytes) -> None:
    """Keep a new image only if it decodes; otherwise keep the old one and say why."""
    try:
        _decode(_digest(data), data)
    except images.ImageError as exc:
        st.session_state["image_error"] = f"{name}: {exc}"
        return
    st.session_state.pop("image_error", None)
    st.session_state[IMAGE_KEY] = (name, data)


def _sample_bytes(name: str) -> bytes:
    return next(s.path for s in images.list_samples() if s.name == name).read_bytes()


def _on_sample() -> None:
    name = st.session_state["pick_sample"]
    _choose(name, _sample_bytes(name))


def _on_upload(key: str) -> None:
    file = st.session_state.get(key)
    if file is not None:
        _choose(file.name, file.getvalue())


def pick_image(where=st.sidebar) -> Image.Image:
    """The shared picker (samples, upload, camera). The chosen image stays chosen across pages."""
    samples = images.list_samples()
    if IMAGE_KEY not in st.session_state:
        st.session_state[IMAGE_KEY] = (samples[0].name, _sample_bytes(samples[0].name))
    with where.container(border=True):
        st.markdown(f"**{t('common.image')}**")
        how = st.radio(t("common.image_from"), ["Samples", "Upload", "Camera"], horizontal=True, key="pick_how",
                       label_visibility="collapsed", format_func=lambda h: t(SOURCE_LABELS[h]))
        names = [s.name for s in samples]
        current = st.session_state[IMAGE_KEY][0]
        if how == "Samples":
            st.selectbox(t("common.sample"), names, index=names.index(current) if current in names else 0,
                         key="pick_sample", on_change=_on_sample)
        elif how == "Upload":
            st.file_uploader(t("common.upload"), key="pick_upload",
                             on_change=_on_upload, args=("pick_upload",))
        else:
            st.camera_input(t("common.camera"), key="pick_camera", on_change=_on_upload, args=("pick_camera",))
        if "image_error" in st.session_state:
            st.error(st.session_state["image_error"] + t("common.image_kept"))
        name, data = st.session_state[IMAGE_KEY]
        image = _decode(_digest(data), data)
        st.image(image, caption=f"{name} ({image.width}×{image.height})", width="stretch")
    return image


def image_name() -> str:
    """The chosen image's name (a sample's name, or the uploaded file's)."""
    return st.session_state[IMAGE_KEY][0]


def image_key() -> str:
    """A short digest naming the chosen image, for caches keyed by image."""
    return _digest(st.session_state[IMAGE_KEY][1])
