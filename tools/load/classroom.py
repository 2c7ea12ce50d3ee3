"""The load tool's classroom scenario: a presenter's room on the Lecture, N phones answering within the same 2 s
while they and the presenter's chart refresh as browsers do, then the reveal; every answer must be stored once.
`python -m tools load --scenario classroom --sessions 60 [--follow 30] [--replicas 2]`."""

# The presenter asks the gradient question; N students open the join link at once, each taps within 2 s and every
# third changes the answer. Checked: the store and the presenter's chart against the students' last taps, every
# phone sees the reveal, and a student's tab replaying the presenter's widget ids changes nothing. With --follow,
# students then follow the presenter through the first slides; with --replicas, a loopback redis-server holds the
# rooms and nginx spreads the students.

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.load import server as srv
from tools.load.client import RunResult, Session

QUESTION = "ask_grad"
ASK_STEP = 7  # ui.lecture_plan.STEPS.index("ask_grad"), a link's step (counted from 0)
CHOICES = 3
ANSWER_WINDOW_S = 2.0  # every student taps within the same 2 s
CHANGE_WINDOW_S = 1.0  # a student who changes their mind taps again within a second
LETTERS = "ABC"
_CHART_Y = re.compile(rb'"y"\s*:\s*\[([0-9,\s]*)\]')
_CODE = re.compile(rb"/Join\?room=([A-Z2-9]{6})")


@dataclass
class Phone:
    """One student's tab: its session, a lock (one run at a time on one websocket, as in a browser), its taps."""

    index: int
    session: Session
    taps: list[int]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    fragment: str = ""
    confirmed: int | None = None
    last_blob: bytes = b""


@dataclass
class Log:
    records: list[tuple[str, float, str]] = field(default_factory=list)  # (action, latency, status)
    errors: list[str] = field(default_factory=list)

    def add(self, who: str, action: str, result: RunResult, ok: tuple[str, ...] = ("ok", "fragment")) -> None:
        self.records.append((action, result.latency_s, result.status))
        if result.status not in ok:
            self.errors.append(f"{who} {action}: {result.status}")
        self.errors += [f"{who} {action}: {e}" for e in result.exceptions]

    def latencies(self, action: str) -> list[float]:
        return [lat for a, lat, _ in self.records if a == action]


def _pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, max(0, int(q * len(xs) + 0.999999) - 1))], 3) if xs else None


def _summary(xs: list[float]) -> dict:
    return {"n": len(xs), "p50_s": _pct(xs, 0.5), "p95_s": _pct(xs, 0.95), "max_s": _pct(xs, 1.0)}


def chart_counts(blob: bytes) -> tuple[int, ...] | None:
    """The bar heights of the last class-answers chart in a run's deltas (the presenter's screen)."""
    found = _CHART_Y.findall(blob)
    return tuple(int(v) for v in found[-1].replace(b" ", b"").split(b",") if v) if found else None


def plan(n: int, seed: int) -> list[list[int]]:
    """Each student's taps: a first choice, and for every third student a second, different one."""
    rng = random.Random(seed)
    taps = []
    for i in range(n):
        first = rng.randrange(CHOICES)
        taps.append([first, (first + 1 + rng.randrange(CHOICES - 1)) % CHOICES] if i % 3 == 2 else [first])
    return taps


