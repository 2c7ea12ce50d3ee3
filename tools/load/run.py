"""Classroom load benchmark: N protocol-level sessions walk through a lecture against a real `streamlit run`."""

# `python -m tools load --sessions 12 --json load.json`. Each session is Streamlit's own websocket protocol
# (tools.load.client), not a browser: six headless Chromium tabs cost this machine more CPU than the server
# they measure. Server CPU comes from /proc of the server processes, so it does not depend on the load.

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import statistics
import string
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tools.load import server as srv
from tools.load.client import RunResult, Session

MAX_SESSIONS, MAX_ROUNDS = 64, 50
LOCALE = srv.ROOT / "resnet_viz" / "text" / "locale" / "en.json"


def _image(seed: int) -> bytes:
    """A small noise PNG: every session uploads different bytes under a name only it knows."""
    from PIL import Image

    rng = random.Random(seed)
    img = Image.frombytes("RGB", (96, 72), bytes(rng.randrange(256) for _ in range(96 * 72 * 3)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _choose_other(s: Session, key: str, index: int | None = None) -> None:
    shown = s.options[key]
    current = s.values[key].string_value if key in s.values else None
    pick = index if index is not None else next(i for i, o in enumerate(shown) if o != current and i > 0)
    s.choose(key, min(pick, len(shown) - 1))


async def _set(s: Session, fn) -> RunResult:
    fn()
    return await s.rerun()


def lecture(s: Session, name: str, data: bytes) -> list[tuple[str, object]]:
    """The scripted lecture: (action, a zero-argument coroutine factory); widgets by key, pages by URL path."""
    return [
        ("architecture", lambda: s.rerun(page="Architecture")),
        ("feature_maps", lambda: s.rerun(page="Feature_Maps")),
        ("fm_layer", lambda: _set(s, lambda: _choose_other(s, "fm_layer"))),
        ("grad_cam", lambda: s.rerun(page="Grad_CAM")),
        ("upload_mode", lambda: _set(s, lambda: s.choose("pick_how", 1))),  # Samples, Upload, Camera
        ("upload", lambda: s.upload("pick_upload", name, data)),
        ("cam_class", lambda: _set(s, lambda: _choose_other(s, "cam_target"))),
        ("shortcuts_off", lambda: _set(s, lambda: s.toggle("shortcuts_all", False))),
        ("shortcuts_on", lambda: _set(s, lambda: s.toggle("shortcuts_all", True))),
        ("gradient_flow", lambda: s.rerun(page="Gradient_Flow")),
        ("lecture", lambda: s.rerun(page="Lecture")),
        ("lecture_step", lambda: s.rerun(trigger="lec_next")),
    ]


@dataclass
class Record:
    """One action of one session."""

    session: int
    action: str
    round: int
    latency_s: float
    bytes: int
    status: str
    exceptions: list[str]
    mismatch: str = ""
    cpu_s: float | None = None
    first_view_s: float | None = None  # "open" on a server still loading its library: the light first view


@dataclass
class Run:
    """Shared by the sessions of one run: which image names belong to whom, and the mask captions."""

    nonce: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    names: dict[str, int] = field(default_factory=dict)  # image name -> session
    mask_text: dict[bool, str] = field(default_factory=dict)  # all shortcuts on? -> the sidebar caption
    loading_text: tuple[str, ...] = ()  # the first view's status while the server loads its library (ui.first_view)
    inject: bool = False  # session 1 uploads under session 0's name: the isolation check must notice
    only: tuple[str, ...] = ()  # the lecture's actions to walk (empty: all); the tests walk a few

    def name(self, session: int, rnd: int) -> str:
        owner = 0 if self.inject and session == 1 else session
        name = f"lb{self.nonce}-s{owner:02d}r{rnd}.png"
        self.names.setdefault(name, owner)
        return name


def _shown(name: str, blob: bytes) -> bool:
    """The page shows a user's file name literally: in Markdown source with its punctuation backslash-escaped."""
    escaped = "".join("\\" + c if c in string.punctuation else c for c in name)
    return name.encode() in blob or escaped.encode() in blob


def mismatch(run: Run, session: int, action: str, own: str | None, result: RunResult) -> str:
    """Why this session's deltas show someone else's state ('' when they show only its own)."""
    foreign = [n for n, who in run.names.items() if who != session and _shown(n, result.blob)]
    if foreign:
        return f"shows {foreign[0]}"
    if action == "upload" and own is not None and not _shown(own, result.blob):
        return f"upload {own} not shown"
    if action.startswith("shortcuts_") and run.mask_text:
        on = action == "shortcuts_on"
        if run.mask_text[on] not in result.captions or run.mask_text[not on] in result.captions:
            return f"mask caption is not '{run.mask_text[on]}'"
    return ""


async def walk(base: str, session: int, run: Run, rounds: int, think_s: float, pids: list[int] | None,
               records: list[Record], sessions: list[Session]) -> None:
    """One session: open, then `rounds` times the lecture; per-action CPU only when `pids` (a solo walk)."""
    s = Session(base)
    sessions.append(s)
    rng = random.Random(session)
    steps = [("open", lambda: s.open(run.loading_text), None, 0)]
    for rnd in range(rounds):
        name = run.name(session, rnd)
        data = _image(random.Random(f"{run.nonce}/{session}/{rnd}").randrange(2**31))
        steps += [(a, f, name, rnd) for a, f in lecture(s, name, data)
                  if (rnd == 0 or a != "upload_mode") and (not run.only or a in run.only)]
    own = None
    for action, make, name, rnd in steps:
        cpu0 = srv.cpu_seconds(pids) if pids else 0.0
        try:
            result = await make()
        except (KeyError, StopIteration, OSError, RuntimeError) as exc:  # a missing widget or page, a refused upload
            result = RunResult(0.0, 0, f"error: {type(exc).__name__}: {exc}")
        own = name if action == "upload" else own
        records.append(Record(session, action, rnd, result.latency_s, result.bytes, result.status,
                              result.exceptions, mismatch(run, session, action, own, result),
                              srv.cpu_seconds(pids) - cpu0 if pids else None, result.first_view_s))
        if result.status != "ok" and action == "open":
            break
        await asyncio.sleep(rng.uniform(0, think_s))


def _strings() -> dict[str, str]:
    try:
        return json.loads(LOCALE.read_text())
    except (OSError, ValueError):
        return {}


def _mask_text() -> dict[bool, str]:
    strings = _strings()
    if "common.mask.all_on" not in strings or "common.mask.all_off" not in strings:
        return {}
    return {True: strings["common.mask.all_on"], False: strings["common.mask.all_off"]}


def _pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, max(0, int(q * len(xs) + 0.999999) - 1))], 4) if xs else None


