"""The one real server of a test session, born the way a lecture meets it: fresh, with no network, and a class
arriving at the same moment.

`streamlit run app.py` on a free loopback port, on the CPU, with an empty torch hub, and every request sent to a
proxy that accepts the connection and never answers: the offline hint ($RESNET_VIZ_OFFLINE) is not set, so the
ImageNet download really runs, in the background. As soon as the server answers its health route, seven sessions of
Streamlit's own websocket protocol (tools.load.client: what the browser speaks, without a browser) open it at
once: six first visitors, half on the home page and half on deep links, and the load tool's solo student
(tools.load.run.measure), who then walks part of the lecture before two students walk it together, the second
uploading under the first one's image name. What the visitors got and the load report are kept for
tests/e2e/test_first_visitors.py and tests/unit/test_load.py; the browser tests then use the same server, warm.
One server per pytest session, started on first use, stopped at the session's end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from streamlit.runtime.state.common import user_key_from_element_id

from tools.load import run as load
from tools.load import server as srv
from tools.load.client import RunResult, Session

ROOT = Path(__file__).resolve().parents[2]
LOADING = (load._strings()["boot.loading"],)  # the first view's status while the server loads its library
FIRST_VISIT_S = 300.0  # a bound for a stuck first run on a loaded machine, not a time goal
# Half arrive on the home page, half on deep links: a deep link on a fresh server must still run app.py.
FIRST_PATHS = ("", "Architecture", "", "Grad_CAM", "", "Shortcut_Lab")
# The load tool's tiny run: a solo walk, then 2 sessions at once, each through the part of the lecture that can show
# another session's state (Grad-CAM, an upload, shortcuts off and on); session 1 uploads under session 0's name.
LECTURE = ("open", "grad_cam", "upload_mode", "upload", "shortcuts_off", "shortcuts_on")
LOAD_ARGS = dict(sessions=2, rounds=1, solo_rounds=1, think_s=0.0, duration_limit=300.0, server_arg=[], replicas=1,
                 inject_mismatch=True, only=list(LECTURE[1:]))


def in_thread(fn, *args):
    """fn(*args) on a thread of its own: playwright's sync API keeps an event loop running on the test thread for
    the whole session, and asyncio.run needs a thread without one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def start_server(tmp: Path, env: dict) -> tuple[str, subprocess.Popen]:
    """`streamlit run app.py` on a free loopback port (the load tool's own start), on the CPU, with an empty torch
    hub and the disk cache of this test process (results AppTests already computed, e.g. gradient-flow runs, are
    not computed twice): (url, process)."""
    port = srv.free_port()
    for name in ("torch-home", "server"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    env = {**env, "RESNET_VIZ_DEVICE": "cpu", "TORCH_HOME": str(tmp / "torch-home"),
           "RESNET_VIZ_CACHE": os.environ.get("RESNET_VIZ_CACHE", str(tmp / "cache"))}
    proc = srv.start_streamlit(port, [], tmp / "server", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        srv.wait_http(url + "/_stcore/health", 120, proc)
    except BaseException:
        srv.stop(proc)
        raise
    return url, proc


class Visitor(Session):
    """A browser tab's first load of a URL: its first run names the page by its path and passes the query, as the
    frontend does; keeps every widget's last element (by user key) and the code blocks' texts."""

    def __init__(self, base_url: str, timeout_s: float = 120.0):
        super().__init__(base_url, timeout_s)
        self.widgets: dict[str, object] = {}  # user key -> the widget's proto (its shown value: shown())
        self.codes: list[str] = []  # st.code texts, in the order drawn (the sidebar's link is one)

    async def open_at(self, path: str, query: str = "") -> RunResult:
        """The first load of /path?query; on a server still loading its library, until the full app has run (the
        light first view, ui.first_view, reruns itself): what the visitor finally sees."""
        return await self.open(LOADING, page_name=path, query=query)

    def landed(self) -> str | None:
        """The URL path of the page the last run ran (from the navigation message)."""
        return next((path for path, h in self.pages.items() if h == self.page_hash), None)

    def _read_delta(self, delta, result: RunResult) -> None:
        super()._read_delta(delta, result)
        if delta.WhichOneof("type") != "new_element":
            return
        kind = delta.new_element.WhichOneof("type")
        body = getattr(delta.new_element, kind)
        if kind == "code":
            self.codes.append(body.code_text)
        element_id = getattr(body, "id", "")
        if isinstance(element_id, str) and element_id.startswith("$$ID"):
            self.widgets[user_key_from_element_id(element_id)] = body


def shown(widget) -> object:
    """What a selectbox, radio or checkbox/toggle proto shows: the value set from session state, else its default."""
    if hasattr(widget, "raw_value"):  # selectbox, radio: the shown option's text
        return widget.raw_value if widget.set_value else widget.options[widget.default]
    return widget.value if widget.set_value else widget.default


async def visit(url: str, path: str, query: str = "") -> tuple[Visitor, RunResult]:
    """One visitor's first load of url/path?query, then it leaves."""
    visitor = Visitor(url, timeout_s=FIRST_VISIT_S)
    try:
        return visitor, await visitor.open_at(path, query)
    finally:
        await visitor.close()


@dataclass(frozen=True)
class Visit:
    path: str  # the URL path the visitor opened
    result: RunResult  # what its first run sent
    landed: str | None  # the page that run ran


async def _arrive(url: str, paths: tuple[str, ...]) -> list[Visit]:
    visitors = [Visitor(url, timeout_s=FIRST_VISIT_S) for _ in paths]
    try:  # all six requests leave before any run has finished
        results = await asyncio.gather(*(v.open_at(p) for v, p in zip(visitors, paths, strict=True)))
    finally:
        await asyncio.gather(*(v.close() for v in visitors))
    return [Visit(p, r, v.landed()) for v, p, r in zip(visitors, paths, results, strict=True)]


async def _arrive_with_the_load_tool(url: str, pids: list[int], ready_s: float) -> tuple[list[Visit], dict]:
    args = argparse.Namespace(**LOAD_ARGS)
    report, visits = await asyncio.gather(load.measure(url, pids, args, ready_s, []), _arrive(url, FIRST_PATHS))
    return visits, report


@dataclass
class Hall:
    """The shared server: its URL and process ids, seconds from spawn to health, the first visitors' runs and the
    load tool's report."""

    url: str
    pids: list[int]
    ready_s: float
    first_visitors: list[Visit] = field(default_factory=list)
    load_report: dict = field(default_factory=dict)
    _close: list = field(default_factory=list, repr=False)

    def close(self) -> None:
        for fn in reversed(self._close):
            fn()


def _open_hall(tmp: Path) -> Hall:
    hole = socket.socket()  # a loopback port that accepts TCP connections and never says a word
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    black_hole = f"http://127.0.0.1:{hole.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k != "RESNET_VIZ_OFFLINE" and "proxy" not in k.lower()}
    env.update({"https_proxy": black_hole, "http_proxy": black_hole, "HTTPS_PROXY": black_hole,
                "HTTP_PROXY": black_hole, "no_proxy": "", "NO_PROXY": ""})
    spawn = time.perf_counter()
    try:
        url, proc = start_server(tmp, env)
    except BaseException:
        hole.close()
        raise
    hall = Hall(url, [proc.pid], time.perf_counter() - spawn, _close=[hole.close, lambda: srv.stop(proc)])
    try:
        hall.first_visitors, hall.load_report = in_thread(
            asyncio.run, _arrive_with_the_load_tool(url, hall.pids, hall.ready_s))
    except BaseException:
        hall.close()
        raise
    return hall


_HALL = pytest.StashKey["Hall | Exception"]()


def lecture_hall(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Hall:
    """The session's one server, started (and met by the class) on first use; stopped at the session's end. A
    failed start is remembered: the first test that asked shows its error, the others do not start it again."""
    if _HALL not in config.stash:
        try:
            config.stash[_HALL] = _open_hall(tmp_path_factory.mktemp("hall"))
        except Exception as exc:
            config.stash[_HALL] = exc
            raise
        config.add_cleanup(config.stash[_HALL].close)
    hall = config.stash[_HALL]
    if isinstance(hall, Exception):
        raise RuntimeError("the shared server did not start: see the first test that used it") from hall
    return hall
