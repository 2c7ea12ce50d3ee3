"""The class room in the app (AppTest, the real SQLite store in the test's cache folder): a presenter opens a room on
the Lecture's question step and asks it, a student's Join page answers and changes the answer, the presenter's
chart counts it, the reveal reaches the phone; in Chinese no English word; a hostile code is refused."""

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_viz import rooms as rooms_lib
from resnet_viz.rooms import Question, rules
from resnet_viz.text import i18n
from tests.app.zh_scan import class_words, english_on
from tests.redis_server import RedisServer
from ui import keys, rooms
from ui.lecture import STEPS

ROOT = Path(__file__).resolve().parents[2]
JOIN = str(ROOT / "pages/7_Join.py")
LECTURE = str(ROOT / "pages/6_Lecture.py")


def _student(code: str | None, lang: str = "en") -> AppTest:
    at = AppTest.from_file(JOIN, default_timeout=120)
    at.session_state["lang"] = lang
    if code:
        at.session_state[keys.ROOM_JOIN] = code
    return at.run()


def _texts(at) -> str:
    alerts = [*at.info, *at.error, *at.success, *at.warning]
    return "\n".join([m.value for m in at.markdown] + [a.value for a in alerts] + [c.value for c in at.caption] +
                     [b.label for b in at.button])


def test_student_answers_changes_and_sees_the_reveal():
    store = rooms_lib.open_rooms()
    code, token = store.open_room()
    at = _student(code)
    assert not at.exception
    assert i18n.t("rooms.student.wait", "en") in _texts(at)
    store.ask(code, token, Question("ask_grad", 3))
    at.run()
    assert [b.key for b in at.button if b.key.startswith("room_choice_")] == [f"room_choice_{i}" for i in range(3)]
    at.button(key="room_choice_0").click().run()
    assert store.results(code, token).counts == (1, 0, 0)
    at.button(key="room_choice_1").click().run()
    assert store.results(code, token).counts == (0, 1, 0)  # changed, not counted twice
    assert i18n.t("rooms.student.yours", "en", letter="B") in _texts(at)
    store.close(code, token)
    at.button(key="room_choice_2").click().run()  # a tap from a screen that still showed the question open
    assert i18n.t(rules.CLOSED_NOW, "en") in [e.value for e in at.error]
    assert store.results(code, token).counts == (0, 1, 0)
    store.reveal(code, token)
    at.run()
    assert at.button(key="room_choice_0").disabled
    assert i18n.t("rooms.student.phase.revealed", "en") in _texts(at)


def test_student_page_in_chinese_has_no_english():
    store = rooms_lib.open_rooms()
    code, token = store.open_room()
    store.ask(code, token, Question("ask_lesion", 3))
    at = _student(code, "zh")
    at.button(key="room_choice_2").click().run()
    assert not at.exception
    extra = {"English", *re.findall(r"[A-Za-z][A-Za-z0-9]*", code)}  # the room code is data, not English
    assert not english_on(at, extra), english_on(at, extra)


def test_a_hostile_code_is_refused_and_nothing_joined():
    at = _student(None)
    for bad in ("<script>x</script>", "ABCDE0", "../../"):
        at.text_input(key=keys.ROOM_TYPED).input(bad[:12])
        at.button(key="room_join_button").click().run()
        assert i18n.t(rules.BAD_CODE, "en") in [e.value for e in at.error]
        assert keys.ROOM_JOIN not in at.session_state
    at.text_input(key=keys.ROOM_TYPED).input("ABCDEF").run()
    at.button(key="room_join_button").click().run()
    assert at.session_state[keys.ROOM_JOIN] == "ABCDEF"  # a well-formed code joins; the panel says it is unknown
    assert i18n.t(rules.NOT_FOUND, "en", code="ABCDEF") in [e.value for e in at.error]


