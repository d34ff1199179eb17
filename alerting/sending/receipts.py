"""Status callbacks are buffered: the webhook checks the signature and that the callback can be
stored (else a 400 with the reason: the provider logs it and, unlike a 5xx, does not retry it),
appends it to a Redis list and makes sure a drain job on the default queue applies the buffer,
both in one Lua call, and a drain applies the buffer in batches of 500, each one set-based
transaction (status.apply_receipts). When Redis is unavailable the webhook applies the callback
to the database itself.

Each drain takes a batch with one Lua script that moves it from the buffer into the drain's own
processing list, so two drains never take the same receipt; the list has a lease, and the list of
a drain that died (killed, or stopped by a database outage) is put back into the buffer once its
lease has run out. A batch whose transaction fails is applied item by item, and an item that
still fails goes to the dead-letter list with its reason instead of blocking every later receipt.
On SIGTERM a drain stops between batches and puts back what it took and did not apply. Applying
is idempotent (status only moves forward), so a batch applied again after a crash changes
nothing but the event log.

Every worker process also runs a drain thread (`drain_continuously`) that looks at the buffer
every RECEIPT_DRAIN_INTERVAL seconds: RQ runs one job at a time, so a drain job queued behind a
send job would wait for its whole batch, and the alert page would stand still meanwhile. While a
thread runs it keeps the drain flag set, so webhooks enqueue no drain jobs; the jobs remain for
workers without the thread (`--burst`) and when every thread is gone (the flag lapses)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable

import redis
from flask import Flask
from redis.commands.core import Script
from sqlalchemy import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from alerting.ids import is_id
from alerting.models import DeliveryEvent, Message, utcnow
from alerting.sending import shutdown
from alerting.sending.queues import DEFAULT, queue, redis_for
from alerting.sending.status import Receipt, apply_receipts

log = logging.getLogger(__name__)

BUFFER = "alerting:receipts"
DRAINING = "alerting:receipts-draining"  # set while a drain job is queued or running
PROCESSING = "alerting:receipts-processing:"  # + drain id: the batch a drain is applying
DRAINS = "alerting:receipts-drains"  # zset: processing list → lease expiry (unix seconds)
DEAD = "alerting:receipts-dead"  # receipts that could not be applied: {"item", "reason", "at"}
DEAD_KEEP = 10_000  # the newest dead letters kept: a flood of bad receipts cannot fill Redis
BATCH = 500
LEASE_S = 15.0  # a drain renews its flag and its lease every batch (a batch takes ~0.5 s)
# the database is away: the receipts wait in Redis (put back), they are not dead letters
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)

_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('RPUSH', KEYS[2], unpack(items))
  redis.call('ZADD', KEYS[3], ARGV[2], KEYS[2])
end
return items
"""
# KEYS[3..]: processing lists to put back in front of the buffer, each only if its lease ran
# out before ARGV[1] (a slow but living drain renewed it meanwhile: it keeps its batch)
_PUT_BACK = """
local n = 0
for k = 3, #KEYS do
  local lease = redis.call('ZSCORE', KEYS[2], KEYS[k])
  if (not lease) or tonumber(lease) <= tonumber(ARGV[1]) then
    local items = redis.call('LRANGE', KEYS[k], 0, -1)
    for i = #items, 1, -1 do redis.call('LPUSH', KEYS[1], items[i]) end
    n = n + #items
    redis.call('DEL', KEYS[k])
    redis.call('ZREM', KEYS[2], KEYS[k])
  end
end
return n
"""
ALWAYS = 1e18  # a lease that has always run out: the caller's own list
# the webhook's one command: append, and whether it set the drain flag (then it enqueues a drain)
# (bytes: the script needs no client of its own, each call names one)
_APPEND = Script(
    None,  # type: ignore[arg-type]
    b"""
redis.call('RPUSH', KEYS[1], ARGV[1])
return redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) and 1 or 0
""",
)


def _length(column) -> int:
    return column.type.length


SID_MAX = min(_length(Message.provider_sid), _length(DeliveryEvent.provider_sid))
LIMITS = {
    "MessageStatus": _length(DeliveryEvent.status),
    "SmsStatus": _length(DeliveryEvent.status),
    "ErrorCode": min(_length(Message.error_code), _length(DeliveryEvent.error_code)),
}


