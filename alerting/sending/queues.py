"""RQ queues by urgency, the Redis connection, and the app context jobs run in.

A worker listens to `alerting-urgent`, `alerting-default`, `alerting-bulk` in that order, so an
urgent job is always the next one a free worker takes; bulk send jobs also step aside while urgent
work is waiting or sending (see alerting.sending.fanout).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import redis
from flask import Flask, current_app, has_app_context
from rq import Queue

from alerting.models import LIFE_SAFETY

URGENT, DEFAULT, BULK = "alerting-urgent", "alerting-default", "alerting-bulk"
QUEUES = (URGENT, DEFAULT, BULK)
URGENT_ACTIVE = "alerting:urgent-active"  # set (with a short TTL) while urgent messages go out
LEASES = "alerting:leases"  # zset: running job id → lease expiry (unix seconds)

_lock = threading.Lock()
_connections: dict[str, redis.Redis] = {}
_job_app: Flask | None = None


def queue_name(category: str) -> str:
    return URGENT if category in LIFE_SAFETY else BULK


def is_urgent(category: str) -> bool:
    return category in LIFE_SAFETY


def redis_for(url: str) -> redis.Redis:
    with _lock:
        conn = _connections.get(url)
        if conn is None:
            conn = redis.Redis.from_url(url, health_check_interval=30)
            _connections[url] = conn
        return conn


def connection() -> redis.Redis:
    """Redis of the current app."""
    return redis_for(current_app.extensions["alerting.settings"].redis_url)


def queue(name: str, conn: redis.Redis | None = None) -> Queue:
    return Queue(name, connection=conn or connection())


def set_job_app(app: Flask) -> None:
    """The app jobs run in when no app context is active (the worker process sets it)."""
    global _job_app
    _job_app = app


@contextlib.contextmanager
def job_context() -> Iterator[Flask]:
    """An app context for a job: the current one (in-process workers), else the worker's app,
    built from the environment on first use."""
    global _job_app
    if has_app_context():
        yield current_app._get_current_object()
        return
    if _job_app is None:
        from alerting import create_app

        _job_app = create_app()
    with _job_app.app_context():
        yield _job_app