async def _poll(who: str, session: Session, lock: asyncio.Lock, fragment: str, interval: float, stop: asyncio.Event,
                log: Log, keep: Phone | None = None) -> None:
    """A browser's run_every: rerun the fragment every `interval` until stopped."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval)
            return
        except TimeoutError:
            pass
        async with lock:
            result = await session.rerun(fragment_id=fragment)
        log.add(who, "poll" if keep else "presenter_poll", result)
        if keep is not None:
            keep.last_blob = result.blob


async def _join(phone: Phone, code: str, log: Log, loading: tuple[str, ...]) -> None:
    result = await phone.session.open(loading, page_name="Join", query=f"room={code}")
    log.add(f"student {phone.index}", "join", result, ("ok",))
    if phone.session.auto_rerun is None or f"room_choice_{CHOICES - 1}" not in phone.session.ids:
        log.errors.append(f"student {phone.index} join: no question on the phone")
        return
    phone.fragment = phone.session.auto_rerun[0]


async def _answer(phone: Phone, yours: str, log: Log, rng: random.Random) -> None:
    """The student's taps: the first within ANSWER_WINDOW_S of the question, a change within CHANGE_WINDOW_S."""
    await asyncio.sleep(rng.uniform(0, ANSWER_WINDOW_S))
    for n, choice in enumerate(phone.taps):
        if n:
            await asyncio.sleep(rng.uniform(0, CHANGE_WINDOW_S))
        async with phone.lock:
            result = await phone.session.rerun(trigger=f"room_choice_{choice}", fragment_id=phone.fragment)
        log.add(f"student {phone.index}", "answer" if n == 0 else "change", result)
        if yours.format(letter=LETTERS[choice]).encode() in result.blob:
            phone.confirmed = choice
        else:
            log.errors.append(f"student {phone.index}: tap {LETTERS[choice]} not confirmed on the phone")


PRESENTER_CONTROLS = ("lecture_presenter", "room_ask", "room_close", "room_reset", "room_reveal", "room_end")


async def _spy(base: str, code: str, presenter: Session, loading: tuple[str, ...], log: Log, open_text: str) -> bool:
    """A student's tab that replays the presenter's own widget ids (the presenter view on, then ask, close, clear,
    reveal, end) on the Lecture page: whatever it sends, it holds no token, so the room must not change. Whether
    it got as far as a presenter view of its own (which offers to open a room of its own)."""
    spy = Session(base)
    log.add("spy", "spy_join", await spy.open(loading, page_name="Join", query=f"room={code}"), ("ok",))
    spy.page_hash, reached = presenter.page_hash, False  # the Lecture
    for key in PRESENTER_CONTROLS:
        if key not in presenter.ids:
            continue
        spy.ids[key] = presenter.ids[key]
        if key == "lecture_presenter":
            spy.toggle(key, True)
            view = await spy.rerun()
            log.add("spy", "presenter_view", view, ("ok",))
            reached = open_text.encode() in view.blob
        else:
            log.add("spy", key, await spy.rerun(trigger=key), ("ok",))
    await spy.close()
    return reached


def _room(env: dict, code: str):
    from resnet_viz import rooms as rooms_lib

    return rooms_lib.open_rooms(env).state(code)


def _stored(env: dict, code: str) -> tuple[int, ...]:
    """What the store holds for the question (read by the tool itself, not through the app)."""
    from resnet_viz import rooms as rooms_lib
    from resnet_viz.rooms import rules

    return rules.results(QUESTION, CHOICES, rooms_lib.open_rooms(env).engine.answers(code, QUESTION)).counts


