"""Class rooms on both real engines (SQLite in tmp_path, a real redis-server): who may do what, hostile codes,
ids and choices, one answer per student, limits, expiry, isolation, 60 answers at once, restarts and a Redis
outage."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from resnet_viz.rooms import Limits, Question, RoomError, Rooms, Unavailable, rules
from resnet_viz.rooms.sqlite_engine import SQLiteEngine
from resnet_viz.text import i18n
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
Q3 = Question("ask_grad", 3)
Q2 = Question("ask_lesion", 3)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def _engine(kind: str, tmp_path: Path, redis_server=None, prefix: str = ""):
    if kind == "sqlite":
        return SQLiteEngine(tmp_path / "rooms.sqlite3")
    from resnet_viz.rooms.redis_engine import RedisEngine

    return RedisEngine(redis_server.url, prefix=prefix or f"t{abs(hash(str(tmp_path))) % 10**9}:")


@pytest.fixture(params=["sqlite", "redis"])
def make(request, tmp_path):
    """make(limits=..., clock=...) -> a Rooms on a fresh store of this engine (a fresh key prefix in Redis)."""
    server = request.getfixturevalue("redis_server") if request.param == "redis" else None
    engine = _engine(request.param, tmp_path, server)

    def build(limits: Limits = rules.LIMITS, clock=None) -> Rooms:
        return Rooms(engine, limits, clock or Clock())
    return build


def _students(n: int, tag: str = "s") -> list[str]:
    return [f"{tag}{i:04d}".ljust(22, "x") for i in range(n)]


def _refused(key: str, fn, *args) -> None:
    with pytest.raises(RoomError) as info:
        fn(*args)
    assert info.value.key == key, (info.value.key, args)


def test_answers_become_counts_and_shares(make):
    rooms = make()
    code, token = rooms.open_room()
    assert rules.CODE_RE.fullmatch(code) and token not in code
    assert rooms.state(code).phase == rules.IDLE
    rooms.ask(code, token, Q3)
    a, b, c, d = _students(4)
    assert [rooms.answer(code, s, "ask_grad", ch) for s, ch in ((a, 1), (b, 1), (c, 0), (d, 2))] == ["stored"] * 4
    assert rooms.answer(code, d, "ask_grad", 1) == "changed"  # until the question closes, a student may change
    assert rooms.answer(code, d, "ask_grad", 1) == "unchanged"
    res = rooms.results(code, token)
    assert res.counts == (1, 3, 0) and res.total == 4 and res.shares == (0.25, 0.75, 0.0)
    assert rooms.mine(code, d, "ask_grad") == 1 and rooms.mine(code, _students(5)[4], "ask_grad") is None
    rooms.close(code, token)
    _refused(rules.CLOSED_NOW, rooms.answer, code, a, "ask_grad", 2)
    rooms.reveal(code, token)
    assert rooms.state(code).phase == rules.REVEALED
    assert rooms.results(code, token).counts == (1, 3, 0)  # nothing changed by the refused answer


def test_phases_and_questions(make):
    rooms = make()
    code, token = rooms.open_room()
    s = _students(1)[0]
    _refused(rules.NO_QUESTION, rooms.answer, code, s, "ask_grad", 0)
    _refused(rules.NO_QUESTION, rooms.close, code, token)
    rooms.ask(code, token, Q3)
    rooms.answer(code, s, "ask_grad", 2)
    rooms.ask(code, token, Q2)  # the next question: a late tap on the previous one is refused, not miscounted
    _refused(rules.WRONG_QUESTION, rooms.answer, code, s, "ask_grad", 0)
    rooms.answer(code, s, "ask_lesion", 0)
    assert rooms.results(code, token).counts == (1, 0, 0)
    assert rooms.results(code, token, Q3).counts == (0, 0, 1)  # the first question's answers are kept
    rooms.reset(code, token)
    assert rooms.results(code, token).counts == (0, 0, 0) and rooms.state(code).phase == rules.OPEN
    assert rooms.results(code, token, Q3).counts == (0, 0, 1)


def test_only_the_token_holder_presents(make):
    rooms = make()
    code, token = rooms.open_room()
    other_code, other_token = rooms.open_room()
    rooms.ask(code, token, Q3)
    student = _students(1)[0]
    rooms.answer(code, student, "ask_grad", 1)
    forged = [None, "", " ", student, code, other_token, token[:-1], token + "x", token.upper(), "é" * 10,
              "x" * 10_000, 12345, b"bytes", [token]]
    for bad in forged:
        for action in (rooms.close, rooms.reveal, rooms.reset, rooms.end, rooms.results, rooms.reopen):
            _refused(rules.NOT_PRESENTER, action, code, bad)
        _refused(rules.NOT_PRESENTER, rooms.ask, code, bad, Q2)
    _refused(rules.NOT_PRESENTER, rooms.results, other_code, token)  # one room's token opens no other room
    assert rooms.state(code).phase == rules.OPEN and rooms.state(code).question == "ask_grad"
    assert rooms.results(code, token).counts == (0, 1, 0)


HOSTILE_CODES = [None, "", "ABC", "ABCDEFG", "ABCDE0", "ABCDEI", "ABC DE", "ABCDE\n", "../../etc", "' OR 1=1 --",
                 "ＡＢＣＤＥＦ", "ABCDEF\x00", "ABCDEF" * 1000, 123456, ["ABCDEF"], b"ABCDEF", "<script>"]


def test_hostile_codes_ids_and_choices_store_nothing(make):
    rooms = make()
    code, token = rooms.open_room()
    rooms.ask(code, token, Q3)
    student = _students(1)[0]
    for bad in HOSTILE_CODES:
        _refused(rules.BAD_CODE, rooms.state, bad)
        _refused(rules.BAD_CODE, rooms.answer, bad, student, "ask_grad", 0)
    assert rooms.state(f"  {code.lower()} ").code == code  # typed on a phone
    unknown = next(c for c in ("ABCDEF", "ABCDEG") if c != code)
    _refused(rules.NOT_FOUND, rooms.state, unknown)
    _refused(rules.NOT_FOUND, rooms.answer, unknown, student, "ask_grad", 0)
    for bad in [None, "", "short", "a" * 65, "x" * 15 + "!", "é" * 20, 5, "../" * 8]:
        _refused(rules.BAD_STUDENT, rooms.answer, code, bad, "ask_grad", 0)
    for bad in [-1, 3, 8, 10**20, True, False, "1", 1.0, None, [0]]:
        _refused(rules.BAD_CHOICE, rooms.answer, code, student, "ask_grad", bad)
    for bad in [None, "", "Ask_grad", "ask-grad", "a" * 40, "ask_grad'--", 7]:
        _refused(rules.BAD_QUESTION, rooms.answer, code, student, bad, 0)
    for bad in [Question, "ask_grad", None]:
        _refused(rules.BAD_QUESTION, rooms.ask, code, token, bad)
    for choices in (1, 9, True, "3"):
        with pytest.raises(RoomError):
            Question("ask_grad", choices)
    assert rooms.results(code, token).counts == (0, 0, 0)
    assert rooms.mine(code, student, "ask_grad") is None


def test_limits_on_rooms_and_answers(make):
    rooms = make(Limits(rooms=2, answers_per_room=3))
    (code, token), _ = rooms.open_room(), rooms.open_room()
    _refused(rules.TOO_MANY_ROOMS, rooms.open_room)
    rooms.ask(code, token, Q3)
    a, b, c, d = _students(4)
    for s in (a, b, c):
        rooms.answer(code, s, "ask_grad", 0)
    _refused(rules.ROOM_FULL, rooms.answer, code, d, "ask_grad", 0)
    assert rooms.answer(code, a, "ask_grad", 2) == "changed"  # a changed answer is not a new one
    assert rooms.results(code, token).counts == (2, 0, 1)
    rooms.reset(code, token)  # the room's answers are gone, so there is room again
    assert rooms.answer(code, d, "ask_grad", 1) == "stored"


def test_rooms_expire_after_idle_time(make):
    clock = Clock()
    rooms = make(Limits(rooms=1, idle_s=3600.0), clock)
    code, token = rooms.open_room()
    rooms.ask(code, token, Q3)
    clock.now += 3000
    rooms.answer(code, _students(1)[0], "ask_grad", 0)  # activity keeps the room
    clock.now += 3000
    assert rooms.state(code).question == "ask_grad"
    _refused(rules.TOO_MANY_ROOMS, rooms.open_room)
    clock.now += 601
    _refused(rules.NOT_FOUND, rooms.state, code)
    _refused(rules.NOT_FOUND, rooms.results, code, token)
    new_code, _ = rooms.open_room()  # the expired room no longer counts against the limit
    assert new_code != code or rooms.state(new_code).question is None


def test_two_rooms_never_see_each_others_answers(make):
    rooms = make()
    (a, ta), (b, tb) = rooms.open_room(), rooms.open_room()
    for code, token in ((a, ta), (b, tb)):
        rooms.ask(code, token, Q3)
    students = _students(6)
    for s in students[:4]:
        rooms.answer(a, s, "ask_grad", 0)
    for s in students[2:]:
        rooms.answer(b, s, "ask_grad", 2)
    assert rooms.results(a, ta).counts == (4, 0, 0) and rooms.results(b, tb).counts == (0, 0, 4)
    assert rooms.mine(a, students[2], "ask_grad") == 0 and rooms.mine(b, students[2], "ask_grad") == 2
    rooms.end(a, ta)
    _refused(rules.NOT_FOUND, rooms.state, a)
    assert rooms.results(b, tb).counts == (0, 0, 4)


def test_sixty_students_answer_at_once(make):
    """60 threads released together, each answering, half of them changing their answer once: exact counts."""
    rooms = make()
    code, token = rooms.open_room()
    rooms.ask(code, token, Q3)
    students = _students(60)
    start, errors = threading.Barrier(60), []

    def student(i: int) -> None:
        try:
            start.wait()
            rooms.answer(code, students[i], "ask_grad", i % 3)
            if i % 2:
                rooms.answer(code, students[i], "ask_grad", (i + 1) % 3)
        except Exception as exc:  # collected: an assertion in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(60)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:3]
    want = [0, 0, 0]
    for i in range(60):
        want[(i + 1) % 3 if i % 2 else i % 3] += 1
    assert rooms.results(code, token).counts == tuple(want) and sum(want) == 60


WRITER = """
import sys
from resnet_viz.rooms import Question, Rooms
from resnet_viz.rooms.sqlite_engine import SQLiteEngine
rooms = Rooms(SQLiteEngine(sys.argv[1]))
code, token, first, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if first == 0:
    code, token = rooms.open_room()
    rooms.ask(code, token, Question("ask_grad", 3))
    print(code, token)
