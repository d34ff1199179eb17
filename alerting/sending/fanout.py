"""Fan-out: a send job claims the due messages of one id range of an alert and hands them to the
provider under the global rate limit.

Each message is claimed with one conditional UPDATE (`pending → sending`, a batch at a time, so a
message can only ever be claimed by one worker), sent at its rate-limit slot, and the provider's id
is stored at once (results are written every 50 ms). Transient errors put the message back to
`pending` with a later `next_attempt_at`; permanent ones make it `failed` with the provider's code.
A bulk job steps aside when urgent work waits (it re-enqueues the rest of its range at the front of
its queue) or is sending (it pauses), so an urgent alert takes the limiter's capacity at once.
While running, a job holds a lease in Redis; the sweep re-queues due messages that no queued job
and no leased job covers (a worker killed mid-send).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from flask import Flask
from rq import get_current_job
from sqlalchemy import Engine, bindparam, case, or_, select, update

from alerting.models import Message, utcnow
from alerting.sending import shutdown
from alerting.sending.provider import UNSUBSCRIBED, Provider, ProviderError, sender_of
from alerting.sending.queues import (
    LEASES,
    URGENT,
    URGENT_ACTIVE,
    job_context,
    queue,
    redis_for,
)
from alerting.sending.ratelimit import RateLimiter

LEASE_S = 15.0  # a running job refreshes its lease at least this often
TIME_BUDGET_S = 60.0  # then (or at SIGTERM) the job re-enqueues the rest of its range and ends
INLINE_WAIT_S = 5.0  # retries due within this are waited for in the job; later ones: the sweep
FLUSH_S = 0.05
MAX_LATE_S = 0.005  # a send this late for its slot takes a new one (at rates up to ~500/s)
MAX_BACKOFF_S = 300.0

M = Message.__table__


@dataclass(frozen=True)
class Claimed:
    id: int
    phone: str
    body: str
    attempts: int


def claim(engine: Engine, alert_id: int, lo: int, hi: int, n: int) -> list[Claimed]:
    """pending → sending for up to n due messages of the range, in one conditional UPDATE."""
    now = utcnow()
    pick = (
        select(M.c.id)
        .where(
            M.c.alert_id == alert_id,
            M.c.id.between(lo, hi),
            M.c.status == "pending",
            or_(M.c.next_attempt_at.is_(None), M.c.next_attempt_at <= now),
        )
        .order_by(M.c.id)
        .limit(n)
    )
    if engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(M)
        .where(M.c.id.in_(pick.scalar_subquery()), M.c.status == "pending")
        .values(status="sending", claimed_at=now, attempts=M.c.attempts + 1, updated_at=now)
        .returning(M.c.id, M.c.phone, M.c.body, M.c.attempts)
    )
    with engine.begin() as conn:
        rows = conn.execute(stmt).all()
    return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)


def next_due_in(engine: Engine, alert_id: int, lo: int, hi: int) -> float | None:
    """Seconds until the next held message of the range is due (None: none is waiting)."""
    with engine.connect() as conn:
        at = conn.scalar(
            select(M.c.next_attempt_at)
            .where(M.c.alert_id == alert_id, M.c.id.between(lo, hi), M.c.status == "pending")
            .order_by(M.c.next_attempt_at)
            .limit(1)
        )
        pending = conn.scalar(
            select(M.c.id)
            .where(M.c.alert_id == alert_id, M.c.id.between(lo, hi), M.c.status == "pending")
            .limit(1)
        )
    if pending is None:
        return None
    if at is None:
        return 0.0
    return max(0.0, (at - utcnow()).total_seconds())


_STORE_OK = (
    update(M)
    .where(M.c.id == bindparam("mid"))
    .values(
        provider_sid=bindparam("sid"),
        status=case((M.c.status == "sending", bindparam("st")), else_=M.c.status),
        error_code=None,
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
_STORE_RETRY = (
    update(M)
    .where(M.c.id == bindparam("mid"), M.c.status == "sending")
    .values(
        status="pending",
        next_attempt_at=bindparam("at"),
        error_code=bindparam("code"),
        updated_at=bindparam("now"),
    )
)
_STORE_FAIL = (
    update(M)
    .where(M.c.id == bindparam("mid"), M.c.status == "sending")
    .values(status="failed", error_code=bindparam("code"), updated_at=bindparam("now"))
)


def store(app: Flask, results: list[tuple]) -> None:
    """Write a batch of provider answers in one transaction."""
    now = utcnow()
    ok, retry, fail, unsubscribed = [], [], [], []
    for kind, mid, a, b in results:
        if kind == "ok":
            ok.append({"mid": mid, "sid": a, "st": b, "now": now})
        elif kind == "retry":
            retry.append({"mid": mid, "code": a, "at": now + b, "now": now})
        else:
            fail.append({"mid": mid, "code": a, "now": now})
            if a == UNSUBSCRIBED:
                unsubscribed.append(b)
    engine: Engine = app.extensions["alerting.engine"]
    with engine.begin() as conn:
        for stmt, params in ((_STORE_OK, ok), (_STORE_RETRY, retry), (_STORE_FAIL, fail)):
            if params:
                conn.execute(stmt, params)
    if unsubscribed:
        from alerting.sending.status import opt_out

        with app.app_context():
            session = app.extensions["alerting.sessionmaker"]()
            try:
                for phone in unsubscribed:
                    opt_out(session, phone, "provider", actor="provider")
                session.commit()
            finally:
                session.close()


def backoff(attempts: int, retry_after: float | None) -> float:
    return min(MAX_BACKOFF_S, max(retry_after or 0.0, 2.0 ** max(0, attempts - 1)))


class RangeSender:
    """Sends one range of one alert; `asyncio.run(RangeSender(...).run())`."""

    def __init__(
        self, app: Flask, alert_id: int, lo: int, hi: int, urgent: bool, job_id: str
    ) -> None:
        self.app = app
        self.settings = app.extensions["alerting.settings"]
        self.engine: Engine = app.extensions["alerting.engine"]
        self.redis = redis_for(self.settings.redis_url)
        self.alert_id, self.lo, self.hi, self.urgent = alert_id, lo, hi, urgent
        self.job_id = job_id
        rate = self.settings.sms_rate_per_second
        self.limiter = RateLimiter(self.redis, sender_of(self.settings), rate)
        self.chunk = int(min(100, max(1, rate * 0.5)))
        self.strict = self.limiter.interval_us >= 2000
        self.reslotted = 0
        self.results: list[tuple] = []
        self.tasks: set[asyncio.Task] = set()
        self.sent = 0

    def callback_url(self, message_id: int) -> str:
        return f"{self.settings.public_url}/webhooks/twilio/status/{message_id}"

    def refresh_lease(self) -> None:
        with self.redis.pipeline() as pipe:
            pipe.zadd(LEASES, {self.job_id: time.time() + LEASE_S})
            if self.urgent:
                pipe.set(URGENT_ACTIVE, self.job_id, px=1500)
            pipe.execute()

    def must_yield(self) -> str | None:
        """For bulk jobs: 'requeue' when urgent jobs wait, 'pause' while urgent ones send."""
        if self.urgent:
            return None
        if queue(URGENT, self.redis).count:
            return "requeue"
        if self.redis.exists(URGENT_ACTIVE):
            return "pause"
        return None

    def requeue(self) -> None:
        """The rest of this range goes back to the front of its queue."""
        from alerting.sending.planning import enqueue_send

        enqueue_send(self.redis, self.alert_id, self.lo, self.hi, self.urgent, at_front=True)

    async def new_slot(self) -> float:
        """A fresh rate-limit slot (loop time) for a message that missed its own."""
        loop = asyncio.get_running_loop()
        while True:
            grant = self.limiter.acquire(1)
            if grant.count:
                return loop.time() + (grant.first_at - time.time())
            await asyncio.sleep(min(max(grant.first, 0.001), 1.0))

    async def wait_for_slot(self, at: float, sem: asyncio.Semaphore) -> None:
        """Sleep until the slot, then take a connection. At limited rates (slots ≥ 2 ms apart) a
        message more than MAX_LATE_S behind its slot (a stalled event loop, a starved CPU) takes
        a new slot instead of bunching up with the next ones: the rate holds in every window."""
        loop = asyncio.get_running_loop()
        while True:
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await sem.acquire()
            if not self.strict or loop.time() - at <= MAX_LATE_S:
                return
            sem.release()
            self.reslotted += 1
            at = await self.new_slot()

    async def send_one(self, provider: Provider, msg: Claimed, at: float, sem) -> None:
        await self.wait_for_slot(at, sem)
        try:
            try:
                result = await provider.send(msg.phone, msg.body, self.callback_url(msg.id))
            except ProviderError as exc:
                if not exc.transient:
                    self.results.append(("fail", msg.id, exc.code, msg.phone))
                    return
                if exc.code in ("429", "20429") or exc.retry_after:
                    self.limiter.slow_down(exc.retry_after or 1.0)
                if msg.attempts >= self.settings.sms_max_attempts:
                    self.results.append(("fail", msg.id, exc.code, msg.phone))
                    return
                delay = backoff(msg.attempts, exc.retry_after)
                self.results.append(("retry", msg.id, exc.code, _seconds(delay)))
                return
        finally:
            sem.release()
        self.results.append(("ok", msg.id, result.sid, result.status))
        self.sent += 1

    async def flush(self) -> None:
        if self.results:
            batch, self.results = self.results, []
            await asyncio.to_thread(store, self.app, batch)

    async def flusher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(FLUSH_S)
            await self.flush()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIME_BUDGET_S
        max_out = max(2 * self.chunk, 4 * self.settings.sms_concurrency)
        sem = asyncio.Semaphore(max(1, self.settings.sms_concurrency))
        stop = asyncio.Event()
        flusher = asyncio.create_task(self.flusher(stop))
        try:
            async with Provider(self.settings) as provider:
                await self._loop(provider, sem, deadline, max_out)
                while self.tasks:
                    await self._reap(None)
        finally:
            stop.set()
            await flusher
            await self.flush()
            self.redis.zrem(LEASES, self.job_id)
        return self.sent

    async def _reap(self, timeout: float | None) -> None:
        if self.tasks:
            done, _ = await asyncio.wait(
                self.tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            self.tasks -= done
            for task in done:
                task.result()

    async def _loop(self, provider: Provider, sem, deadline: float, max_out: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.refresh_lease()
            action = self.must_yield()
            if action == "requeue" or loop.time() > deadline or shutdown.requested():
                self.requeue()
                return
            if action == "pause":
                await asyncio.sleep(0.05)
                continue
            while len(self.tasks) >= max_out:
                await self._reap(None)
            claimed = await asyncio.to_thread(
                claim, self.engine, self.alert_id, self.lo, self.hi, self.chunk
            )
            if not claimed:
                if self.tasks:  # in flight: they may come back as retries
                    await self._reap(0.2)
                    continue
                await self.flush()
                wait = await asyncio.to_thread(
                    next_due_in, self.engine, self.alert_id, self.lo, self.hi
                )
                if wait is None or wait > INLINE_WAIT_S:
                    return
                await asyncio.sleep(min(max(wait, 0.05), 1.0))
                continue
            i = 0
            while i < len(claimed):
                grant = self.limiter.acquire(len(claimed) - i)
                if grant.count == 0:
                    await asyncio.sleep(min(max(grant.first, 0.001), 1.0))
                    self.refresh_lease()
                    continue
                t0 = loop.time() + (grant.first_at - time.time())
                for j in range(grant.count):
                    msg = claimed[i + j]
                    task = asyncio.create_task(
                        self.send_one(provider, msg, t0 + j * grant.interval, sem)
                    )
                    self.tasks.add(task)
                i += grant.count


def _seconds(value: float):
    from datetime import timedelta

    return timedelta(seconds=value)


def send_range(alert_id: int, lo: int, hi: int, urgent: bool = False) -> int:
    """RQ entry point: send the due messages of alert `alert_id` with ids in [lo, hi]."""
    job = get_current_job()
    job_id = job.id if job is not None else f"inline-{uuid.uuid4().hex[:8]}"
    with job_context() as app:
        return asyncio.run(RangeSender(app, alert_id, lo, hi, urgent, job_id).run())
