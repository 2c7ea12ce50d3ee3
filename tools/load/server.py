"""Processes the load benchmark starts and measures: Streamlit servers, an nginx in front, /proc CPU and RSS.

Loopback only; everything started here is stopped by its own PID (never by name).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TICK = os.sysconf("SC_CLK_TCK")
NGINX = "/usr/sbin/nginx"
REDIS = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
    return kids


def _tree(pids: list[int]) -> list[int]:
    out, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(_children(pid))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their live children (utime, stime from /proc/PID/stat)."""
    total = 0
    for pid in _tree(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / TICK


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in _tree(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
        total_kb += int(match.group(1)) if match else 0
    return total_kb / 1024


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen) -> None:
    """Until `url` answers 200 (straight to loopback, whatever proxy the environment names); raises when the
    process exits first or the time is up."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with code {proc.returncode} before serving {url}")
        try:
            with opener.open(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")


def start_streamlit(port: int, server_args: list[str], log_dir: Path, env: dict | None = None) -> subprocess.Popen:
    """`streamlit run app.py` headless on 127.0.0.1:port, as deploy/Dockerfile serves it (no file watcher);
    server_args like 'runner.postScriptGC=false' come after and win; `env` replaces the environment when given.
    Its output goes to log_dir/streamlit-PORT.log."""
    extra = ["--server.fileWatcherType", "none", *(f"--{a}" for a in server_args)]
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           *extra]
    with open(log_dir / f"streamlit-{port}.log", "wb") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def start_redis(port: int, data_dir: Path) -> subprocess.Popen:
    """Debian's redis-server on 127.0.0.1:port, every write in its append-only file before it is acknowledged (as
    deploy/k8s runs it), its data in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--appendonly", "yes",
           "--appendfsync", "always", "--save", "", "--daemonize", "no", "--logfile", str(data_dir / "redis.log")]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)


def wait_redis(port: int, timeout_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"redis-server did not answer on port {port} within {timeout_s:.0f} s")


def nginx_conf(listen: int, replicas: list[int], prefix: Path) -> str:
    """deploy/nginx.conf itself, pointed at loopback replicas and a private prefix (pid, logs, temp files)."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = "".join(f"        server 127.0.0.1:{p};\n" for p in replicas)
    text = re.sub(r"(upstream resnet_viz \{\n(?:.*\n)*?)(?:\s*server [^\n]*\n)+", lambda m: m.group(1) + servers, text)
    text = re.sub(r"listen [^;]+;", f"listen 127.0.0.1:{listen};", text)
    text = re.sub(r"pid [^;]+;", f"pid {prefix}/nginx.pid;", text)
    text = re.sub(r"error_log [^;]+;", f"error_log {prefix}/error.log;", text)
    text = re.sub(r"access_log [^;]+;", f"access_log {prefix}/access.log;", text)
    temp = "".join(f"    {kind}_temp_path {prefix}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                               "scgi"))
    text = text.replace("http {\n", "http {\n" + temp, 1)
    if os.geteuid() == 0:  # workers would run as nobody and could not write the private prefix
        text = re.sub(r"^user [^;]+;", "", text, flags=re.M)
        text = "user root;\n" + text
    return text


def start_nginx(listen: int, replicas: list[int]) -> tuple[subprocess.Popen, Path]:
    prefix = Path(tempfile.mkdtemp(prefix="resnet-viz-nginx-"))
    (prefix / "nginx.conf").write_text(nginx_conf(listen, replicas, prefix))
    cmd = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    with open(prefix / "stdout.log", "wb") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True), prefix


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM this PID, then SIGKILL after 10 s; nginx gets SIGQUIT (graceful) first."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGQUIT if proc.args[0] == NGINX else signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
