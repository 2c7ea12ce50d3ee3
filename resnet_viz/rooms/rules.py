"""The rules of a class room: who may do what, which codes, ids and choices are accepted, the limits, and the
class's answers as counts and shares. Every refusal is a RoomError with a reason key (text/locale)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from resnet_viz.text.errors import UserError

# Codes a person reads off a projector and types on a phone: no 0/O, 1/I/L look-alikes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
CODE_RE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
STUDENT_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # secrets.token_urlsafe(16) and longer
QUESTION_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
TOKEN_MAX = 128  # characters; a longer "token" is refused before hashing


@dataclass(frozen=True)
class Limits:
    """What one server (or one Redis) holds at most; a room idle this long is gone."""

    rooms: int = 200  # live rooms per server
    answers_per_room: int = 5000  # distinct (student, question) answers; a changed answer is not a new one
    idle_s: float = 4 * 3600.0
    choices: int = 8  # most choices a question may have


LIMITS = Limits()

# Phases of a room's current question.
IDLE, OPEN, CLOSED, REVEALED = "idle", "open", "closed", "revealed"
PHASES = (IDLE, OPEN, CLOSED, REVEALED)

# Reason keys (resnet_viz/text/locale/*.json).
BAD_CODE = "rooms.bad_code"
NOT_FOUND = "rooms.not_found"
NOT_PRESENTER = "rooms.not_presenter"
BAD_CHOICE = "rooms.bad_choice"
BAD_STUDENT = "rooms.bad_student"
BAD_QUESTION = "rooms.bad_question"
NO_QUESTION = "rooms.no_question"
WRONG_QUESTION = "rooms.wrong_question"
CLOSED_NOW = "rooms.closed"
TOO_MANY_ROOMS = "rooms.too_many_rooms"
ROOM_FULL = "rooms.room_full"
UNAVAILABLE = "rooms.unavailable"
REASONS = (BAD_CODE, NOT_FOUND, NOT_PRESENTER, BAD_CHOICE, BAD_STUDENT, BAD_QUESTION, NO_QUESTION, WRONG_QUESTION,
           CLOSED_NOW, TOO_MANY_ROOMS, ROOM_FULL, UNAVAILABLE)


class RoomError(UserError):
    """A refused room action: exc.key is one of REASONS; nothing was stored."""


class Unavailable(RoomError):
    """The storage engine cannot be reached (Redis down): nothing was stored now, what was stored is kept."""

    def __init__(self) -> None:
        super().__init__(UNAVAILABLE)


@dataclass(frozen=True)
class Question:
    """A question a room can ask: its id (a lecture step's name) and how many choices it has."""

    id: str
    choices: int

    def __post_init__(self) -> None:
        check_question(self.id)
        n = self.choices
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= LIMITS.choices:
            raise RoomError(BAD_QUESTION)


@dataclass(frozen=True)
class RoomState:
    """What anyone with the code may know: the current question (None before the first), its choices and phase."""

    code: str
    question: str | None
    choices: int
    phase: str


@dataclass(frozen=True)
class Record:
    """A room as stored: its state, the presenter token's hash and when it was last active (seconds)."""

    state: RoomState
    token_hash: str
    active: float


@dataclass(frozen=True)
class Results:
    """The class's answers to one question: count and share per choice (shares sum to 1, or all 0 with none)."""

    question: str
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def shares(self) -> tuple[float, ...]:
        total = self.total
        return tuple(c / total if total else 0.0 for c in self.counts)


def results(question: str, choices: int, answers: list[int]) -> Results:
    """Counts per choice from the stored answers (one per student); a stored value outside the choices is not
    counted (it cannot be stored: answer() checks it)."""
    counts = [0] * choices
    for a in answers:
        if 0 <= a < choices:
            counts[a] += 1
    return Results(question, tuple(counts))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_token() -> str:
    """The presenter's secret: 256 random bits, never in a link."""
    return secrets.token_urlsafe(32)


def new_student() -> str:
    return secrets.token_urlsafe(16)


def token_hash(token: str) -> str:
    """Only the hash is stored: a copy of the storage does not let anyone act as the presenter."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: object, stored_hash: str) -> bool:
    """Whether `token` is the presenter's, compared in constant time (hmac.compare_digest)."""
    if not isinstance(token, str) or not 0 < len(token) <= TOKEN_MAX or not token.isascii():
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)


def check_code(code: object) -> str:
    """A room code as typed (spaces around it, lower case) -> the code; anything else is refused."""
    if not isinstance(code, str) or len(code) > 2 * CODE_LENGTH or not code.isascii():
        raise RoomError(BAD_CODE)
    code = code.strip().upper()
    if not CODE_RE.fullmatch(code):
        raise RoomError(BAD_CODE)
    return code


def check_student(student: object) -> str:
    if not isinstance(student, str) or not STUDENT_RE.fullmatch(student):
        raise RoomError(BAD_STUDENT)
    return student


def check_question(question: object) -> str:
    if not isinstance(question, str) or not QUESTION_RE.fullmatch(question):
        raise RoomError(BAD_QUESTION)
    return question


def check_choice(choice: object) -> int:
    """A choice's index; its range is checked against the room's question where the answer is stored."""
    if isinstance(choice, bool) or not isinstance(choice, int) or not 0 <= choice < LIMITS.choices:
        raise RoomError(BAD_CHOICE)
    return choice
