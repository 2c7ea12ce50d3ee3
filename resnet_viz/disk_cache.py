"""The on-disk cache of computed results: one folder, content-addressed keys, and atomic writes per writer."""

# Every writer gets its own temporary file beside the target and renames it over the target, so concurrent
# writers of the same key (two sessions computing the same lesion study) never collide, and a reader sees the
# old file or the new one, never half of one.

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["ENV", "atomic_file", "cache_dir", "key", "read_json", "root", "write_json", "write_text"]

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
