"""Run the whole stack in tests and benchmarks: the app on a live port, the Twilio simulator and
real worker processes, all on the test database and Redis. Shared by the sending, UI and portal
tests; keep this API stable.

    from stack import Stack, stack_fixture, wait_for  # the fixture is named `stack`

    def test_something(stack):                 # the `stack` fixture (import it: see below)
        s = stack(workers=1, mps=0)            # simulator options as keywords
        s.url                                  # the live app, e.g. http://127.0.0.1:41234
        s.sim.messages(to="+4791234567")       # what a phone received (simulator helper)
        s.inbound("+4791234567", "STOP")       # a phone sends an SMS to the app (signed)
        wait_for(lambda: ..., timeout=10)      # poll until truthy, else AssertionError

Test modules get the fixture with `from stack import stack_fixture  # noqa: F401`. Without
the fixture: `with Stack(app, workers=2) as s: ...`. `Stack.start_worker()` adds a worker,
`Worker.kill()` SIGKILLs one. Workers log to `<instance>/worker-N.log`; the tails are shown
when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from alerting.simulator import SimulatorConfig, SimulatorServer, start_in_thread

ROOT = Path(__file__).resolve().parent.parent


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll `predicate` until it returns something truthy; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


class LiveApp:
    """The Flask app served by werkzeug (threaded) on a free port; PUBLIC_URL follows it."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        app.extensions["alerting.settings"].public_url = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Worker:
    """One `python worker.py` process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env=env,
            cwd=str(ROOT),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, like a machine losing power."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (RQ's warm shutdown), SIGKILL after 3 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if not self._log.closed:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Stack:
    """Live app + simulator + N workers on the app's database and Redis."""

    def __init__(
        self, app: Flask, workers: int = 1, env: dict[str, str] | None = None, **sim_options: Any
    ) -> None:
        self.app = app
        self.settings = app.extensions["alerting.settings"]
        self.extra_env = dict(env or {})
        self.workers: list[Worker] = []
        self.closed = False
        self.live = LiveApp(app)
        self.url = self.live.url
        config = SimulatorConfig(
            account_sid=self.settings.twilio_account_sid,
            auth_token=self.settings.twilio_auth_token,
            callback_delay_ms=sim_options.pop("callback_delay_ms", 5.0),
        ).updated(sim_options)
        self.sim: SimulatorServer = start_in_thread(config)
        self.sim.configure(inbound_url=f"{self.url}/webhooks/twilio/inbound")
        self.settings.sms_provider = "simulator"
        self.settings.simulator_url = self.sim.url
        for _ in range(workers):
            self.start_worker()

    def worker_env(self) -> dict[str, str]:
        """The environment a worker needs to join this stack."""
        s = self.settings
        env = dict(os.environ)
        env.update(
            DATABASE_URL=s.database_url,
            REDIS_URL=s.redis_url,
            ALERTING_INSTANCE=str(self.app.instance_path),
            SECRET_KEY=s.secret_key,
            PUBLIC_URL=self.url,
            SMS_PROVIDER="simulator",
            SIMULATOR_URL=self.sim.url,
            TWILIO_ACCOUNT_SID=s.twilio_account_sid,
            TWILIO_AUTH_TOKEN=s.twilio_auth_token,
            TWILIO_FROM=s.twilio_from,
            SMS_RATE_PER_SECOND=str(s.sms_rate_per_second),
            SMS_TIMEOUT=str(s.sms_timeout_s),
            SEND_BATCH=str(s.send_batch),
            CLAIM_TIMEOUT=str(s.claim_timeout_s),
            SWEEP_INTERVAL=str(s.sweep_interval_s),
            SEND_DEADLINE_MINUTES=str(s.send_deadline_minutes),
            SEND_DEADLINE_BULK_MINUTES=str(s.send_deadline_bulk_minutes),
            TIMEZONE=s.timezone,
            RECEIPT_TIMEOUT=str(s.receipt_timeout_s),
            RECEIPT_DRAIN_INTERVAL=str(s.receipt_drain_interval_s),
        )
        env.update(  # calls
            VOICE_FROM=s.voice_from,
            VOICE_RATE_PER_SECOND=str(s.voice_rate_per_second),
            VOICE_MAX_CONCURRENT=str(s.voice_max_concurrent),
            VOICE_MAX_TRIES=str(s.voice_max_tries),
            VOICE_RETRY_MINUTES=str(s.voice_retry_minutes),
        )
        env.update(self.extra_env)
        return env

    def start_worker(self) -> Worker:
        path = Path(self.app.instance_path) / f"worker-{len(self.workers) + 1}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        worker = Worker(self.worker_env(), path)
        self.workers.append(worker)
        return worker

    def wait_workers(self, n: int | None = None, timeout: float = 20.0) -> None:
        """Until `n` (default: all started) workers are registered in Redis and listening."""
        from rq import Worker as RqWorker

        from alerting.sending.queues import redis_for

        conn = redis_for(self.settings.redis_url)
        want = len([w for w in self.workers if w.process.poll() is None]) if n is None else n
        wait_for(
            lambda: RqWorker.count(connection=conn) >= want, timeout, message=f"{want} workers"
        )

    def inbound(self, phone: str, body: str) -> dict:
        """A phone sends an SMS: the simulator POSTs it, signed, to the app's inbound webhook."""
        data = json.dumps({"from": phone, "body": body, "to": self.settings.twilio_from}).encode()
        request = urllib.request.Request(
            f"{self.sim.url}/_sim/inbound",
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {i + 1}\n{w.log()[-3000:]}" for i, w in enumerate(self.workers)
        )

    def close(self) -> None:
        """Stop workers, simulator and app server (again is harmless)."""
        if self.closed:
            return
        self.closed = True
        for worker in self.workers:
            worker.stop()
        self.sim.shutdown()
        self.live.shutdown()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def add_resident(
    session,
    phone: str,
    lon: float,
    lat: float,
    language: str = "nb",
    reachable: bool = True,
    **fields: Any,
):
    """A resident with one home location (phone in E.164); the caller commits."""
    from alerting.models import Location, Resident

    resident = Resident(
        phone=phone,
        reachable=reachable,
        language=language,
        locations=[Location(label="home", lon=lon, lat=lat)],
        **fields,
    )
    session.add(resident)
    return resident


def configure(app: Flask, **settings: Any) -> None:
    """Change the app's settings (before starting a Stack: workers copy them)."""
    current = app.extensions["alerting.settings"]
    for key, value in settings.items():
        if not hasattr(current, key):
            raise AttributeError(key)
        setattr(current, key, value)


@pytest.fixture(name="stack")
def stack_fixture(app: Flask) -> Iterator[Callable[..., Stack]]:
    """A factory: `stack(workers=1, env={...}, **simulator_options)`; closed after the test."""
    made: list[Stack] = []

    def make(workers: int = 1, env: dict[str, str] | None = None, **sim_options: Any) -> Stack:
        s = Stack(app, workers=workers, env=env, **sim_options)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
        print(s.logs())  # pytest shows it only when the test failed
