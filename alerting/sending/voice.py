"""The call dispatcher: places the due voice messages of every alert, life-safety alerts first,
under the voice rate limit (VOICE_RATE_PER_SECOND) and a cap on calls in progress at once
(VOICE_MAX_CONCURRENT), both shared by every worker on every machine through Redis.

A small exchange must not be flooded, so a call takes a slot (a member of one Redis sorted set,
taken by a Lua script only while fewer than the cap are held) before it is placed, and gives it
back when its final status arrives (alerting.sending.voice_status), when Twilio refused it, or
after SLOT_LEASE_S in any case (a call lasts at most TIME_LIMIT_S). The dispatcher is one short
RQ job, started by `wake` (planning, a call that ended, the sweep) and never running twice at a
time: it claims as many calls as there are free slots (`pending → sending`, one conditional
UPDATE), places them, stores their SIDs under the claim, and ends when the slots are full or
nothing is due. A create that got no answer is `unknown`: Twilio is asked which calls it holds
for that number since the claim (`find_call`) before any new call, so nobody is called twice
because of a timeout. A call whose final callback never came is looked up after POLL_AFTER_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import redis
from flask import Flask
from rq import get_current_job
from sqlalchemy import Engine, and_, case, exists, or_, select, update

from alerting.models import LIFE_SAFETY, Alert, Message, utcnow
from alerting.sending import shutdown
from alerting.sending.deadline import send_deadline
from alerting.sending.provider import Provider, ProviderError
from alerting.sending.queues import DEFAULT, LEASES, URGENT, job_context, queue, redis_for
from alerting.sending.ratelimit import RateLimiter
from alerting.sending.states import HELD, SENDING_ALERT_STATES
from alerting.sending.voice_calls import (
    TIME_LIMIT_S,
    end_call,
    fetch_call,
    find_call,
    place_call,
)
from alerting.sending.voice_status import IN_CALL, apply_call_status
from alerting.sending.voice_twiml import call_twiml, voice_for

M = Message.__table__
A = Alert.__table__
SLOTS = "alerting:voice:calls"  # zset: "<message id>:<try>" → slot expiry (unix seconds)
WAKE = "alerting:voice:dispatching"  # set while a dispatch job is queued or running
SLOT_LEASE_S = TIME_LIMIT_S + 300.0
LEASE_S = 10.0
TIME_BUDGET_S = 30.0  # then the job hands over to a new one (the queue's other jobs go first)
SETTLE_S = 2.0  # an `unknown` call is looked up this long after its create ended
POLL_AFTER_S = 300.0  # a call with no news this long is looked up (a lost final callback)
MAX_BACKOFF_S = 60.0

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
return 1
"""


def slot(message_id: int, attempt: int) -> str:
    return f"{message_id}:{attempt}"


class Slots:
    """Calls in progress, counted across every alert and worker (at most `cap`)."""

    def __init__(self, conn: redis.Redis, cap: int) -> None:
        self.conn = conn
        self.cap = max(1, cap)
        self._take = conn.register_script(_TAKE)

    def take(self, member: str) -> bool:
        now = time.time()
        return bool(self._take(keys=[SLOTS], args=[now, self.cap, now + SLOT_LEASE_S, member]))

    def free(self) -> int:
        self.conn.zremrangebyscore(SLOTS, "-inf", time.time())
        return max(0, self.cap - int(self.conn.zcard(SLOTS)))

    def give_back(self, member: str) -> None:
        self.conn.zrem(SLOTS, member)


def release(app: Flask, message_id: int, attempt: int) -> None:
    """A call ended: its slot is free, and the dispatcher may place the next one."""
    conn = redis_for(app.extensions["alerting.settings"].redis_url)
    conn.zrem(SLOTS, slot(message_id, attempt))
    wake(conn)


