"""Fan-out: a send job claims the due messages of one id range of an alert and hands them to the
provider under the global rate limit.

Each message is claimed with one conditional UPDATE (`pending → sending`, a batch at a time, so a
message can only ever be claimed by one worker), sent at its rate-limit slot, and the provider's id
is stored at once (results are written every 50 ms), but only while the row is still held by the
same claim (`claimed_by` and `attempts`), so a late answer never overwrites a row that was reset.
Refusals that prove the provider did not take the message (429, 5xx) put it back to `pending`
with a later `next_attempt_at`, however often, until the alert's send deadline has passed
(alerting.sending.deadline); only then, and for permanent refusals at once, it is `failed` with
the provider's code. A 429 also lowers the shared rate (ratelimit), and the slots this job was
granted before it are given back unused: those requests would only have been turned away too.
A timeout or a connection lost after the request was written makes it `unknown`: once settled,
the job asks the provider whether it holds the message (`reconcile`), adopts its SID if so, and
only otherwise sends it again. The same reconciliation settles the claims of a job that died
(the sweep moves them to `unknown`). Nothing is claimed or sent for a cancelled alert.
A bulk job steps aside when urgent work waits (it re-enqueues the rest of its range at the front of
its queue) or is sending (it pauses), so an urgent alert takes the limiter's capacity at once.
While running, a job refreshes a lease in Redis every second (LEASE_S); the sweep re-queues due
messages that no queued job and no leased job covers, and takes over the claims of a job whose
lease ran out (a worker killed mid-send) within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from rq import get_current_job
from sqlalchemy import Engine, and_, bindparam, exists, or_, select, update

from alerting.models import Alert, Message, utcnow
from alerting.sending import shutdown
from alerting.sending.deadline import send_deadline
from alerting.sending.provider import UNSUBSCRIBED, ProviderError
from alerting.sending.providers import Lane, Router, limiter_for, open_lanes
from alerting.sending.queues import (
    LEASES,
    URGENT,
    URGENT_ACTIVE,
    job_context,
    queue,
    redis_for,
)
from alerting.sending.ratelimit import RateLimiter
from alerting.sending.reconcile import RECONCILE_AFTER_S, reconcile
from alerting.sending.states import HELD, SENDING_ALERT_STATES, sources, status_in

LEASE_S = 5.0  # a lease runs out this long after the job's last heartbeat (one a second)
HEARTBEAT_S = 1.0
RECONCILE_EVERY_S = 1.0
OPEN_CHECK_S = 0.2
TIME_BUDGET_S = 60.0  # then (or at SIGTERM) the job re-enqueues the rest of its range and ends
INLINE_WAIT_S = 5.0  # retries due within this are waited for in the job; later ones: the sweep
FLUSH_S = 0.05
MAX_LATE_S = 0.005  # a send this late for its slot takes a new one (at rates up to ~500/s)
MAX_BACKOFF_S = 60.0  # a message waits at most this between tries (the limiter paces the rest)

M = Message.__table__
A = Alert.__table__


@dataclass(frozen=True)
class Claimed:
    """A message as one claim holds it: `job` and `attempts` identify the claim."""

    id: int
    phone: str
    body: str
    attempts: int
    job: str


def alert_open(alert_id: int):
    """SQL: the alert may still send (not cancelled, not done)."""
    return exists().where(A.c.id == alert_id, A.c.status.in_(SENDING_ALERT_STATES))


def claim(
    engine: Engine, alert_id: int, lo: int, hi: int, n: int, job: str, provider: str = "twilio"
) -> list[Claimed]:
    """pending → sending for up to n due messages of the range, in one conditional UPDATE that
    also requires the alert to be still sending; `provider` is recorded before the hand-over,
    so a claim whose job dies is looked up where it may have gone."""
    now = utcnow()
    pick = (
        select(M.c.id)
        .where(
            M.c.alert_id == alert_id,
            M.c.id.between(lo, hi),
            M.c.channel == "sms",  # calls: alerting.sending.voice
            M.c.status.in_(sources("claim")),
            or_(M.c.next_attempt_at.is_(None), M.c.next_attempt_at <= now),
            alert_open(alert_id),
        )
        .order_by(M.c.id)
        .limit(n)
    )
    if engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(M)
        .where(M.c.id.in_(pick.scalar_subquery()), M.c.status.in_(sources("claim")))
        .values(
            status="sending",
            claimed_at=now,
            claimed_by=job,
            attempts=M.c.attempts + 1,
            provider=provider,
            updated_at=now,
        )
        .returning(M.c.id, M.c.phone, M.c.body, M.c.attempts)
    )
    with engine.begin() as conn:
        rows = conn.execute(stmt).all()
    return sorted((Claimed(*r, job) for r in rows), key=lambda c: c.id)


def next_due_in(engine: Engine, alert_id: int, lo: int, hi: int) -> float | None:
    """Seconds until the next waiting message of the range is due: a held-back `pending` one
    (while the alert may send) or an `unknown` one to reconcile. None: none is waiting."""
    in_range = and_(M.c.alert_id == alert_id, M.c.id.between(lo, hi), M.c.channel == "sms")
    with engine.connect() as conn:
        pending = conn.execute(
            select(M.c.next_attempt_at)
            .where(in_range, M.c.status == "pending", alert_open(alert_id))
            .order_by(M.c.next_attempt_at)
            .limit(1)
        ).first()
        unknown = conn.scalar(
            select(M.c.updated_at)
            .where(in_range, M.c.status == "unknown")
            .order_by(M.c.updated_at)
            .limit(1)
        )
    now = utcnow()
    waits = []
    if pending is not None:
        waits.append(0.0 if pending[0] is None else (pending[0] - now).total_seconds())
    if unknown is not None:
        waits.append((unknown - now).total_seconds() + RECONCILE_AFTER_S)
    return max(0.0, min(waits)) if waits else None


def _held(move: str):
    """WHERE of a store: the row is still held by the claim that got this answer."""
    return and_(
        M.c.id == bindparam("mid"),
        status_in(M.c.status, move, only=HELD),
        M.c.claimed_by == bindparam("job"),
        M.c.attempts == bindparam("tries"),
    )


_STORE = {
    "ok": update(M)
    .where(_held("answered"))
    .values(
        provider_sid=bindparam("sid"),
        status=bindparam("st"),
        error_code=None,
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
    ),
    "retry": update(M)
    .where(_held("refused"))
    .values(
        status="pending",
        next_attempt_at=bindparam("at"),
        error_code=bindparam("code"),
        updated_at=bindparam("now"),
    ),
    "fail": update(M)
    .where(_held("rejected"))
    .values(status="failed", error_code=bindparam("code"), updated_at=bindparam("now")),
    "unknown": update(M)
    .where(_held("no_answer"))
    .values(status="unknown", error_code=bindparam("code"), updated_at=bindparam("now")),
    "withdrawn": update(M)
    .where(_held("withdrawn"))
    .values(status="cancelled", updated_at=bindparam("now")),
}


def store(app: Flask, results: list[tuple]) -> None:
    """Write a batch of provider answers in one transaction: `(kind, Claimed, a, b)` with kind
    ok (sid, status), retry (code, delay), fail (code, _), unknown (code, _), withdrawn."""
    now = utcnow()
    params: dict[str, list[dict]] = {kind: [] for kind in _STORE}
    unsubscribed = []
    for kind, msg, a, b in results:
        row = {"mid": msg.id, "job": msg.job, "tries": msg.attempts, "now": now}
        if kind == "ok":
            row.update(sid=a, st=b)
        elif kind == "retry":
            row.update(code=a, at=now + b)
        elif kind in ("fail", "unknown"):
            row.update(code=a)
            if kind == "fail" and a == UNSUBSCRIBED:
                unsubscribed.append(msg.phone)
        params[kind].append(row)
    engine: Engine = app.extensions["alerting.engine"]
    with engine.begin() as conn:
        for kind, rows in params.items():
            if rows:
                conn.execute(_STORE[kind], rows)
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
        self.router = Router(self.redis, self.settings)
        self.max_chunk = int(min(100, max(1, rate * 0.5)))
        self.chunk = self.max_chunk
        self.strict = limiter_for(self.redis, self.settings, "twilio").interval_us >= 2000
        self.deadline = self._deadline()
        # per provider: loop time of this job's last 429, its code and Retry-After
        self.throttled_at: dict[str, float] = {}
        self.throttle: dict[str, tuple[str, float]] = {}
        self.reslotted = 0
        self.results: list[tuple] = []
        self.tasks: set[asyncio.Task] = set()
        self.sent = 0
        self.open = True  # the alert may still send (see `watch`)
        self._reconciled_at = -1e9

    def _deadline(self) -> datetime:
        with self.engine.connect() as conn:
            category, started, created = conn.execute(
                select(A.c.category, A.c.started_at, A.c.created_at).where(A.c.id == self.alert_id)
            ).one()
        return send_deadline(self.settings, category, started or created)

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

    async def new_slot(self, limiter: RateLimiter) -> float:
        """A fresh rate-limit slot (loop time) for a message that missed its own."""
        loop = asyncio.get_running_loop()
        while True:
            grant = limiter.acquire(1)
            if grant.count:
                return loop.time() + (grant.first_at - time.time())
            await asyncio.sleep(min(max(grant.first, 0.001), 1.0))

    async def wait_for_slot(self, at: float, sem: asyncio.Semaphore, limiter: RateLimiter) -> None:
        """Sleep until the slot, then take a connection. At limited rates (slots ≥ 2 ms apart) a
        message more than MAX_LATE_S behind its slot (a stalled event loop, a starved CPU, every
        connection busy with a slow provider) takes a new slot instead of bunching up with the
        next ones: the rate holds in every window. It keeps its connection meanwhile: giving it
        back made every waiter late again when the provider answered slower than the slots came
        (a provider slower than SMS_TIMEOUT sent 7 messages in 4 minutes)."""
        loop = asyncio.get_running_loop()
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await sem.acquire()
        try:
            while self.strict and loop.time() - at > MAX_LATE_S:
                self.reslotted += 1
                at = await self.new_slot(limiter)
                delay = at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        except BaseException:
            sem.release()
            raise

    async def send_one(self, lane: Lane, msg: Claimed, at: float, sem, granted: float) -> None:
        await self.wait_for_slot(at, sem, lane.limiter)
        try:
            if not self.open:
                self.results.append(("withdrawn", msg, None, None))
                return
            if not self.router.usable(lane.name):  # demoted meanwhile: another provider
                self.results.append(("retry", msg, "demoted", _seconds(0.0)))
                return
            if self.throttled_at.get(lane.name, -1e9) > granted:  # a slot from before a 429
                code, retry_after = self.throttle[lane.name]
                self.results.append(self.retry(msg, code, retry_after))
                return
            try:
                callback = lane.callback_url(self.settings.public_url, msg.id)
                result = await lane.provider.send(msg.phone, msg.body, callback)
            except ProviderError as exc:
                self.router.record(lane.name, exc)
                self.results.append(self.refusal(msg, exc, lane))
                return
        finally:
            sem.release()
        self.router.record(lane.name, None)
        self.results.append(("ok", msg, result.sid, result.status))
        self.sent += 1

    def refusal(self, msg: Claimed, exc: ProviderError, lane: Lane) -> tuple:
        """What a failed send means for the message (a result for `store`)."""
        if exc.unknown:  # the provider may hold it: reconcile, never resend blindly
            return ("unknown", msg, exc.code, None)
        if not exc.transient:
            return ("fail", msg, exc.code, None)
        if exc.code in ("429", "20429") or exc.retry_after:
            self.throttled_at[lane.name] = asyncio.get_running_loop().time()
            self.throttle[lane.name] = (exc.code, exc.retry_after or 1.0)
            lane.limiter.slow_down(exc.retry_after or 1.0)
        return self.retry(msg, exc.code, exc.retry_after)

    def retry(self, msg: Claimed, code: str, retry_after: float | None) -> tuple:
        """Back to `pending` for a later try, or `failed` with `code` once the deadline has
        passed (a retry is never put off beyond it)."""
        left = (self.deadline - utcnow()).total_seconds()
        if left <= 0:
            return ("fail", msg, code, None)
        return ("retry", msg, code, _seconds(min(left, backoff(msg.attempts, retry_after))))

    def _alert_open(self) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.scalar(select(alert_open(self.alert_id))))

    async def watch(self, stop: asyncio.Event) -> None:
        """Every OPEN_CHECK_S: whether the alert may still send (a cancel stops the sends of
        claimed messages within that)."""
        while not stop.is_set():
            self.open = await asyncio.to_thread(self._alert_open)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), OPEN_CHECK_S)

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """The lease, every HEARTBEAT_S however long a send, a flush or a query takes, so a
        lease that runs out means the job is gone."""
        while not stop.is_set():
            self.refresh_lease()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_S)

    async def flush(self) -> None:
        if self.results:
            batch, self.results = self.results, []
            await asyncio.to_thread(store, self.app, batch)
        if self.router.pending:  # after the answers: health is advisory, they are the record
            await asyncio.to_thread(self.router.write, self.router.take())

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
        watcher = asyncio.create_task(self.watch(stop))
        heart = asyncio.create_task(self.heartbeat(stop))
        try:
            async with open_lanes(self.redis, self.settings) as lanes:
                await self._loop(lanes, sem, deadline, max_out)
                while self.tasks:
                    await self._reap(None)
        finally:
            stop.set()
            await flusher
            await watcher
            await heart
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

    async def _loop(self, lanes: dict[str, Lane], sem, deadline: float, max_out: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() - self._reconciled_at >= RECONCILE_EVERY_S:
                self._reconciled_at = loop.time()
                await reconcile(
                    self.engine,
                    self.settings,
                    {name: lane.provider for name, lane in lanes.items()},
                    self.alert_id,
                    self.lo,
                    self.hi,
                    RECONCILE_AFTER_S,
                    sem,
                )
            action = self.must_yield()
            if action == "requeue" or loop.time() > deadline or shutdown.requested():
                self.requeue()
                return
            if action == "pause":
                await asyncio.sleep(0.05)
                continue
            while len(self.tasks) >= max_out:
                await self._reap(None)
            lane = lanes[self.router.choose()]
            claimed = await asyncio.to_thread(
                claim,
                self.engine,
                self.alert_id,
                self.lo,
                self.hi,
                self.chunk,
                self.job_id,
                lane.name,
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
                self._reconciled_at = -1e9  # what was waited for may be an unknown message
                continue
            i = 0
            while i < len(claimed):
                grant = lane.limiter.acquire(len(claimed) - i)
                if grant.count == 0:
                    await asyncio.sleep(min(max(grant.first, 0.001), 1.0))
                    continue
                # claim about half a second's worth at the rate the provider takes now
                self.chunk = int(min(self.max_chunk, max(1, 0.5 / grant.interval)))
                now = loop.time()
                t0 = now + (grant.first_at - time.time())
                for j in range(grant.count):
                    msg = claimed[i + j]
                    task = asyncio.create_task(
                        self.send_one(lane, msg, t0 + j * grant.interval, sem, now)
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
