"""Rooms in one SQLite file (WAL) in the cache folder: one server, any number of sessions, threads or processes;
it survives a restart. Every change is one `BEGIN IMMEDIATE` transaction."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from resnet_viz.rooms.rules import IDLE, OPEN, Record, RoomState, Unavailable
from resnet_viz.rooms.store import Engine

SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created REAL NOT NULL, active REAL NOT NULL,
    question TEXT, choices INTEGER NOT NULL DEFAULT 0, phase TEXT NOT NULL DEFAULT 'idle');
CREATE INDEX IF NOT EXISTS rooms_active ON rooms (active);
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL, question TEXT NOT NULL, student TEXT NOT NULL, choice INTEGER NOT NULL,
    PRIMARY KEY (code, question, student)) WITHOUT ROWID;
"""
BUSY_MS = 10_000  # another process's write transaction is waited for this long before giving up


class SQLiteEngine(Engine):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # Threads of this process queue here instead of in SQLite's busy handler, which sleeps in steps of up
        # to 100 ms; other processes are serialised by the database lock itself.
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, closing(self._connect()) as db:
                db.executescript(SCHEMA)  # IF NOT EXISTS: safe when several processes start at once
        except (OSError, sqlite3.DatabaseError) as exc:  # an unwritable folder, a damaged file
            raise Unavailable() from exc

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: Streamlit runs scripts on many short-lived threads.
        db = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed answer survives a process crash
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a locked (BUSY_MS), full or damaged database is Unavailable, nothing written."""
        with self._lock:
            try:
                with closing(self._connect()) as db:
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        yield db
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                    db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise Unavailable() from exc

    def _read(self, sql: str, args: tuple) -> list[tuple]:
        try:
            with closing(self._connect()) as db:
                return db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise Unavailable() from exc

    def create(self, code: str, token_hash: str, now: float, cutoff: float, max_rooms: int) -> str:
        with self._write() as db:
            db.execute("DELETE FROM answers WHERE code IN (SELECT code FROM rooms WHERE active < ?)", (cutoff,))
            db.execute("DELETE FROM rooms WHERE active < ?", (cutoff,))
            if db.execute("SELECT 1 FROM rooms WHERE code = ?", (code,)).fetchone():
                return "taken"
            if db.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] >= max_rooms:
                return "full"
            db.execute("INSERT INTO rooms (code, token_hash, created, active, phase) VALUES (?, ?, ?, ?, ?)",
                       (code, token_hash, now, now, IDLE))
        return "ok"

    def record(self, code: str, cutoff: float) -> Record | None:
        rows = self._read("SELECT question, choices, phase, token_hash, active FROM rooms WHERE code = ? AND "
                          "active >= ?", (code, cutoff))
        if not rows:
            return None
        question, choices, phase, token_hash, active = rows[0]
        return Record(RoomState(code, question, choices, phase), token_hash, active)

    def _live(self, db: sqlite3.Connection, code: str, cutoff: float) -> tuple | None:
        return db.execute("SELECT question, choices, phase FROM rooms WHERE code = ? AND active >= ?",
                          (code, cutoff)).fetchone()

    def ask(self, code: str, question: str, choices: int, now: float, cutoff: float) -> bool:
        with self._write() as db:
            if self._live(db, code, cutoff) is None:
                return False
            db.execute("UPDATE rooms SET question = ?, choices = ?, phase = ?, active = ? WHERE code = ?",
                       (question, choices, OPEN, now, code))
        return True

    def set_phase(self, code: str, phase: str, now: float, cutoff: float) -> bool:
        with self._write() as db:
            if self._live(db, code, cutoff) is None:
                return False
            db.execute("UPDATE rooms SET phase = ?, active = ? WHERE code = ?", (phase, now, code))
        return True

    def reset(self, code: str, now: float, cutoff: float) -> bool:
        with self._write() as db:
            live = self._live(db, code, cutoff)
            if live is None:
                return False
            db.execute("DELETE FROM answers WHERE code = ? AND question = ?", (code, live[0]))
            db.execute("UPDATE rooms SET phase = ?, active = ? WHERE code = ?", (OPEN, now, code))
        return True

    def answer(self, code: str, student: str, question: str, choice: int, now: float, cutoff: float,
               max_answers: int) -> str:
        with self._write() as db:
            live = self._live(db, code, cutoff)
            if live is None:
                return "not_found"
            current, choices, phase = live
            if current is None or phase == IDLE:
                return "no_question"
            if current != question:
                return "wrong_question"
            if phase != OPEN:
                return "closed"
            if not 0 <= choice < choices:
                return "bad_choice"
            row = db.execute("SELECT choice FROM answers WHERE code = ? AND question = ? AND student = ?",
                             (code, question, student)).fetchone()
            if row is not None and row[0] == choice:
                return "unchanged"
            if row is None:
                if db.execute("SELECT COUNT(*) FROM answers WHERE code = ?", (code,)).fetchone()[0] >= max_answers:
                    return "room_full"
                db.execute("INSERT INTO answers (code, question, student, choice) VALUES (?, ?, ?, ?)",
                           (code, question, student, choice))
            else:
                db.execute("UPDATE answers SET choice = ? WHERE code = ? AND question = ? AND student = ?",
                           (choice, code, question, student))
            db.execute("UPDATE rooms SET active = ? WHERE code = ?", (now, code))
        return "stored" if row is None else "changed"

    def mine(self, code: str, question: str, student: str) -> int | None:
        rows = self._read("SELECT choice FROM answers WHERE code = ? AND question = ? AND student = ?",
                          (code, question, student))
        return rows[0][0] if rows else None

    def answers(self, code: str, question: str) -> list[int]:
        return [r[0] for r in self._read("SELECT choice FROM answers WHERE code = ? AND question = ?",
                                         (code, question))]

    def end(self, code: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM answers WHERE code = ?", (code,))
            db.execute("DELETE FROM rooms WHERE code = ?", (code,))
