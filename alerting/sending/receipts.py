"""Status callbacks are buffered: the webhook checks the signature and appends the callback to a
Redis list (so it answers in well under a millisecond of work), and a job on the default queue
applies the buffer in batches, one transaction per 500. When Redis is unavailable the webhook
applies the callback to the database itself. Applying is idempotent (status only moves forward),
so a batch re-applied after a crash changes nothing but the event log."""

from __future__ import annotations

import json
import logging

import redis
from flask import Flask

from alerting.sending.queues import DEFAULT, queue, redis_for
from alerting.sending.status import apply_receipt

log = logging.getLogger(__name__)

BUFFER = "alerting:receipts"
DRAINING = "alerting:receipts-draining"  # set while a drain job is queued or running
BATCH = 500


def accept(app: Flask, message_id: int | None, params: dict[str, str]) -> None:
    """The webhook's part: buffer the callback and make sure a drain job is on its way."""
    conn = redis_for(app.extensions["alerting.settings"].redis_url)
    try:
        with conn.pipeline(transaction=False) as pipe:
            pipe.rpush(BUFFER, json.dumps([message_id, params]))
            pipe.set(DRAINING, "1", nx=True, ex=60)
            _length, first = pipe.execute()
        if first:
            enqueue_drain(conn)
    except redis.RedisError:
        log.warning("Redis unavailable: applying a receipt directly")
        with app.extensions["alerting.engine"].begin() as db_conn:
            apply_receipt(db_conn, message_id, params)


def enqueue_drain(conn) -> None:
    queue(DEFAULT, conn).enqueue(
        "alerting.sending.receipts.drain_job", job_timeout=600, result_ttl=0, at_front=True
    )


def drain(app: Flask) -> int:
    """Apply buffered callbacks until the buffer is empty; returns how many."""
    conn = redis_for(app.extensions["alerting.settings"].redis_url)
    engine = app.extensions["alerting.engine"]
    done = 0
    while True:
        items = conn.lrange(BUFFER, 0, BATCH - 1)
        if not items:
            conn.delete(DRAINING)
            # a callback buffered between the read and the delete saw DRAINING set: take it
            if conn.llen(BUFFER) and conn.set(DRAINING, "1", nx=True, ex=60):
                continue
            return done
        conn.expire(DRAINING, 60)
        with engine.begin() as db_conn:
            for item in items:
                message_id, params = json.loads(item)
                apply_receipt(db_conn, message_id, params)
        conn.ltrim(BUFFER, len(items), -1)  # only after the commit: at least once
        done += len(items)


def drain_job() -> int:
    """RQ entry point."""
    from alerting.sending.queues import job_context

    with job_context() as app:
        return drain(app)


def drain_if_stranded(app: Flask) -> None:
    """For the sweep: a buffer left behind by a killed drain job gets a new one."""
    conn = redis_for(app.extensions["alerting.settings"].redis_url)
    if conn.llen(BUFFER) and conn.set(DRAINING, "1", nx=True, ex=60):
        enqueue_drain(conn)
