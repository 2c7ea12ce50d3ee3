"""Rooms in Redis (chosen by $RESNET_VIZ_REDIS_URL), shared by every replica: each change is one Lua script,
which Redis runs atomically, so simultaneous answers are neither lost nor counted twice."""

# Keys, per room (one hash tag, so one slot): {CODE}:room (a hash: token_hash, active, question, choices, phase,
# answers), {CODE}:asked (the questions asked), {CODE}:a:QUESTION (student -> choice); and one sorted set of live
# codes by last activity. Every key of a room expires after the idle limit unless the room is used again.

from __future__ import annotations

import math

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from resnet_viz.rooms.rules import IDLE, Record, RoomState, Unavailable
from resnet_viz.rooms.store import Engine

# Shared Lua: is the room (KEYS[1]) live at cutoff; refresh every key of the room for another idle period.
_LIB = """
local function live(room, cutoff)
  local active = redis.call('HGET', room, 'active')
  return active and tonumber(active) >= tonumber(cutoff)
end
local function touch(room, asked, prefix, rooms, code, now, ttl)
  redis.call('HSET', room, 'active', now)
  redis.call('EXPIRE', room, ttl)
  redis.call('EXPIRE', asked, ttl)
  for _, q in ipairs(redis.call('SMEMBERS', asked)) do redis.call('EXPIRE', prefix .. q, ttl) end
  redis.call('ZADD', rooms, now, code)
end
"""
# KEYS: rooms, room; ARGV: code, token_hash, now, cutoff, max_rooms, ttl
CREATE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then return 'taken' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then return 'full' end
redis.call('HSET', KEYS[2], 'token_hash', ARGV[2], 'active', ARGV[3], 'question', '', 'choices', 0,
           'phase', 'idle', 'answers', 0)
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 'ok'
"""
# KEYS: room, asked, rooms; ARGV: code, now, cutoff, ttl, prefix, op, question, choices, phase
CHANGE = _LIB + """
if not live(KEYS[1], ARGV[3]) then return 0 end
local op = ARGV[6]
if op == 'ask' then
  redis.call('HSET', KEYS[1], 'question', ARGV[7], 'choices', ARGV[8], 'phase', 'open')
  redis.call('SADD', KEYS[2], ARGV[7])
elseif op == 'phase' then
  redis.call('HSET', KEYS[1], 'phase', ARGV[9])
elseif op == 'reset' then
  local answers = ARGV[5] .. redis.call('HGET', KEYS[1], 'question')
  redis.call('HINCRBY', KEYS[1], 'answers', -redis.call('HLEN', answers))
  redis.call('DEL', answers)
  redis.call('HSET', KEYS[1], 'phase', 'open')
end
touch(KEYS[1], KEYS[2], ARGV[5], KEYS[3], ARGV[1], ARGV[2], ARGV[4])
return 1
"""
# KEYS: room, asked, rooms, answers; ARGV: code, now, cutoff, ttl, prefix, student, question, choice, max_answers
ANSWER = _LIB + """
if not live(KEYS[1], ARGV[3]) then return 'not_found' end
local r = redis.call('HMGET', KEYS[1], 'question', 'choices', 'phase', 'answers')
if r[1] == '' or r[3] == 'idle' then return 'no_question' end
if r[1] ~= ARGV[7] then return 'wrong_question' end
if r[3] ~= 'open' then return 'closed' end
local choice = tonumber(ARGV[8])
if choice < 0 or choice >= tonumber(r[2]) then return 'bad_choice' end
local prev = redis.call('HGET', KEYS[4], ARGV[6])
if prev == ARGV[8] then return 'unchanged' end
if not prev then
  if tonumber(r[4]) >= tonumber(ARGV[9]) then return 'room_full' end
  redis.call('HINCRBY', KEYS[1], 'answers', 1)
end
redis.call('HSET', KEYS[4], ARGV[6], ARGV[8])
touch(KEYS[1], KEYS[2], ARGV[5], KEYS[3], ARGV[1], ARGV[2], ARGV[4])
if prev then return 'changed' end
return 'stored'
"""
ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisEngine(Engine):
    def __init__(self, url: str, prefix: str = "rv:", idle_s: float = 4 * 3600.0) -> None:
        # Fail fast and let the page say so: a student waits ~2 s at most, not redis-py's default retries.
        self.db = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=1.0,
                                       retry=Retry(NoBackoff(), 1), health_check_interval=10)
        self.prefix = prefix
        self.ttl = math.ceil(idle_s) + 60  # the keys outlive the idle limit a little; `active` decides
        self._create = self.db.register_script(CREATE)
        self._change = self.db.register_script(CHANGE)
        self._answer = self.db.register_script(ANSWER)

    def _keys(self, code: str) -> tuple[str, str, str]:
        tag = f"{self.prefix}{{{code}}}"
        return f"{tag}:room", f"{tag}:asked", f"{tag}:a:"

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ERRORS as exc:  # BusyLoadingError (Redis replaying its log after a restart) is one of them
            raise Unavailable() from exc

    def create(self, code: str, token_hash: str, now: float, cutoff: float, max_rooms: int) -> str:
        room, _, _ = self._keys(code)
        return self._call(self._create, keys=[self.prefix + "rooms", room],
                          args=[code, token_hash, repr(now), repr(cutoff), max_rooms, self.ttl])

    def record(self, code: str, cutoff: float) -> Record | None:
        room, _, _ = self._keys(code)
        got = self._call(self.db.hmget, room, "question", "choices", "phase", "token_hash", "active")
        question, choices, phase, token_hash, active = got
        if active is None or float(active) < cutoff or token_hash is None:
            return None
        return Record(RoomState(code, question or None, int(choices or 0), phase or IDLE), token_hash, float(active))

    def _change_room(self, code: str, now: float, cutoff: float, op: str, question: str = "", choices: int = 0,
                     phase: str = "") -> bool:
        room, asked, prefix = self._keys(code)
        return bool(self._call(self._change, keys=[room, asked, self.prefix + "rooms"],
                               args=[code, repr(now), repr(cutoff), self.ttl, prefix, op, question, choices, phase]))

    def ask(self, code: str, question: str, choices: int, now: float, cutoff: float) -> bool:
        return self._change_room(code, now, cutoff, "ask", question, choices)

    def set_phase(self, code: str, phase: str, now: float, cutoff: float) -> bool:
        return self._change_room(code, now, cutoff, "phase", phase=phase)

    def reset(self, code: str, now: float, cutoff: float) -> bool:
        return self._change_room(code, now, cutoff, "reset")

    def answer(self, code: str, student: str, question: str, choice: int, now: float, cutoff: float,
               max_answers: int) -> str:
        room, asked, prefix = self._keys(code)
        return self._call(self._answer, keys=[room, asked, self.prefix + "rooms", prefix + question],
                          args=[code, repr(now), repr(cutoff), self.ttl, prefix, student, question, choice,
                                max_answers])

    def mine(self, code: str, question: str, student: str) -> int | None:
        value = self._call(self.db.hget, self._keys(code)[2] + question, student)
        return int(value) if value is not None else None

    def answers(self, code: str, question: str) -> list[int]:
        return [int(v) for v in self._call(self.db.hvals, self._keys(code)[2] + question)]

    def end(self, code: str) -> None:
        room, asked, prefix = self._keys(code)
        questions = self._call(self.db.smembers, asked)
        self._call(self.db.delete, room, asked, *(prefix + q for q in questions))
        self._call(self.db.zrem, self.prefix + "rooms", code)

