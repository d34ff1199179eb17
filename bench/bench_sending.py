"""Sending benchmarks: throughput, first-message latency, rate-limit accuracy, urgent over bulk,
receipts per second. Real processes: gunicorn (2 workers) serving wsgi:app, 2 RQ workers
(worker.py), the Twilio simulator, an embedded Redis (or REDIS_URL), SQLite (or DATABASE_URL).

    .venv/bin/python -m bench.bench_sending throughput --recipients 100000
    .venv/bin/python -m bench.bench_sending rate --rate 50 --seconds 60
    .venv/bin/python -m bench.bench_sending urgent --recipients 100000
    .venv/bin/python -m bench.bench_sending receipts --count 20000
    .venv/bin/python -m bench.bench_sending endtoend --recipients 100000
    .venv/bin/python -m bench.bench_sending kills --recipients 30000 --rate 330 --kills 10
    .venv/bin/python -m bench.bench_sending storm --recipients 600 --mps 2 --seconds 60
    DATABASE_URL=postgresql://... REDIS_URL=redis://... \
      .venv/bin/python -m bench.bench_sending scaleout --workers 4 --recipients 6000 --rate 100
    .venv/bin/python -m bench.bench_sending failover --recipients 1500 --rate 50 --after 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

import aiohttp
from sqlalchemy import bindparam, create_engine, func, insert, select, text
from twilio.request_validator import RequestValidator

from alerting.approval import SETTING as APPROVAL
from alerting.auth import create_api_key
from alerting.config import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from alerting.models import AppSetting, Message
from alerting.redis_conn import embedded_redis_url
from alerting.sending.ratelimit import max_in_window
from alerting.simulator import SimulatorConfig, start_in_thread
from bench.common import fresh_database, insert_residents

ROOT = Path(__file__).resolve().parent.parent
AREA = {
    "type": "Polygon",
    "coordinates": [[[5.20, 60.30], [5.45, 60.30], [5.45, 60.45], [5.20, 60.45], [5.20, 60.30]]],
}
URGENT_AREA = {
    "type": "Polygon",
    "coordinates": [[[6.00, 61.00], [6.10, 61.00], [6.10, 61.10], [6.00, 61.10], [6.00, 61.00]]],
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(engine, n: int, start: int, lon: tuple[float, float], lat: tuple[float, float]) -> None:
    """n residents with distinct mobile phones spread over a box."""
    import numpy as np

    rng = np.random.default_rng(start)
    phones = [f"+479{start + i:07d}" for i in range(1, n + 1)]
    insert_residents(engine, rng.uniform(*lon, n), rng.uniform(*lat, n), phones)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its children (live ones and reaped ones)."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(p: int | str) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    own = stat(pid)
    total = sum(int(x) for x in own[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = stat(entry.name)
            except OSError:  # gone meanwhile
                continue
            if fields[1] == str(pid):
                total += int(fields[11]) + int(fields[12])
    return total / tick


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict:
    """Each part's CPU in the window, in cores (1.0 = one core busy all the time)."""
    return {k: round((after[k] - before[k]) / seconds, 2) for k in before}