def refusal(message_id: int | None, params: dict[str, str]) -> str | None:
    """Why this callback cannot be stored, for the provider's log; None when it can."""
    for key, value in params.items():
        if "\x00" in key or "\x00" in value:
            return f"field {key[:40]!r} contains a NUL byte"
    for key in ("MessageSid", "SmsSid"):
        sid = params.get(key, "")
        if len(sid) > SID_MAX or (sid and not (sid.isascii() and sid.isalnum())):
            return f"{key} must be at most {SID_MAX} letters and digits (got {len(sid)} characters)"
    for key, limit in LIMITS.items():
        if len(params.get(key, "")) > limit:
            return f"{key} has {len(params[key])} characters; at most {limit}"
    if message_id is None and not (params.get("MessageSid") or params.get("SmsSid")):
        return "a status callback without a message id in its URL needs a MessageSid"
    return None


def accept(app: Flask, message_id: int | None, params: dict[str, str]) -> None:
    """The webhook's part (after `refusal`): buffer the callback and make sure a drain job is
    on its way, in one round trip to Redis."""
    conn = redis_for(app.extensions["alerting.settings"].redis_url)
    item = json.dumps([message_id, params], separators=(",", ":"))
    try:
        if _APPEND(keys=[BUFFER, DRAINING], args=[item, int(LEASE_S)], client=conn):
            enqueue_drain(conn)
    except redis.RedisError:
        log.warning("Redis unavailable: applying a receipt directly")
        with app.extensions["alerting.engine"].begin() as db_conn:
            apply_receipts(db_conn, [(message_id, params)])


def enqueue_drain(conn) -> None:
    queue(DEFAULT, conn).enqueue(
        "alerting.sending.receipts.drain_job", job_timeout=600, result_ttl=0, at_front=True
    )


def _put_back(conn, lists: list[str], expired_before: float) -> int:
    if not lists:
        return 0
    return int(conn.eval(_PUT_BACK, 2 + len(lists), BUFFER, DRAINS, *lists, expired_before))


def recover(conn) -> int:
    """Put the batches of drains whose lease ran out back into the buffer; how many receipts."""
    now = time.time()
    dead = [m.decode() for m in conn.zrangebyscore(DRAINS, "-inf", now)]
    return _put_back(conn, dead, now)


def _reason(exc: Exception) -> str:
    """The error without the statement and its parameters (a receipt's hold phone numbers)."""
    detail = getattr(exc, "orig", None) or exc
    return f"{type(detail).__name__}: {detail}"[:500]


def _dead_letter(conn, item: bytes, reason: str) -> None:
    log.error("receipt dead-lettered: %s", reason)
    entry = {"item": item.decode(errors="replace"), "reason": reason, "at": utcnow().isoformat()}
    with conn.pipeline() as pipe:
        pipe.rpush(DEAD, json.dumps(entry))
        pipe.ltrim(DEAD, -DEAD_KEEP, -1)
        pipe.execute()


def _parse(item: bytes) -> Receipt:
    """A buffered callback; one that no database could hold (an id out of range, written by an
    older version) raises, so it goes to the dead-letter list on SQLite and PostgreSQL alike."""
    message_id, params = json.loads(item)
    if message_id is not None and not is_id(message_id):
        raise ValueError(f"message id {message_id} is out of range")
    return message_id, params


