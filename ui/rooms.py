"""Class questions on the Streamlit side: the presenter's room (sidebar, the live chart on a question step, the
chart beside the revealed answer) and the student's phone view (pages/7_Join.py). The rules are in
resnet_viz.rooms; the presenter's token lives only in the presenter's session state."""

from __future__ import annotations

import os
from urllib.parse import urlencode

import plotly.graph_objects as go
import streamlit as st

from resnet_viz import figures
from resnet_viz import rooms as rooms_lib
from resnet_viz.figures import rooms as figures_rooms
from resnet_viz.rooms import Question, RoomError, qr, rules
from resnet_viz.text import i18n
from ui import keys, memo
from ui.draw import chart
from ui.lecture_plan import BODY_KEYS, CHOICES, QUESTIONS, TITLE_KEYS
from ui.nav import PAGES
from ui.text import lang, literal, reason_text, t

COOKIE = "rv_student"
PUBLIC_URL_ENV = "RESNET_VIZ_PUBLIC_URL"  # the address students reach when the presenter's browser shows localhost
PRESENTER_REFRESH_S = 1.5
# On a projected 1080-pixel slide: the question's own figure (if it has one) above the class's live answers.
SLIDE_FIG_HEIGHT, LIVE_HEIGHT, LIVE_HEIGHT_WITH_FIG = 300, 480, 330
STUDENT_REFRESH_S = 2.0
LETTERS = "ABCDEFGH"
PHASE_KEYS = {rules.IDLE: "rooms.phase.idle", rules.OPEN: "rooms.phase.open", rules.CLOSED: "rooms.phase.closed",
              rules.REVEALED: "rooms.phase.revealed"}
STUDENT_PHASE_KEYS = {rules.IDLE: "rooms.student.phase.idle", rules.OPEN: "rooms.student.phase.open",
                      rules.CLOSED: "rooms.student.phase.closed", rules.REVEALED: "rooms.student.phase.revealed"}
SAVED_KEYS = {"stored": "rooms.student.stored", "changed": "rooms.student.changed"}
PHONE_CSS = """<style>
[data-testid="stMain"] .stButton button {min-height: 3.2rem; text-align: left; justify-content: flex-start;}
[data-testid="stMain"] .stButton button p {font-size: 1.05rem; white-space: normal;}
.block-container {padding-left: 1rem; padding-right: 1rem; max-width: 46rem;}
</style>"""


@st.cache_resource(max_entries=1, show_spinner=False)
def store() -> rooms_lib.Rooms:
    """One store per server process: SQLite in the cache folder, or Redis at $RESNET_VIZ_REDIS_URL."""
    return rooms_lib.open_rooms()


def question(name: str) -> Question:
    """A lecture question step as a room question (its id is the step's name)."""
    return Question(name, len(CHOICES[name]))


def join_link(code: str) -> str:
    """The link students open: the Join page with the room code (and the presenter's language), no token."""
    base = (os.environ.get(PUBLIC_URL_ENV) or (st.context.url or "").split("?")[0]).rstrip("/")
    for page in PAGES:  # the browser's address ends with the presenter's page: the app's root is before it
        if base.endswith("/" + page.url_path):
            base = base[: -len(page.url_path) - 1]
            break
    query = {"room": code, **({"lang": lang()} if lang() != "en" else {})}
    return f"{base}/Join?{urlencode(query)}"


@st.cache_data(max_entries=64, show_spinner=False)
def qr_png(link: str) -> bytes:
    return qr.png(link, scale=10)


# ---- presenter ----------------------------------------------------------------------------------------------

def presenting() -> tuple[str, str] | None:
    code, token = st.session_state.get(keys.ROOM_CODE), st.session_state.get(keys.ROOM_TOKEN)
    return (code, token) if code and token else None


def _act(action, *args) -> None:
    """A presenter action from a button; a refusal is shown on the next run (in the sidebar)."""
    try:
        action(*args)
    except RoomError as exc:
        st.session_state[keys.ROOM_NOTE] = exc


def _open_room() -> None:
    try:
        code, token = store().open_room()
    except RoomError as exc:
        st.session_state[keys.ROOM_NOTE] = exc
        return
    st.session_state[keys.ROOM_CODE], st.session_state[keys.ROOM_TOKEN] = code, token


def _end_room() -> None:
    room = presenting()
    if room:
        _act(store().end, *room)
    st.session_state.pop(keys.ROOM_CODE, None)
    st.session_state.pop(keys.ROOM_TOKEN, None)