async def classroom(base: str, pids: list[int], n: int, env: dict, strings: dict, seed: int = 0) -> dict:
    log, rng, stop = Log(), random.Random(seed), asyncio.Event()
    loading = tuple(filter(None, [strings.get("boot.loading")]))
    presenter, presenter_lock = Session(base), asyncio.Lock()
    log.add("presenter", "open", await presenter.open(loading, page_name="Lecture", query=f"step={ASK_STEP}"))
    presenter.toggle("lecture_presenter", True)
    log.add("presenter", "presenter_view", await presenter.rerun())
    opened = await presenter.rerun(trigger="room_open")
    log.add("presenter", "open_room", opened)
    found = _CODE.search(opened.blob)
    if found is None:
        return {"errors": {"total": 1, "examples": ["no room code on the presenter's screen"]}}
    code = found.group(1).decode()
    log.add("presenter", "ask", await presenter.rerun(trigger="room_ask"))
    phones = [Phone(i, Session(base), taps) for i, taps in enumerate(plan(n, seed))]
    t_join = time.perf_counter()
    await asyncio.gather(*(_join(p, code, log, loading) for p in phones))
    join_wall = time.perf_counter() - t_join
    live = [p for p in phones if p.fragment]
    pollers = [asyncio.create_task(_poll(f"student {p.index}", p.session, p.lock, p.fragment, p.session.auto_rerun[1],
                                         stop, log, p)) for p in live]
    chart_stop = asyncio.Event()  # the chart is gone from the presenter's page once the answer is revealed
    if presenter.auto_rerun is not None:
        pollers.append(asyncio.create_task(_poll("presenter", presenter, presenter_lock, presenter.auto_rerun[0],
                                                 presenter.auto_rerun[1], chart_stop, log)))
    cpu0, t0 = srv.cpu_seconds(pids), time.perf_counter()
    await asyncio.gather(*(_answer(p, strings["rooms.student.yours"], log, random.Random(rng.random()))
                           for p in live))
    window_s, cpu = time.perf_counter() - t0, srv.cpu_seconds(pids) - cpu0
    want = [0] * CHOICES
    for p in live:
        if p.confirmed is not None:
            want[p.confirmed] += 1
    before = _stored(env, code)
    spy_reached = await _spy(base, code, presenter, loading, log, strings["rooms.open"])
    state, after = _room(env, code), _stored(env, code)
    if (state.question, state.phase, after) != (QUESTION, "open", before):
        log.errors.append(f"a student's tab changed the room: {state.question} {state.phase}, {before} -> {after}")
    async with presenter_lock:  # the presenter's next refresh after the last tap
        refresh = await presenter.rerun(fragment_id=presenter.auto_rerun[0]) if presenter.auto_rerun else None
    chart = chart_counts(refresh.blob) if refresh else None
    stored = _stored(env, code)
    chart_stop.set()
    async with presenter_lock:
        log.add("presenter", "reveal", await presenter.rerun(trigger="room_reveal"))
    interval = max((p.session.auto_rerun[1] for p in live), default=2.0)
    revealed = strings["rooms.student.phase.revealed"].encode()
    deadline = time.perf_counter() + 2 * interval + 1.0  # two refreshes of every phone, at most
    while time.perf_counter() < deadline and not all(revealed in p.last_blob for p in live):
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*pollers)
    seen = sum(revealed in p.last_blob for p in live)
    for s in [presenter, *(p.session for p in phones)]:
        await s.close()
    lost = sum(max(0, w - s) for w, s in zip(want, stored, strict=True))
    double = sum(max(0, s - w) for w, s in zip(want, stored, strict=True))
    taps = log.latencies("answer") + log.latencies("change")
    if tuple(want) != stored or chart != stored or seen != len(live) or sum(want) != n:
        log.errors.append(f"want {want}, stored {stored}, chart {chart}, reveal seen by {seen}/{len(live)}")
    return {"students": n, "room": code, "expected": want, "stored": list(stored), "chart": list(chart or []),
            "lost": lost, "double_counted": double, "confirmed": sum(want), "reveal_seen": seen,
            "spy_reached_a_presenter_view": spy_reached,
            "spy_changed_nothing": not any("a student's tab" in e for e in log.errors),
            "answer_window_s": round(window_s, 2), "join_wall_s": round(join_wall, 2),
            "join": _summary(log.latencies("join")), "tap": _summary(taps),
            "poll": _summary(log.latencies("poll")), "presenter_poll": _summary(log.latencies("presenter_poll")),
            "server_cpu_s_answer_window": round(cpu, 2), "server_busy_cores_answer_window": round(cpu / window_s, 2),
            "server_cpu_s_per_tap": round(cpu / max(len(taps), 1), 4),
            "replicas": dict(_replicas(phones)),
            "errors": {"total": len(log.errors), "examples": log.errors[:5]}}


FOLLOW_STEPS = 6  # the Lecture's first seven slides (steps 0..6), each a live figure on the same sample image
FOLLOW_LAG_S = 1.0  # a student clicks Next within a second of the presenter


