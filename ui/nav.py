"""The one table of pages (file, menu title key, icon, URL path), st.navigation built from it, and the guard
that sends a first visitor's deep link through app.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui.text import t

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PageSpec:
    file: str  # relative to the repository root
    title_key: str  # locale key of the menu title
    icon: str
    url_path: str  # /Architecture etc.; the same name Streamlit derives from the file name


PAGES = (
    PageSpec("pages/0_Home.py", "nav.home", "🏠", "Home"),
    PageSpec("pages/1_Architecture.py", "nav.architecture", "📐", "Architecture"),
    PageSpec("pages/2_Feature_Maps.py", "nav.feature_maps", "🔬", "Feature_Maps"),
    PageSpec("pages/3_Grad_CAM.py", "nav.grad_cam", "🎯", "Grad_CAM"),
    PageSpec("pages/4_Gradient_Flow.py", "nav.gradient_flow", "📉", "Gradient_Flow"),
    PageSpec("pages/5_Shortcut_Lab.py", "nav.shortcut_lab", "🧪", "Shortcut_Lab"),
    PageSpec("pages/6_Lecture.py", "nav.lecture", "🎓", "Lecture"),
    PageSpec("pages/7_Join.py", "nav.join", "🙋", "Join"),
    PageSpec("pages/8_Channels.py", "nav.channels", "🧿", "Channels"),
)

_run = threading.local()  # one script run happens on one thread: app.py marks it, the page reads the mark


def navigation():
    """st.navigation over PAGES (the first is the home page, at the root URL); app.py runs the returned page."""
    _run.entrypoint = True
    return _navigation()


def _navigation():
    return st.navigation([st.Page(ROOT / p.file, title=t(p.title_key), icon=p.icon, default=i == 0,
                                  url_path=None if i == 0 else p.url_path) for i, p in enumerate(PAGES)])


def require_app(page_file: str) -> None:
    """Every page calls this first: if Streamlit ran the page without app.py, hand the run back to app.py.

    Streamlit treats a folder named pages/ beside app.py as an old-style page list until the first st.navigation
    call in the server process; until then a visitor arriving on a deep link (/Architecture) gets the page
    script alone, without app.py's sidebar. Calling st.navigation (its documented effect: the pages/ folder is
    no longer used) and rerunning, from the page's own run (never during a module import), makes the rerun
    execute app.py, which draws the sidebar and runs the same page. A page that is itself the entry script
    (AppTest.from_file on a page) is left alone.
    """
    came_through_app = getattr(_run, "entrypoint", False)
    _run.entrypoint = False
    if came_through_app:
        return
    ctx = get_script_run_ctx()
    if ctx is None or Path(ctx.pages_manager.main_script_path).resolve() == Path(page_file).resolve():
        return
    _navigation()
    st.rerun()
