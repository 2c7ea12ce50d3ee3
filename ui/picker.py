"""The shared image picker (samples, upload, camera): the chosen image stays chosen across pages."""

from __future__ import annotations

import streamlit as st
from PIL import Image

from resnet_viz.inputs import images
from ui import keys
from ui.state import digest, get_handle
from ui.text import lang, literal, named, reason_text, sample_name, t

SOURCE_LABELS = {"Samples": "common.from.samples", "Upload": "common.from.upload", "Camera": "common.from.camera"}


@st.cache_resource(max_entries=8, show_spinner=False)
def _decode(key: str, _data: bytes) -> Image.Image:
    # Keyed by the bytes' digest; the returned image is shared, so callers copy before drawing on it.
    return images.load_image(_data)


def _choose(name: str, data: bytes) -> None:
    """Keep a new image only if it decodes; otherwise keep the old one and say why."""
    try:
        _decode(digest(data), data)
    except images.ImageError as exc:
        st.session_state[keys.IMAGE_ERROR] = (name, exc.reason)  # worded at display time, in the reader's language
        return
    st.session_state.pop(keys.IMAGE_ERROR, None)
    st.session_state.pop(keys.IMAGE_DEFAULTED, None)
    st.session_state[keys.IMAGE] = (name, data)


def _sample_bytes(name: str) -> bytes:
    return next(s.path for s in images.list_samples() if s.name == name).read_bytes()


def _on_sample() -> None:
    name = st.session_state[keys.PICK_SAMPLE]
    _choose(name, _sample_bytes(name))


def _on_upload(key: str) -> None:
    file = st.session_state.get(key)
    if file is not None:
        _choose(file.name, file.getvalue())


def pick_image(where=st.sidebar) -> Image.Image:
    """The shared picker (samples, upload, camera). The chosen image stays chosen across pages."""
    samples = images.list_samples()
    if keys.IMAGE not in st.session_state or st.session_state.get(keys.IMAGE_DEFAULTED):
        # A session that has not chosen an image sees one the live weights can describe (a generated shape
        # for the shapes weights, a photo for ImageNet); it follows a change of weights until it chooses.
        first = images.default_sample(get_handle().source, samples)
        if st.session_state.get(keys.IMAGE, ("",))[0] != first:
            st.session_state[keys.IMAGE] = (first, _sample_bytes(first))
            st.session_state.pop(keys.PICK_SAMPLE, None)  # the selectbox shows the new default
        st.session_state[keys.IMAGE_DEFAULTED] = True
    with where.container(border=True):
        st.markdown(f"**{t('common.image')}**")
        how = st.radio(t("common.image_from"), ["Samples", "Upload", "Camera"], horizontal=True, key=keys.PICK_HOW,
                       label_visibility="collapsed", format_func={h: t(k) for h, k in SOURCE_LABELS.items()}.get)
        names = [s.name for s in samples]
        current = st.session_state[keys.IMAGE][0]
        if how == "Samples":
            titles = {n: sample_name(n, lang()) for n in names}  # read now: a format_func may run outside the run
            st.selectbox(t("common.sample"), names, index=names.index(current) if current in names else 0,
                         key=keys.PICK_SAMPLE, on_change=_on_sample, format_func=titles.get)
        elif how == "Upload":
            st.file_uploader(t("common.upload"), key=keys.PICK_UPLOAD,
                             on_change=_on_upload, args=(keys.PICK_UPLOAD,))
        else:
            st.camera_input(t("common.camera"), key=keys.PICK_CAMERA, on_change=_on_upload, args=(keys.PICK_CAMERA,))
        if keys.IMAGE_ERROR in st.session_state:
            name, reason = st.session_state[keys.IMAGE_ERROR]
            st.error(named(literal(name), reason_text(reason)) + t("common.image_kept"))
        name, data = st.session_state[keys.IMAGE]
        image = _decode(digest(data), data)
        shown = sample_name(name) if name in names else literal(name)
        st.image(image, caption=t("common.image_caption", name=shown, w=image.width, h=image.height), width="stretch")
    return image


def image_name() -> str:
    """The chosen image's name (a sample's name, or the uploaded file's): raw, for the library; show it
    with literal()."""
    return st.session_state[keys.IMAGE][0]


def image_key() -> str:
    """A short digest naming the chosen image, for caches keyed by image."""
    return digest(st.session_state[keys.IMAGE][1])


def image_kind() -> str:
    """'shape' when the chosen image is one of the generated shape samples (its bytes, not only its name),
    else 'photo' (a sample photo, an upload, the camera): what readings.weights_fit asks."""
    name, data = st.session_state[keys.IMAGE]
    sample = next((s for s in images.list_samples() if s.name == name), None)
    if sample is None or sample.mask is None:
        return "photo"
    return "shape" if digest(data) == _sample_digest(name) else "photo"


@st.cache_resource(max_entries=64, show_spinner=False)
def _sample_digest(name: str) -> str:
    return digest(_sample_bytes(name))