async def follow(base: str, pids: list[int], n: int, strings: dict, seed: int = 1) -> dict:
    """N students follow the presenter through the Lecture's first slides on the same sample image: the
    presenter clicks Next, every student within FOLLOW_LAG_S. Shared caches make each slide one computation."""
    log, rng = Log(), random.Random(seed)
    loading = tuple(filter(None, [strings.get("boot.loading")]))
    presenter, students = Session(base), [Session(base) for _ in range(n)]
    log.add("presenter", "open", await presenter.open(loading, page_name="Lecture", query="step=0"))
    opened = await asyncio.gather(*(s.open(loading, page_name="Lecture", query="step=0") for s in students))
    for i, result in enumerate(opened):
        log.add(f"student {i}", "follow_open", result, ("ok",))

    async def step(i: int, s: Session) -> None:
        await asyncio.sleep(rng.uniform(0, FOLLOW_LAG_S))
        log.add(f"student {i}", "follow_step", await s.rerun(trigger="lec_next"), ("ok",))

    cpu0, t0 = srv.cpu_seconds(pids), time.perf_counter()
    for _ in range(FOLLOW_STEPS):
        log.add("presenter", "presenter_step", await presenter.rerun(trigger="lec_next"), ("ok",))
        await asyncio.gather(*(step(i, s) for i, s in enumerate(students)))
    wall, cpu = time.perf_counter() - t0, srv.cpu_seconds(pids) - cpu0
    for s in [presenter, *students]:
        await s.close()
    steps = log.latencies("follow_step")
    return {"students": n, "steps": FOLLOW_STEPS, "open": _summary(log.latencies("follow_open")),
            "step": _summary(steps), "presenter_step": _summary(log.latencies("presenter_step")),
            "server_cpu_s_per_step": round(cpu / max(len(steps), 1), 4), "server_busy_cores": round(cpu / wall, 2),
            "wall_s": round(wall, 1), "errors": {"total": len(log.errors), "examples": log.errors[:5]}}


def _replicas(phones: list[Phone]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in phones:
        out[p.session.replica] = out.get(p.session.replica, 0) + 1
    return out


def run_classroom(args: argparse.Namespace, strings: dict) -> dict:
    """Start the server (or 2+ replicas, redis-server and nginx), run the class, stop everything by PID."""
    log_dir, procs = Path(tempfile.mkdtemp(prefix="resnet-viz-classroom-")), []
    env = {"RESNET_VIZ_CACHE": str(log_dir / "cache")}
    try:
        if args.replicas > 1:
            redis_port = srv.free_port()
            procs.append(srv.start_redis(redis_port, log_dir / "redis"))
            srv.wait_redis(redis_port, 30, procs[-1])
            env["RESNET_VIZ_REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        ports = [srv.free_port() for _ in range(args.replicas)]
        apps = [srv.start_streamlit(p, args.server_arg, log_dir, {**os.environ, **env}) for p in ports]
        procs += apps
        for port, proc in zip(ports, apps, strict=True):
            srv.wait_http(f"http://127.0.0.1:{port}/_stcore/health", 180, proc)
        base = f"http://127.0.0.1:{ports[0]}"
        if args.replicas > 1:
            listen = srv.free_port()
            nginx, _ = srv.start_nginx(listen, ports)
            procs.append(nginx)
            base = f"http://127.0.0.1:{listen}"
            srv.wait_http(base + "/_stcore/health", 30, nginx)
        for port in ports:  # every replica loaded and warm before the bell (the cold start is the other scenario)
            asyncio.run(_warm(f"http://127.0.0.1:{port}", strings))
        pids = [p.pid for p in apps]
        report = asyncio.run(classroom(base, pids, args.sessions, env, strings))
        if args.follow:
            report["follow"] = asyncio.run(follow(base, pids, args.follow, strings))
            report["errors"]["total"] += report["follow"]["errors"]["total"]
        return report | {"scenario": "classroom", "replicas_started": args.replicas,
                         "store": "redis" if args.replicas > 1 else "sqlite"}
    finally:
        for proc in reversed(procs):
            srv.stop(proc)


async def _warm(url: str, strings: dict) -> None:
    loading = tuple(filter(None, [strings.get("boot.loading")]))
    for page, query in (("Lecture", f"step={ASK_STEP}"), ("Join", "")):
        s = Session(url)
        await s.open(loading, page_name=page, query=query)
        await s.close()