def test_presenter_opens_asks_and_reveals_on_the_lecture():
    at = AppTest.from_file(LECTURE, default_timeout=300)
    at.session_state["lang"] = "en"
    at.session_state["lecture_step"] = STEPS.index("ask_grad")
    at.session_state["lecture_presenter"] = True
    at.session_state["mask"] = (True,) * 8
    at.run()
    at.button(key="room_open").click().run()
    code, token = at.session_state[keys.ROOM_CODE], at.session_state[keys.ROOM_TOKEN]
    assert rules.CODE_RE.fullmatch(code)
    shown = _texts(at)
    assert code in shown and token not in shown  # the token is never on screen, nor in the join link
    assert all(token not in c.value for c in at.get("code"))
    at.button(key="room_ask").click().run()
    store = rooms_lib.open_rooms()
    assert store.state(code).question == "ask_grad" and store.state(code).phase == rules.OPEN
    student = rules.new_student()
    store.answer(code, student, "ask_grad", 1)
    at.run()
    bars = [c for c in at.get("plotly_chart")]
    assert bars and '"y":[0,1,0]' in bars[-1].proto.spec.replace(" ", "")
    at.button(key="room_reveal").click().run()
    assert STEPS[at.session_state["lecture_step"]] == "grad"
    assert store.state(code).phase == rules.REVEALED
    assert not at.exception


def test_redis_down_mid_question_says_so_and_recovers(tmp_path, monkeypatch):
    """The app on Redis ($RESNET_VIZ_REDIS_URL, a real redis-server): killed while the class answers, the phone says
    the service is unreachable (no traceback), and when Redis is back the earlier answer is still there and a new
    tap counts."""
    server = RedisServer(tmp_path / "redis").start()
    monkeypatch.setenv(rooms_lib.ENV, server.url)
    rooms.store.clear()  # the app's one store per process: now the Redis one
    try:
        store = rooms_lib.open_rooms()
        code, token = store.open_room()
        store.ask(code, token, Question("ask_grad", 3))
        at = _student(code)
        at.button(key="room_choice_0").click().run()
        server.stop(kill=True)
        at.button(key="room_choice_1").click().run()
        assert i18n.t(rules.UNAVAILABLE, "en") in [e.value for e in at.error] and not at.exception
        at.run()  # the panel's own refresh while Redis is down
        assert i18n.t(rules.UNAVAILABLE, "en") in [e.value for e in at.error] and not at.exception
        server.start()
        at.run()
        assert i18n.t("rooms.student.yours", "en", letter="A") in _texts(at)
        at.button(key="room_choice_1").click().run()
        assert store.results(code, token).counts == (0, 1, 0)
    finally:
        server.stop()
        rooms.store.clear()


def test_presenter_panel_in_chinese_has_no_english():
    at = AppTest.from_file(LECTURE, default_timeout=300)
    at.session_state["lang"] = "zh"
    at.session_state[keys.LECTURE_STEP] = STEPS.index("ask_lesion")
    at.session_state[keys.LECTURE_PRESENTER] = True
    at.session_state["mask"] = (True,) * 8
    at.run()
    at.button(key=keys.ROOM_OPEN).click().run()
    at.button(key=keys.ROOM_ASK).click().run()
    code = at.session_state[keys.ROOM_CODE]
    rooms_lib.open_rooms().answer(code, rules.new_student(), "ask_lesion", 2)
    at.button(key=keys.LEC_NEXT).click().run()  # Next reveals it: the final chart beside the measured answer
    assert rooms_lib.open_rooms().state(code).phase == rules.REVEALED
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text") for c in at.get("plotly_chart")]
    assert i18n.t("rooms.fig.final", "zh", n=1) in titles
    at.button(key=keys.LEC_PREV).click().run()
    assert not at.exception
    # The room code is data; AppTest has no browser address, so the join link is a bare path (/Join?room=…&lang=zh)
    # where a server shows http://…, which the scan skips.
    extra = {*re.findall(r"[A-Za-z][A-Za-z0-9]*", code), *class_words(), "Join", "room", "lang", "zh"}
    assert not english_on(at, extra), english_on(at, extra)