def _errors(records: list[Record], unfinished: int) -> dict:
    bad = {"exceptions": [f"{r.action}: {e}" for r in records for e in r.exceptions],
           "timeouts": [r.action for r in records if r.status == "timeout"],
           "failed": [f"{r.action}: {r.status}" for r in records if r.status not in ("ok", "timeout")],
           "mismatches": [f"session {r.session} {r.action}: {r.mismatch}" for r in records if r.mismatch]}
    return {"total": sum(len(v) for v in bad.values()) + unfinished, "unfinished_sessions": unfinished,
            **{k: len(v) for k, v in bad.items()}, "examples": [x for v in bad.values() for x in v[:3]]}


def _per_action(conc: list[Record], solo: list[Record]) -> dict:
    out = {}
    for action in dict.fromkeys(r.action for r in solo + conc):
        lat = [r.latency_s for r in conc if r.action == action]
        warm = [r.cpu_s for r in solo if r.action == action and r.round > 0] or \
               [r.cpu_s for r in solo if r.action == action] or [0.0]
        out[action] = {"n": len(lat), "latency_p50_s": _pct(lat, 0.5), "latency_p95_s": _pct(lat, 0.95),
                       "latency_max_s": _pct(lat, 1.0), "server_cpu_s": round(statistics.median(warm), 4),
                       "bytes_median": int(statistics.median([r.bytes for r in conc if r.action == action] or [0]))}
    return out


