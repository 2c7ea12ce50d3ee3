"""One Streamlit browser session without a browser: the /_stcore/stream websocket, BackMsg/ForwardMsg protos."""

# Widgets are driven by their user key (Streamlit element ids end with it), never by their translated label.
# Used only by the load benchmark (tools.load.run); the app itself never imports this module.

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.state.common import user_key_from_element_id
from websockets.asyncio.client import connect

# The end of a whole script run. A fragment's own run (the first view's poll while the library loads, ui.first_view)
# ends with FINISHED_FRAGMENT_RUN_SUCCESSFULLY, which ends none of this client's requests: it never sends one.
DONE = {ForwardMsg.FINISHED_SUCCESSFULLY: "ok", ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile_error"}


@dataclass
class RunResult:
    """What one script run sent back: how long, how many bytes, and what went wrong."""

    latency_s: float
    bytes: int
    status: str  # "ok", "timeout", "compile_error", "closed"
    exceptions: list[str] = field(default_factory=list)  # st.exception elements (a traceback on screen)
    alerts: list[str] = field(default_factory=list)  # st.error bodies (a handled, user-facing error)
    captions: list[str] = field(default_factory=list)  # st.caption texts (the sidebar's shortcut mask is one)
    infos: list[str] = field(default_factory=list)  # st.info bodies (the first view's "loading" status is one)
    first_view_s: float | None = None  # open() after a server start: when the light first view was drawn
    blob: bytes = b""  # every delta's bytes, for the isolation checks


def _cookies(headers) -> dict[str, str]:
    out = {}
    for line in headers.get_all("Set-Cookie") or []:
        name, _, value = line.split(";", 1)[0].partition("=")
        out[name.strip()] = value.strip()
    return out


def _multipart(name: str, data: bytes, mime: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {mime}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Session:
    """A browser tab's protocol: keeps widget ids, current widget values and the current page, like the frontend."""

    def __init__(self, base_url: str, timeout_s: float = 120.0):
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.cookies: dict[str, str] = {}
        self.ids: dict[str, str] = {}  # user key -> element id
        self.options: dict[str, list[str]] = {}  # user key -> shown options (selectbox, radio)
        self.values: dict[str, WidgetState] = {}  # user key -> the state the browser keeps sending
        self.pages: dict[str, str] = {}  # url path (lower case) -> page_script_hash
        self.page_hash = ""
        self.session_id = ""
        self.ws = None
        self.replica = ""  # the upstream nginx names in X-Upstream (empty without a balancer)
        self.auto_rerun: tuple[str, float] | None = None  # a fragment's run_every: (fragment id, interval)

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _http(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> int:
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        if self.cookies:
            req.add_header("Cookie", self._cookie_header())
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            self.cookies.update(_cookies(resp.headers))
            self.replica = resp.headers.get("X-Upstream", self.replica)
            return resp.status

    async def open(self, loading_texts: tuple[str, ...] = (), page_name: str = "", query: str = "") -> RunResult:
        """GET the health route (XSRF and balancer cookies, as the page load gives a browser), connect, first run
        (of the page at URL path `page_name` with `query`, as a browser's first load of /page_name?query asks).

        When the first run is the light view of a server still loading its library (its status is one of
        `loading_texts`), wait for the full app too (the view reruns itself): latency_s is until the full app,
        first_view_s until the light view."""
        start = time.perf_counter()
        await asyncio.to_thread(self._http, "GET", "/_stcore/health")
        xsrf = self.cookies.get("_streamlit_xsrf", "")
        self.ws = await connect(self.base.replace("http", "ws", 1) + "/_stcore/stream", max_size=None,
                                subprotocols=["streamlit", xsrf] if xsrf else ["streamlit"],
                                additional_headers={"Cookie": self._cookie_header(), "Origin": self.base})
        first = BackMsg(rerun_script=ClientState(page_name=page_name, query_string=query))
        await self.ws.send(first.SerializeToString())
        result = await self._until_finished(time.perf_counter())
        if result.status == "ok" and any(text in result.infos for text in loading_texts):
            first_view = time.perf_counter() - start
            full = await self._poll_until_full_run(start)
            full.first_view_s = first_view
            full.bytes += result.bytes
            return full
        result.latency_s = time.perf_counter() - start
        return result

    async def _poll_until_full_run(self, start: float) -> RunResult:
        """What a browser does for a run_every fragment (Streamlit's AutoRerun message): rerun the fragment every
        interval; the first view's fragment reruns the whole app once the library is loaded."""
        waited = RunResult(0.0, 0, "timeout")
        while self.auto_rerun is not None and time.perf_counter() - start < self.timeout_s:
            fragment_id, interval = self.auto_rerun
            await asyncio.sleep(interval)
            msg = BackMsg(rerun_script=ClientState(page_script_hash=self.page_hash, fragment_id=fragment_id))
            msg.rerun_script.widget_states.widgets.extend(self.values.values())
            await self.ws.send(msg.SerializeToString())
            run = await self._until_finished(time.perf_counter(), fragment_ends=True)
            waited.bytes += run.bytes
            if run.status != "fragment":
                run.bytes, run.latency_s = run.bytes + waited.bytes, time.perf_counter() - start
                return run
        waited.latency_s = time.perf_counter() - start
        return waited

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    def page(self, name: str) -> str:
        """The script hash of the page whose URL path is `name` (case and underscores ignored)."""
        want = name.lower().replace("_", "")
        for path, h in self.pages.items():
            if path.replace("_", "").replace("-", "") == want:
                return h
        raise KeyError(f"no page {name!r} in {sorted(self.pages)}")

    async def rerun(self, page: str | None = None, trigger: str | None = None,
                    fragment_id: str | None = None) -> RunResult:
        """Send one rerun (the widget values kept so far, plus a one-shot button trigger) and wait for its end;
        with `fragment_id`, only that fragment reruns (a widget inside it, or its run_every tick), as the browser
        asks, and the run ends with the fragment's (status "fragment")."""
        if page is not None:
            self.page_hash = self.page(page)
        states = [s for s in self.values.values()]
        if trigger is not None:
            states.append(WidgetState(id=self.ids[trigger], trigger_value=True))
        msg = BackMsg(rerun_script=ClientState(page_script_hash=self.page_hash, fragment_id=fragment_id or ""))
        msg.rerun_script.widget_states.widgets.extend(states)
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        return await self._until_finished(start, fragment_ends=fragment_id is not None)

    def toggle(self, key: str, on: bool) -> None:
        self.values[key] = WidgetState(id=self.ids[key], bool_value=on)

    def choose(self, key: str, index: int) -> str:
        """Pick the index-th shown option of a selectbox or radio; returns the shown text."""
        shown = self.options[key][index]
        self.values[key] = WidgetState(id=self.ids[key], string_value=shown)
        return shown

    async def upload(self, key: str, name: str, data: bytes, mime: str = "image/png") -> RunResult:
        """The browser's upload: ask for a URL over the websocket, PUT the file over HTTP, then rerun."""
        request_id = uuid.uuid4().hex
        ask = BackMsg()
        ask.file_urls_request.request_id = request_id
        ask.file_urls_request.session_id = self.session_id
        ask.file_urls_request.file_names.append(name)
        start = time.perf_counter()
        await self.ws.send(ask.SerializeToString())
        urls = await self._file_urls(request_id)
        body, ctype = _multipart(name, data, mime)
        headers = {"Content-Type": ctype, "X-Xsrftoken": self.cookies.get("_streamlit_xsrf", "")}
        await asyncio.to_thread(self._http, "PUT", urls.upload_url, body, headers)
        info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)
        self.values[key] = WidgetState(id=self.ids[key],
                                       file_uploader_state_value=FileUploaderState(uploaded_file_info=[info]))
        result = await self.rerun()
        result.latency_s = time.perf_counter() - start
        return result

    async def _file_urls(self, request_id: str):
        while True:
            msg = ForwardMsg.FromString(await asyncio.wait_for(self.ws.recv(), self.timeout_s))
            if msg.WhichOneof("type") == "file_urls_response" and msg.file_urls_response.response_id == request_id:
                if msg.file_urls_response.error_msg:
                    raise RuntimeError(msg.file_urls_response.error_msg)
                return msg.file_urls_response.file_urls[0]

    async def _until_finished(self, start: float, fragment_ends: bool = False) -> RunResult:
        """Read messages until a whole script run ends (or, with `fragment_ends`, a fragment's own run: status
        "fragment"; a fragment that reruns the app instead ends with the app's run)."""
        result = RunResult(0.0, 0, "timeout")
        chunks = []
        deadline = start + self.timeout_s
        try:
            while True:
                raw = await asyncio.wait_for(self.ws.recv(), max(deadline - time.perf_counter(), 0.01))
                result.bytes += len(raw)
                msg = ForwardMsg.FromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "delta":
                    chunks.append(raw)
                    self._read_delta(msg.delta, result)
                elif kind == "new_session":
                    self.session_id = msg.new_session.initialize.session_id or self.session_id
                    self.page_hash = msg.new_session.page_script_hash or self.page_hash
                elif kind == "navigation":
                    self.pages.update({p.url_pathname.lower(): p.page_script_hash for p in msg.navigation.app_pages})
                    self.page_hash = msg.navigation.page_script_hash or self.page_hash
                elif kind == "auto_rerun":
                    self.auto_rerun = (msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
                elif kind == "script_finished" and msg.script_finished in DONE:
                    result.status = DONE[msg.script_finished]
                    break
                elif (kind == "script_finished" and fragment_ends
                      and msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                    result.status = "fragment"
                    break
        except TimeoutError:
            result.status = "timeout"
        except Exception as exc:  # the websocket closed under us: count it, keep the run going
            result.status = f"closed: {type(exc).__name__}"
        result.latency_s = time.perf_counter() - start
        result.blob = b"".join(chunks)
        return result

    def _read_delta(self, delta, result: RunResult) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        body = getattr(element, kind)
        if kind == "exception":
            result.exceptions.append(f"{body.type}: {body.message}")
        elif kind == "alert" and body.format == body.ERROR:
            result.alerts.append(body.body)
        elif kind == "alert" and body.format == body.INFO:
            result.infos.append(body.body)
        elif kind == "markdown" and body.element_type == body.CAPTION:
            result.captions.append(body.body)
        element_id = getattr(body, "id", "")
        key = user_key_from_element_id(element_id) if isinstance(element_id, str) and element_id else None
        if key:
            self.ids[key] = element_id
            if hasattr(body, "options") and kind in ("selectbox", "radio"):
                self.options[key] = list(body.options)
            if key in self.values:  # same key, new id (the label changed): follow it
                self.values[key].id = element_id
