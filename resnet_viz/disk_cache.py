"""The on-disk cache of computed results: one folder, content-addressed keys, and atomic writes per writer."""

# Every writer gets its own temporary file beside the target and renames it over the target, so concurrent
# writers of the same key (two sessions computing the same lesion study) never collide, and a reader sees the
# old file or the new one, never half of one.

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["ENV", "atomic_file", "cache_dir", "computed_once", "in_flight", "key", "read_json", "root", "write_json",
           "write_text"]

ENV = "RESNET_VIZ_CACHE"
# Permission bits of a written file: what write_text gives under the usual umask 022 (mkstemp makes 0600).
FILE_MODE = 0o644


def root() -> Path:
    """$RESNET_VIZ_CACHE, else ~/.cache/resnet-viz."""
    return Path(os.environ.get(ENV) or os.path.join(os.path.expanduser("~"), ".cache", "resnet-viz"))


def cache_dir(kind: str) -> Path:
    """The folder for one kind of result (gradflow, lesion); created by the first write, not here."""
    return root() / kind


def key(payload: Any) -> str:
    """20 hex digits of the SHA-256 of `payload` as canonical JSON (sorted keys): equal content, equal key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


@contextmanager
def atomic_file(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file to write `path`'s new content into; it replaces `path` only when the body succeeds.

    The temporary name is unique per writer (not per process: threads share a process), and it is removed
    when the body raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as f:
        tmp = Path(f.name)
        try:
            yield f
            f.close()
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, path)  # atomic on POSIX and Windows
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_file(path) as f:
        f.write(text.encode("utf-8"))
    return Path(path)


def write_json(path: str | Path, data: Any) -> Path:
    """Write `data` as JSON to `path` atomically."""
    return write_text(path, json.dumps(data))


def read_json(path: str | Path) -> Any | None:
    """The JSON in `path`, or None when it is missing or not valid JSON (a damaged file is recomputed)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None


# ---- one computation per key ------------------------------------------------------------------------------------
@dataclass
class _Flight:
    """A computation in progress: its lock, how far it got, and how many callers share it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: float = 0.0
    callers: int = 0


_FLIGHTS: dict[str, _Flight] = {}
_FLIGHTS_LOCK = threading.Lock()


def in_flight(path: str | Path) -> int:
    """How many callers are computing or waiting for `path` now (0 when none)."""
    with _FLIGHTS_LOCK:
        flight = _FLIGHTS.get(str(path))
        return flight.callers if flight else 0


def computed_once(path: str | Path, compute: Callable[[Callable[[float], None]], Any],
                  progress: Callable[[float], None] | None = None, poll_s: float = 0.2) -> Any:
    """The JSON in `path`; when missing, compute(report) writes it, one caller at a time per path.

    Sessions are threads of one server: a second caller for the same path waits for the first (its `progress`
    follows the first one's reports) and then reads the file, instead of computing it again. Replicas do not
    share the lock; two of them computing one key both write the same content atomically.
    """
    stored = read_json(path)
    if stored is not None:
        return stored
    with _FLIGHTS_LOCK:
        flight = _FLIGHTS.setdefault(str(path), _Flight())
        flight.callers += 1
    try:
        while not flight.lock.acquire(timeout=poll_s):
            if progress is not None:
                progress(flight.done)
        try:
            stored = read_json(path)
            if stored is None:
                def report(done: float) -> None:
                    flight.done = done
                    if progress is not None:
                        progress(done)

                stored = json.loads(json.dumps(compute(report)))  # what a later reader gets: lists, str keys
                write_json(path, stored)
            return stored
        finally:
            flight.lock.release()
    finally:
        with _FLIGHTS_LOCK:
            flight.callers -= 1
            if flight.callers == 0:
                _FLIGHTS.pop(str(path), None)