async def _rss_peak(pids: list[int], peak: list[float], done: asyncio.Event) -> None:
    while not done.is_set():
        peak[0] = max(peak[0], srv.rss_mb(pids))
        await asyncio.sleep(0.25)


async def _solo(base: str, pids: list[int], args: argparse.Namespace, run: Run, warm_urls: list[str]) -> list:
    """Replicas behind a balancer are first walked through directly (not reported); then the solo session."""
    for i, url in enumerate(warm_urls if args.solo_rounds > 0 else []):
        warmed: list[Session] = []
        await walk(url, 900 + i, run, 1, 0.0, None, [], warmed)
        await warmed[0].close()
    solo, sessions = [], []
    if args.solo_rounds > 0:  # 0: every session arrives at a cold server, as a class does at the bell
        await walk(base, 999, run, args.solo_rounds, 0.0, pids, solo, sessions)
    for s in sessions:
        await s.close()
    return solo


async def measure(base: str, pids: list[int], args: argparse.Namespace, ready_s: float,
                  warm_urls: list[str]) -> dict:
    """A solo session (cold first view, then a warm round with per-action CPU), then N sessions at once."""
    run = Run(inject=args.inject_mismatch, mask_text=_mask_text(), only=tuple(getattr(args, "only", ())),
              loading_text=tuple(filter(None, [_strings().get("boot.loading")])))
    rss = {"start": srv.rss_mb(pids)}
    solo = await _solo(base, pids, args, run, warm_urls)
    rss["warm"] = srv.rss_mb(pids)
    conc, sessions, peak, done = [], [], [rss["warm"]], asyncio.Event()
    sampler = asyncio.create_task(_rss_peak(pids, peak, done))
    cpu0, t0 = srv.cpu_seconds(pids), time.perf_counter()
    tasks = [asyncio.create_task(walk(base, i, run, args.rounds, args.think_s, None, conc, sessions))
             for i in range(args.sessions)]
    _, pending = await asyncio.wait(tasks, timeout=args.duration_limit)
    for task in pending:
        task.cancel()
    wall, cpu = time.perf_counter() - t0, srv.cpu_seconds(pids) - cpu0
    rss["end"] = srv.rss_mb(pids)
    done.set()
    await sampler
    rss["peak"] = max(peak[0], rss["end"])
    for s in sessions:
        await s.close()
    replicas: dict[str, int] = {}
    for s in sessions:
        replicas[s.replica] = replicas.get(s.replica, 0) + 1
    return _report(args, solo, conc, len(pending), cpu, wall, ready_s, rss) | {
        "replicas": replicas, "server_pids": pids}


def _report(args, solo: list[Record], conc: list[Record], unfinished: int, cpu: float, wall: float,
            ready_s: float, rss: dict) -> dict:
    lat = [r.latency_s for r in conc]
    cpus = [r.cpu_s for r in solo if r.round > 0] or [r.cpu_s for r in solo if r.action != "open"]
    first = (solo or sorted(conc, key=lambda r: r.latency_s if r.action == "open" else 1e9))[:1]
    return {"sessions": args.sessions, "rounds": args.rounds, "actions": len(conc),
            "errors": _errors(conc + solo, unfinished), "latency_p50_s": _pct(lat, 0.5),
            "latency_p95_s": _pct(lat, 0.95), "latency_max_s": _pct(lat, 1.0),
            "server_cpu_s_per_action_median": round(statistics.median(cpus), 4) if cpus else None,
            "server_cpu_s_per_action_mean_concurrent": round(cpu / max(len(conc), 1), 4),
            "server_busy_cores": round(cpu / wall, 2), "wall_s": round(wall, 1),
            "cold_first_view_s": round(ready_s + (first[0].first_view_s or first[0].latency_s), 2) if first else None,
            "cold_full_app_s": round(ready_s + first[0].latency_s, 2) if first else None,
            "server_ready_s": round(ready_s, 2),
            "rss_mb": {k: round(v, 1) for k, v in rss.items()},
            "rss_per_session_mb": round((rss["end"] - rss["warm"]) / args.sessions, 2) if solo else None,
            "bytes_received": sum(r.bytes for r in conc), "per_action": _per_action(conc, solo),
            "mismatch_sessions": sorted({r.session for r in conc if r.mismatch}),
            "server_args": args.server_arg}