def presenter_sidebar() -> None:
    """The room's controls in the presenter's sidebar: open one, or its code and link and end it."""
    with st.sidebar:
        st.markdown(f"**{t('rooms.title')}**")
        note = st.session_state.pop(keys.ROOM_NOTE, None)
        if isinstance(note, RoomError):
            st.error(reason_text(note))
        room = presenting()
        if room is None:
            st.button(t("rooms.open"), key=keys.ROOM_OPEN, on_click=_open_room, width="stretch")
            st.caption(t("rooms.open_help"))
            return
        st.markdown(t("rooms.code_is", code=room[0]))
        st.code(join_link(room[0]), language=None, wrap_lines=True)
        st.button(t("rooms.end"), key=keys.ROOM_END, on_click=_end_room, width="stretch")


def leaving(name: str) -> None:
    """The lecture moves on from a question step: the class's question is revealed (phones say so)."""
    room = presenting()
    if room is None or name not in QUESTIONS:
        return
    try:
        if store().state(room[0]).question == name:
            store().reveal(*room)
    except RoomError as exc:
        st.session_state[keys.ROOM_NOTE] = exc


def question_panel(name: str, slide_fig, on_reveal, args: tuple = ()) -> None:
    """On a question step with a room open: the slide's own figure (if any) shorter, the controls, the live chart
    of the class's answers and how to join."""
    code, token = presenting() or ("", "")
    if slide_fig is not None:  # a copy: the slide's figure is shared by every session
        chart(st, go.Figure(slide_fig).update_layout(height=SLIDE_FIG_HEIGHT))
    try:
        state = store().state(code)
    except RoomError as exc:
        st.error(reason_text(exc))
        return
    asked = state.question == name
    buttons = st.columns(4)
    buttons[0].button(t("rooms.ask"), key=keys.ROOM_ASK, type="primary" if not asked else "secondary",
                      on_click=_act, args=(store().ask, code, token, question(name)), width="stretch")
    if asked and state.phase == rules.OPEN:
        buttons[1].button(t("rooms.close"), key=keys.ROOM_CLOSE, on_click=_act, args=(store().close, code, token),
                          width="stretch")
    elif asked:
        buttons[1].button(t("rooms.reopen"), key=keys.ROOM_REOPEN, on_click=_act, args=(store().reopen, code, token),
                          width="stretch")
    buttons[2].button(t("rooms.reset"), key=keys.ROOM_RESET, disabled=not asked, on_click=_act,
                      args=(store().reset, code, token), width="stretch")
    buttons[3].button(t("rooms.reveal"), key=keys.ROOM_REVEAL, disabled=not asked, type="primary", on_click=on_reveal,
                      args=args, width="stretch")
    _live(name, LIVE_HEIGHT_WITH_FIG if slide_fig is not None else LIVE_HEIGHT)


@st.fragment(run_every=PRESENTER_REFRESH_S)
def _live(name: str, height: int) -> None:
    """The class's answers as they come in, redrawn every PRESENTER_REFRESH_S without rerunning the page."""
    room = presenting()
    if room is None:
        return
    code, token = room
    chart_col, join_col = st.columns([3, 2], gap="medium")
    with join_col:
        _how_to_join(code)
    with chart_col:
        try:
            state = store().state(code)
            if state.question != name:
                st.info(t("rooms.not_asked"))
                return
            res = store().results(code, token, question(name))
        except RoomError as exc:
            st.error(reason_text(exc))
            return
        # Rebuilt only when an answer changed the counts: the presenter's refresh mostly redraws the same chart.
        fig = memo.figure(("class_answers", tuple(res.counts), height), lambda: figures_rooms.class_answers(
            res.counts, res.shares, **figures.labels("class_answers", t)).update_layout(height=height))
        chart(st, fig)
        st.markdown(t(PHASE_KEYS[state.phase], n=res.total))


def _how_to_join(code: str) -> None:
    link = join_link(code)
    st.markdown(f"<div style='font-size:1.2rem'>{t('rooms.join_at')}</div>"
                f"<div style='font-size:3.4rem; font-weight:700; letter-spacing:0.15em'>{code}</div>",
                unsafe_allow_html=True)
    st.image(qr_png(link), width=260)
    st.caption(literal(link))  # the address comes from the browser (or the environment): shown as text


def reveal_panel(name: str) -> None:
    """On the step that reveals a question's measured answer: the class's final answers beside it."""
    asked = next((q for q, reveal in QUESTIONS.items() if reveal == name), None)
    room = presenting()
    if asked is None or room is None:
        return
    try:
        res = store().results(*room, question(asked))
    except RoomError as exc:
        st.error(reason_text(exc))
        return
    if res.total:
        labels = {**figures.labels("class_answers", t), "title": t("rooms.fig.final", n=res.total)}
        fig = figures_rooms.class_answers(res.counts, res.shares, **labels)
        fig.update_layout(height=340)
        chart(st, fig)


