"""Class questions answered from phones: rooms, their questions and the class's answers (rules.py), kept in SQLite
by default or in Redis when $RESNET_VIZ_REDIS_URL is set (replicas then share rooms)."""

from __future__ import annotations

import os
from pathlib import Path

from resnet_viz import disk_cache
from resnet_viz.rooms.rules import LIMITS, Limits, Question, Results, RoomError, RoomState, Unavailable
from resnet_viz.rooms.store import Engine, Rooms

__all__ = ["ENV", "Engine", "Limits", "Question", "Results", "RoomError", "RoomState", "Rooms", "Unavailable",
           "engine_name", "open_rooms", "sqlite_path"]

ENV = "RESNET_VIZ_REDIS_URL"


def sqlite_path(env: dict | None = None) -> str:
    """rooms/rooms.sqlite3 in the cache folder ($RESNET_VIZ_CACHE of `env`, default this process's)."""
    folder = (env or {}).get(disk_cache.ENV)
    return str((Path(folder) / "rooms" if folder else disk_cache.cache_dir("rooms")) / "rooms.sqlite3")


def engine_name(env: dict | None = None) -> str:
    return "redis" if (env if env is not None else os.environ).get(ENV) else "sqlite"


def open_rooms(env: dict | None = None, limits: Limits = LIMITS) -> Rooms:
    """Redis at $RESNET_VIZ_REDIS_URL when it is set, else the SQLite file in the cache folder."""
    env = env if env is not None else os.environ
    if env.get(ENV):
        from resnet_viz.rooms.redis_engine import RedisEngine  # only a Redis deployment needs the client

        return Rooms(RedisEngine(env[ENV], idle_s=limits.idle_s), limits)
    from resnet_viz.rooms.sqlite_engine import SQLiteEngine

    return Rooms(SQLiteEngine(sqlite_path(env)), limits)
