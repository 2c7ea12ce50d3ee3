"""Rooms: the one interface the app uses (checks every input and the presenter's token), over a storage Engine
that makes each change atomic (SQLite or Redis)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from resnet_viz.rooms import rules
from resnet_viz.rooms.rules import (
    CLOSED,
    LIMITS,
    OPEN,
    REVEALED,
    Limits,
    Question,
    Record,
    Results,
    RoomError,
    RoomState,
)

# What an engine's answer() may return besides a stored answer, and the refusal each one is.
ANSWER_REFUSALS = {"not_found": rules.NOT_FOUND, "no_question": rules.NO_QUESTION,
                   "wrong_question": rules.WRONG_QUESTION, "closed": rules.CLOSED_NOW,
                   "bad_choice": rules.BAD_CHOICE, "room_full": rules.ROOM_FULL}
STORED = ("stored", "changed", "unchanged")


class Engine(ABC):
    """Storage of rooms and answers. Each method is one atomic change or read; `cutoff` is the oldest `active`
    time of a live room (older rooms count as gone). Connection failures raise rules.Unavailable."""

    @abstractmethod
    def create(self, code: str, token_hash: str, now: float, cutoff: float, max_rooms: int) -> str:
        """"ok", "taken" (the code is in use) or "full" (max_rooms live rooms); expired rooms are dropped."""

    @abstractmethod
    def record(self, code: str, cutoff: float) -> Record | None: ...

    @abstractmethod
    def ask(self, code: str, question: str, choices: int, now: float, cutoff: float) -> bool:
        """Make `question` the current one, open for answers (its earlier answers kept); False: no such room."""

    @abstractmethod
    def set_phase(self, code: str, phase: str, now: float, cutoff: float) -> bool: ...

    @abstractmethod
    def reset(self, code: str, now: float, cutoff: float) -> bool:
        """Drop the current question's answers and open it again."""

    @abstractmethod
    def answer(self, code: str, student: str, question: str, choice: int, now: float, cutoff: float,
               max_answers: int) -> str:
        """Store or change one student's answer if `question` is current and open and `choice` one of its
        choices: "stored", "changed", "unchanged" or a key of ANSWER_REFUSALS (then nothing changed)."""

    @abstractmethod
    def mine(self, code: str, question: str, student: str) -> int | None: ...

    @abstractmethod
    def answers(self, code: str, question: str) -> list[int]:
        """Every stored choice of one question (one per student)."""

    @abstractmethod
    def end(self, code: str) -> None: ...


class Rooms:
    """Open a room (a code for everyone, a token for the presenter), ask, close, reveal, reset, answer, count."""

    def __init__(self, engine: Engine, limits: Limits = LIMITS, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.limits = limits
        self.clock = clock

    def _times(self) -> tuple[float, float]:
        now = self.clock()
        return now, now - self.limits.idle_s

    def open_room(self) -> tuple[str, str]:
        """(code, token): the code goes on the screen, the token stays in the presenter's session."""
        token = rules.new_token()
        now, cutoff = self._times()
        for _ in range(8):  # 31^6 codes: a collision is rare, eight in a row never happens
            code = rules.new_code()
            outcome = self.engine.create(code, rules.token_hash(token), now, cutoff, self.limits.rooms)
            if outcome == "full":
                raise RoomError(rules.TOO_MANY_ROOMS, limit=self.limits.rooms)
            if outcome == "ok":
                return code, token
        raise RoomError(rules.TOO_MANY_ROOMS, limit=self.limits.rooms)

    def _record(self, code: object) -> Record:
        code = rules.check_code(code)
        record = self.engine.record(code, self._times()[1])
        if record is None:
            raise RoomError(rules.NOT_FOUND, code=code)
        return record

    def state(self, code: object) -> RoomState:
        """What a student's phone shows: the current question and its phase."""
        return self._record(code).state

    def _presenter(self, code: object, token: object) -> Record:
        record = self._record(code)
        if not rules.token_matches(token, record.token_hash):
            raise RoomError(rules.NOT_PRESENTER)
        return record

    def ask(self, code: object, token: object, question: Question) -> None:
        record = self._presenter(code, token)
        if not isinstance(question, Question):
            raise RoomError(rules.BAD_QUESTION)
        now, cutoff = self._times()
        self._found(self.engine.ask(record.state.code, question.id, question.choices, now, cutoff), record)

    def close(self, code: object, token: object) -> None:
        self._phase(code, token, CLOSED)

    def reveal(self, code: object, token: object) -> None:
        self._phase(code, token, REVEALED)

    def reopen(self, code: object, token: object) -> None:
        self._phase(code, token, OPEN)

    def _asked(self, code: object, token: object) -> Record:
        """The presenter's room, which must have a question asked."""
        record = self._presenter(code, token)
        if record.state.question is None:
            raise RoomError(rules.NO_QUESTION)
        return record

    def _phase(self, code: object, token: object, phase: str) -> None:
        record = self._asked(code, token)
        now, cutoff = self._times()
        self._found(self.engine.set_phase(record.state.code, phase, now, cutoff), record)

    def reset(self, code: object, token: object) -> None:
        record = self._asked(code, token)
        now, cutoff = self._times()
        self._found(self.engine.reset(record.state.code, now, cutoff), record)

    def end(self, code: object, token: object) -> None:
        self.engine.end(self._presenter(code, token).state.code)

    @staticmethod
    def _found(done: bool, record: Record) -> None:
        if not done:  # it expired or ended between the check and the change
            raise RoomError(rules.NOT_FOUND, code=record.state.code)

    def answer(self, code: object, student: object, question: object, choice: object) -> str:
        """One student's answer to the current question: "stored", "changed" or "unchanged"; refused otherwise
        (nothing stored). `question` is the one the student's screen showed: a late tap on the previous question
        is refused, not counted for the next."""
        code, student = rules.check_code(code), rules.check_student(student)
        question, choice = rules.check_question(question), rules.check_choice(choice)
        now, cutoff = self._times()
        outcome = self.engine.answer(code, student, question, choice, now, cutoff, self.limits.answers_per_room)
        if outcome in STORED:
            return outcome
        key = ANSWER_REFUSALS.get(outcome, rules.UNAVAILABLE)
        params = {"code": code} if key == rules.NOT_FOUND else {"limit": self.limits.answers_per_room} \
            if key == rules.ROOM_FULL else {}
        raise RoomError(key, **params)

    def mine(self, code: object, student: object, question: object) -> int | None:
        """This student's own answer (never anyone else's)."""
        code, student, question = rules.check_code(code), rules.check_student(student), rules.check_question(question)
        return self.engine.mine(code, question, student)

    def results(self, code: object, token: object, question: Question | None = None) -> Results:
        """The class's answers to `question` (default: the current one), for the presenter only."""
        state = self._presenter(code, token).state
        if question is None:
            if state.question is None:
                raise RoomError(rules.NO_QUESTION)
            question = Question(state.question, state.choices)
        if not isinstance(question, Question):
            raise RoomError(rules.BAD_QUESTION)
        return rules.results(question.id, question.choices, self.engine.answers(state.code, question.id))
