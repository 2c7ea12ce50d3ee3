"""Session keys, the cached model handle every session shares, and the sidebar's shortcut mask."""

# Pages also run on their own (AppTest.from_file on a page), so every getter has a default when the sidebar in
# app.py has not run.

from __future__ import annotations

import gc
import hashlib
import threading

import streamlit as st

from resnet_viz.model import hub, weights
from resnet_viz.model.config import DEFAULTS
from resnet_viz.model.device import available_devices
from resnet_viz.model.forward import ALL_ON
from resnet_viz.model.layers import BLOCK_NAMES
from resnet_viz.text.errors import WeightsError
from ui import keys
from ui.memo import BoundedLRU
from ui.text import t

WEIGHT_SOURCES = ("auto", "imagenet", "shapes", "random", "file")

def digest(data: bytes) -> str:
    """A short content digest, for caches keyed by bytes."""
    return hashlib.sha256(data).hexdigest()[:16]

# Why checkpoints were refused, by content digest: a refused upload is not read with torch.load again on every
# rerun of the session that uploaded it.
REFUSED = BoundedLRU(64, weigh=lambda _: 1)
_frozen = threading.Event()


def _freeze_once() -> None:
    """gc.collect(); gc.freeze() once per process, after the first model is built: the model, torch, plotly and
    the library then sit in the permanent generation, and no later collection walks them again."""
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()


@st.cache_resource(max_entries=4, show_spinner=False)
def _shared_handle(source: str, device: str, file_digest: str | None, _file: bytes | None) -> weights.ModelHandle:
    # One handle per (source, device, file): shared by every browser session, never written to. "auto" never
    # waits for the network: without cached ImageNet weights it answers with the shapes weights at once while
    # the ImageNet download runs in the background (get_handle switches when it is done).
    handle = weights.handle_for(source, device=device, file=_file, background_download=True)
    _freeze_once()
    return handle

def checked_handle(source: str, device: str, data: bytes | None) -> weights.ModelHandle:
    """The handle for (source, device, checkpoint bytes); raises WeightsError, without reading the bytes again,
    for a checkpoint already refused."""
    key = f"{source}:{digest(data)}" if data else None
    if key and (why := REFUSED.peek(key)) is not None:
        raise WeightsError(why.key, **why.params)
    try:
        return _shared_handle(source, device, digest(data) if data else None, data)
    except WeightsError as exc:
        if key:
            REFUSED.put(key, exc.reason)
        raise


def _imagenet_arrived(handle: weights.ModelHandle, device: str) -> weights.ModelHandle:
    """Auto's handle, switched to ImageNet once the background download has put the weights in the cache."""
    if not handle.auto or handle.source == "imagenet":
        return handle
    probe = hub.imagenet_probe(start=False)
    if probe is None or probe.state != "cached":
        return handle
    _shared_handle.clear("auto", device, None, None)
    return _shared_handle("auto", device, None, None)


def get_handle() -> weights.ModelHandle:
    """The shared model for the sidebar's choice; falls back to "auto" with a visible error (keys.WEIGHTS_ERROR holds
    (source, Reason)). When "auto" switches to ImageNet, keys.WEIGHTS_SWITCHED says so once in each session."""
    source = st.session_state.get(keys.WEIGHTS_SOURCE, DEFAULTS.weights)
    device = st.session_state.get(keys.DEVICE) or available_devices()[0]
    file = st.session_state.get(keys.WEIGHTS_FILE)
    data = file[1] if (source == "file" and file) else None
    try:
        handle = checked_handle(source, device, data)
    except WeightsError as exc:
        st.session_state[keys.WEIGHTS_ERROR] = (source, exc.reason)
        handle = _shared_handle("auto", device, None, None)
    if handle.auto:
        handle = _imagenet_arrived(handle, device)
        seen = st.session_state.get(keys.WEIGHTS_SEEN)
        if seen is not None and seen != "imagenet" and handle.source == "imagenet":
            st.session_state[keys.WEIGHTS_SWITCHED] = True
        st.session_state[keys.WEIGHTS_SEEN] = handle.source
    return handle

def get_mask() -> tuple[bool, ...]:
    """The sidebar's shortcut mask: one bool per block, all on by default."""
    return tuple(st.session_state.get(keys.MASK, ALL_ON))

def mask_label(mask: tuple[bool, ...]) -> str:
    """'all shortcuts on', 'all shortcuts off', or the blocks whose shortcut is off."""
    if all(mask):
        return t("common.mask.all_on")
    if not any(mask):
        return t("common.mask.all_off")
    return t("common.mask.some_off", blocks=", ".join(n for n, on in zip(BLOCK_NAMES, mask, strict=True) if not on))
