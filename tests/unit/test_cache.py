"""The disk cache: its folder, content-addressed keys, and atomic writes that many threads can share."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from resnet_viz import disk_cache

WRITERS = 60


def test_root_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(disk_cache.ENV, str(tmp_path))
    assert disk_cache.cache_dir("lesion") == tmp_path / "lesion"
    monkeypatch.delenv(disk_cache.ENV)
    assert disk_cache.root() == Path.home() / ".cache" / "resnet-viz"


def test_keys_are_the_sha256_of_canonical_json() -> None:
    # By hand: json.dumps with sorted keys and default separators.
    expected = hashlib.sha256(b'{"a": 1, "b": [2, 3]}').hexdigest()[:20]
    assert disk_cache.key({"b": [2, 3], "a": 1}) == disk_cache.key({"a": 1, "b": [2, 3]}) == expected
    assert disk_cache.key({"a": 1, "b": [3, 2]}) != expected


def test_round_trip_and_damaged_files(tmp_path) -> None:
    path = tmp_path / "deep" / "k.json"
    assert disk_cache.read_json(path) is None
    disk_cache.write_json(path, {"x": [1.5, None]})
    assert disk_cache.read_json(path) == {"x": [1.5, None]}
    assert oct(path.stat().st_mode & 0o777) == oct(disk_cache.FILE_MODE)
    path.write_bytes(b'{"x": [1.5')  # half a file, as a crash of a non-atomic writer would leave
    assert disk_cache.read_json(path) is None
    path.write_bytes(b"\xff\xfe")
    assert disk_cache.read_json(path) is None


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    path = tmp_path / "k.json"
    disk_cache.write_json(path, {"v": 1})
    with pytest.raises(RuntimeError), disk_cache.atomic_file(path) as f:
        f.write(b'{"v": ')
        raise RuntimeError("the computation failed half-way")
    assert disk_cache.read_json(path) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]


def _per_process_writer(path: Path, data: dict) -> None:
    # The writer this module replaced: one temporary name per process, shared by all its threads.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _hammer(write: Callable[[Path, dict], object], path: Path) -> tuple[list[BaseException], list[str]]:
    """WRITERS threads released at once, each writing its own result under the same key, then reading it back.

    Returns the exceptions raised and every read that was not one writer's complete result.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    payloads = [{"writer": i, "values": [i] * 20_000} for i in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    bad: list[str] = []

    def work(i: int) -> None:
        start.wait()
        try:
            write(path, payloads[i])
            got = json.loads(path.read_text())
            if got != payloads[got["writer"]]:
                bad.append(f"writer {got['writer']}: wrong content")
        except json.JSONDecodeError as exc:
            bad.append(f"not complete JSON: {exc}")
        except Exception as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WRITERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors, bad


def test_simultaneous_writers_and_readers_of_one_key(tmp_path) -> None:
    errors, bad = _hammer(disk_cache.write_json, tmp_path / "gradflow" / "k.json")
    assert errors == [] and bad == []
    assert [p.name for p in (tmp_path / "gradflow").iterdir()] == ["k.json"]  # no temporary left behind


def test_the_same_hammer_breaks_a_per_process_temporary_name(tmp_path) -> None:
    # Proof that the test above can fail: the old writer loses files (FileNotFoundError) or publishes a
    # temporary that two threads wrote at once. A race, so a few rounds; it showed up in the first on this machine.
    for attempt in range(10):
        errors, bad = _hammer(_per_process_writer, tmp_path / str(attempt) / "k.json")
        if errors or bad:
            break
    assert errors or bad
    assert all(isinstance(e, FileNotFoundError) for e in errors)