class Drain:
    """One drain: takes batches into its own processing list and applies them."""

    def __init__(self, app: Flask, stopping: Callable[[], bool], keep_flag: bool = False) -> None:
        self.conn = redis_for(app.extensions["alerting.settings"].redis_url)
        self.engine: Engine = app.extensions["alerting.engine"]
        self.stopping = stopping
        self.keep_flag = keep_flag  # a drain thread: it stays on the buffer after it emptied it
        self.processing = PROCESSING + uuid.uuid4().hex

    def take(self) -> list[bytes]:
        expiry = time.time() + LEASE_S
        return self.conn.eval(_TAKE, 3, BUFFER, self.processing, DRAINS, BATCH, expiry)

    def done_with_batch(self) -> None:
        with self.conn.pipeline() as pipe:
            pipe.delete(self.processing)
            pipe.zrem(DRAINS, self.processing)
            pipe.execute()

    def apply(self, items: list[bytes]) -> int:
        """The batch in one transaction, else item by item; returns how many were applied."""
        try:
            receipts = [_parse(item) for item in items]
            with self.engine.begin() as db_conn:
                apply_receipts(db_conn, receipts)
        except UNAVAILABLE:
            raise
        except Exception as exc:  # one bad item: find it, keep the others
            log.warning("a receipt batch failed (%s); applying it item by item", _reason(exc))
            return self.apply_one_by_one(items)
        self.done_with_batch()
        return len(items)

    def apply_one_by_one(self, items: list[bytes]) -> int:
        applied = 0
        for item in items:
            if self.stopping():
                break  # the rest is put back
            try:
                receipt = _parse(item)
                with self.engine.begin() as db_conn:
                    apply_receipts(db_conn, [receipt])
                applied += 1
            except UNAVAILABLE:
                raise
            except Exception as exc:
                _dead_letter(self.conn, item, _reason(exc))
            self.conn.lpop(self.processing)  # the head: this item, applied or dead-lettered
        return applied

    def run(self) -> int:
        done = 0
        try:
            while not self.stopping():
                items = self.take()
                if not items and self.keep_flag:
                    return done
                if not items:
                    self.conn.delete(DRAINING)
                    # a callback buffered between the take and the delete saw DRAINING set
                    if self.conn.llen(BUFFER) and self.conn.set(
                        DRAINING, "1", nx=True, ex=int(LEASE_S)
                    ):
                        continue
                    return done
                self.conn.expire(DRAINING, int(LEASE_S))
                done += self.apply(items)
        finally:
            _put_back(self.conn, [self.processing], ALWAYS)  # taken and not applied
        if self.conn.llen(BUFFER):  # stopped: another worker takes over the rest
            self.conn.set(DRAINING, "1", ex=int(LEASE_S))
            enqueue_drain(self.conn)
        return done


def drain(app: Flask, stopping: Callable[[], bool] = shutdown.requested) -> int:
    """Apply buffered callbacks until the buffer is empty (or a stop is asked); how many."""
    drainer = Drain(app, stopping)
    recover(drainer.conn)
    return drainer.run()


def drain_continuously(app: Flask, stop: threading.Event) -> None:
    """A worker's drain thread: apply receipts as they come, until `stop` or SIGTERM."""
    interval = app.extensions["alerting.settings"].receipt_drain_interval_s

    def stopping() -> bool:
        return stop.is_set() or shutdown.requested()

    drainer = Drain(app, stopping, keep_flag=True)
    while not stopping():
        try:
            drainer.conn.set(DRAINING, "1", ex=int(LEASE_S))  # no drain jobs while we are here
            if drainer.conn.llen(BUFFER):
                drainer.run()
        except (redis.RedisError, *UNAVAILABLE) as exc:  # what waits stays in Redis
            log.warning("receipt drain thread: %s; retrying", _reason(exc))
            stop.wait(1.0)
        except Exception:  # the thread must not die; jobs and the sweep cover meanwhile
            log.exception("receipt drain thread failed")
            stop.wait(1.0)
        stop.wait(interval)
    with contextlib.suppress(redis.RedisError):  # else the flag lapses by itself
        drainer.conn.delete(DRAINING)  # the next callback enqueues a job, unless a thread is on


def start_drainer(app: Flask, stop: threading.Event) -> threading.Thread:
    """The drain thread of a worker process (see drain_continuously)."""
    thread = threading.Thread(
        target=drain_continuously, args=(app, stop), name="alerting-receipts", daemon=True
    )
    thread.start()
    return thread


def drain_job() -> int:
    """RQ entry point."""
    from alerting.sending.queues import job_context

    with job_context() as app:
        return drain(app)


def drain_if_stranded(app: Flask) -> None:
    """For the sweep: the batches of dead drains go back into the buffer, and a buffer that no
    drain is working on gets one."""
    conn = redis_for(app.extensions["alerting.settings"].redis_url)
    if recover(conn):
        conn.delete(DRAINING)  # the drain that held it is gone
    if conn.llen(BUFFER) and conn.set(DRAINING, "1", nx=True, ex=int(LEASE_S)):
        enqueue_drain(conn)