def wake(conn: redis.Redis) -> None:
    """Make sure a dispatch job is on its way (one at a time)."""
    if conn.set(WAKE, "1", nx=True, ex=int(LEASE_S)):
        queue(DEFAULT, conn).enqueue(
            "alerting.sending.voice.dispatch_job",
            job_id=f"voice-{uuid.uuid4().hex[:12]}",
            job_timeout=600,
            result_ttl=0,
            failure_ttl=24 * 3600,
        )


def _due_now():
    now = utcnow()
    return and_(
        M.c.channel == "voice",
        M.c.status == "pending",
        or_(M.c.next_attempt_at.is_(None), M.c.next_attempt_at <= now),
        A.c.status.in_(SENDING_ALERT_STATES),
    )


def _stale():
    return and_(
        M.c.channel == "voice",
        M.c.status.in_(("queued", "accepted", "sent")),
        M.c.provider_sid.is_not(None),
        M.c.updated_at < utcnow() - timedelta(seconds=POLL_AFTER_S),
    )


def has_work(engine: Engine) -> bool:
    """Whether a dispatcher has something to do: a due call, an unknown one or a stale one."""
    unknown = and_(
        M.c.channel == "voice",
        M.c.status == "unknown",
        M.c.updated_at <= utcnow() - timedelta(seconds=SETTLE_S),
    )
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                select(
                    exists()
                    .select_from(M.join(A, A.c.id == M.c.alert_id))
                    .where(or_(_due_now(), unknown, _stale()))
                )
            )
        )


@dataclass(frozen=True)
class Claimed:
    id: int
    phone: str
    body: str
    language: str
    attempts: int
    job: str


def claim(engine: Engine, n: int, job: str) -> list[Claimed]:
    """pending → sending for up to n due calls, life-safety alerts first."""
    now = utcnow()
    pick = (
        select(M.c.id)
        .join(A, A.c.id == M.c.alert_id)
        .where(_due_now())
        .order_by(case((A.c.category.in_(LIFE_SAFETY), 0), else_=1), M.c.alert_id, M.c.id)
        .limit(n)
    )
    if engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=M)
    stmt = (
        update(M)
        .where(M.c.id.in_(pick.scalar_subquery()), M.c.status == "pending")
        .values(
            status="sending",
            claimed_at=now,
            claimed_by=job,
            attempts=M.c.attempts + 1,
            updated_at=now,
        )
        .returning(M.c.id, M.c.phone, M.c.body, M.c.language, M.c.attempts)
    )
    with engine.begin() as conn:
        rows = conn.execute(stmt).all()
    return sorted((Claimed(*r, job) for r in rows), key=lambda c: c.id)


def _held(msg: Claimed):
    return and_(
        M.c.id == msg.id,
        M.c.claimed_by == msg.job,
        M.c.attempts == msg.attempts,
        M.c.status.in_(HELD),
    )