def run_load(args: argparse.Namespace) -> dict:
    """Start the servers (and nginx for --replicas > 1), measure, and stop all of them by PID in any case."""
    import tempfile

    log_dir, procs = Path(tempfile.mkdtemp(prefix="resnet-viz-load-")), []
    try:
        spawn = time.perf_counter()
        ports = [srv.free_port() for _ in range(args.replicas)]
        procs += [srv.start_streamlit(p, args.server_arg, log_dir) for p in ports]
        for port, proc in zip(ports, procs, strict=True):
            srv.wait_http(f"http://127.0.0.1:{port}/_stcore/health", 180, proc)
        pids = [p.pid for p in procs]
        base, warm = f"http://127.0.0.1:{ports[0]}", []
        if args.replicas > 1:
            warm = [f"http://127.0.0.1:{p}" for p in ports]
            listen = srv.free_port()
            nginx, _ = srv.start_nginx(listen, ports)
            procs.append(nginx)
            base = f"http://127.0.0.1:{listen}"
            srv.wait_http(base + "/_stcore/health", 30, nginx)
        return asyncio.run(measure(base, pids, args, time.perf_counter() - spawn, warm))
    finally:
        for proc in reversed(procs):
            srv.stop(proc)


def add_load(sub) -> None:
    p = sub.add_parser("load", help="classroom load: N websocket sessions through a scripted lecture")
    p.add_argument("--sessions", type=int, default=6, help=f"concurrent sessions (1..{MAX_SESSIONS})")
    p.add_argument("--rounds", type=int, default=1, help=f"lectures per session (1..{MAX_ROUNDS})")
    p.add_argument("--json", default=None, help="write the report here")
    p.add_argument("--duration-limit", type=float, default=600.0, help="seconds for the concurrent phase")
    p.add_argument("--solo-rounds", type=int, default=2,
                   help="lectures of the solo session before the class (0: the class meets a cold server)")
    p.add_argument("--think-s", type=float, default=0.5, help="longest random pause between two actions")
    p.add_argument("--server-arg", action="append", default=[], help="streamlit option, e.g. runner.postScriptGC=false")
    p.add_argument("--replicas", type=int, default=1, help="servers behind deploy/nginx.conf (sticky cookie)")
    p.add_argument("--scenario", choices=("lecture", "classroom"), default="lecture",
                   help="lecture: the sessions walk the app and upload; classroom: a presenter's room, students answer")
    p.add_argument("--follow", type=int, default=0, metavar="N",
                   help="classroom: then N students follow the presenter through the Lecture's first slides")
    p.add_argument("--inject-mismatch", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if not (1 <= args.sessions <= MAX_SESSIONS and 1 <= args.rounds <= MAX_ROUNDS and 1 <= args.replicas <= 8):
        print(f"error: sessions 1..{MAX_SESSIONS}, rounds 1..{MAX_ROUNDS}, replicas 1..8", file=sys.stderr)
        return 2
    if args.scenario == "classroom":
        from tools.load.classroom import run_classroom

        report = run_classroom(args, _strings())
    else:
        report = run_load(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 1 if report["errors"]["total"] else 0