# ---- student ------------------------------------------------------------------------------------------------

def student_id() -> str:
    """This browser's anonymous id: kept in the session and in a cookie, so a reload answers as the same student
    (no name is asked for)."""
    sid = st.session_state.get(keys.ROOM_STUDENT)
    if sid:
        return sid
    cookie = st.context.cookies.get(COOKIE)
    sid = cookie if isinstance(cookie, str) and rules.STUDENT_RE.fullmatch(cookie) else rules.new_student()
    st.session_state[keys.ROOM_STUDENT] = sid
    if sid != cookie:  # sid is [A-Za-z0-9_-] only (STUDENT_RE), safe inside the script
        st.html(f"<script>document.cookie = '{COOKIE}={sid}; path=/; max-age=14400; samesite=lax';</script>",
                unsafe_allow_javascript=True)
    return sid


def _set_lang() -> None:
    if st.session_state.get(keys.ROOM_LANG) in i18n.LANGUAGES:  # a second tap deselects: keep the language
        st.session_state[keys.LANG] = st.session_state[keys.ROOM_LANG]


def language_buttons() -> None:
    """English / 中文 on the page itself (on a phone the sidebar is folded away), one row at any width."""
    st.session_state[keys.ROOM_LANG] = lang()  # follows the sidebar's choice too
    st.segmented_control("Language / 语言", list(i18n.LANGUAGES), key=keys.ROOM_LANG, format_func=i18n.LANGUAGES.get,
                         on_change=_set_lang, label_visibility="collapsed")


def _join() -> None:
    try:
        st.session_state[keys.ROOM_JOIN] = rules.check_code(st.session_state.get(keys.ROOM_TYPED, ""))
    except RoomError as exc:
        st.session_state[keys.ROOM_NOTE] = exc


def _leave() -> None:
    st.session_state.pop(keys.ROOM_JOIN, None)


def code_form() -> None:
    """No room yet: type the code from the screen."""
    st.text_input(t("rooms.student.code"), key=keys.ROOM_TYPED, max_chars=12, placeholder="K7M2QX")
    st.button(t("rooms.student.join"), key=keys.ROOM_JOIN_BUTTON, type="primary", on_click=_join, width="stretch")
    note = st.session_state.pop(keys.ROOM_NOTE, None)
    if isinstance(note, RoomError):
        st.error(reason_text(note))


def _answer(code: str, name: str, choice: int) -> None:
    try:
        outcome = store().answer(code, student_id(), name, choice)
        st.session_state[keys.ROOM_NOTE] = "stored" if outcome == "stored" else "changed"
    except RoomError as exc:
        st.session_state[keys.ROOM_NOTE] = exc


@st.fragment(run_every=STUDENT_REFRESH_S)
def student_panel() -> None:
    """The current question and its choices, refreshed every STUDENT_REFRESH_S: a new question, a closed one or
    the reveal shows up without a reload. A tap reruns only this panel."""
    code = st.session_state.get(keys.ROOM_JOIN)
    sid = st.session_state.get(keys.ROOM_STUDENT)
    if not code or not sid:
        return
    note = st.session_state.pop(keys.ROOM_NOTE, None)
    try:
        state = store().state(code)
        mine = store().mine(code, sid, state.question) if state.question else None
    except RoomError as exc:
        st.error(reason_text(exc))
        if exc.key in (rules.NOT_FOUND, rules.BAD_CODE):
            st.button(t("rooms.student.other"), key=keys.ROOM_LEAVE, on_click=_leave, width="stretch")
        return
    st.caption(t("rooms.student.room", code=code))
    if isinstance(note, RoomError):
        st.error(reason_text(note))
    name = state.question
    if name is None or state.phase == rules.IDLE or name not in CHOICES:
        st.info(t("rooms.student.wait"))
        return
    st.markdown(f"#### {t(TITLE_KEYS[name])}")
    for i, key in enumerate(CHOICES[name]):
        st.button(f"**{LETTERS[i]}.** {t(key)}", key=keys.room_choice(i), on_click=_answer, args=(code, name, i),
                  type="primary" if mine == i else "secondary", disabled=state.phase != rules.OPEN, width="stretch")
    if mine is not None:
        st.success(t("rooms.student.yours", letter=LETTERS[mine]))
    if note in SAVED_KEYS and mine is not None:
        st.caption(t(SAVED_KEYS[note]))
    st.info(t(STUDENT_PHASE_KEYS[state.phase]))
    with st.expander(t("rooms.student.details")):  # the slide's full text, below the choices on a small screen
        st.markdown(t(BODY_KEYS[name]))