class Bench:
    """The processes of one run."""

    def __init__(
        self,
        rate: float,
        workers: int = 2,
        drop_callbacks: bool = True,
        recipients: int = 0,
        urgent: int = 0,
        machines: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-sending-"))
        # each worker its own instance folder: "machines" that share only the database and Redis
        self.machines = machines
        self.database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{self.tmp / 'b.db'}"
        self.redis_url = os.environ.get("REDIS_URL") or embedded_redis_url(self.tmp)
        engine = fresh_database(self.database_url)
        if recipients:
            fill(engine, recipients, 10_000_000, (5.21, 5.44), (60.31, 60.44))
        if urgent:
            fill(engine, urgent, 30_000_000, (6.01, 6.09), (61.01, 61.09))
        from sqlalchemy.orm import Session

        with Session(engine) as s:
            _row, self.key = create_api_key(s, "bench", "coordinator")
            # the bench measures sending: its evacuations must not wait for a second person
            s.add(AppSetting(key=APPROVAL, value={"categories": [], "severities": []}))
            s.commit()
        engine.dispose()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim = start_in_thread(
            SimulatorConfig(
                callback_delay_ms=5.0,
                drop_rate=1.0 if drop_callbacks else 0.0,
                max_messages=2_000_000,
            )
        )
        self.env = dict(
            os.environ,
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            ALERTING_INSTANCE=str(self.tmp),
            SECRET_KEY="bench",
            PUBLIC_URL=self.url,
            SMS_PROVIDER="simulator",
            SIMULATOR_URL=self.sim.url,
            TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
            SMS_RATE_PER_SECOND=str(rate),
            SWEEP_INTERVAL="1",
            **(env or {}),
        )
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-w",
                    "2",
                    *os.environ.get("BENCH_GUNICORN", "-k gthread --threads 8").split(),
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "--log-level",
                    "warning",
                    "wsgi:app",
                ],
                env=self.env,
                cwd=ROOT,
            )
        ]
        for _ in range(workers):
            self.procs.append(self.start_worker())
        self.wait_ready(workers)

    def start_worker(self) -> subprocess.Popen:
        env = self.env
        if self.machines:
            machine = Path(tempfile.mkdtemp(prefix="machine-", dir=self.tmp))
            env = dict(self.env, ALERTING_INSTANCE=str(machine))
        return subprocess.Popen(
            [sys.executable, "worker.py"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(self.tmp / "workers.log", "ab"),  # noqa: SIM115
        )

    def wait_ready(self, workers: int) -> None:
        import redis
        from rq import Worker

        conn = redis.Redis.from_url(self.redis_url)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/api/v1/alerts", timeout=2)
            except urllib.error.HTTPError:
                if Worker.count(connection=conn) >= workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the app or the workers did not start")

    def post_alert(self, area, category="water", severity="moderate") -> tuple[float, int]:
        body = json.dumps(
            {
                "area": area,
                "category": category,
                "severity": severity,
                "title": "bench",
                "message": {"default": "Benchmark message"},
                "expires": "2099-01-01T00:00:00Z",
            }
        )
        request = urllib.request.Request(
            self.url + "/api/v1/alerts",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
        )
        started = time.time()
        with urllib.request.urlopen(request, timeout=60) as response:
            return started, json.loads(response.read())["id"]

    def arrivals(self, numbers: set[str] | None = None) -> list[float]:
        if numbers is None:
            messages = self.sim.messages()
        else:  # per number: cheap, and keeps the simulator (same process) unhindered
            messages = [m for n in numbers for m in self.sim.messages(to=n)]
        return sorted(
            datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")).timestamp()
            for m in messages
        )

    def wait_count(self, n: int, timeout: float, numbers: set[str] | None = None) -> list[float]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.sim.stats()["accepted"] if numbers is None else len(self.arrivals(numbers))
            if got >= n:
                return self.arrivals(numbers)
            time.sleep(0.2)
        raise RuntimeError(f"only {got} of {n} messages arrived")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by gunicorn (master and workers), the RQ workers, and this
        process (the simulator and any load generator): who the 2 cores went to."""
        return {
            "gunicorn": process_cpu(self.procs[0].pid),
            "workers": sum(process_cpu(p.pid) for p in self.procs[1:]),
            "bench_and_simulator": sum(os.times()[:2]),
        }

    def close(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.sim.shutdown()


def throughput(args) -> dict:
    b = Bench(rate=1_000_000, recipients=args.recipients)
    try:
        started, _ = b.post_alert(AREA)
        times = b.wait_count(args.recipients, timeout=900)
    finally:
        b.close()
    return {
        "benchmark": "throughput",
        "recipients": args.recipients,
        "workers": 2,
        "first_message_s": round(times[0] - started, 3),
        "handed_per_s": round((len(times) - 1) / (times[-1] - times[0]), 1),
        "total_s": round(times[-1] - started, 1),
    }


def rate(args) -> dict:
    n = int(args.rate * args.seconds)
    b = Bench(rate=args.rate, recipients=n, drop_callbacks=False)
    try:
        b.post_alert(AREA)
        times = b.wait_count(n, timeout=args.seconds * 3 + 60)
    finally:
        b.close()
    return {
        "benchmark": "rate",
        "configured_per_s": args.rate,
        "messages": n,
        "workers": 2,
        "max_in_any_1s_window": max_in_window(times),
        "mean_per_s": round((len(times) - 1) / (times[-1] - times[0]), 2),
    }


def storm(args) -> dict:
    """A 429 storm: the provider takes `mps` per second for `seconds`, then everything; how many
    requests each accepted SMS cost during it, and what became of every phone."""
    b = Bench(rate=args.rate, recipients=args.recipients, drop_callbacks=False)
    try:
        b.sim.configure(mps=args.mps)
        b.post_alert(AREA)
        time.sleep(args.seconds)
        during = b.sim.stats()
        b.sim.configure(mps=0)
        engine = create_engine(b.database_url)
        deadline = time.time() + 600
        while time.time() < deadline:
            with engine.connect() as conn:
                states = dict(
                    conn.execute(
                        select(Message.status, func.count()).group_by(Message.status)
                    ).all()
                )
            if not any(states.get(s) for s in ("pending", "sending", "unknown")):
                break
            time.sleep(1.0)
        engine.dispose()
        per_phone = Counter(m["to"] for m in b.sim.messages())
    finally:
        b.close()
    requests = during["accepted"] + during["rate_limited"]
    return {
        "benchmark": "storm",
        "recipients": args.recipients,
        "storm_s": args.seconds,
        "provider_mps": args.mps,
        "configured_per_s": args.rate,
        "storm_requests": requests,
        "storm_accepted": during["accepted"],
        "requests_per_accepted": round(requests / max(1, during["accepted"]), 2),
        "states": states,
        "phones_without_sms": args.recipients - len(per_phone),
        "phones_with_two_or_more": sum(1 for n in per_phone.values() if n > 1),
    }


def failover(args) -> dict:
    """Twilio's side starts answering 500 `--after` seconds into a send weighted 9:1 towards
    it: how long until Vonage carries the traffic (its first one-second window at ≥ 90% of the
    rate), and whether any phone got two SMS or none."""
    env = {"SMS_PROVIDERS": "twilio:9,vonage:1", "VONAGE_RATE_PER_SECOND": str(args.rate)}
    b = Bench(rate=args.rate, recipients=args.recipients, drop_callbacks=False, env=env)
    try:
        b.post_alert(AREA)
        time.sleep(args.after)
        b.sim.configure(twilio_status=500)
        failed_at = time.time()
        b.wait_count(args.recipients, timeout=args.recipients / args.rate * 3 + 60)
        messages = b.sim.messages()
    finally:
        b.close()

    def at(m: dict) -> float:
        return datetime.fromisoformat(m["created_at"]).timestamp()

    vonage = sorted(at(m) for m in messages if m["provider"] == "vonage" and at(m) > failed_at)
    flowing = next(
        (
            t - failed_at
            for i, t in enumerate(vonage)
            if sum(1 for u in vonage[i:] if u < t + 1.0) >= 0.9 * args.rate
        ),
        None,
    )
    per_phone = Counter(m["to"] for m in messages)
    return {
        "recipients": args.recipients,
        "rate_per_s": args.rate,
        "twilio_failed_after_s": args.after,
        "first_vonage_sms_after_failure_s": round(vonage[0] - failed_at, 3) if vonage else None,
        "vonage_at_90pct_rate_after_failure_s": round(flowing, 3) if flowing else None,
        "twilio_sms_after_failure": sum(
            1 for m in messages if m["provider"] == "twilio" and at(m) > failed_at
        ),
        "phones_with_two_sms": sum(1 for n in per_phone.values() if n > 1),
        "phones_without_sms": args.recipients - len(per_phone),
    }


def urgent(args) -> dict:
    """Evacuation alerts to 200 phones while a bulk water alert is being sent."""
    size = 200
    b = Bench(rate=args.rate, recipients=args.recipients, urgent=size)
    latencies = []
    try:
        b.post_alert(AREA)
        b.wait_count(2000, timeout=120)
        numbers = {f"+479{30_000_000 + i:07d}" for i in range(1, size + 1)}
        for run in range(args.repeat):
            started, _ = b.post_alert(URGENT_AREA, "evacuation", "extreme")
            times = b.wait_count(size * run + 1, 30, numbers)
            latencies.append(min(t for t in times if t >= started) - started)
            b.wait_count(size * (run + 1), 60, numbers)
            time.sleep(2)
        bulk_done = b.sim.stats()["accepted"] - size * args.repeat
    finally:
        b.close()
    return {
        "benchmark": "urgent_over_bulk",
        "bulk_recipients": args.recipients,
        "rate_per_s": args.rate,
        "runs": len(latencies),
        "first_urgent_s_median": round(statistics.median(latencies), 3),
        "first_urgent_s_max": round(max(latencies), 3),
        "bulk_sent_meanwhile": bulk_done,
    }


def kills(args) -> dict:
    """SIGKILL a worker every few seconds during a send and start a new one: how many phones get
    a message twice, and when the last one goes out."""
    from collections import Counter

    b = Bench(rate=args.rate, recipients=args.recipients)
    try:
        started, _ = b.post_alert(AREA)
        expected = args.recipients / args.rate
        for k in range(args.kills):
            time.sleep(expected * 0.8 / args.kills)
            victim = 1 + k % (len(b.procs) - 1)
            b.procs[victim].kill()
            b.procs[victim].wait()
            b.procs[victim] = b.start_worker()
        times = b.wait_count(args.recipients, timeout=expected * 3 + 120)
        time.sleep(5)  # a doubled message would arrive after the last first one
        per_phone = Counter(m["to"] for m in b.sim.messages())
    finally:
        b.close()
    return {
        "benchmark": "kills",
        "recipients": args.recipients,
        "rate_per_s": args.rate,
        "sigkills": args.kills,
        "phones_with_two_or_more": sum(1 for n in per_phone.values() if n > 1),
        "phones_reached": len(per_phone),
        "last_sms_s": round(times[-1] - started, 1),
        "ideal_s": round(expected, 1),
    }


def scaleout(args) -> dict:
    """Workers on several "machines" (each its own instance folder and process, sharing only
    PostgreSQL and Redis): every phone gets exactly one SMS, every receipt lands, and the shared
    rate limit holds across all of them."""
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        raise SystemExit(
            "scaleout needs DATABASE_URL (PostgreSQL) and REDIS_URL: the machines share them"
        )
    b = Bench(
        rate=args.rate,
        workers=args.workers,
        drop_callbacks=False,
        recipients=args.recipients,
        machines=True,
    )
    try:
        started, alert_id = b.post_alert(AREA)
        times = b.wait_count(args.recipients, timeout=args.recipients / args.rate * 3 + 120)
        engine = create_engine(b.database_url)
        deadline = time.time() + 120
        while time.time() < deadline:
            with engine.connect() as conn:
                states = dict(
                    conn.execute(
                        select(Message.status, func.count())
                        .where(Message.alert_id == alert_id)
                        .group_by(Message.status)
                    ).all()
                )
            if states.get("delivered") == args.recipients:
                break
            time.sleep(1.0)
        engine.dispose()
        time.sleep(5)  # a doubled message would arrive after the last first one
        per_phone = Counter(m["to"] for m in b.sim.messages())
    finally:
        b.close()
    return {
        "benchmark": "scaleout",
        "worker_machines": args.workers,
        "recipients": args.recipients,
        "configured_per_s": args.rate,
        "max_in_any_1s_window": max_in_window(times),
        "mean_per_s": round((len(times) - 1) / (times[-1] - times[0]), 2),
        "last_sms_s": round(times[-1] - started, 1),
        "phones_reached": len(per_phone),
        "phones_with_two_or_more": sum(1 for n in per_phone.values() if n > 1),
        "states": states,
    }


def receipts(args) -> dict:
    b = Bench(rate=1_000_000, workers=2)
    try:
        from alerting.db import make_engine

        engine = make_engine(b.database_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO alerts (category, severity, title, texts, area_geojson, "
                    "area_name, status, sender, created_by, created_at, recipients, skipped) "
                    "VALUES ('water', 'minor', 'r', '{}', '{}', '', 'sending', '', '', "
                    "CURRENT_TIMESTAMP, 0, 0)"
                )
            )
            alert_id = conn.scalar(text("SELECT max(id) FROM alerts"))
            conn.execute(
                insert(Message),
                [
                    {
                        "alert_id": alert_id,
                        "phone": f"+479{i:07d}",
                        "body": "x",
                        "status": "queued",
                        "provider_sid": f"SM{i:032d}",
                        "attempts": 1,
                    }
                    for i in range(args.count)
                ],
            )
            ids = [r[0] for r in conn.execute(select(Message.id).order_by(Message.id))]
        engine.dispose()
        validator = RequestValidator(DEFAULT_AUTH_TOKEN)
        requests = []
        for n, mid in enumerate(ids):
            status = "sent" if n % 2 == 0 else "delivered"
            params = {
                "MessageSid": f"SM{n:032d}",
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": DEFAULT_ACCOUNT_SID,
                "To": f"+479{n:07d}",
                "From": "x",
            }
            url = f"{b.url}/webhooks/twilio/status/{mid}"
            requests.append((url, params, validator.compute_signature(url, params)))
        cpu = b.cpu_seconds()
        started = time.perf_counter()
        elapsed, codes = asyncio.run(fire(requests, args.concurrency))
        engine = make_engine(b.database_url)
        while True:  # until a worker has applied every buffered receipt
            with engine.connect() as conn:
                applied = conn.scalar(text("SELECT count(*) FROM delivery_events"))
            if applied >= len(requests):
                break
            time.sleep(0.05)
        ingested = time.perf_counter() - started
        cores = cpu_share(cpu, b.cpu_seconds(), ingested)
        load = os.getloadavg()
        engine.dispose()
    finally:
        b.close()
    return {
        "benchmark": "receipts",
        "server": "gunicorn -w 2 " + os.environ.get("BENCH_GUNICORN", "-k gthread --threads 8"),
        "receipts": len(requests),
        "answered_per_s": round(len(requests) / elapsed, 1),
        "ingested_per_s": round(len(requests) / ingested, 1),
        "status_codes": codes,
        "cpu_cores": cores,
        "load_average_1m_at_end": round(load[0], 2),
    }


def endtoend(args) -> dict:
    """Receipts on: the simulator POSTs `sent` and `delivered` for every message to the app
    under gunicorn while the send runs; from the API call until every row is `delivered`."""
    b = Bench(rate=1_000_000, recipients=args.recipients, drop_callbacks=False)
    engine = create_engine(b.database_url)
    delivered_count = (
        select(func.count())
        .select_from(Message)
        .where(Message.status == "delivered", Message.alert_id == bindparam("alert"))
    )
    try:
        cpu = b.cpu_seconds()
        started, alert_id = b.post_alert(AREA)
        deadline = started + args.timeout
        delivered = 0
        while time.time() < deadline:
            with engine.connect() as conn:
                delivered = conn.scalar(delivered_count, {"alert": alert_id})
            if delivered >= args.recipients:
                break
            time.sleep(0.25)
        finished = time.time()
        cores = cpu_share(cpu, b.cpu_seconds(), finished - started)
        load = os.getloadavg()
        handed = b.arrivals()
        stats = b.sim.stats()
    finally:
        engine.dispose()
        b.close()
    if delivered < args.recipients:
        raise RuntimeError(f"only {delivered} of {args.recipients} delivered in {args.timeout} s")
    return {
        "benchmark": "endtoend",
        "recipients": args.recipients,
        "workers": 2,
        "server": "gunicorn -w 2 " + os.environ.get("BENCH_GUNICORN", "-k gthread --threads 8"),
        "first_message_s": round(handed[0] - started, 3),
        "handed_over_s": round(handed[-1] - started, 1),
        "all_delivered_s": round(finished - started, 1),
        "callbacks_sent": stats["callbacks_sent"],
        "receipts_per_s": round(stats["callbacks_sent"] / (finished - started), 1),
        "cpu_cores": cores,
        "load_average_1m_at_end": round(load[0], 2),
    }


async def fire(requests, concurrency: int):
    codes: dict[int, int] = {}
    queue = list(reversed(requests))

    async def one(session):
        while queue:
            url, params, sig = queue.pop()
            async with session.post(url, data=params, headers={"X-Twilio-Signature": sig}) as r:
                await r.read()
                codes[r.status] = codes.get(r.status, 0) + 1

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(one(session) for _ in range(concurrency)))
        return time.perf_counter() - started, codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--recipients", type=int, default=100_000)
    p = sub.add_parser("rate")
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p = sub.add_parser("urgent")
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=1_000_000.0)
    p.add_argument("--repeat", type=int, default=5)
    p = sub.add_parser("storm")
    p.add_argument("--recipients", type=int, default=600)
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--mps", type=int, default=2)
    p.add_argument("--seconds", type=float, default=60.0)
    p = sub.add_parser("receipts")
    p.add_argument("--count", type=int, default=20_000)
    p.add_argument("--concurrency", type=int, default=32)
    p = sub.add_parser("endtoend")
    p.add_argument("--recipients", type=int, default=100_000)
    p.add_argument("--timeout", type=float, default=900.0)
    p = sub.add_parser("kills")
    p.add_argument("--recipients", type=int, default=30_000)
    p.add_argument("--rate", type=float, default=330.0)
    p.add_argument("--kills", type=int, default=10)
    p = sub.add_parser("scaleout")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--recipients", type=int, default=6_000)
    p.add_argument("--rate", type=float, default=100.0)
    p = sub.add_parser("failover")
    p.add_argument("--recipients", type=int, default=1500)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--after", type=float, default=10.0)
    args = parser.parse_args()
    benchmarks = {
        "failover": failover,
        "throughput": throughput,
        "rate": rate,
        "urgent": urgent,
        "receipts": receipts,
        "endtoend": endtoend,
        "kills": kills,
        "storm": storm,
        "scaleout": scaleout,
    }
    result = benchmarks[args.what](args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