class Dispatcher:
    """One dispatch job: `asyncio.run(Dispatcher(app, job_id).run())`."""

    def __init__(self, app: Flask, job_id: str) -> None:
        self.app = app
        self.settings = app.extensions["alerting.settings"]
        self.engine: Engine = app.extensions["alerting.engine"]
        self.redis = redis_for(self.settings.redis_url)
        self.job_id = job_id
        self.slots = Slots(self.redis, self.settings.voice_max_concurrent)
        self.limiter = RateLimiter(
            self.redis, f"voice:{self.settings.voice_from}", self.settings.voice_rate_per_second
        )
        self.placed = 0

    def callback_url(self, msg: Claimed, kind: str) -> str:
        return (
            f"{self.settings.public_url}/webhooks/twilio/voice/{kind}/{msg.id}?try={msg.attempts}"
        )

    def refresh_lease(self) -> None:
        with self.redis.pipeline() as pipe:
            pipe.zadd(LEASES, {self.job_id: time.time() + LEASE_S})
            pipe.set(WAKE, "1", ex=int(LEASE_S))
            pipe.execute()

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """The lease every second however long a create takes: a lease that runs out means
        the job is gone, and the sweep takes its claims over (they become `unknown`)."""
        while not stop.is_set():
            await asyncio.to_thread(self.refresh_lease)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIME_BUDGET_S
        stop = asyncio.Event()
        heart = asyncio.create_task(self.heartbeat(stop))
        try:
            async with Provider(self.settings) as provider:
                while loop.time() < deadline and not shutdown.requested():
                    await self.reconcile(provider)
                    await self.poll_stale(provider)
                    free = await asyncio.to_thread(self.slots.free)
                    if not free:
                        break
                    claimed = await asyncio.to_thread(claim, self.engine, free, self.job_id)
                    if not claimed:
                        break
                    await asyncio.gather(*(self.place(provider, m) for m in claimed))
        finally:
            stop.set()
            await heart
            self.redis.zrem(LEASES, self.job_id)
            self.redis.delete(WAKE)
        # a call that ended meanwhile saw the flag set and woke nobody: look again
        if self.slots.free() and has_work(self.engine):
            wake(self.redis)
        return self.placed

    async def place(self, provider: Provider, msg: Claimed) -> None:
        if not await asyncio.to_thread(self.slots.take, slot(msg.id, msg.attempts)):
            await asyncio.to_thread(self.put_back, msg, 0.0, None)  # the cap was reached
            return
        await self.wait_for_rate()
        voice = voice_for(msg.language, self.settings.default_language)
        twiml = call_twiml(msg.body, voice, self.callback_url(msg, "gather"))
        try:
            result = await place_call(provider, msg.phone, twiml, self.callback_url(msg, "status"))
        except ProviderError as exc:
            await asyncio.to_thread(self.refused, msg, exc)
            return
        await asyncio.to_thread(self.store, msg, result.sid)
        self.placed += 1

    async def wait_for_rate(self) -> None:
        while True:
            grant = self.limiter.acquire(1)
            if grant.count:
                await asyncio.sleep(max(0.0, grant.first_at - time.time()))
                return
            await asyncio.sleep(min(max(grant.first, 0.001), 1.0))

    def store(self, msg: Claimed, sid: str) -> None:
        """Twilio took the call: its SID, under the claim (a callback may have come first)."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                update(M)
                .where(_held(msg))
                .values(status="queued", provider_sid=sid, error_code=None, sent_at=now)
                .values(updated_at=now)
            )

    def refused(self, msg: Claimed, exc: ProviderError) -> None:
        if exc.unknown:  # Twilio may have placed it: looked up before anything else
            with self.engine.begin() as conn:
                conn.execute(
                    update(M)
                    .where(_held(msg), M.c.status == "sending")
                    .values(status="unknown", error_code=exc.code, updated_at=utcnow())
                )
            return
        self.slots.give_back(slot(msg.id, msg.attempts))
        if exc.transient:
            if exc.code in ("429", "20429") or exc.retry_after:
                self.limiter.slow_down(exc.retry_after or 1.0)
            delay = min(MAX_BACKOFF_S, max(exc.retry_after or 0.0, 2.0 ** (msg.attempts - 1)))
            self.put_back(msg, delay, exc.code)
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(M)
                .where(_held(msg))
                .values(status="failed", error_code=exc.code, updated_at=utcnow())
            )

    def put_back(self, msg: Claimed, delay: float, code: str | None) -> None:
        """Not placed (the cap, or Twilio proved it did not take it): pending again, this try
        not counted; failed with `code` once the alert's send deadline has passed."""
        now = utcnow()
        with self.engine.begin() as conn:
            category, started, created = conn.execute(
                select(A.c.category, A.c.started_at, A.c.created_at)
                .join(M, M.c.alert_id == A.c.id)
                .where(M.c.id == msg.id)
            ).one()
            if code and now >= send_deadline(self.settings, category, started or created):
                values = {"status": "failed", "error_code": code}
            else:
                values = {
                    "status": "pending",
                    "attempts": msg.attempts - 1,
                    "next_attempt_at": now + timedelta(seconds=delay),
                    "error_code": code,
                }
            conn.execute(update(M).where(_held(msg)).values(updated_at=now, **values))

    async def reconcile(self, provider: Provider) -> None:
        """`unknown` calls: adopt the call Twilio holds, else pending again (not a try)."""
        cutoff = utcnow() - timedelta(seconds=SETTLE_S)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(M.c.id, M.c.phone, M.c.attempts, M.c.claimed_at, M.c.claimed_by)
                .where(M.c.channel == "voice", M.c.status == "unknown", M.c.updated_at <= cutoff)
                .order_by(M.c.id)
                .limit(50)
            ).all()
            if not rows:
                return
            taken = frozenset(
                conn.scalars(
                    select(M.c.provider_sid).where(
                        M.c.phone.in_({r.phone for r in rows}), M.c.provider_sid.is_not(None)
                    )
                )
            )
        for row in rows:
            since = row.claimed_at or utcnow()
            try:
                found = await find_call(provider, row.phone, since, taken)
            except ProviderError:
                continue  # asked again next round
            msg = Claimed(row.id, row.phone, "", "", row.attempts, row.claimed_by or "")
            if found is None:
                self.slots.give_back(slot(row.id, row.attempts))
                await asyncio.to_thread(self.put_back, msg, 0.0, "timeout")
                continue
            await asyncio.to_thread(self.store, msg, found.sid)
            await asyncio.to_thread(self.apply, row.id, row.attempts, found.sid, found.status)

    async def poll_stale(self, provider: Provider) -> None:
        """Calls whose final callback never came: asked about, every POLL_AFTER_S."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(M.c.id, M.c.attempts, M.c.provider_sid).where(_stale()).limit(50)
            ).all()
        for mid, attempt, sid in rows:
            status = await fetch_call(provider, sid)
            with self.engine.begin() as conn:
                conn.execute(update(M).where(M.c.id == mid).values(updated_at=utcnow()))
            if status:
                await asyncio.to_thread(self.apply, mid, attempt, sid, status)

    def apply(self, message_id: int, attempt: int, sid: str, status: str) -> None:
        params = {"CallSid": sid, "CallStatus": status, "Source": "lookup"}
        with self.engine.begin() as conn:
            applied = apply_call_status(conn, self.settings, message_id, attempt, params)
        if applied.ended:
            self.slots.give_back(slot(message_id, attempt))


def dispatch_job() -> int:
    """RQ entry point: place the calls that are due now."""
    job = get_current_job()
    job_id = job.id if job is not None else f"voice-inline-{uuid.uuid4().hex[:8]}"
    with job_context() as app:
        with contextlib.suppress(redis.RedisError):
            redis_for(app.extensions["alerting.settings"].redis_url).set(WAKE, "1", ex=10)
        return asyncio.run(Dispatcher(app, job_id).run())


def hang_up(alert_id: int) -> None:
    """Queue the job that stops a cancelled alert's calls in progress (urgent: people are
    listening to it now)."""
    queue(URGENT).enqueue(
        "alerting.sending.voice.hang_up_job",
        alert_id,
        job_id=f"voice-hangup-{alert_id}-{uuid.uuid4().hex[:8]}",
        job_timeout=120,
        result_ttl=0,
        failure_ttl=24 * 3600,
    )


def calls_in_progress(alert_id: int):
    """The provider ids of the alert's calls that ring or are being listened to."""
    return select(M.c.provider_sid).where(
        M.c.alert_id == alert_id,
        M.c.channel == "voice",
        M.c.provider_sid.is_not(None),
        M.c.status.in_(IN_CALL),
    )


def hang_up_job(alert_id: int) -> int:
    """RQ entry point: end the alert's calls that are ringing or answered; how many. Their
    final status callbacks (canceled, completed) land on the rows as any other."""
    with job_context() as app:
        with app.extensions["alerting.engine"].connect() as conn:
            sids = conn.scalars(calls_in_progress(alert_id)).all()

        async def end_all() -> int:
            async with Provider(app.extensions["alerting.settings"]) as provider:
                ended = await asyncio.gather(*(end_call(provider, sid) for sid in sids))
            return sum(ended)

        return asyncio.run(end_all()) if sids else 0
