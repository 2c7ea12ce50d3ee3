"""The first view after a server start, drawn before the library has loaded."""

# Importing torch, torchvision and the library (ui.boot) takes most of a cold start: ~8 s of the first visit on
# this 2-core machine, against ~1.5 s for Streamlit itself. So the first script run starts that import on a
# thread of its own and, until it is done, app.py draws a light view: the sidebar's language choice with a
# "loading the model" status, and Home (which needs no model) or, on another page, a note that it is loading.
# A fragment checks once a second and reruns the whole app when the library is there; every later run, and
# every run in a process where torch is already loaded (tests, a warm server), goes straight to the full app.
#
# Only this thread imports the library while it loads: the light view imports nothing of it, and a page that
# needs it imports ui.boot, which waits on that module's import lock (ui.boot explains why one importer).

from __future__ import annotations

import importlib
import sys
import threading

import streamlit as st

from resnet_viz.text import i18n
from ui import keys
from ui.text import language_selector, literal, t

POLL_S = 1.0
_lock = threading.Lock()
_ready = threading.Event()
_thread: threading.Thread | None = None


_failure: list[BaseException] = []  # why the library did not import, kept for the page to show


def _import_library() -> None:
    try:
        importlib.import_module("ui.boot")
    except BaseException as exc:  # kept, not raised: on this thread nobody would see it
        _failure.append(exc)
    finally:
        _ready.set()


def failure() -> BaseException | None:
    """The exception that stopped the library's import, if one did."""
    return _failure[0] if _failure else None


def _link_language() -> None:
    """A link's language, before the full app reads the rest of the link."""
    lang = st.query_params.get("lang")
    if keys.LANG not in st.session_state and lang in i18n.LANGUAGES:
        st.session_state[keys.LANG] = lang


def show_failure(exc: BaseException) -> None:
    """Say that the app cannot start and why (the exception's type and message, literally), then stop."""
    _link_language()
    st.error(t("boot.failed", error=literal(f"{type(exc).__name__}: {exc}")))
    st.stop()


def start() -> None:
    """Begin loading the library once per process (at once when torch is already loaded: nothing to wait for)."""
    global _thread
    with _lock:
        if _ready.is_set() or _thread is not None:
            return
        if "torch" in sys.modules:  # a test process or a library user: the rest imports in well under a second
            _import_library()
            return
        _thread = threading.Thread(target=_import_library, name="resnet-viz-import", daemon=True)
        _thread.start()


def ready() -> bool:
    return _ready.is_set()


def wait(timeout_s: float) -> bool:
    """Block until the library is loaded (or `timeout_s` passed); whether it is."""
    return _ready.wait(timeout_s)


@st.fragment(run_every=POLL_S)
def _poll() -> None:
    if ready():
        st.rerun(scope="app")


def first_view(navigation, home_path: str) -> None:
    """The light view while the library loads: language, a loading status, Home or a loading note; then stop.
    `navigation` builds the menu (ui.nav.navigation), after the link's language is known: its titles follow it."""
    _link_language()
    page = navigation()
    with st.sidebar:
        language_selector()
        st.info(t("boot.loading"))
    if (page.url_path or home_path) == home_path:
        page.run()
    else:
        st.info(t("boot.loading_page"))
    _poll()
    st.stop()
