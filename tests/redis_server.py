"""A real `redis-server` for the tests (Debian's package) on a free loopback port, every write on disk before it is
acknowledged; stopped (or killed) and started again by PID. Without the binary the Redis tests skip with a hint;
under CI (CI=true) a missing redis-server is a failure."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = os.environ.get("RESNET_VIZ_REDIS_SERVER", "/usr/bin/redis-server")
START_S = 30.0  # a bound for a stuck start on a loaded machine, not a time goal


def need_redis() -> str:
    found = REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")
    if found:
        return found
    message = "Debian's redis-server is not installed: `apt-get install redis-server` (or `make install-browser`)."
    if os.environ.get("CI") == "true":
        pytest.fail(message + " Under CI a missing redis-server is a failure.")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One redis-server process; `url` stays the same across stop() / start() (same port, same data folder)."""

    def __init__(self, data_dir: Path) -> None:
        self.binary = need_redis()
        self.dir = data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        # appendfsync always: an acknowledged answer is on disk, so even a killed server keeps it.
        cmd = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
               "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
               "--protected-mode", "yes", "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: "
                                   f"{(self.dir / 'redis.log').read_text()[-2000:]}")
            if self._ping():
                return self
            time.sleep(0.05)
        raise TimeoutError(f"redis-server did not answer on port {self.port} within {START_S:.0f} s")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, kill: bool = False) -> None:
        """SIGKILL (a crash) or SIGTERM (a clean shutdown), by this server's own PID."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(30)
        self.proc = None