else:
    for i in range(first, first + n):
        rooms.answer(code, f"p{i:04d}".ljust(22, "y"), "ask_grad", i % 3)
"""


def _python(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_sqlite_is_shared_by_processes_and_survives_a_restart(tmp_path):
    """One process opens the room and exits (a server restart); four processes answer at once; a fresh engine
    in this process reads every answer and the presenter's token still works."""
    path = str(tmp_path / "rooms.sqlite3")
    opener = _python(path, "-", "-", "0", "0")
    code, token = opener.communicate(timeout=120)[0].split()
    assert opener.returncode == 0
    writers = [_python(path, code, token, str(1 + 15 * k), "15") for k in range(4)]
    for w in writers:
        w.communicate(timeout=120)
        assert w.returncode == 0
    rooms = Rooms(SQLiteEngine(path))
    assert rooms.results(code, token).counts == (20, 20, 20)
    assert (tmp_path / "rooms.sqlite3-wal").exists() or (tmp_path / "rooms.sqlite3").stat().st_size > 0


def test_redis_outage_keeps_answers_and_recovers(redis_server, tmp_path):
    """Redis killed mid-question: students are refused with UNAVAILABLE, nothing half-stored; Redis back on the
    same data: every acknowledged answer is there, the same Rooms object works again."""
    rooms = Rooms(_engine("redis", tmp_path, redis_server, prefix="outage:"))
    code, token = rooms.open_room()
    rooms.ask(code, token, Q3)
    students = _students(10)
    for i, s in enumerate(students[:6]):
        rooms.answer(code, s, "ask_grad", i % 3)
    redis_server.stop(kill=True)
    try:
        for action, args in ((rooms.answer, (code, students[6], "ask_grad", 0)), (rooms.state, (code,)),
                             (rooms.results, (code, token)), (rooms.open_room, ())):
            with pytest.raises(Unavailable) as info:
                action(*args)
            assert info.value.key == rules.UNAVAILABLE
    finally:
        redis_server.start()
    assert rooms.results(code, token).counts == (2, 2, 2)
    for s in students[6:]:
        rooms.answer(code, s, "ask_grad", 1)
    assert rooms.results(code, token).counts == (2, 6, 2)


def test_every_refusal_reads_in_both_languages():
    for key in rules.REASONS:
        for lang in i18n.LANGUAGES:
            text = RoomError(key, code="ABCDEF", limit=5).text(lang)
            assert text != key and "{" not in text, (key, lang)
        assert i18n.t(key, "zh") != i18n.t(key, "en")


def test_the_join_link_qr_decodes_to_the_link():
    """segno's QR code, read back by OpenCV's detector (an independent decoder)."""
    import cv2
    import numpy as np

    from resnet_viz.rooms import qr

    link = "http://192.168.1.20:8501/Join?room=K7M2QX&lang=zh"
    image = cv2.imdecode(np.frombuffer(qr.png(link), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == link
    assert qr.svg(link).startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in qr.svg(link)
    for bad in ("", "x" * 513, None):
        with pytest.raises(ValueError):
            qr.png(bad)


def test_the_chart_draws_the_counts_and_shares():
    from resnet_viz.figures import rooms as figures_rooms

    res = rules.results("ask_grad", 3, [1, 1, 0, 1, 2, 1])
    fig = figures_rooms.class_answers(res.counts, res.shares)
    bar = fig.data[0]
    assert list(bar.x) == ["A", "B", "C"] and list(bar.y) == [1, 4, 1]
    assert list(bar.text) == ["1 · 17%", "4 · 67%", "1 · 17%"]
    assert rules.results("ask_grad", 3, []).shares == (0.0, 0.0, 0.0)


def test_redis_is_chosen_by_its_url_else_sqlite_in_the_cache_folder(redis_server, tmp_path):
    from resnet_viz import rooms as rooms_lib
    from resnet_viz.rooms.redis_engine import RedisEngine

    on_disk = rooms_lib.open_rooms({"RESNET_VIZ_CACHE": str(tmp_path)})
    assert isinstance(on_disk.engine, SQLiteEngine) and on_disk.engine.path == tmp_path / "rooms" / "rooms.sqlite3"
    shared = rooms_lib.open_rooms({rooms_lib.ENV: redis_server.url, "RESNET_VIZ_CACHE": str(tmp_path)})
    assert isinstance(shared.engine, RedisEngine)
    code, _ = shared.open_room()  # a second client of the same Redis (another replica) sees the room
    assert rooms_lib.open_rooms({rooms_lib.ENV: redis_server.url}).state(code).phase == rules.IDLE


def test_a_damaged_or_unwritable_sqlite_file_is_unavailable_not_a_crash(tmp_path):
    damaged = tmp_path / "rooms.sqlite3"
    damaged.write_bytes(b"this is not a database" * 100)
    with pytest.raises(Unavailable):
        SQLiteEngine(damaged)
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    with pytest.raises(Unavailable):
        SQLiteEngine(blocked / "rooms" / "rooms.sqlite3")  # its folder cannot be made
